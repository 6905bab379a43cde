"""Statistics over seeds and the verdict of a claim, written by rule (never by hand).

Each variant's runs give one final metric per seed. Per variant: the mean and the *sample* standard deviation
(``ddof=1``). Per judged comparison (a, b): the difference of means ``d = mean(a) - mean(b)`` with a 95 % Welch t
interval (Welch 1947; unequal variances, no pairing assumed):

    se = sqrt(s_a^2 / n_a + s_b^2 / n_b)
    df = se^4 / ((s_a^2 / n_a)^2 / (n_a - 1) + (s_b^2 / n_b)^2 / (n_b - 1))     (Welch-Satterthwaite)
    d -/+ t_{0.975, df} * se                                                   (scipy.stats.t.ppf)

Edge cases: both variances zero -> the interval is the point d (df = inf); fewer than 2 values in a variant -> the
interval is (-inf, inf) (nothing can be told apart).

The verdict (`verdict`), from those intervals and the claim's expected relation:

- "better" (a is expected to beat b): put the interval in the good direction (for a metric where lower is
  better, negate it). A comparison is *supported* when the whole interval lies above 0, *contradicted* when it
  lies wholly below 0, otherwise *not distinguishable*.
- "equal" (a and b within +/- margin): a comparison is *supported* when the interval lies inside
  [-margin, +margin], *contradicted* when it lies wholly outside that band (low > margin or high < -margin),
  otherwise *not distinguishable*.
- A claim with several comparisons is "supported" when every comparison is, "contradicted" when any comparison
  is, otherwise "not distinguishable at this scale".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

__all__ = ["CONFIDENCE", "VERDICTS", "Difference", "VariantSummary", "VerdictRule", "compare", "comparison_verdict",
           "summarize", "verdict", "welch_interval"]

CONFIDENCE = 0.95
SUPPORTED, CONTRADICTED, UNCLEAR = "supported", "contradicted", "not distinguishable at this scale"
VERDICTS = (SUPPORTED, CONTRADICTED, UNCLEAR)


@dataclass(frozen=True)
class VariantSummary:
    """One variant's final metric over seeds: ``n`` values, their mean and sample standard deviation
    (NaN when n < 2; mean NaN when n == 0)."""

    name: str
    n: int
    mean: float
    std: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) with its Welch interval [low, high] at ``confidence``; ``se`` its standard error,
    ``df`` the Welch-Satterthwaite degrees of freedom."""

    a: str
    b: str
    difference: float
    low: float
    high: float
    se: float
    df: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class VerdictRule:
    """What a verdict needs from a claim: relation ("equal" | "better"), direction ("higher" | "lower"),
    margin (for "equal") and the judged pairs (a, b)."""

    relation: str
    direction: str
    margin: float
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, spec: Any) -> VerdictRule:
        """The rule of a `ClaimSpec` (or a rule, returned as is)."""
        if isinstance(spec, VerdictRule):
            return spec
        return cls(spec.relation, spec.direction, float(spec.margin), tuple(tuple(p) for p in spec.pairs))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VerdictRule:
        """From a results file (`cvdemo.experiments.results`): keys relation, direction, margin, comparisons."""
        return cls(d["relation"], d["direction"], float(d["margin"]), tuple(tuple(p) for p in d["comparisons"]))


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats as None (JSON has no NaN/inf)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _values(values: Iterable[float | None]) -> list[float]:
    """The finished runs' values (None: a run that diverged, left out)."""
    return [float(v) for v in values if v is not None]


def summarize(name: str, values: Sequence[float | None]) -> VariantSummary:
    """Mean and sample standard deviation (ddof=1) of one variant's per-seed values."""
    xs = _values(values)
    n = len(xs)
    mean = sum(xs) / n if n else math.nan
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n >= 2 else math.nan
    return VariantSummary(name, n, mean, std)


def welch_interval(a: Sequence[float | None], b: Sequence[float | None], confidence: float = CONFIDENCE,
                   names: tuple[str, str] = ("a", "b")) -> Difference:
    """mean(a) - mean(b) with its Welch t interval (see the module docstring for the formula and edge cases)."""
    sa, sb = summarize(names[0], a), summarize(names[1], b)
    d = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        return Difference(names[0], names[1], d, -math.inf, math.inf, math.inf, math.nan, confidence)
    va, vb = sa.std ** 2 / sa.n, sb.std ** 2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(names[0], names[1], d, d, d, 0.0, math.inf, confidence)
    df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Difference(names[0], names[1], d, d - half, d + half, se, df, confidence)


def compare(results: Mapping[str, Sequence[float | None]], pairs: Iterable[tuple[str, str]],
            confidence: float = CONFIDENCE) -> list[Difference]:
    """The Welch interval of every pair (a, b) of ``results`` (variant -> per-seed values)."""
    return [welch_interval(results[a], results[b], confidence, (a, b)) for a, b in pairs]


def comparison_verdict(rule: VerdictRule, diff: Difference) -> str:
    """The verdict of one comparison (see the module docstring)."""
    if rule.relation == "better":
        low, high = (diff.low, diff.high) if rule.direction == "higher" else (-diff.high, -diff.low)
        if low > 0:
            return SUPPORTED
        if high < 0:
            return CONTRADICTED
        return UNCLEAR
    if rule.relation == "equal":
        if -rule.margin <= diff.low and diff.high <= rule.margin:
            return SUPPORTED
        if diff.low > rule.margin or diff.high < -rule.margin:
            return CONTRADICTED
        return UNCLEAR
    raise ValueError(f"unknown relation {rule.relation!r}; expected 'equal' or 'better'")


def verdict(spec: Any, results: Mapping[str, Sequence[float | None]], confidence: float = CONFIDENCE) -> str:
    """"supported" | "contradicted" | "not distinguishable at this scale" for a claim (a `ClaimSpec` or a
    `VerdictRule`) from ``results`` (variant -> per-seed final values), by the rule of the module docstring."""
    rule = VerdictRule.of(spec)
    verdicts = [comparison_verdict(rule, d) for d in compare(results, rule.pairs, confidence)]
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return UNCLEAR
