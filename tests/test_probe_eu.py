"""A new user's own exports through a mapping file (the probe of docs/mappings.md): EU orders
with only placed and delivered dates, amounts in EUR. The answers must not assume the demo's
log (its carrier hand-offs, its currency): each figure is checked against pandas over the
raw file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import cxloop

# (order, customer, placed, promised by, delivered or "", total in EUR as the export writes it)
ORDERS = [
    ("o01", "c01", "03/02/2018 10:07", "06/03/2018 00:00", "16/02/2018 20:15", "1.044,01"),
    ("o02", "c02", "02/05/2018 19:51", "30/05/2018 00:00", "22/05/2018 16:27", "532,50"),
    ("o03", "c03", "10/05/2018 08:00", "14/05/2018 00:00", "20/05/2018 09:00", "151,96"),
    ("o04", "c04", "01/06/2018 12:00", "05/06/2018 00:00", "", "99,90"),
    ("o05", "c05", "20/08/2018 12:00", "25/09/2018 00:00", "", "45,00"),
    ("o06", "c06", "01/09/2018 12:00", "30/09/2018 00:00", "", "12,34"),
    ("o07", "c07", "15/09/2018 12:00", "10/10/2018 00:00", "", "80,00"),
    ("o08", "c08", "24/09/2018 09:00", "20/10/2018 00:00", "", "70,00"),
]

MAPPING = """
name = "shop-eu"

[input]
format = "csv"
delimiter = ";"

[[events]]
name = "placed"
event_id = "shop:{Order ID}:placed"
customer_id = "{Customer}"
event_type = "order_placed"
ts = { column = "Order Date", format = "%d/%m/%Y %H:%M", zone = "Europe/Paris" }
due_at = { column = "Promised By", format = "%d/%m/%Y %H:%M", zone = "Europe/Paris", \
end_of_day = true }
amount = { column = "Total (EUR)", decimal = "," }
ref = "{Order ID}"
channel = "web"

[[events]]
name = "delivered"
when = { column = "Delivered", present = true }
event_id = "shop:{Order ID}:delivered"
customer_id = "{Customer}"
event_type = "order_delivered"
ts = { column = "Delivered", format = "%d/%m/%Y %H:%M", zone = "Europe/Paris" }
ref = "{Order ID}"
channel = "carrier"
"""

#: the carrier's hand-offs, mapped as the built-in rule's milestone (second variant)
SHIPPED = """order,customer,ts
o03,c03,2018-05-10T10:00:00
o06,c06,2018-09-02T10:00:00
"""


def _write_orders(folder: Path) -> Path:
    lines = ["Order ID;Customer;Order Date;Promised By;Delivered;Total (EUR)"]
    lines += [";".join(row) for row in ORDERS]
    path = folder / "orders_eu.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "orders_eu.toml").write_text(MAPPING, encoding="utf-8")
    return path


def _raw() -> pd.DataFrame:
    """The orders as pandas reads the raw export, times in UTC (naive), as the store keeps them."""
    df = pd.DataFrame(ORDERS, columns=["ref", "customer_id", "placed", "due", "delivered", "eur"])

    def utc(col: pd.Series, end_of_day: bool = False) -> pd.Series:
        t = pd.to_datetime(col.replace("", None), format="%d/%m/%Y %H:%M")
        if end_of_day:
            t = t + timedelta(hours=23, minutes=59, seconds=59)
        return t.dt.tz_localize("Europe/Paris").dt.tz_convert("UTC").dt.tz_localize(None)

    df["placed"], df["delivered"] = utc(df.placed), utc(df.delivered)
    df["due"] = utc(df.due, end_of_day=True)
    df["amount"] = df.eur.str.replace(".", "", regex=False).str.replace(",", ".").astype(float)
    return df


@pytest.fixture(scope="module")
def eu_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("probe_eu")
    orders = _write_orders(folder)
    home = folder / "store"
    with cxloop.open(home) as cx:
        report = cx.ingest(orders, mapping=folder / "orders_eu.toml", refresh=False)
        assert report.rows_quarantined == 0
    yield home


def _ledger(home: Path) -> pd.DataFrame:
    with cxloop.open(home) as cx:
        return cx.promises()


def test_no_handoff_risk_when_the_log_has_no_handoffs(eu_store: Path) -> None:
    raw = _raw()
    ledger = _ledger(eu_store)
    assert sorted(ledger.ref) == sorted(raw.ref)
    # the export has no order_shipped at all: no promise can have missed its hand-off
    assert "handoff_missed" not in set(ledger.at_risk_reason.dropna())
    early = raw[raw.delivered.notna() & (raw.delivered <= raw.due)].ref
    assert ledger.set_index("ref").loc[list(early), "at_risk_reason"].isna().all()
    with cxloop.open(eu_store) as cx:
        report = cx.promise_report(by="kind").set_index("kind").loc["delivery"]
        as_of = pd.Timestamp(cx.workspace.clock.now())
    broken = raw[(raw.delivered > raw.due) | (raw.delivered.isna() & (raw.due < as_of))]
    assert report["broken"] == len(broken) > 0
    assert report["broken_flagged_before"] == 0  # no warning could have been given


def test_handoff_risk_fires_once_the_log_has_handoffs(eu_store: Path, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "store"
    shutil.copytree(eu_store, home)
    ships = tmp_path / "shipped.csv"
    ships.write_text(SHIPPED, encoding="utf-8")
    (tmp_path / "shipped.toml").write_text(
        '[input]\nformat = "csv"\n\n[[events]]\nevent_id = "ship:{order}"\n'
        'customer_id = "{customer}"\nevent_type = "order_shipped"\n'
        'ts = { column = "ts", format = "%Y-%m-%dT%H:%M:%S" }\nref = "{order}"\n'
        'channel = "carrier"\n',
        encoding="utf-8",
    )
    with cxloop.open(home) as cx:
        cx.ingest(ships, mapping=tmp_path / "shipped.toml", refresh=False)
        as_of = pd.Timestamp(cx.workspace.clock.now())
    ledger = _ledger(home).set_index("ref")
    raw = _raw().set_index("ref")
    shipped = {"o03", "o06"}
    # pandas: no hand-off within 2 days of the order, and that deadline came before the
    # order was delivered, before it was due and by the as-of time
    deadline = raw.placed + timedelta(days=2)
    resolved = raw.delivered.fillna(pd.Timestamp.max).combine(raw.due, min)
    want = sorted(
        r
        for r in raw.index
        if r not in shipped and deadline[r] < resolved[r] and deadline[r] <= as_of
    )
    got = sorted(ledger.index[ledger.at_risk_reason == "handoff_missed"])
    assert got == want != []


def test_rules_show_prints_the_rules_in_effect(tmp_path: Path) -> None:
    import json
    import tomllib

    from typer.testing import CliRunner

    from cxloop.cli.main import app

    runner = CliRunner()
    shown = runner.invoke(app, ["rules", "show"])
    assert shown.exit_code == 0, shown.output
    own = tmp_path / "rules.toml"
    own.write_text(
        '[[rules]]\nname = "delivery"\nkind = "delivery"\ndepartment = "logistics"\n'
        'opens_on = "order_placed"\ndue_after = "7d"\nfulfilled_by = "order_delivered"\n'
        '[[rules.risks]]\nreason = "payment_missed"\nkind = "milestone_deadline"\n'
        'milestone = "payment_received"\nwithin = "1d"\n',
        encoding="utf-8",
    )
    got = runner.invoke(app, ["rules", "show", "--rules", str(own), "--format", "json"])
    assert got.exit_code == 0, got.output
    rows = json.loads(got.output)["risks"]
    assert [(r["rule"], r["risk"]) for r in rows] == [("delivery", "payment_missed")]
    assert rows[0]["risk_needs"].startswith("payment_received")
    names = {r["name"] for r in tomllib.loads(shown.output)["rules"]}  # the TOML as written
    assert {"delivery", "callback", "refund"} <= names


# NPS answers (respondent, submitted, score); the latest order (o08, 2018-09-24) sets the clock
ANSWERS = [
    ("c01", "2018-08-01T10:00:00+02:00", 10),  # before the 5 weeks
    ("c02", "2018-08-25T10:00:00+02:00", 9),
    ("c03", "2018-08-30T10:00:00+02:00", 3),
    ("c04", "2018-09-05T10:00:00+02:00", 7),
    ("c05", "2018-09-13T12:09:11+02:00", 10),  # the last answer
]
SURVEY = """[input]
format = "jsonl"
[[events]]
customer_id = "{respondent}"
event_type = "survey_response"
ts = { column = "submitted" }
channel = "email"
[events.attrs]
metric = "nps"
score = { column = "nps", type = "integer" }
"""
#: billing complaints: four long before the brief's 90 days (a subject needs 5 texts for a
#: verdict), one within them from c02, naming no order
CONTACTS = "customer,when,message\n" + "".join(
    f'{c},{when},"{text}"\n'
    for c, when, text in [
        ("c01", "2018-02-20 10:00", "I was overcharged on my invoice, this is wrong"),
        ("c03", "2018-05-21 10:00", "Charged twice for one order, terrible billing"),
        ("c04", "2018-06-06 10:00", "The invoice is wrong, I was billed the wrong amount"),
        ("c01", "2018-03-01 10:00", "Still overcharged, the invoice is wrong again, awful"),
        ("c02", "2018-08-19 16:27", "I cancelled the order but was charged twice, awful"),
    ]
)
CONTACT = """[input]
format = "csv"
[[events]]
customer_id = "{customer}"
event_type = "contact_inbound"
ts = { column = "when", format = "%Y-%m-%d %H:%M", zone = "Europe/Paris" }
channel = "phone"
[events.attrs]
text = "{message}"
"""


@pytest.fixture(scope="module")
def eu_brief(eu_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    import json
    import shutil

    folder = tmp_path_factory.mktemp("probe_eu_brief")
    home = folder / "store"
    shutil.copytree(eu_store, home)
    survey = folder / "survey.jsonl"
    survey.write_text(
        "".join(
            json.dumps({"respondent": c, "submitted": t, "nps": s}) + "\n" for c, t, s in ANSWERS
        ),
        encoding="utf-8",
    )
    (folder / "survey.toml").write_text(SURVEY, encoding="utf-8")
    contacts = folder / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    (folder / "contacts.toml").write_text(CONTACT, encoding="utf-8")
    with cxloop.open(home) as cx:
        cx.ingest(survey, mapping=folder / "survey.toml", refresh=False)
        cx.ingest(contacts, mapping=folder / "contacts.toml", refresh=False)
        return dict(cx.brief())


def test_brief_keeps_the_answers_of_the_longer_window(eu_brief: dict) -> None:
    end = pd.Timestamp(eu_brief["as_of"])
    raw = _raw()
    assert end == raw.placed.max()  # the clock: the latest event, a late order
    answers = pd.DataFrame(ANSWERS, columns=["customer_id", "ts", "score"])
    answers["ts"] = pd.to_datetime(answers.ts, utc=True).dt.tz_localize(None)
    window = answers[(answers.ts >= end - timedelta(days=35)) & (answers.ts <= end)]
    nps = 100 * ((window.score >= 9).mean() - (window.score <= 6).mean())
    assert answers[answers.ts >= end - timedelta(days=7)].empty  # none in the latest week
    (row,) = eu_brief["customers"]["scores"]
    assert row["metric"] == "nps" and row["n"] == 0 and row["value"] is None
    assert row["last_5_weeks_n"] == len(window) == 4
    assert row["last_5_weeks"] == pytest.approx(nps)
    assert row["last_answer"][:16] == answers.ts.max().isoformat()[:16]


def test_brief_one_thing_counts_the_customers_orders(eu_brief: dict) -> None:
    one = eu_brief["one_thing"]
    assert one["key"] == "subject:billing_accuracy"
    raw = _raw()
    # the complaint names no order: the customer's latest order placed before it counts
    want = raw[raw.customer_id == "c02"].sort_values("placed").amount.iloc[-1]
    assert one["customer_ids"] == ["c02"] and one["customers"] == 1
    assert one["revenue"] == pytest.approx(want) == 532.50


def test_cli_brief_and_timeline_speak_plainly(eu_store: Path) -> None:
    from typer.testing import CliRunner

    from cxloop.cli.main import app

    got = CliRunner().invoke(
        app, ["timeline", "c01", "--home", str(eu_store)], env={"COLUMNS": "200"}
    )
    assert got.exit_code == 0, got.output
    assert "1,044.01" in got.output  # the currency's minor digits, not "1,044.0"
    with cxloop.open(eu_store) as cx:
        amount = float(cx.timeline("c01").amount.dropna().iloc[0])
    assert amount == _raw().set_index("ref").amount["o01"]


def test_brief_page_says_one_customer(eu_brief: dict) -> None:
    from cxloop.cli.brief import _scores, render_html
    from cxloop.cli.render import clean

    b = clean(eu_brief)
    page = render_html(b)
    assert "1 customer, 532.50" in page and "1 customers" not in page
    shown = _scores(b["customers"]["scores"])
    assert list(shown["this week"]) == ["no answers (last 2018-09-13)"]
    assert shown["last 5 weeks"].iloc[0].endswith("n 4")
