"""The request bodies' shared field types: one check for every field of its kind.

- :data:`Amount`: money as a JSON number only (``strict``: ``true``, ``"1_0"`` or
  ``"10"`` are refused, not coerced), finite, >= 0, and never negative zero. Whether it
  has more decimals than the currency's minor unit is the policy's check
  (:func:`cxloop.domain.money.check_amount`, also a 422).
- :data:`Ident`: an id or a name (an owner, a department, an action's key): no control
  character at all (a NUL cannot even be stored by PostgreSQL; an escape sequence or a
  line break in a name misleads whoever reads it), and no leading or trailing space.
- :data:`Text`: free text (a note): line breaks and tabs allowed, other control
  characters (NUL, escape) refused.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

#: line breaks and tabs are text; every other C0/C1 control character is not
TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")


def _control(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


def ident(value: str) -> str:
    """An id or a name: refused with a clear message if it holds a control character."""
    bad = _control(value)
    if bad is not None:
        raise ValueError(f"holds the control character {bad}; ids and names may not")
    if value != value.strip():
        raise ValueError("starts or ends with a space")
    return value


def text(value: str) -> str:
    bad = _control(value, TEXT_CONTROLS_ALLOWED)
    if bad is not None:
        raise ValueError(f"holds the control character {bad} (only tabs and line breaks)")
    return value


def amount(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if value == 0 and math.copysign(1.0, value) < 0:
        raise ValueError("negative zero is not an amount; send 0")
    return value


#: an id-like string (give it its length with ``Annotated[Ident, Field(...)]``)
Ident = Annotated[str, AfterValidator(ident)]
Amount = Annotated[
    float,
    Field(strict=True, ge=0, le=1e9, description="A JSON number, >= 0, in the policy currency"),
    AfterValidator(amount),
]
Note = Annotated[str, Field(max_length=2000), AfterValidator(text)]
NonEmptyNote = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(text)]
