"""The corpus of malformed files (tests/corpus/, expectations in its manifest.toml): every
file is loaded, quarantined row by row with the field named, or refused with a short
message naming the file; never a traceback, never a silent change."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

import cxloop
from cxloop.errors import CxloopError

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "manifest.toml").read_text())["case"]
HEADER = "customer_id,event_type,ts,amount,ref,attrs\n"
GOOD = "c2,order_placed,2026-03-01T10:00:00Z,10,R-2,\n"
BIG = 10 << 20


def _generate(kind: str, folder: Path) -> Path:
    if kind == "huge_field":
        path = folder / "huge.csv"
        path.write_text(
            f'{HEADER}c1,order_placed,2026-03-01,,,"{{""t"": ""{"x" * BIG}""}}"\n{GOOD}'
        )
    elif kind == "huge_field_jsonl":
        path = folder / "huge.jsonl"
        big = '{"customer_id":"c1","event_type":"order_placed","ts":"2026-03-01","attrs":{"t":"'
        path.write_text(
            big + "x" * BIG + '"}}\n{"customer_id":"c2","event_type":"review","ts":"2026-03-02"}\n'
        )
    elif kind == "symlink_loop":
        path = folder / "loop.csv"
        os.symlink(path.name, path)
    elif kind == "dir_with_symlink_loop":
        path = folder / "exports"
        path.mkdir()
        (path / "good.csv").write_text(HEADER + GOOD)
        os.symlink("b.csv", path / "a.csv")
        os.symlink("a.csv", path / "b.csv")
    else:
        raise AssertionError(f"unknown generated case {kind}")
    return path


def _name(case: dict[str, Any]) -> str:
    return str(case.get("file") or case["generate"])


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_corpus_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = CORPUS / case["file"] if "file" in case else _generate(case["generate"], tmp_path)
    with cxloop.open(tmp_path / "store") as cx:
        if "refused" in case:
            with pytest.raises(CxloopError) as refused:
                cx.ingest(path)
            message = str(refused.value)
            assert case["refused"] in message
            assert path.name in message and len(message) < 400
            assert cx.events().count().execute() == 0
            return
        report = cx.ingest(path)
        got = sorted((p.row, p.field) for p in report.problems)
        assert got == sorted(tuple(q) for q in case.get("quarantined", []))
        assert report.events_new == case["loaded"]
        assert all(len(p.reason) < 400 for p in report.problems)
        assert sorted({p.file for p in report.problems}) <= [str(path.resolve())]
        if "ts" in case:
            df = cx.events().order_by("ts").execute()
            assert [str(t) for t in df.ts] == case["ts"]


def test_every_corpus_file_has_a_case() -> None:
    named = {c["file"] for c in CASES if "file" in c}
    assert named == {p.name for p in CORPUS.iterdir() if p.name != "manifest.toml"}
