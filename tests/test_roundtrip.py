"""Property: whatever valid events go in through a file come out of the log unchanged."""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cxloop
from cxloop.domain.events import EventType

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s)
moment = st.integers(min_value=0, max_value=10**8).map(
    lambda s: datetime(2024, 1, 1) + timedelta(seconds=s)
)
event = st.fixed_dictionaries(
    {
        "customer_id": text,
        "event_type": st.sampled_from([t.value for t in EventType]),
        "ts": moment,
        "ref": st.none() | text,
        "amount": st.none() | st.integers(-(10**6), 10**6).map(lambda c: c / 100),
        "note": st.none() | text,
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=15), fmt=st.sampled_from(["csv", "jsonl"]))
def test_events_round_trip_through_files(events: list[dict], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in.{fmt}"
        rows = [
            {
                "event_id": f"e{i}",
                "customer_id": e["customer_id"],
                "event_type": e["event_type"],
                "ts": e["ts"].isoformat() + "Z",
                "ref": e["ref"] or "",
                "amount": "" if e["amount"] is None else repr(e["amount"]),
                "note": e["note"] or "",
            }
            for i, e in enumerate(events)
        ]
        if fmt == "csv":
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with cxloop.open(Path(tmp) / "store") as cx:
            report = cx.ingest(path)
            assert report.rows_quarantined == 0, report.problems
            out = cx.events().execute().set_index("event_id")
            for i, e in enumerate(events):
                row = out.loc[f"e{i}"]
                assert row.customer_id == e["customer_id"]
                assert row.event_type == e["event_type"]
                assert row.ts.to_pydatetime() == e["ts"]
                assert (row.ref if isinstance(row.ref, str) else None) == e["ref"]
                amount = None if row.amount != row.amount else row.amount
                assert amount == e["amount"]
                attrs = json.loads(row["attrs"]) if isinstance(row["attrs"], str) else {}
                assert attrs.get("note") == e["note"]
            assert cx.ingest(path).events_new == 0
