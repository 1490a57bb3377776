"""Survey and review scores: the scales, the headline figure of each, and its 95% interval.

=========  =======  =============================================  =========================
metric     scale    headline                                        interval
=========  =======  =============================================  =========================
nps        0-10     NPS = % promoters (9-10) - % detractors (0-6)   normal, var of a difference
enps       0-10     employee NPS, the same way                      same
csat       1-5      CSAT = % answering 4 or 5                       Wilson score
review     1-5      % of reviews with 4 or 5 stars                  Wilson score
ces        1-7      CES = mean effort score (7 = very easy)         Student t
pulse      1-5      mean pulse score                                Student t
=========  =======  =============================================  =========================

Pure functions, no I/O. ``normalised`` puts every scale on 0-100 so drivers can pool them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cxloop.errors import ConfigError

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Scale:
    metric: str
    low: float
    high: float
    headline: str  # "net", "share" or "mean"
    label: str
    top: float  # promoter / satisfied threshold (>=)
    bottom: float  # detractor / dissatisfied threshold (<=)


SCALES: dict[str, Scale] = {
    s.metric: s
    for s in (
        Scale("nps", 0, 10, "net", "NPS", 9, 6),
        Scale("enps", 0, 10, "net", "eNPS", 9, 6),
        Scale("csat", 1, 5, "share", "CSAT % (4-5)", 4, 2),
        Scale("review", 1, 5, "share", "reviews % 4-5 stars", 4, 2),
        Scale("ces", 1, 7, "mean", "CES mean (7 = easy)", 5, 3),
        Scale("pulse", 1, 5, "mean", "pulse mean", 4, 2),
    )
}


def scale(metric: str) -> Scale:
    try:
        return SCALES[metric]
    except KeyError:
        raise ConfigError(
            f"unknown score metric {metric!r} (expected one of {', '.join(SCALES)})"
        ) from None


@dataclass(frozen=True)
class Estimate:
    metric: str
    n: int
    value: float  # the headline: NPS points, a percentage, or a mean
    low: float  # 95% interval
    high: float
    mean: float  # mean raw score
    top_share: float  # share at or above the scale's top threshold
    bottom_share: float  # share at or below its bottom threshold


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (good at small n and near 0 or 1)."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile (Cornish-Fisher expansion; within 0.3% for df >= 2)."""
    if df <= 0:
        return math.nan
    if df == 1:
        return 12.706204736174698
    z, g = Z95, float(df)
    return (
        z
        + (z**3 + z) / (4 * g)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * g**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * g**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * g**4)
    )


def estimate(metric: str, scores: Sequence[float]) -> Estimate:
    """The headline figure of ``scores`` on ``metric``'s scale, with its 95% interval."""
    s = scale(metric)
    values = [float(v) for v in scores if v is not None and not math.isnan(float(v))]
    n = len(values)
    if n == 0:
        return Estimate(metric, 0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = sum(values) / n
    top = sum(v >= s.top for v in values) / n
    bottom = sum(v <= s.bottom for v in values) / n
    if s.headline == "net":
        value = 100 * (top - bottom)
        var = (top + bottom - (top - bottom) ** 2) / n
        half = 100 * Z95 * math.sqrt(var)
        low, high = max(-100.0, value - half), min(100.0, value + half)
    elif s.headline == "share":
        value = 100 * top
        lo, hi = wilson(round(top * n), n)
        low, high = 100 * lo, 100 * hi
    else:
        value = mean
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
        half = t_quantile(n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
        low, high = max(s.low, value - half), min(s.high, value + half)
    return Estimate(metric, n, value, low, high, mean, top, bottom)


def normalised(metric: str, score: float) -> float:
    """A score on 0-100 (the scale's lowest answer is 0, its highest 100)."""
    s = scale(metric)
    return 100.0 * (score - s.low) / (s.high - s.low)


def change_p(a: Estimate, b: Estimate) -> float:
    """Two-sided p-value that headline ``b`` differs from ``a`` (normal approximation with
    each estimate's own standard error, taken from its 95% interval)."""
    if min(a.n, b.n) < 2 or any(math.isnan(x) for x in (a.low, a.high, b.low, b.high)):
        return math.nan
    se = math.hypot((a.high - a.low) / (2 * Z95), (b.high - b.low) / (2 * Z95))
    if se == 0:
        return 1.0 if a.value == b.value else 0.0
    z = abs(b.value - a.value) / se
    return math.erfc(z / math.sqrt(2))
