"""The stored ledger: rebuilt when the log or rules change, old files retired."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cxloop
from cxloop.services.promises.ledger import ledger_status
from tests.test_ingest import GOOD, write_csv


def test_ledger_rebuilds_when_the_log_changes(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    cx.ingest(write_csv(tmp_path / "a.csv", GOOD[:1]))
    first = cx.build_ledger()
    assert first.promises == 1 and not ledger_status(cx.workspace)["stale"]
    assert cx.promises().state.tolist() == ["open"]  # judged as of the only event
    cx.ingest(write_csv(tmp_path / "b.csv", GOOD[1:]))
    assert ledger_status(cx.workspace)["stale"]
    promises = cx.promises()  # rebuilt on read
    assert sorted(promises.rule) == ["delivery", "reply_email"]
    assert promises.set_index("rule").loc["delivery", "state"] == "kept"
    assert not ledger_status(cx.workspace)["stale"]
    for _ in range(3):
        cx.build_ledger()
    assert len(list(cx.workspace.ledger_dir.glob("promises-*.parquet"))) == 2


def test_fixed_as_of_is_kept_across_rebuilds(tmp_path: Path) -> None:
    """A store whose clock is a fixed time judges every rebuild as of it; a one-off
    ``build_ledger(as_of=...)`` on a data-clock store lasts until the next read."""
    when = datetime(2026, 3, 2, 12, 0)
    with cxloop.open(tmp_path / "fixed", as_of=when) as cx:
        cx.ingest(write_csv(tmp_path / "a.csv", GOOD))
        build = cx.build_ledger()
        assert build.as_of_mode == "fixed" and cx.now() == when
        states = cx.promises().set_index("rule").state.to_dict()
        assert states == {"delivery": "open"}  # the delivery is not known yet; no contact yet
        cx.ingest(write_csv(tmp_path / "b.csv", [GOOD[0].replace("e1,c1", "e9,c9")]))
        assert ledger_status(cx.workspace)["stale"]
        assert cx.promises().as_of.iloc[0] == when
    with cxloop.open(tmp_path / "data") as cx:
        cx.ingest(write_csv(tmp_path / "a.csv", GOOD))
        assert cx.build_ledger(as_of=when).as_of_mode == "fixed"
        assert ledger_status(cx.workspace)["stale"]  # not the store's clock
        assert cx.promises().as_of.iloc[0] == cx.now() != when
