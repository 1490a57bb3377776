"""Whether two versions of one event say the same thing.

``content_hash`` is a hash of the event's text as loaded; two rows whose ``attrs`` hold the
same JSON object written with other whitespace or key order hash differently. Before a
hash mismatch is reported as a conflict, the log compares the two rows here: every
content column equal, ``attrs`` equal as parsed JSON. Hashes already stored are never
recomputed, so stores written by earlier versions keep their duplicates as duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cxloop.domain.events import EVENT_COLUMNS

#: The columns a content hash covers (every canonical column but the id), in log order.
CONTENT_COLUMNS = [c.name for c in EVENT_COLUMNS if c.name != "event_id"]


def select_pair(incoming: str, other: str) -> str:
    """SQL select list: ``source_file, source_row, event_id``, then the content columns of
    both rows."""
    mine = ", ".join(f"{incoming}.{c}" for c in CONTENT_COLUMNS)
    theirs = ", ".join(f"{other}.{c}" for c in CONTENT_COLUMNS)
    return f"{incoming}.source_file, {incoming}.source_row, {incoming}.event_id, {mine}, {theirs}"


def _attrs(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return value


def same(mine: Sequence[Any], theirs: Sequence[Any]) -> bool:
    """Content columns (in :data:`CONTENT_COLUMNS` order) of two rows, compared canonically."""
    return all(
        same_value(name, a, b) for name, a, b in zip(CONTENT_COLUMNS, mine, theirs, strict=True)
    )


def same_value(name: str, a: Any, b: Any) -> bool:
    """Whether column ``name`` says the same in two rows (``attrs`` compared as JSON)."""
    return _attrs(a) == _attrs(b) if name == "attrs" else bool(a == b)


def settled(pairs: Iterable[Sequence[Any]]) -> set[tuple[str, int, str]]:
    """The (file, row, event_id) of each pair (as :func:`select_pair` selects) that is the
    same event (a source row can make several events: the row alone does not name one)."""
    return {key for key, names in differences(pairs).items() if not names}


def differences(pairs: Iterable[Sequence[Any]]) -> dict[tuple[str, int, str], list[str]]:
    """Per (file, row, event_id) of the pairs (as :func:`select_pair` selects), the content
    columns that differ (none: the same event), for the quarantine's reason."""
    n = len(CONTENT_COLUMNS)
    out: dict[tuple[str, int, str], list[str]] = {}
    for p in pairs:
        mine, theirs = p[3 : 3 + n], p[3 + n : 3 + 2 * n]
        names = [
            name
            for name, a, b in zip(CONTENT_COLUMNS, mine, theirs, strict=True)
            if not same_value(name, a, b)
        ]
        out[(str(p[0]), int(p[1]), str(p[2]))] = names
    return out
