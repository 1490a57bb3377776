"""No cold starts (docs/refresh.md): what the first request after an ingest waits for, with
and without the refresh, and topics over 5 k texts beside the embedding model's own speed.

Each step runs in a fresh Python process (the first request of a fresh server or CLI),
against stores in a temporary directory removed at the end::

    python -m bench.cold [--quick] [--data ../shared/data]   # prints JSON

- **cold**: a store loaded with ``--no-refresh``; the first page's four entries (the
  brief, the promise kept rate, NPS by month, the systemic failures) computed when first
  asked: what a user waited for before.
- **refreshed**: the same files loaded with the refresh; the ingest's time includes it,
  then the first page in a fresh process (read from what the refresh kept).
- **incremental**: 100 new reviews with new texts loaded into the refreshed store: the
  refresh then embeds only those texts.
- **topics**: ``n`` distinct Banking77 texts: ``SentenceTransformer.encode`` called
  directly, then cxloop's embeddings + topics (``discover``) on the same texts, in turn.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.steps import run_marked

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
MARK = "BENCH-COLD-RESULT "


def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _emit(result: dict[str, Any]) -> None:
    print(MARK + json.dumps(result | {"peak_rss_mib": round(_peak_mib())}), flush=True)


# ------------------------------------------------------------------ steps (child processes)
def step_ingest(home: str, path: str, source: str, refresh: str) -> None:
    import cxloop
    from cxloop.text import embed

    t = time.perf_counter()
    with cxloop.open(home) as cx:
        report = cx.ingest(path, source=source, refresh=refresh == "on")
    seconds = time.perf_counter() - t
    _emit(
        {
            "seconds": seconds,
            "events_new": report.events_new,
            "embedded": embed.ENCODED["texts"],
        }
    )


def step_first_page(home: str) -> None:
    from cxloop.services.brief import refresh
    from cxloop.workspace.workspace import Workspace

    t = time.perf_counter()
    ws = Workspace.open(Path(home))
    try:
        key = refresh.fingerprint(ws)
        ready, computed = [], []
        for name, compute in refresh.FIRST_PAGE.items():
            if refresh.lookup(ws, name, key) is not None:
                ready.append(name[0])
            else:
                compute(ws)
                computed.append(name[0])
    finally:
        ws.close()
    _emit({"seconds": time.perf_counter() - t, "ready": ready, "computed": computed})


def step_topics(data: str, n: int) -> None:
    from contextlib import nullcontext

    import numpy as np
    import torch

    from cxloop.settings import Settings
    from cxloop.text.embed import BATCH_SIZE, Embedder, load_model, precision
    from cxloop.text.topics import clean, discover

    arithmetic = precision(Settings.from_env().embedding_precision)  # both sides alike

    texts = pd.read_csv(Path(data) / "banking77" / "train.csv").text.drop_duplicates()
    sample = [clean(t) for t in texts.sample(n=min(n, len(texts)), random_state=0)]
    t = time.perf_counter()
    model = load_model()
    load = time.perf_counter() - t
    t = time.perf_counter()
    bf16 = arithmetic == "bfloat16"
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
        model.encode(sample, batch_size=BATCH_SIZE, normalize_embeddings=True)
    raw = time.perf_counter() - t
    t = time.perf_counter()
    x = Embedder(precision=arithmetic).encode(sample)
    ours_embed = time.perf_counter() - t
    found, _ = discover(np.asarray(x), sample, None, languages=["en"])
    ours = time.perf_counter() - t
    _emit(
        {
            "texts": len(sample),
            "model_load_seconds": load,
            "raw_encode_seconds": raw,
            "ours_embed_seconds": ours_embed,
            "ours_topics_seconds": ours,
            "topics": found.k,
            "precision": arithmetic,
        }
    )


# ------------------------------------------------------------------ the driver
def _run(*args: str) -> dict[str, Any]:
    return run_marked("bench.cold", MARK, args)


def _new_reviews(home: Path, out: Path, n: int) -> Path:
    """``n`` reviews with texts the store has not seen (real texts: Bitext customer
    messages) by its first customers, just before its clock."""
    import cxloop

    with cxloop.open(home) as cx:
        now = pd.Timestamp(cx.now())
        customers = cx.voice().frame["customer_id"].drop_duplicates().head(n).tolist()
    bitext = pd.read_csv(
        DATA / "bitext_customer_service" / "Bitext_Sample_Customer_Service_Training_Dataset.csv"
    )
    texts = bitext["utterance"].drop_duplicates().sample(n=n, random_state=1).tolist()
    rows = [
        {
            "event_id": f"bench-cold-{i}",
            "customer_id": customers[i % len(customers)],
            "event_type": "review",
            "ts": (now - pd.Timedelta(minutes=i + 1)).isoformat(),
            "attrs": json.dumps({"score": 1 + i % 5, "text": t}),
        }
        for i, t in enumerate(texts)
    ]
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def dataset(name: str, path: Path, source: str, root: Path) -> dict[str, Any]:
    cold, warm = root / f"{name}-cold", root / f"{name}-warm"
    out: dict[str, Any] = {"dataset": name}
    out["cold_ingest"] = _run("ingest", str(cold), str(path), source, "off")
    out["cold_first_page"] = _run("first_page", str(cold))
    out["refreshed_ingest"] = _run("ingest", str(warm), str(path), source, "on")
    out["refreshed_first_page"] = _run("first_page", str(warm))
    extra = _new_reviews(warm, root / f"{name}-new.csv", 100)
    out["incremental_ingest"] = _run("ingest", str(warm), str(extra), "generic", "on")
    out["incremental_first_page"] = _run("first_page", str(warm))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="1,000 texts, a 500-customer demo")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--only", choices=["olist", "demo", "topics"], action="append")
    p.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        kind, *rest = a.step
        {"ingest": step_ingest, "first_page": step_first_page}.get(kind, _topics_step)(*rest)
        return 0
    only = set(a.only or ["olist", "demo", "topics"])
    results: dict[str, Any] = {"quick": a.quick}
    root = Path(tempfile.mkdtemp(prefix="cxloop-cold-"))
    try:
        if "topics" in only:
            results["topics"] = _run("topics", str(a.data), str(1000 if a.quick else 5000))
        if "olist" in only:
            results["olist"] = dataset("olist", a.data / "olist", "olist", root)
        if "demo" in only:
            from cxloop.demo import generate_demo

            generate_demo(root / "demo-data", customers=500 if a.quick else 1500, seed=7)
            results["demo"] = dataset("demo", root / "demo-data", "generic", root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


def _topics_step(data: str, n: str) -> None:
    step_topics(data, int(n))


if __name__ == "__main__":
    sys.exit(main())
