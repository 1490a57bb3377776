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
likert4    1-4      % answering 3 or 4 (a 4-point agreement or       Wilson score
                    satisfaction item, as many HR surveys ask)
=========  =======  =============================================  =========================

These are the built-in metrics; an organization declares its own (an HR survey's 1-4
pulse, a 1-10 satisfaction score) in a metrics file (setting ``metrics``, docs/voice.md):
:func:`scales_from_dict` checks it, and every function here takes the scales in use.

Pure functions, no I/O. ``normalised`` puts every scale on 0-100 so drivers can pool them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
        Scale("likert4", 1, 4, "share", "% satisfied (3-4 of 4)", 3, 2),
    )
}


HEADLINES = ("net", "share", "mean")
METRIC_KEYS = ("label", "low", "high", "headline", "top", "bottom")


def scale(metric: str, scales: Mapping[str, Scale] | None = None) -> Scale:
    known = SCALES if scales is None else scales
    try:
        return known[metric]
    except KeyError:
        raise ConfigError(
            f"unknown score metric {metric!r} (expected one of {', '.join(known)})"
        ) from None


def describe(s: Scale) -> str:
    """The scale in words, for messages: ``pulse (1-4)``."""
    return f"{s.metric} ({s.low:g}-{s.high:g})"


def _number(where: str, entry: Mapping[str, Any], key: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        got = "missing" if value is None else f"got {value!r}"
        raise ConfigError(f"{where}, field {key!r}: expected a number, {got}")
    return float(value)


def scale_from_dict(metric: str, entry: Mapping[str, Any], where: str) -> Scale:
    """One metric's scale from its table (``[pulse]``); errors name the metric and field."""
    at = f"{where}: metric {metric!r}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{at}: expected a table with {', '.join(METRIC_KEYS)}")
    unknown = sorted(set(entry) - set(METRIC_KEYS))
    if unknown:
        raise ConfigError(f"{at}: unknown field {unknown[0]!r} (expected {', '.join(METRIC_KEYS)})")
    low, high = _number(at, entry, "low"), _number(at, entry, "high")
    top, bottom = _number(at, entry, "top"), _number(at, entry, "bottom")
    headline = entry.get("headline", "mean")
    if headline not in HEADLINES:
        raise ConfigError(
            f"{at}, field 'headline': expected one of {', '.join(HEADLINES)}, got {headline!r}"
        )
    if not low < high:
        raise ConfigError(f"{at}: low ({low:g}) must be below high ({high:g})")
    if not low <= bottom < top <= high:
        raise ConfigError(
            f"{at}: expected low <= bottom < top <= high, got bottom {bottom:g} and top {top:g} "
            f"on {low:g}-{high:g}"
        )
    label = entry.get("label", metric)
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"{at}, field 'label': expected a non-empty string, got {label!r}")
    return Scale(metric, low, high, str(headline), label, top, bottom)


def scales_from_dict(data: Mapping[str, Any], where: str) -> dict[str, Scale]:
    """The built-in scales, with a metrics file's tables (one per metric, lower-case name)
    replacing or adding to them."""
    scales = dict(SCALES)
    for metric, entry in data.items():
        name = str(metric).strip().lower()
        if not name or name != metric:
            raise ConfigError(f"{where}: metric name {metric!r} must be lower case, no spaces")
        scales[name] = scale_from_dict(name, entry, where)
    return scales


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
    """Wilson score interval of a proportion k/n (good at small n and near 0 or 1), from
    statsmodels; ``z`` is the normal quantile of the interval (1.96: 95%)."""
    if n == 0:
        return (math.nan, math.nan)
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=2 * float(norm.sf(z)), method="wilson")
    return (max(0.0, float(low)), min(1.0, float(high)))


def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile for ``df`` degrees of freedom (SciPy)."""
    if df <= 0:
        return math.nan
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def estimate(
    metric: str, scores: Sequence[float], scales: Mapping[str, Scale] | None = None
) -> Estimate:
    """The headline figure of ``scores`` on ``metric``'s scale, with its 95% interval."""
    s = scale(metric, scales)
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


def normalised(metric: str, score: float, scales: Mapping[str, Scale] | None = None) -> float:
    """A score on 0-100 (the scale's lowest answer is 0, its highest 100)."""
    s = scale(metric, scales)
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
