"""The event log as a use case: ingest, the journal, cxloop's own facts, moving a
log between stores, corrections and erasure, one customer's timeline, listings."""
