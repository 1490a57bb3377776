"""Personal data, recognised by meaning, and masked for those who may not see it.

A key is personal by what its words mean, not by an exact name: ``phone_number``, ``tel``,
``contactEmail``, ``customer_zip_code_prefix``, ``billing_address`` and ``cpf`` all are. The
key is split into words (``_``, ``-``, spaces, camelCase), and it is personal when one of its
words names contact details, an address, a national or financial identifier, a birth date or
a location, or when it pairs ``name`` with a word saying whose (``first_name``,
``customerName``; a bare ``name`` or ``city`` only inside a customer record, where it is the
person's). Words that say the value is *about* the data rather than the data itself
(``email_verified``, ``phone_type``, ``contact_reason``, ``address_count``) leave it shown.

Values are checked too, whatever their key: e-mail addresses, formatted national ids (CPF,
CNPJ, US SSN) and IP addresses anywhere; in free text (a text-like key, or any string with
spaces) also phone numbers, card numbers (Luhn-checked), IBANs, @handles and a name after a
salutation or "my name is". Masking is idempotent: masked output masks to itself.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "•••"

#: a word that makes a key personal on its own
PERSONAL_WORDS = frozenset(
    {
        # contact details
        "email",
        "mail",
        "emails",
        "phone",
        "phones",
        "telephone",
        "tel",
        "mobile",
        "cell",
        "cellphone",
        "fax",
        "whatsapp",
        "msisdn",
        "contact",
        "recipient",
        # addresses and places
        "address",
        "addresses",
        "addr",
        "street",
        "zip",
        "zipcode",
        "postcode",
        "postal",
        "cep",
        "plz",
        "geo",
        "latitude",
        "longitude",
        "lat",
        "lng",
        "lon",
        "gps",
        # identity
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "forename",
        "givenname",
        "familyname",
        "nickname",
        "username",
        "handle",
        "screenname",
        "dob",
        "birth",
        "birthday",
        "birthdate",
        # national, tax and travel ids
        "ssn",
        "sin",
        "cpf",
        "cnpj",
        "rg",
        "nif",
        "nie",
        "dni",
        "nino",
        "passport",
        "taxid",
        "tin",
        "license",
        "licence",
        # money and network
        "iban",
        "card",
        "ccn",
        "ip",
        "ipv4",
        "ipv6",
        "password",
        "secret",
    }
)
#: a word that, with ``name``, says the name is a person's
PERSON_WORDS = frozenset(
    {
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "sur",
        "customer",
        "client",
        "contact",
        "person",
        "recipient",
        "holder",
        "user",
        "employee",
        "agent",
        "buyer",
        "nick",
        "display",
        "legal",
        "maiden",
    }
)
#: a word saying the value is about the data, not the data (``email_verified``)
ABOUT_WORDS = frozenset(
    {
        "id",
        "ids",
        "count",
        "counts",
        "type",
        "types",
        "kind",
        "verified",
        "valid",
        "opt",
        "optin",
        "optout",
        "consent",
        "channel",
        "channels",
        "reason",
        "reasons",
        "status",
        "method",
        "preference",
        "preferred",
        "known",
        "missing",
        "present",
        "at",
        "ts",
        "time",
        "date",
        "attempts",
        "rate",
        "share",
        "policy",
        "resolution",
        "resolved",
        "sla",
        "wait",
        "duration",
        "seconds",
        "minutes",
        "hours",
        "days",
    }
)
#: words personal whatever goes with them (``date_of_birth``)
STRONG_WORDS = frozenset({"dob", "birth", "birthday", "birthdate", "ssn", "cpf", "cnpj", "iban"})
#: whole keys personal as they stand (``to`` alone is an address; ``days_to_ship`` is not)
WHOLE_KEYS = frozenset({"to", "cc", "bcc", "from"})
#: identifiers of a person, spelt together or apart (``national_id``, ``taxNumber``)
ID_PHRASES = (
    "nationalid",
    "taxid",
    "taxnumber",
    "socialsecurity",
    "idnumber",
    "idcard",
    "documentnumber",
    "personalid",
    "personid",
    "voterid",
    "healthid",
)
#: ambiguous words, personal only inside what a customer record carries
RECORD_WORDS = frozenset({"name", "city"})
#: keys whose values are a customer record (event attrs, a quarantined row, a notice's data)
RECORDS = frozenset({"attrs", "record", "data"})
#: words of keys that hold free text
TEXT_WORDS = frozenset(
    {
        "text",
        "texts",
        "comment",
        "comments",
        "body",
        "message",
        "messages",
        "note",
        "notes",
        "title",
        "examples",
        "description",
        "review",
        "content",
        "feedback",
        "subject",
        "summary",
        "reply",
        "response",
        "remark",
        "remarks",
        "latest",
    }
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NATIONAL = re.compile(
    r"(?<!\d)(?:\d{3}\.\d{3}\.\d{3}-\d{2}"  # CPF
    r"|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}"  # CNPJ
    r"|\d{3}-\d{2}-\d{4})(?!\d)"  # US SSN
)
IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
PHONE = re.compile(r"(?<![\w-])\+?\d(?:[\s().-]?\d){8,14}(?![\w-])")
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
HANDLE = re.compile(r"(?<![\w@.])@\w{2,30}\b")
NAMED = re.compile(
    r"\b(?:(?:Mr|Mrs|Ms|Miss|Dr|Sr|Sra|Srta|Dona|Dom|Herr|Frau|Mme|Mlle|M)\.?"
    r"|(?i:my name is|meu nome é|me chamo|mi nombre es|je m'appelle|ich heiße))"
    r"\s+(?:[A-ZÀ-Ý][\w'À-ÿ-]+)(?:\s+[A-ZÀ-Ý][\w'À-ÿ-]+)?"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def words(key: str) -> list[str]:
    """The words of a key: ``customerZipCode_prefix`` -> customer, zip, code, prefix."""
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", key).lower()) if w]


def personal_key(key: str, in_record: bool = False) -> bool:
    """Whether a value under ``key`` is a person's data (see the module's rules)."""
    ws = words(key)
    joined = "".join(ws)
    if joined in WHOLE_KEYS or any(w in STRONG_WORDS for w in ws):
        return True
    if any(p in joined for p in ID_PHRASES):
        return True
    if not ws or any(w in ABOUT_WORDS for w in ws):
        return False
    if any(w in PERSONAL_WORDS for w in ws) or joined in PERSONAL_WORDS:
        return True
    if any(w in RECORD_WORDS for w in ws) and any(w in PERSON_WORDS for w in ws):
        return True  # first_name, customerName, customer_city
    return in_record and joined in RECORD_WORDS


def text_key(key: str) -> bool:
    return any(w in TEXT_WORDS for w in words(key))


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


def mask_text(text: str, free: bool) -> str:
    """E-mails, national ids and IPs anywhere; in free text also phones, cards, IBANs,
    handles and named people."""
    text = EMAIL.sub(MASK + "@" + MASK, text)
    text = NATIONAL.sub(MASK, text)
    text = IPV4.sub(MASK, text)
    if not free:
        return text
    text = CARD.sub(_card, text)
    text = IBAN.sub(_iban, text)
    text = PHONE.sub(MASK, text)
    text = HANDLE.sub("@" + MASK, text)
    return NAMED.sub(lambda m: m.group().split()[0] + " " + MASK, text)


def mask(value: Any, key: str = "", in_record: bool = False) -> Any:
    """``value`` with personal data masked (a new object; ``value`` is not changed)."""
    if isinstance(value, dict):
        inner = in_record or key in RECORDS
        return {k: mask(v, str(k), inner) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, key, in_record) for v in value]
    if personal_key(key, in_record) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        free = text_key(key) or (" " in value.strip() and len(value) >= 12)
        return mask_text(value, free)
    return value
