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
import unicodedata
from typing import Any

from cxloop.services.access.values import CARD, MASK, card_value, mask_text

__all__ = ["MASK", "mask", "mask_text", "personal_key"]

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
        "callback",
        "telefone",
        "celular",
        "contato",
        "sms",
        "landline",
        "twitter",
        "instagram",
        "facebook",
        "linkedin",
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
        "endereco",
        "logradouro",
        "rua",
        "bairro",
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
        "nascimento",
        "apellido",
        "apellidos",
        "sobrenome",
        "documento",
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
        "pan",
        "cvv",
        "cvc",
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
        "cliente",
        "comprador",
        "destinatario",
        "cardholder",
        "caller",
        "receiver",
        "shopper",
        "guest",
        "passenger",
        "consignee",
        "sender",
        "payer",
        "requester",
        "addressee",
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
        "missing",
        "present",
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
#: words about the data only as a key's last word (``email_sent_at``, not ``phone_at_signup``)
TIME_WORDS = frozenset({"at", "ts", "time", "date", "on"})
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
    "ccnumber",
    "cardnumber",
    "creditcard",
    "shipto",
    "billto",
    "soldto",
    "deliverto",
    "deliveryto",
    "receivedby",
    "signedby",
    "collectedby",
    "accountnumber",
    "routingnumber",
    "sortcode",
    "vatnumber",
    "vatid",
)
#: ambiguous words, personal only inside what a customer record carries
RECORD_WORDS = frozenset({"name", "city", "nome", "nombre", "cidade", "ciudad"})
#: whole keys that, inside a customer record, hold a person (``customer``: "Jane Doe")
RECORD_KEYS = frozenset(
    {
        "customer",
        "client",
        "cliente",
        "buyer",
        "comprador",
        "caller",
        "shopper",
        "payer",
        "receiver",
        "consignee",
        "addressee",
        "sender",
        "requester",
        "passenger",
        "guest",
        "cardholder",
    }
)
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

Words = frozenset[str]
NO_WORDS: Words = frozenset()
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def words(key: str) -> list[str]:
    """The words of a key: ``customerZipCode_prefix`` -> customer, zip, code, prefix
    (accents dropped: ``endereço`` -> endereco)."""
    plain = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", plain).lower()) if w]


def personal_key(key: str, in_record: bool = False, extra: Words = NO_WORDS) -> bool:
    """Whether a value under ``key`` is a person's data (see the module's rules);
    ``extra``: more personal words (setting ``personal_words``: lower case, no separators)."""
    ws = words(key)
    joined = "".join(ws)
    if joined in WHOLE_KEYS or any(w in STRONG_WORDS for w in ws):
        return True
    if any(p in joined for p in ID_PHRASES):
        return True
    if not ws or _about(ws, extra):
        return False
    if any(w in PERSONAL_WORDS or w in extra for w in ws) or joined in PERSONAL_WORDS | extra:
        return True
    if any(w in RECORD_WORDS for w in ws) and any(w in PERSON_WORDS for w in ws):
        return True  # first_name, customerName, customer_city, nome_cliente
    return in_record and (joined in RECORD_WORDS or joined in RECORD_KEYS)


def _about(ws: list[str], extra: Words) -> bool:
    """Whether a word after the key's last personal word says the value is about the
    data (``email_verified``, ``phone_type``; not ``preferred_phone``), or the key ends in
    a time word (``email_sent_at``; not ``phone_at_signup``)."""
    if ws[-1] in TIME_WORDS:
        return True
    last = max((i for i, w in enumerate(ws) if w in PERSONAL_WORDS or w in extra), default=-1)
    return any(w in ABOUT_WORDS for w in ws[last + 1 :])


def text_key(key: str) -> bool:
    return any(w in TEXT_WORDS for w in words(key))


#: how deep masking looks into nested values; everything below is masked whole (ingest
#: quarantines attrs nested deeper than 64 levels, which an answer wraps in a few more, so
#: only data loaded before that check can reach it)
MAX_DEPTH = 100
#: words of identifier keys, whose values are never taken for card numbers
ID_WORDS = frozenset({"id", "ids", "ref", "refs", "uuid"})


def mask(
    value: Any, key: str = "", in_record: bool = False, depth: int = 0, extra: Words = NO_WORDS
) -> Any:
    """``value`` with personal data masked (a new object; ``value`` is not changed).
    Containers nested deeper than :data:`MAX_DEPTH` are masked whole; ``extra``: more
    personal words (as in :func:`personal_key`)."""
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        inner = in_record or key in RECORDS
        return {k: mask(v, str(k), inner, depth + 1, extra) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, key, in_record, depth + 1, extra) for v in value]
    if isinstance(value, bool) or value in (None, ""):
        return value  # a flag or nothing says nothing about the person
    if personal_key(key, in_record, extra):
        return MASK
    if isinstance(value, str):
        free = text_key(key) or (" " in value.strip() and len(value) >= 12)
        return mask_text(value, free, cards=not _id_key(key))
    if isinstance(value, int) and not _id_key(key):
        return value if CARD.sub(card_value, str(value)) == str(value) else MASK
    return value


def _id_key(key: str) -> bool:
    return bool(ID_WORDS.intersection(words(key)))
