"""The shapes of the API's answers: what the OpenAPI spec documents for every endpoint.

Each model mirrors what a service returns (a store row, a dataclass, a report's columns).
Models are lenient at run time (``extra="allow"``: a key a service adds is passed on, never
dropped) and strict in the spec (``additionalProperties: false``), so a key that is not
documented fails the schema tests (tests/test_openapi.py, tests/test_api_schema.py) rather
than vanishing from an answer. Rows that carry user-defined data (an event's ``attrs``, a
report grouped by a dimension the caller picks) are :class:`Open`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from cxloop.results.base import Json, Open, Out

__all__ = ["Json", "Open", "Out", "PageOut"]


Item = TypeVar("Item")  # unbound: a bare ``PageOut`` pages anything (and documents nothing)


class PageOut(Out, Generic[Item]):
    """One page of a list."""

    items: list[Item]
    total: int
    """How many items the whole list holds."""
    limit: int
    offset: int
    next_offset: int | None
    """The offset of the next page (null on the last one)."""
