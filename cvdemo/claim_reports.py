"""What the Claims tab shows of each claim of the study notes (issue 16): a `ClaimReport`, plain data read from the
shipped ``experiments/results/<claim>.json`` (`cvdemo.experiments.results`), or, for a claim with no results yet,
from its spec in `cvdemo.experiments.claims.CLAIMS` with the command that would run it. No gradio here.

A shipped report holds, per variant, the mean learning curve over seeds with its band (`CurveBand`: at each
evaluated update, the mean, the minimum and the maximum of the seeds that reached it), the final metric over seeds
(`VariantRow`: mean +/- sample std of n seeds, the file's statistics) and each judged comparison's difference with
its 95 % Welch interval and its own verdict (`ComparisonRow`, recomputed from the file's per-seed finals); the
verdict as stored, checked against the rule (`cvdemo.experiments.results.recomputed_verdict`: a file whose verdict
differs is refused with ValueError).

``status``: "shipped" (a results file), "not_run" (runnable, no file yet) or "needs" (the spec waits for a model
option, listed in ``needs``). Text is the notes' (English and Simplified Chinese); the UI words the rest.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvdemo.experiments.claims import CLAIMS
from cvdemo.experiments.results import read_claim_results, recomputed_verdict
from cvdemo.experiments.spec import ClaimSpec
from cvdemo.experiments.statistics import VerdictRule, compare, comparison_verdict

__all__ = ["RESULTS_DIR", "STATUSES", "ClaimReport", "ComparisonRow", "CurveBand", "VariantRow", "claim_reports",
           "curve_band", "pending_report", "run_command", "shipped_report"]

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).resolve().parents[1] / "experiments" / "results"
STATUSES = ("shipped", "not_run", "needs")


@dataclass(frozen=True)
class CurveBand:
    """One variant's learning curve over seeds: at each evaluated update ``steps[i]``, the ``mean`` of the seeds'
    values and their ``low`` (min) / ``high`` (max); ``n[i]`` seeds had a finite value there."""

    variant: str
    steps: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    n: tuple[int, ...]


@dataclass(frozen=True)
class VariantRow:
    """One variant's final metric: mean +/- sample std over ``n`` seeds (None where undefined), its weights."""

    variant: str
    n: int
    mean: float | None
    std: float | None
    num_parameters: int | None


@dataclass(frozen=True)
class ComparisonRow:
    """mean(a) - mean(b) with its 95 % Welch interval [low, high] (None: unbounded or undefined) and this
    comparison's own verdict by the claim's rule (`cvdemo.experiments.statistics.comparison_verdict`)."""

    a: str
    b: str
    difference: float | None
    low: float | None
    high: float | None
    verdict: str


@dataclass(frozen=True)
class ClaimReport:
    """Everything shown of one claim; see the module docstring. Sequences are empty for a claim not yet run."""

    name: str
    section: str
    status: str  # one of STATUSES
    claim_en: str
    claim_zh: str
    why_en: str
    why_zh: str
    varied: str
    metric: str
    direction: str  # "higher" | "lower": which way the metric is better
    relation: str  # "equal" | "better"
    margin: float
    steps: int
    seeds: tuple[int, ...]
    verdict: str | None = None  # one of cvdemo.experiments.statistics.VERDICTS; None when not run
    complete: bool = False
    curves: tuple[CurveBand, ...] = ()
    variants: tuple[VariantRow, ...] = ()
    comparisons: tuple[ComparisonRow, ...] = ()
    commands: tuple[str, ...] = ()  # that made the results, or that would (not run)
    hardware: tuple[Mapping[str, Any], ...] = ()
    wall_seconds: float | None = None
    needs: tuple[str, ...] = ()
    variant_names: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()  # the judged comparisons (a, b): a - b

    @property
    def shipped(self) -> bool:
        return self.status == "shipped"


def run_command(claim: str) -> str:
    """The command line that runs ``claim`` and writes its results file."""
    return f"python -m training.run_claims --claim {claim}"


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def curve_band(variant: str, curves: Sequence[Sequence[Sequence[float | None]]]) -> CurveBand:
    """The band of one variant's per-seed curves (``[[[step, value], ...] per seed]``; a None or non-finite value,
    a diverged evaluation, is left out), over every step any seed evaluated, in step order."""
    by_step: dict[int, list[float]] = {}
    for curve in curves:
        for step, value in curve:
            v = _finite(value)
            if v is not None:
                by_step.setdefault(int(step), []).append(v)
    steps = sorted(by_step)
    values = [by_step[s] for s in steps]
    return CurveBand(variant, tuple(steps), tuple(sum(v) / len(v) for v in values), tuple(min(v) for v in values),
                     tuple(max(v) for v in values), tuple(len(v) for v in values))


def shipped_report(path: str | Path) -> ClaimReport:
    """The report of a results file. Raises ValueError when it is incomplete as a document (missing keys) or its
    verdict is not the one the rule gives from its numbers."""
    doc = read_claim_results(path)
    expected = recomputed_verdict(doc)
    if doc["verdict"] != expected:
        raise ValueError(f"{path}: the stored verdict {doc['verdict']!r} is not the rule's {expected!r}; rerun "
                         f"`{run_command(doc['claim'])}` to rewrite the file")
    stats = doc["statistics"]
    variants = doc["variants"]
    rows = tuple(VariantRow(name, int(stats["variants"][name]["n"]), _finite(stats["variants"][name]["mean"]),
                            _finite(stats["variants"][name]["std"]), variants[name].get("num_parameters"))
                 for name in variants)
    rule = VerdictRule.from_dict(doc)
    finals = {name: v["final"] for name, v in variants.items()}
    comparisons = tuple(ComparisonRow(d.a, d.b, _finite(d.difference), _finite(d.low), _finite(d.high),
                                      comparison_verdict(rule, d)) for d in compare(finals, rule.pairs))
    return ClaimReport(
        name=doc["claim"], section=str(doc.get("section", "")), status="shipped", claim_en=doc["claim_en"],
        claim_zh=doc["claim_zh"], why_en=doc.get("why_may_differ_en", ""), why_zh=doc.get("why_may_differ_zh", ""),
        varied=doc.get("varied", ""), metric=doc["metric"], direction=doc["direction"], relation=doc["relation"],
        margin=float(doc["margin"]), steps=int(doc.get("steps", 0)), seeds=tuple(doc["seeds"]),
        verdict=doc["verdict"], complete=bool(doc["complete"]),
        curves=tuple(curve_band(name, v.get("curves", [])) for name, v in variants.items()),
        variants=rows, comparisons=comparisons, commands=tuple(doc["commands"]),
        hardware=tuple(doc["hardware"]), wall_seconds=_finite(doc.get("wall_seconds")),
        variant_names=tuple(variants), pairs=rule.pairs)


def pending_report(spec: ClaimSpec) -> ClaimReport:
    """The report of a claim with no results file: "needs" (with what it waits for) or "not_run"."""
    return ClaimReport(
        name=spec.name, section=spec.section, status="needs" if spec.needs else "not_run", claim_en=spec.claim_en,
        claim_zh=spec.claim_zh, why_en=spec.why_may_differ_en, why_zh=spec.why_may_differ_zh, varied=spec.varied,
        metric=spec.metric, direction=spec.direction, relation=spec.relation, margin=float(spec.margin),
        steps=spec.steps, seeds=tuple(spec.seeds), commands=(run_command(spec.name),), needs=tuple(spec.needs),
        variant_names=tuple(spec.variants), pairs=tuple(spec.pairs))


def claim_reports(results_dir: str | Path = RESULTS_DIR,
                  claims: Mapping[str, ClaimSpec] | None = None) -> list[ClaimReport]:
    """Every claim: the shipped ones first (the catalogue's order, then results files of claims the catalogue
    does not list, by name), then the ones not run yet (the catalogue's order). A results file that is not JSON
    (one being written right now) counts as not run, with a warning in the log; one whose verdict is not the
    rule's raises ValueError (`shipped_report`)."""
    claims = CLAIMS if claims is None else claims
    results_dir = Path(results_dir)
    files = {p.stem: p for p in sorted(results_dir.glob("*.json"))} if results_dir.is_dir() else {}
    shipped: dict[str, ClaimReport] = {}
    for name in [*[n for n in claims if n in files], *[n for n in files if n not in claims]]:
        try:
            shipped[name] = shipped_report(files[name])
        except json.JSONDecodeError as e:
            logger.warning("%s is not readable JSON (%s): shown as not run", files[name], e)
    pending = [pending_report(spec) for name, spec in claims.items() if name not in shipped]
    return [*shipped.values(), *pending]
