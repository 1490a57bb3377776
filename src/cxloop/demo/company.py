"""Who the demo company is: its brand, where its customers write from and where they reply
to, and the settings the demo runs with. Nothing outside the demo package names these
(``tests/test_no_demo_words.py`` checks it with :func:`demo_words`)."""

from __future__ import annotations

import re
from pathlib import Path

BRAND = "Northwind Home"
SENDER = "care@northwind.example"
CUSTOMER_EMAIL_DOMAIN = "customers.northwind.example"

#: The settings the demo store is run with (docs/settings.md): notices signed by the brand.
SETTINGS = {"brand": BRAND, "sender": SENDER}
ENV = {"CXLOOP_BRAND": BRAND, "CXLOOP_SENDER": SENDER}


def demo_words() -> set[str]:
    """Every name the demo invents: its brand (and the brand's first word), its e-mail
    domains (any ``*.example`` in the package's sources), its products and their SKUs,
    its support teams and its carriers."""
    from cxloop.demo.generator import CARRIERS, TEAMS
    from cxloop.demo.texts import CATALOG

    words = {BRAND, BRAND.split()[0], CUSTOMER_EMAIL_DOMAIN, SENDER.split("@")[1]}
    for source in Path(__file__).parent.glob("*.py"):
        words |= set(re.findall(r"[\w-]+(?:\.[\w-]+)*\.example\b", source.read_text("utf-8")))
    words |= {name for name, *_ in CATALOG} | {sku for _, sku, *_ in CATALOG}
    return words | set(TEAMS) | set(CARRIERS)
