"""Typed results: what the library returns and the API answers (one definition each)."""
