"""``cxloop voice topics`` on 5,000 real texts: cold, warm and repeated, beside the
embedding model's own speed on the same texts (docs/benchmarks.md#topics-over-5-k-texts).

The store: the Olist export (``--source olist``, 4.2 k review texts in Portuguese), then
Banking77 training texts as inbound contacts (English) until there are ``--texts``
customer texts; ``--quick``: 800 Banking77 texts only. Each step runs in a fresh Python
process (a user's command) and reports wall seconds, CPU seconds (user + system: what to
compare on a shared machine) and peak RSS::

    python -m bench.topics [--quick] [--texts 5000] [--threads N] [--data ../shared/data]

- **reference**: ``SentenceTransformer.encode`` of the same cleaned texts, called
  directly with the same threads: the engine's own speed, the floor of a cold run.
- **cold**: ``Voice(ws).topics()`` (what ``cxloop voice topics`` runs) on a store loaded
  with ``--no-refresh``: every text embedded, topics and sentiment fitted.
- **warm**: the same after the topics and sentiment caches are deleted, the embeddings
  (kept by text, as an ingest's refresh keeps them) left: what a new log version costs.
- **repeat**: the same again with every cache in place (the state after the refresh).

``--threads`` sets ``CXLOOP_VOICE_THREADS`` for every step (default: the setting's own
default, the idle cores); ``--threads 2`` on a busy 2-core machine shows what the
models' default of one thread per core cost before. ``--precision`` sets
``CXLOOP_EMBEDDING_PRECISION`` (default: the setting's default, ``auto``); the reference
encodes in the same arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
MARK = "BENCH-TOPICS-RESULT "


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _emit(result: dict[str, Any]) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(MARK + json.dumps(result | {"peak_rss_mib": round(peak)}), flush=True)


def _texts(home: str) -> list[str]:
    from cxloop.services.voice.analysis import Voice
    from cxloop.text.topics import clean
    from cxloop.workspace.workspace import Workspace

    ws = Workspace.open(Path(home))
    try:
        return [clean(t) for t in Voice(ws).customer_texts["text"]]
    finally:
        ws.close()


# ------------------------------------------------------------------ steps (child processes)
def step_reference(home: str) -> None:
    from contextlib import nullcontext

    import torch

    from cxloop.settings import Settings
    from cxloop.text.embed import BATCH_SIZE, load_model, precision
    from cxloop.text.threads import limited, thread_count

    texts = list(dict.fromkeys(_texts(home)))
    model = load_model()
    settings = Settings.from_env()
    threads = thread_count(settings.voice_threads)
    arithmetic = precision(settings.embedding_precision)
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16) if arithmetic == "bfloat16" else nullcontext()
    )
    t, c = time.perf_counter(), _cpu()
    with limited(threads), autocast:
        model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    _emit(
        {
            "texts": len(texts),
            "seconds": wall,
            "cpu_seconds": cpu,
            "threads": threads,
            "precision": arithmetic,
        }
    )


def step_topics(home: str) -> None:
    from cxloop.services.voice.analysis import Voice
    from cxloop.text import embed
    from cxloop.workspace.workspace import Workspace

    t, c = time.perf_counter(), _cpu()
    ws = Workspace.open(Path(home))
    try:
        v = Voice(ws)
        topics = v.topics()
    finally:
        ws.close()
    wall, cpu = time.perf_counter() - t, _cpu() - c
    _emit(
        {
            "seconds": wall,
            "cpu_seconds": cpu,
            "threads": v.threads,
            "precision": v.embedder.precision,
            "texts": int(topics.attrs["texts"]),
            "embedded": embed.ENCODED["texts"],
            "topics": [f"{r.texts} {r.label}" for r in topics.itertuples()],
        }
    )


# ------------------------------------------------------------------ the driver
def _run(env: dict[str, str], *args: str) -> dict[str, Any]:
    return run_marked("bench.topics", MARK, args, env)


def build_store(home: Path, data: Path, texts: int, olist: bool) -> int:
    """Olist (when ``olist``), then Banking77 contacts up to ``texts`` customer texts; the
    number of customer texts."""
    import cxloop

    with cxloop.open(home) as cx:
        if olist:
            cx.ingest(data / "olist", source="olist", refresh=False)
        have = len(cx.voice().customer_texts) if olist else 0
        now = pd.Timestamp(cx.now()) if olist else pd.Timestamp("2018-09-01")
        more = max(0, texts - have)
        bank = pd.read_csv(data / "banking77" / "train.csv").text.drop_duplicates()
        rows = [
            {
                "event_id": f"bench-topics-{i}",
                "customer_id": f"bank-{i}",
                "event_type": "contact_inbound",
                "ts": (now - pd.Timedelta(minutes=i + 1)).isoformat(),
                "attrs": json.dumps({"text": t, "lang": "en", "channel": "chat"}),
            }
            for i, t in enumerate(bank.sample(n=more, random_state=0))
        ]
        if rows:
            extra = home.parent / "contacts.csv"
            pd.DataFrame(rows).to_csv(extra, index=False)
            cx.ingest(extra, source="generic", refresh=False)
        return len(cx.voice().customer_texts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="800 Banking77 texts, no Olist")
    p.add_argument("--texts", type=int, default=5000)
    p.add_argument("--threads", type=int, default=None, help="CXLOOP_VOICE_THREADS")
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default=None,
        help="CXLOOP_EMBEDDING_PRECISION for every step, the reference's encode included",
    )
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--step", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        {"reference": step_reference, "topics": step_topics}[a.step[0]](a.step[1])
        return 0
    env = dict(os.environ)
    if a.threads is not None:
        env["CXLOOP_VOICE_THREADS"] = str(a.threads)
    if a.precision is not None:
        env["CXLOOP_EMBEDDING_PRECISION"] = a.precision
    root = Path(tempfile.mkdtemp(prefix="cxloop-topics-"))
    home = root / "store"
    try:
        n = build_store(home, a.data, 800 if a.quick else a.texts, olist=not a.quick)
        out: dict[str, Any] = {"quick": a.quick, "customer_texts": n}
        out["load_average"] = os.getloadavg()[0]
        out["reference"] = _run(env, "reference", str(home))
        out["cold"] = _run(env, "topics", str(home))
        for name in ("topics", "sentiment"):
            (home / "voice" / f"{name}.pkl").unlink(missing_ok=True)
        out["warm"] = _run(env, "topics", str(home))
        out["repeat"] = _run(env, "topics", str(home))
        out["load_average_after"] = os.getloadavg()[0]
        ref = out["reference"]
        for step in ("cold", "warm", "repeat"):
            out[f"{step}_to_reference"] = round(out[step]["seconds"] / ref["seconds"], 2)
            out[f"{step}_to_reference_cpu"] = round(
                out[step]["cpu_seconds"] / ref["cpu_seconds"], 2
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
