"""The promise ledger (C2): built from the log, read when fresh."""
