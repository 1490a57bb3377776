"""How many minor digits an amount in a currency is shown with (ISO 4217's minor units)."""

from __future__ import annotations

#: the currencies whose minor unit is not the hundredth (ISO 4217); any other code: 2
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def minor_digits(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def money_text(value: float, currency: str) -> str:
    """``value`` with the currency's minor digits and thousands separators: 1,044.01."""
    return f"{value:,.{minor_digits(currency)}f}"
