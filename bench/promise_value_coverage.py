"""The semi-synthetic check of the value of a kept promise: does the estimate's 95% interval
cover a known effect?

The demo generator with ``broken_leave=q`` makes a customer whose first order arrives late
leave with probability q (every later order dropped), and confounds lateness with region.
Then a customer's repurchase within the window after the promise is Y(1) = Y(0) * (1 - D),
D ~ Bernoulli(q), so the true effect on the treated (those whose first promise broke) is
-q times their mean Y(0). Y(0) is computed here with plain pandas from the same seed
generated with q = 0 (the same orders; nothing dropped), so it does not reuse cxloop's own
outcome code.

::

    python -m bench.promise_value_coverage --seeds 20 --customers 1500 --effect 0.5
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

import cxloop
from cxloop.demo.generator import generate_customers, generate_demo

WINDOW = timedelta(days=90)
GAP = timedelta(days=1)


def no_effect_outcomes(events: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Per customer whose first order was not canceled and whose promise resolved at least
    WINDOW before ``as_of``: Y(0), a visit (orders more than GAP apart) in (t0, t0 + WINDOW],
    t0 being the first order's delivery, else its promised date."""
    ev = events.assign(ts=pd.to_datetime(events.ts).dt.tz_localize(None))
    orders = ev[ev.event_type == "order_placed"].sort_values(["customer_id", "ts", "event_id"])
    first = orders.groupby("customer_id").head(1).set_index("customer_id")
    canceled = set(ev.loc[ev.event_type == "order_canceled", "ref"])
    delivered = ev[ev.event_type == "order_delivered"].groupby("ref").ts.min()
    due = pd.to_datetime(first.due_at).dt.tz_localize(None)
    t0 = first.ref.map(delivered).where(lambda d: d <= as_of).fillna(due)
    broken = t0 > due
    keep = ~first.ref.isin(canceled) & (t0 + WINDOW <= as_of)
    t0, broken = t0[keep], broken[keep]
    gaps = orders.groupby("customer_id").ts.diff()
    starts = orders[gaps.isna() | (gaps > GAP)]
    j = starts.join(t0.rename("t0"), on="customer_id", how="inner")
    hit = j[(j.ts > j.t0) & (j.ts <= j.t0 + WINDOW)].customer_id.unique()
    return pd.DataFrame(
        {"customer_id": t0.index, "broken": broken.to_numpy(), "y0": t0.index.isin(hit).astype(int)}
    )


def one_seed(seed: int, customers: int, effect: float, home: Path) -> dict[str, Any]:
    data = home / f"data-{seed}"
    generate_demo(data, customers=customers, seed=seed, with_bad_rows=False, broken_leave=effect)
    with cxloop.open(home / f"store-{seed}") as cx:
        cx.ingest(data)
        as_of = cx.now()
        result = cx.promise_value("broken", seed=seed).model_dump()
    row = next(r for r in result["rows"] if r["outcome"] == "repeat purchase within 90d")
    base = generate_customers(customers, seed=seed, broken_leave=0.0).to_pandas()
    y0 = no_effect_outcomes(base, as_of)
    truth = -effect * float(y0.y0[y0.broken].mean())  # the effect on the treated
    return {
        "seed": seed,
        "truth": truth,
        "naive": row["naive"],
        "effect": row["effect"],
        "low": row["low"],
        "high": row["high"],
        "n": row["n"],
        "n_treated": row["n_treated"],
        "truth_treated": int(y0.broken.sum()),
        "covered": bool(row["low"] <= truth <= row["high"]),
        "naive_covered": bool(row["naive_low"] <= truth <= row["naive_high"]),
    }


def coverage(seeds: range, customers: int, effect: float) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        return pd.DataFrame([one_seed(s, customers, effect, Path(tmp)) for s in seeds])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--effect", type=float, default=0.5)
    args = ap.parse_args()
    df = coverage(range(args.seeds), args.customers, args.effect)
    print(df.to_string(index=False))
    summary = {
        "seeds": len(df),
        "customers": args.customers,
        "effect": args.effect,
        "coverage": float(df.covered.mean()),
        "naive_coverage": float(df.naive_covered.mean()),
        "mean_truth": float(df.truth.mean()),
        "mean_estimate": float(df.effect.mean()),
        "mean_naive": float(df.naive.mean()),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
