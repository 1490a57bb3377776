"""Statistics for systemic-failure detection: pure Python, no I/O.

The method, for one detector: every cell (a group in a time window) with at least
``min_n`` facts is tested with a **one-sided exact binomial test** of its hits out
of n against the **baseline rate** (the hit rate among the detector's facts outside
the cell); the p-values of all tested cells are adjusted by **Benjamini–Hochberg**
(false-discovery rate); a cell is flagged when ``q <= alpha``, it has at least
``min_hits`` hits and its rate is at least ``min_lift`` times the baseline. Flagged
cells of one group in adjacent windows are merged by :func:`merge_runs`.

The binomial tail comes from SciPy and the adjustment from statsmodels (imported when
first used, so a command that does not test cells does not pay for them);
``tests/test_incidents.py`` checks both against exact rational enumeration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of k hits out of n
    (SciPy's survival function; ``tests/test_incidents.py`` checks it against exact rational
    enumeration)."""
    from scipy.stats import binom

    if k <= 0:
        return 1.0
    return float(min(1.0, max(0.0, binom.sf(k - 1, n, p))))


def bh_qvalues(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the order given (statsmodels)."""
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(q) for q in multipletests(list(pvalues), method="fdr_bh")[1]]


@dataclass(frozen=True)
class Cell:
    """Facts of one group in one time window: ``hits`` of them failed."""

    group: str
    window_start: datetime
    window_end: datetime  # exclusive
    n: int
    hits: int
    detectable_at: datetime  # when every fact counted in the cell was known


@dataclass(frozen=True)
class ScoredCell:
    cell: Cell
    baseline_rate: float  # hit rate of the detector's facts outside this cell
    p_value: float
    q_value: float
    flagged: bool

    @property
    def rate(self) -> float:
        return self.cell.hits / self.cell.n if self.cell.n else 0.0


@dataclass(frozen=True)
class Thresholds:
    min_n: int = 20
    min_hits: int = 3
    min_lift: float = 2.0
    alpha: float = 0.05


def score_cells(cells: Sequence[Cell], limits: Thresholds) -> list[ScoredCell]:
    """Test every cell with ``n >= min_n`` (the others only feed the baselines)."""
    total_n = sum(c.n for c in cells)
    total_hits = sum(c.hits for c in cells)
    tested = [c for c in cells if c.n >= limits.min_n]
    baselines = [_baseline(total_hits - c.hits, total_n - c.n) for c in tested]
    pvalues = [binom_sf(c.hits, c.n, b) for c, b in zip(tested, baselines, strict=True)]
    out = []
    for c, b, p, q in zip(tested, baselines, pvalues, bh_qvalues(pvalues), strict=True):
        flagged = (
            q <= limits.alpha and c.hits >= limits.min_hits and c.hits >= limits.min_lift * b * c.n
        )
        out.append(ScoredCell(c, b, p, q, flagged))
    return out


def _baseline(hits: int, n: int) -> float:
    return hits / n if n else 0.0


def merge_runs(cells: Sequence[ScoredCell]) -> list[list[ScoredCell]]:
    """Flagged cells grouped into runs: one group, windows that follow each other."""
    runs: list[list[ScoredCell]] = []
    ordered = sorted(
        (c for c in cells if c.flagged), key=lambda c: (c.cell.group, c.cell.window_start)
    )
    for tc in ordered:
        last = runs[-1][-1].cell if runs else None
        if last and last.group == tc.cell.group and last.window_end == tc.cell.window_start:
            runs[-1].append(tc)
        else:
            runs.append([tc])
    return runs
