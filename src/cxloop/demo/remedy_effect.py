"""A known effect of a remedy, injected into the demo company (off by default).

With ``generate_demo(..., remedy_effect=k)``, a customer whose first bad order was a late
delivery gets a goodwill credit with a probability that rises with the orders they had
placed before (the remedy goes to the better customers: a confounder the estimate must
adjust for), and of the credited customers who would have left after that order (half of
all, as in the demo), a share ``k`` stays. The true effect on the treated of the credit on
"ordered again within H days" is then known in closed form and returned as
``DemoDataset.truth`` (``remedy_uplift_90``, ``remedy_uplift_180``), for a test to check
that the estimate's interval covers it. The demo's own random stream is not touched, so
``remedy_effect=0`` writes exactly the demo as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DAY = 86_400
HORIZONS = (90, 180)
SPLIT_S = DAY  # an order within a day of the failed one is a split order, not a repeat
CREDIT_CENTS = 2_000
LEAVE = 0.5  # the demo's share of customers who leave after a bad order


@dataclass
class RemedyEffect:
    keep_share: float
    rng: np.random.Generator
    truth: dict[str, float] = field(default_factory=dict)

    def apply(
        self,
        o: dict[str, Any],
        bad_t: npt.NDArray[np.int64],
        first_bad: npt.NDArray[np.int64],
        leaves: npt.NDArray[np.bool_],
        end_s: int,
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``leaves`` with the credited customers' stays, and which orders get a credit."""
        cust = o["cust"]
        n = len(cust)
        first = o["is_late"] & (bad_t == first_bad[cust])
        prior = _prior_orders(cust)
        p = 1 / (1 + np.exp(-(-0.6 + 0.45 * (prior - 2))))
        credit = first & (self.rng.random(n) < p)
        stays = self.rng.random(len(first_bad)) < self.keep_share
        given = np.zeros(len(first_bad), bool)
        given[cust[credit]] = True
        self._truth(o, credit, first_bad, end_s)
        return leaves & ~(given & stays), credit

    def _truth(
        self,
        o: dict[str, Any],
        credit: npt.NDArray[np.bool_],
        first_bad: npt.NDArray[np.int64],
        end_s: int,
    ) -> None:
        """ATT on "ordered again within H": k * LEAVE * mean(stay_i - leave_i) over the
        credited failures whose horizon has passed, where stay_i / leave_i say whether the
        customer orders again within H if they stay / if they leave after the order."""
        cust, placed, due = o["cust"], o["placed"], o["due"]
        by_cust: dict[int, npt.NDArray[np.int64]] = {}
        for i in np.flatnonzero(credit):
            c = int(cust[i])
            if c not in by_cust:
                by_cust[c] = placed[cust == c]
        for h in HORIZONS:
            diffs = []
            for i in np.flatnonzero(credit & (due + h * DAY <= end_s)):
                later = by_cust[int(cust[i])]
                hit = (later > due[i]) & (later <= due[i] + h * DAY) & (later - placed[i] > SPLIT_S)
                before = later <= first_bad[cust[i]] + 2 * DAY
                diffs.append(float(hit.any()) - float((hit & before).any()))
            mean = float(np.mean(diffs)) if diffs else float("nan")
            self.truth[f"remedy_uplift_{h}"] = self.keep_share * LEAVE * mean
            self.truth[f"remedy_treated_{h}"] = float(len(diffs))


def _prior_orders(cust: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per order (sorted by time), how many orders its customer placed before it."""
    order = np.argsort(cust, kind="stable")
    sc = cust[order]
    start = np.r_[0, np.flatnonzero(np.diff(sc)) + 1]
    rank = np.arange(len(sc)) - np.repeat(start, np.diff(np.r_[start, len(sc)]))
    out = np.empty(len(cust), np.int64)
    out[order] = rank
    return out
