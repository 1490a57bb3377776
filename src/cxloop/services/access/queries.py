"""Grouping and filtering by personal data, refused to those who may not see it.

Masking hides a personal value in what a report prints; it cannot hide what a report
*does* with it. A breakdown by ``phone`` prints one group per phone number (masking the
labels would merge the groups and still leak their sizes), and a step filter
``where email=someone@example.com`` answers "is this person a customer, and what did they
do?" with a count. So a caller who may not see personal data may not name a personal
attribute in a breakdown (``by``) nor filter on one (a ``where`` clause in any parameter:
funnel steps, exclusions, path anchors), nor filter on a value that masking would hide
(an e-mail address, a card number, a national id) under any key; nor pick a ``segment``
or ``value`` of a breakdown that is such a value. The rule reads every query parameter by
its shape, not a list of routes, so a new route with a ``by`` or a step gets it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cxloop.services.access.masking import NO_WORDS, Words, mask, personal_key

#: parameters whose value names an attribute to group by
BY_PARAMS = frozenset({"by", "group_by", "breakdown", "dimension"})
#: parameters whose value is one group of a breakdown
GROUP_PARAMS = frozenset({"segment", "value", "group"})
_WHERE = re.compile(r"(?:^|\s)where\s+(.*)$", re.IGNORECASE | re.DOTALL)
_COND = re.compile(r"([A-Za-z_][\w.-]*)\s*(?:!=|<=|>=|=|<|>)\s*(.*)")
_TAIL = re.compile(r"\s+(?:within\s+\S+|optional|between\s+.+)\s*$", re.IGNORECASE)


def _conditions(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of the ``where`` clause in a parameter, if it has one."""
    found = _WHERE.search(text)
    if found is None:
        return []
    clause = _TAIL.sub("", found.group(1))
    pairs = []
    for part in re.split(r"\s+and\s+", clause.strip(), flags=re.IGNORECASE):
        m = _COND.match(part.strip())
        if m is not None:
            pairs.append((m.group(1), m.group(2).strip().strip("'\"")))
    return pairs


def _hidden(value: str) -> bool:
    """Whether masking hides (part of) the value wherever it appears."""
    return bool(value) and mask(value) != value


def refusal(params: Iterable[tuple[str, str]], extra: Words = NO_WORDS) -> str | None:
    """Why a query may not run for a caller without access to personal data, or None
    (``extra``: more personal words, as :func:`~cxloop.services.access.masking.mask`)."""
    for name, value in params:
        if name in BY_PARAMS and personal_key(value, True, extra):
            return (
                f"{name}={value}: grouping by a personal attribute needs a role that may "
                "see personal data (agent or above)"
            )
        if name in GROUP_PARAMS and _hidden(value):
            return (
                f"{name}: a group given by personal data needs a role that may see "
                "personal data (agent or above)"
            )
        for key, given in _conditions(value):
            if personal_key(key, True, extra):
                return (
                    f"{name}: a filter on the personal attribute {key!r} needs a role that "
                    "may see personal data (agent or above)"
                )
            if _hidden(given):
                return (
                    f"{name}: a filter on {key!r} by personal data needs a role that may "
                    "see personal data (agent or above)"
                )
    return None
