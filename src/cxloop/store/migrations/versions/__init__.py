"""One module per schema revision, oldest first (see cxloop.store.db.REVISIONS)."""
