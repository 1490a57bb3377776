"""Money in whole minor units (cents): how the empowerment policy compares amounts.

Amounts travel as floats (JSON numbers, the store's columns), and float sums are not
exact: 8.0 + 8.01 is 16.009999999999998, and 25 - 16.01 is 8.989999999999998, less than
8.99. So the policy never compares floats: every amount becomes an integer count of the
currency's minor unit first, through :class:`decimal.Decimal` of the number as written
(``repr``), after dropping float noise below a millionth:

- a **request** counts up (:func:`minor_up`): 0.001 can never slip under a limit as 0;
- a **limit** and what is **left** count down (:func:`minor_down`): a limit of 16.665
  (half of 33.33) lets 16.66 through, never 16.67;
- a **running total** counts up too (it is a sum of amounts already whole in minor units,
  up to float noise; one recorded before amounts were checked counts as its next unit).

A request whose amount has more decimals than the currency's minor unit (0.001 USD) is
refused before anything is recorded (:func:`check_amount`). The minor unit comes from
the policy's currency (ISO 4217: 2 digits unless :data:`MINOR_DIGITS` says otherwise);
the CLI's tables show amounts with as many digits.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

from cxloop.errors import CxloopError

#: ISO 4217 currencies whose minor unit is not the cent (2 digits): 0, 3 or 4 digits.
MINOR_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"),
        0,
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
#: Below this a float's digits are noise (0.1 + 0.2 is 0.30000000000000004).
NOISE = Decimal("0.000001")


class AmountError(CxloopError):
    """An amount that is not money in the currency: more decimals than its minor unit,
    negative zero, not finite (the API answers 422)."""


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (USD 2, JPY 0, KWD 3)."""
    return MINOR_DIGITS.get(currency.upper(), 2)


def _decimal(amount: float) -> Decimal:
    if not math.isfinite(amount):
        raise AmountError(f"amount: expected a finite number, got {amount!r}")
    return Decimal(repr(float(amount))).quantize(NOISE, ROUND_HALF_EVEN)


def _minor(amount: float, digits: int, rounding: str) -> int:
    return int(_decimal(amount).scaleb(digits).quantize(Decimal(1), rounding))


def minor_up(amount: float, digits: int) -> int:
    """``amount`` in minor units, rounded up (a request, a running total)."""
    return _minor(amount, digits, ROUND_CEILING)


def minor_down(amount: float, digits: int) -> int:
    """``amount`` in minor units, rounded down (a limit, what is left)."""
    return _minor(amount, digits, ROUND_FLOOR)


def major(minor: int, digits: int) -> float:
    """Minor units back to an amount (1601 cents: 16.01, the nearest float to it)."""
    return float(Decimal(minor).scaleb(-digits))


def decimals(amount: float) -> int:
    """How many decimals ``amount`` has as written (8.99: 2, 0.001: 3, 10.0: 0)."""
    try:
        exponent = Decimal(repr(float(amount))).normalize().as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - repr of a finite float is a number
        return 0
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def check_amount(amount: float, currency: str) -> None:
    """Refuse an amount that is not a money amount of ``currency`` (see the module doc)."""
    digits = minor_digits(currency)
    if not math.isfinite(amount) or amount < 0:
        raise AmountError(f"amount: expected a number >= 0, got {amount!r}")
    if amount == 0 and math.copysign(1.0, amount) < 0:
        raise AmountError("amount: negative zero is not an amount; send 0")
    if decimals(amount) > digits:
        unit = "whole units" if digits == 0 else f"at most {digits} decimals"
        raise AmountError(
            f"amount: {amount!r} has more decimals than {currency.upper()}'s minor unit "
            f"allows ({unit}); round it to the currency's smallest unit"
        )
