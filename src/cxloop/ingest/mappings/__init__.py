"""Named mappings from source exports to canonical events."""

from __future__ import annotations

from cxloop.errors import InputError
from cxloop.ingest.mappings.base import Mapping, Staged
from cxloop.ingest.mappings.generic import GenericMapping
from cxloop.ingest.mappings.olist import OlistMapping

MAPPINGS: dict[str, Mapping] = {m.name: m for m in (GenericMapping(), OlistMapping())}


def get_mapping(name: str) -> Mapping:
    try:
        return MAPPINGS[name]
    except KeyError:
        raise InputError(
            f"unknown source mapping {name!r}; available: {', '.join(sorted(MAPPINGS))}"
        ) from None


__all__ = ["MAPPINGS", "Mapping", "Staged", "get_mapping"]
