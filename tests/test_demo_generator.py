"""The Northwind Home demo generator: format, determinism, semantics, injected failures."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxloop.demo import DemoDataset, generate_demo, generate_events
from cxloop.demo.texts import CONTACT_TEXTS, NEGATIVE, NEUTRAL, POSITIVE
from cxloop.domain.events import DEPARTMENTS, EVENT_COLUMNS, EVENT_TYPES, INTERNAL_EVENT_TYPES

COLUMNS = [c.name for c in EVENT_COLUMNS]
FILES = [
    "sales_orders.csv",
    "logistics.csv",
    "billing.csv",
    "support.jsonl",
    "voice.csv",
    "employee_pulse.csv",
]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ID = re.compile(r"^nw-[a-z_]+-[OCE]-\d{6,}-\d+$")
DAY = pd.Timedelta(days=1)


def _read(path: Path) -> tuple[pd.DataFrame, int]:
    """All rows of one export as text (attrs as a JSON string); the count of broken lines."""
    if path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(df.columns) == COLUMNS
        return df, 0
    rows, broken = [], 0
    for line in path.read_text().splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            broken += 1
            continue
        assert list(obj) == COLUMNS
        assert isinstance(obj["attrs"], dict)
        rows.append({**obj, "attrs": json.dumps(obj["attrs"])})
    return pd.DataFrame(rows, columns=COLUMNS), broken


def _bad_mask(df: pd.DataFrame) -> pd.Series:
    amount = pd.to_numeric(df["amount"], errors="coerce")
    ts = pd.to_datetime(df["ts"], format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
    return (
        (df["customer_id"] == "")
        | ~df["event_type"].isin(EVENT_TYPES)
        | ts.isna()
        | (amount.isna() & (df["amount"] != ""))
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDataset:
    return generate_demo(tmp_path_factory.mktemp("northwind"))


@pytest.fixture(scope="module")
def events(demo: DemoDataset) -> pd.DataFrame:
    """The valid events of every file, with parsed times, amounts and attrs."""
    df = pd.concat([_read(p)[0].assign(file=p.name) for p in demo.files], ignore_index=True)
    df = df[~_bad_mask(df)].copy()
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df["due_at"] = pd.to_datetime(df["due_at"].mask(df["due_at"] == ""), utc=True)
    df["amount"] = pd.to_numeric(df["amount"].mask(df["amount"] == ""))
    df["a"] = df["attrs"].map(json.loads)
    return df


def _of(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["event_type"] == kind]


def _orders(events: pd.DataFrame) -> pd.DataFrame:
    placed = _of(events, "order_placed").set_index("ref")
    out = pd.DataFrame(
        {
            "placed": placed["ts"],
            "due": placed["due_at"],
            "amount": placed["amount"],
            "customer": placed["customer_id"],
        }
    )
    for key in ("carrier", "region", "sku", "ship_by"):
        out[key] = placed["a"].map(lambda a, k=key: a[k])
    out["ship_by"] = pd.to_datetime(out["ship_by"], utc=True)
    for kind, col in (
        ("order_shipped", "shipped"),
        ("order_delivered", "delivered"),
        ("order_canceled", "canceled"),
    ):
        out[col] = _of(events, kind).set_index("ref")["ts"]
    out["late"] = out["delivered"] > out["due"]
    return out


def test_files_columns_and_format(demo: DemoDataset, events: pd.DataFrame) -> None:
    assert [p.name for p in demo.files] == FILES
    assert all(p.exists() for p in demo.files)
    assert demo.n_events == len(events)
    assert 1000 < demo.n_customers <= 1500 and demo.n_events > 30_000
    assert demo.end == datetime(2026, 11, 20, 18, tzinfo=UTC)
    assert demo.end - demo.start == timedelta(days=180)
    assert events["event_type"].isin(EVENT_TYPES).all()
    assert events["department"].isin(DEPARTMENTS).all()
    assert events["a"].map(lambda a: isinstance(a, dict)).all()
    assert events["ts"].between(pd.Timestamp(demo.start), pd.Timestamp(demo.end)).all()
    assert set(events["event_type"]) == EVENT_TYPES - INTERNAL_EVENT_TYPES  # every source type
    by_file = events.groupby("file")["event_type"].unique().map(set)
    assert by_file["support.jsonl"] >= {
        "contact_inbound",
        "reply_sent",
        "transfer",
        "hold",
        "callback_promised",
        "replacement_promised",
    }
    assert by_file["voice.csv"] == {"survey_response", "review"}
    raw = pd.read_csv(demo.files[0], dtype=str, keep_default_na=False)
    assert raw["ts"].map(lambda s: bool(ISO.match(s))).all()
    placed = raw["event_type"] == "order_placed"
    assert raw.loc[placed, "due_at"].map(lambda s: bool(ISO.match(s))).all()
    canceled = raw["event_type"] == "order_canceled"
    assert canceled.sum() > 100 and (raw.loc[canceled, ["amount", "due_at"]] == "").all().all()
    # templates must stay JSON-safe
    for group in (*CONTACT_TEXTS, POSITIVE, NEUTRAL, *NEGATIVE):
        assert not any(ch in t for t in group for ch in '"\\\n')


def test_event_ids_unique_and_stable(events: pd.DataFrame) -> None:
    ids = events["event_id"]
    assert ids.is_unique
    assert ids.map(lambda s: bool(ID.match(s))).all()
    staff = events["event_type"] == "employee_feedback"  # no ref: about an employee
    prefix = "nw-" + events["event_type"] + "-" + events["ref"].where(~staff, "E") + "-"
    got = ids.str.rsplit("-", n=1).str[0] + "-"
    assert (got.where(~staff, got.str.slice(0, -7)) == prefix).all()


def test_deterministic(demo: DemoDataset, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "same")
    for a, b in zip(demo.files, again.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert again.scenarios == demo.scenarios
    other = generate_demo(tmp_path / "other", customers=200, seed=8)
    assert other.files[0].read_bytes() != demo.files[0].read_bytes()
    assert 150 < other.n_customers <= 200


def test_bad_rows(demo: DemoDataset, tmp_path: Path) -> None:
    found = 0
    kinds: set[str] = set()
    for path in demo.files:
        df, broken = _read(path)
        bad = df[_bad_mask(df)]
        found += len(bad) + broken
        kinds |= {"broken_json"} if broken else set()
        kinds |= {"no_customer"} if (bad["customer_id"] == "").any() else set()
        kinds |= {"bad_type"} if (bad["event_type"] == "order_teleported").any() else set()
        kinds |= {"bad_date"} if (bad["ts"] == "31/02/2026").any() else set()
        kinds |= {"bad_amount"} if (bad["amount"] == "n/a").any() else set()
        assert len(bad) + broken <= 3, path.name
    assert found == demo.bad_rows and 5 <= found <= 8
    assert kinds == {"broken_json", "no_customer", "bad_type", "bad_date", "bad_amount"}
    clean = generate_demo(tmp_path / "clean", customers=200, with_bad_rows=False)
    assert clean.bad_rows == 0
    for path in clean.files:
        df, broken = _read(path)
        assert broken == 0 and not _bad_mask(df).any()


def test_orders_and_delivery_promises(events: pd.DataFrame) -> None:
    o = _orders(events)
    days = (o["due"].dt.normalize() - o["placed"].dt.normalize()) / DAY
    assert days.between(3, 7).all() and days.nunique() == 5
    assert (o["due"].dt.strftime("%H:%M:%S") == "23:59:59").all()
    assert ((o["ship_by"] - o["placed"]) / DAY).between(0, 2.8).all()
    assert o["canceled"].notna().mean() == pytest.approx(0.02, abs=0.01)
    canceled = o[o["canceled"].notna()]
    assert canceled["shipped"].isna().all() and canceled["delivered"].isna().all()
    done = o.dropna(subset=["delivered"])
    assert (done["placed"] < done["shipped"]).all() and (done["shipped"] < done["delivered"]).all()
    assert 0.03 < done["late"].mean() < 0.12
    assert ((done["due"] - done["delivered"]) > DAY).mean() > 0.4  # often early
    # per-customer habits: some customers usually get next-day delivery, others do not
    took = (done["delivered"].dt.normalize() - done["placed"].dt.normalize()) / DAY
    usual = took.groupby(done["customer"]).median()
    assert (usual == 1).mean() > 0.15 and (usual >= 3).mean() > 0.2
    assert o.groupby("customer").size().max() <= 10


def test_billing_refunds_and_support_timing(events: pd.DataFrame) -> None:
    o = _orders(events)
    inv = _of(events, "invoice_issued").set_index("ref")["amount"]
    ratio = inv / o["amount"].reindex(inv.index)
    assert (ratio.round(2) == 1).mean() > 0.98
    req = _of(events, "refund_requested").set_index("ref")["ts"]
    iss = _of(events, "refund_issued").set_index("ref")["ts"].reindex(req.index)
    waited = (iss - req) / DAY
    assert (waited <= 5).mean() > 0.6 and (waited > 5).any() and waited.isna().any()
    contacts = _of(events, "contact_inbound").set_index("ref")
    replies = _of(events, "reply_sent").set_index("ref")["ts"]
    assert replies.index.isin(contacts.index).all()
    assert contacts["a"].map(lambda a: len(a["text"]) > 20).all()
    phone = contacts["channel"] == "phone"
    assert phone.eq(contacts["a"].map(lambda a: "hold_seconds" in a)).all()
    assert contacts["a"].map(lambda a: a["text"]).nunique() > 200
    for channel, limit in (("email", 24), ("chat", 1)):
        c = contacts[contacts["channel"] == channel]
        hours = (replies.reindex(c.index) - c["ts"]) / pd.Timedelta(hours=1)
        assert (hours <= limit).mean() > 0.8 and (hours > limit).any() and hours.isna().any()
    transfers = _of(events, "transfer")
    assert transfers["a"].map(lambda a: "to_department" in a).all()
    assert contacts.loc[transfers["ref"], "channel"].eq("phone").all()


def test_carrier_delay(demo: DemoDataset, events: pd.DataFrame) -> None:
    o = _orders(events).dropna(subset=["delivered"])
    o["fortnight"] = (o["placed"] - pd.Timestamp(demo.start)) // pd.Timedelta(days=14)
    cells = o.groupby(["carrier", "region", "fortnight"])["late"].agg(["mean", "size"])
    cells = cells[cells["size"] >= 10].sort_values("mean")
    carrier, region, _ = cells.index[-1]
    text = demo.scenarios["carrier_delay"]
    assert carrier in text and region in text
    assert cells["mean"].iloc[-1] > 0.4 and cells["mean"].median() < 0.1
    start = pd.Timestamp(re.search(r"placed (\S+) to", text).group(1), tz="UTC")
    window = o[
        (o["carrier"] == carrier)
        & (o["region"] == region)
        & o["placed"].between(start, start + pd.Timedelta(days=14))
    ]
    assert window["late"].mean() > 0.6 and o.drop(window.index)["late"].mean() < 0.1
    assert (window["shipped"] > window["ship_by"]).mean() > 3 * (o["shipped"] > o["ship_by"]).mean()


def test_missing_parts(demo: DemoDataset, events: pd.DataFrame) -> None:
    o = _orders(events)
    contacts = _of(events, "contact_inbound")
    mp = contacts[contacts["a"].map(lambda a: a["topic"]) == "missing_parts"]
    sku = o.loc[mp["a"].map(lambda a: a["order"]), "sku"]
    assert len(mp) >= 20 and sku.nunique() == 1 and sku.iloc[0] in demo.scenarios["missing_parts"]
    promised = _of(events, "replacement_promised").set_index("ref")
    assert promised.index.isin(mp["ref"]).all() and len(promised) >= 0.7 * len(mp)
    assert ((promised["due_at"] - promised["ts"]) == pd.Timedelta(days=7)).all()
    assert promised["a"].map(lambda a: bool(a["part"])).all()
    delivered = _of(events, "replacement_delivered").set_index("ref")["ts"]
    on_time = delivered.reindex(promised.index) <= promised["due_at"]
    assert on_time.mean() > 0.5 and (~on_time).sum() >= 3


def test_billing_run(demo: DemoDataset, events: pd.DataFrame) -> None:
    o = _orders(events)
    inv = _of(events, "invoice_issued").set_index("ref")
    ratio = inv["amount"] / o["amount"].reindex(inv.index)
    wrong = inv[(ratio - 1.35).abs() < 0.01]
    runs = wrong["a"].map(lambda a: a["run"])
    assert len(wrong) >= 20 and runs.nunique() == 1
    assert runs.iloc[0] in demo.scenarios["billing_run"]
    assert ((ratio - 1).abs() > 0.01).sum() == len(wrong)  # only that run is wrong
    contacts = _of(events, "contact_inbound")
    disputed = contacts[contacts["a"].map(lambda a: a["topic"]) == "billing_error"]
    assert 0 < disputed["a"].map(lambda a: a["order"]).nunique() < 0.6 * len(wrong)
    credits = _of(events, "credit_issued")
    fixed = credits[credits["ref"].isin(wrong.index)]
    assert len(fixed) and np.allclose(
        fixed["amount"].to_numpy(),
        (wrong.loc[fixed["ref"], "amount"] - o.loc[fixed["ref"], "amount"]).to_numpy(),
    )


def test_missed_callbacks(demo: DemoDataset, events: pd.DataFrame) -> None:
    promised = _of(events, "callback_promised").set_index("ref")
    promised = promised[promised["due_at"] < pd.Timestamp(demo.end) - DAY]
    made = _of(events, "callback_made").set_index("ref")["ts"].reindex(promised.index)
    team = promised["a"].map(lambda a: a["team"])
    missed = made.isna().groupby(team).mean()
    worst = missed.idxmax()
    assert worst in demo.scenarios["missed_callbacks"] and (team == worst).sum() >= 15
    assert missed[worst] > 0.3 and missed[worst] > 3 * made[team != worst].isna().mean()
    assert (made.dropna() <= promised["due_at"].reindex(made.dropna().index)).mean() > 0.7


def test_voice_follows_experience(demo: DemoDataset, events: pd.DataFrame) -> None:
    o = _orders(events)
    surveys = _of(events, "survey_response")
    metric = surveys["a"].map(lambda a: a["metric"])
    score = surveys["a"].map(lambda a: a["score"])
    limits = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    assert all(score[metric == m].between(*lim).all() for m, lim in limits.items())
    nps = pd.Series(score[metric == "nps"].to_numpy(), index=surveys.loc[metric == "nps", "ref"])
    late = o["late"].reindex(nps.index).fillna(False).astype(bool)
    assert late.sum() >= 10 and nps[~late].mean() - nps[late].mean() > 2
    reviews = _of(events, "review")
    stars = pd.Series(reviews["a"].map(lambda a: a["score"]).to_numpy(), index=reviews["ref"])
    assert stars.between(1, 5).all() and reviews["a"].map(lambda a: bool(a["text"])).all()
    bad = stars.index.isin(o.index[o["late"]])
    assert stars[~bad].mean() - stars[bad].mean() > 1
    low = reviews[stars.to_numpy() <= 2]["a"].map(lambda a: a["text"])
    assert low.isin([t for t in POSITIVE]).sum() == 0
    assert set(demo.scenarios) == {
        "carrier_delay",
        "missing_parts",
        "billing_run",
        "missed_callbacks",
    }
    assert all(re.search(r"\d", text) for text in demo.scenarios.values())


def test_generate_events_fast_and_consistent() -> None:
    started = time.perf_counter()
    table = generate_events(n_orders=20_000, seed=3)
    assert time.perf_counter() - started < 5
    assert table.column_names == COLUMNS
    assert all(t == pa.string() for t in table.schema.types)
    df = table.to_pandas()
    assert 70_000 < len(df) < 110_000
    assert df["event_id"].is_unique and (df["ts"].to_numpy()[:-1] <= df["ts"].to_numpy()[1:]).all()
    kinds = df.groupby("event_type")["ref"]
    placed, delivered = set(kinds.get_group("order_placed")), kinds.get_group("order_delivered")
    assert 18_000 <= len(placed) <= 20_000 and len(delivered) <= len(placed)
    assert delivered.isin(placed).all() and delivered.is_unique
    first = df.drop_duplicates("ref").set_index("ref")["event_type"]
    assert first[first.index.str.startswith("O-")].eq("order_placed").all()
    assert first[first.index.str.startswith("C-")].eq("contact_inbound").all()
    again = generate_events(n_orders=2_000, seed=3)
    assert again.equals(generate_events(n_orders=2_000, seed=3))
