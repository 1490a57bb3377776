"""No demo-company word (brand, product, SKU, team, carrier, e-mail domain) in ``src/``
outside the demo package: the product is neutral; the demo configures its own identity.
The words come from the demo generator itself, so the list cannot go stale."""

from __future__ import annotations

import re
from functools import cache

from cxloop.demo.company import BRAND, SENDER, demo_words
from cxloop.demo.generator import CARRIERS, TEAMS
from cxloop.demo.texts import CATALOG
from tests.conftest import REPO

SRC = REPO / "src"
DEMO = SRC / "cxloop" / "demo"
TEXT = {".py", ".toml", ".html", ".css", ".js", ".md", ".txt", ".json", ".sql"}


def test_the_demo_words_come_from_the_generator() -> None:
    words = demo_words()
    assert {BRAND, "Northwind", SENDER.split("@")[1], "customers.northwind.example"} <= words
    assert set(TEAMS) | set(CARRIERS) | {CATALOG[0][0], CATALOG[0][1]} <= words


def _pattern(words: set[str], flags: int = 0) -> re.Pattern[str]:
    alternatives = (re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile("|".join(rf"(?<![\w.-])(?:{a})(?![\w-])" for a in alternatives), flags)


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Team names (ordinary words: Birch, Cedar) as written; everything else in any case."""
    names = set(TEAMS)
    return _pattern(demo_words() - names, re.IGNORECASE), _pattern(names)


def demo_mentions(text: str) -> list[str]:
    """The demo words in ``text``."""
    any_case, as_written = _patterns()
    return any_case.findall(text) + as_written.findall(text)


def test_the_check_finds_what_it_looks_for() -> None:
    old = 'company = "Northwind Home"\ncontact = "care@northwind.example"  # northwind'
    assert demo_mentions(old) == ["Northwind Home", "northwind.example", "northwind"]
    assert demo_mentions("team Cedar, SKU NW-BF-4410; cedar wood") == ["NW-BF-4410", "Cedar"]
    assert demo_mentions("examples of a northwindy day") == []


def test_no_demo_word_in_src_outside_the_demo_package() -> None:
    words = {w.lower() for w in demo_words()}
    found: list[str] = []
    for path in sorted(SRC.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT or DEMO in path.parents:
            continue
        text = path.read_text("utf-8")
        low = text.lower()
        if any(w in low for w in words) and demo_mentions(text):  # then say where
            for n, line in enumerate(text.splitlines(), 1):
                found += [f"{path.relative_to(REPO)}:{n}: {w!r}" for w in demo_mentions(line)]
    assert not found, "demo-company words outside src/cxloop/demo:\n" + "\n".join(found)
