"""Personal data recognised by its shape, whatever key holds it: e-mail addresses,
formatted national ids, IP addresses and card numbers anywhere; in free text also phone
numbers, IBANs, @handles and a name after a salutation or "my name is"."""

from __future__ import annotations

import re

MASK = "•••"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NATIONAL = re.compile(
    r"(?<!\d)(?:\d{3}\.\d{3}\.\d{3}-\d{2}"  # CPF
    r"|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}"  # CNPJ
    r"|\d{3}-\d{2}-\d{4})(?!\d)"  # US SSN
)
IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
#: a phone number in free text (not a date and time: ``2026-11-02 10:00``)
PHONE = re.compile(r"(?<![\w-])(?!\d{4}-\d\d-\d\d)\+?\d(?:[\s().-]?\d){8,14}(?![\w-])")
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
HANDLE = re.compile(r"(?<![\w@.])@\w{2,30}\b")
NAMED = re.compile(
    r"\b(?:(?:Mr|Mrs|Ms|Miss|Dr|Sr|Sra|Srta|Dona|Dom|Herr|Frau|Mme|Mlle|M)\.?"
    r"|(?i:my name is|meu nome é|me chamo|mi nombre es|je m'appelle|ich heiße))"
    r"\s+(?:[A-ZÀ-Ý][\w'À-ÿ-]+)(?:\s+[A-ZÀ-Ý][\w'À-ÿ-]+)?"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return MASK if _luhn(digits) else match.group()


def _iban(match: re.Match[str]) -> str:
    raw = match.group().replace(" ", "")
    moved = raw[4:] + raw[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return MASK if int(number) % 97 == 1 else match.group()


def card_value(match: re.Match[str]) -> str:
    """A card number outside free text: 13-19 digits, an issuer's first digit (2-6), and
    Luhn-valid (a 13-digit epoch in milliseconds starts with 1)."""
    digits = re.sub(r"\D", "", match.group())
    return MASK if digits[0] in "23456" and _luhn(digits) else match.group()


def mask_text(text: str, free: bool, cards: bool = True) -> str:
    """E-mails, national ids, IPs and (unless ``cards`` is false: an identifier's value)
    card numbers anywhere; in free text also phones, IBANs, handles and named people."""
    text = EMAIL.sub(MASK + "@" + MASK, text)
    text = NATIONAL.sub(MASK, text)
    text = IPV4.sub(MASK, text)
    if not free:
        return CARD.sub(card_value, text) if cards else text
    text = CARD.sub(_card, text)
    text = IBAN.sub(_iban, text)
    text = PHONE.sub(MASK, text)
    text = HANDLE.sub("@" + MASK, text)
    return NAMED.sub(lambda m: m.group().split()[0] + " " + MASK, text)
