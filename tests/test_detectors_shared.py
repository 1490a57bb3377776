"""The detectors' shared reads (cxloop.analytics.detector_shared): the same cells as each
detector reading the log on its own, and attrs read out of one JSON parse equal to the
values in the raw JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cxloop.analytics.attrs import attr_texts
from cxloop.analytics.detector_shared import prepare, shared_reads, shared_rules
from cxloop.analytics.detectors import Sources, facts
from cxloop.analytics.incidents import cells_expr
from cxloop.services.incidents.detect import load_detectors
from cxloop.services.promises.ledger import ensure_ledger, promises_table
from cxloop.workspace.workspace import Workspace


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["grp", "w_start"]).reset_index(drop=True)


def test_shared_reads_give_every_detector_the_same_cells(demo_store: Path) -> None:
    ws = Workspace.open(demo_store)
    try:
        as_of = pd.Timestamp(ensure_ledger(ws)["as_of"]).to_pydatetime()
        events = ws.events()
        plain = Sources(
            events.filter(events.ts <= as_of),
            events,
            promises_table(ws, refresh=False),
            ws.rules,
            as_of,
        )
        specs = load_detectors()
        assert shared_reads(specs, ws.rules) == {
            "order_placed": ("carrier", "region", "seller_id", "sku")
        }
        assert shared_rules(specs, ws.rules) == {
            "delivery": ("order_placed", ("carrier", "region", "seller_id"))
        }
        shared, cached = prepare(plain, specs, ws.cache, ws.engine)
        assert set(shared.prepared) == {"order_placed"} and set(shared.promises) == {"delivery"}
        flagged = 0
        for spec in specs:
            alone = cells_expr(facts(spec, plain), spec.window).execute()
            together = cells_expr(facts(spec, shared), spec.window).execute()
            pd.testing.assert_frame_equal(_sorted(alone), _sorted(together), check_dtype=False)
            flagged += int((alone.hits > 0).sum())
        assert flagged > 0  # the demo injects failures: the comparison is not of empty cells
        for table in cached:
            table.release()
    finally:
        ws.close()


def test_attrs_from_one_parse_are_the_raw_json_values(demo_store: Path) -> None:
    ws = Workspace.open(demo_store)
    try:
        ev = ws.events()
        placed = ev.filter(ev.event_type == "order_placed")
        keys = ["carrier", "region", "sku", "no_such_key"]
        texts = attr_texts(placed.attrs, keys, ws.engine)
        got = placed.select("event_id", "attrs", **{k: t for k, t in zip(keys, texts, strict=True)})
        df = got.execute()
    finally:
        ws.close()
    assert len(df) > 1000
    for key in keys:
        raw = [json.loads(a).get(key) if a else None for a in df["attrs"]]
        want = [None if v is None else str(v) for v in raw]
        assert [None if pd.isna(v) else v for v in df[key]] == want, key
    assert df.carrier.notna().all() and df.no_such_key.isna().all()
