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
from itertools import pairwise

from cxloop.services.access.masking import NO_WORDS, Words, mask, personal_key

#: parameters whose value names an attribute to group by
BY_PARAMS = frozenset({"by", "group_by", "breakdown", "dimension"})
#: parameters whose value is one group of a breakdown
GROUP_PARAMS = frozenset({"segment", "value", "group"})
#: the longest parameter value this check reads (a step is a few dozen characters); a
#: longer one from a caller without personal-data access is refused unread
MAX_PARAM_CHARS = 1000
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_OPERATOR = re.compile(r"!=|<=|>=|=|<|>")


def _conditions(text: str) -> list[tuple[str, str]]:
    """Every (key, value) a ``where`` clause in a parameter could filter on.

    Read more widely than any parser of steps reads it, so that no wording a parser
    accepts (a ``between``, ``within`` or ``and`` where this check does not expect it)
    hides a condition: everything after the first ``where`` counts; each comparison
    operator's key is the word before it and its value the word after it. Linear in the
    text (no backtracking pattern): a long parameter costs no more than reading it."""
    found = _WHERE.search(text)
    if found is None:
        return []
    parts = _OPERATOR.split(text[found.end() :])
    pairs = []
    for before, after in pairwise(parts):
        words, values = before.split(), after.split()
        if words:
            pairs.append((words[-1], values[0].strip("'\"") if values else ""))
    return pairs


def _hidden(value: str) -> bool:
    """Whether masking hides (part of) the value wherever it appears."""
    return bool(value) and mask(value) != value


def refusal(params: Iterable[tuple[str, str]], extra: Words = NO_WORDS) -> str | None:
    """Why a query may not run for a caller without access to personal data, or None
    (``extra``: more personal words, as :func:`~cxloop.services.access.masking.mask`)."""
    for name, value in params:
        if len(value) > MAX_PARAM_CHARS:
            return (
                f"{name}: a value of {len(value):,} characters (at most {MAX_PARAM_CHARS:,} "
                "for a role that may not see personal data)"
            )
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
        conditions = _conditions(value)
        if conditions and _hidden(value):
            return (
                f"{name}: a filter by personal data needs a role that may see personal "
                "data (agent or above)"
            )
        for key, given in conditions:
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
