"""A claim's shipped result: ``experiments/results/<claim>.json``, written from the runner's records and read back
by the app and the tests.

Keys of the document (`claim_document`):

    claim, section, claim_en, claim_zh, why_may_differ_en, why_may_differ_zh   the claim, in the notes' words
    task, kind, preset, varied, metric, direction, relation, margin, comparisons ([[a, b], ...]), steps,
    eval_every, seeds                                                          the experiment
    variants       {name: {"overrides": {...}, "seeds": [s, ...], "final": [one value per seed, None = diverged],
                           "curves": [[[step, value], ...] per seed], "seconds": [per seed],
                           "num_parameters": int}}
    statistics     {"variants": {name: {name, n, mean, std}}, "comparisons": [{a, b, difference, low, high, se,
                    df, confidence}]}   (`cvdemo.experiments.statistics`; None for non-finite numbers)
    verdict        "supported" | "contradicted" | "not distinguishable at this scale" (by rule, from "final")
    complete       every variant has a finished or diverged run for every seed
    commands       the command lines that produced the runs (each rerun that added runs adds its own)
    hardware       the distinct machines of the runs (`cvdemo.experiments.runner.hardware`)
    wall_seconds   the runs' summed wall time (a shared training once);  written_at   ISO 8601 UTC
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cvdemo.experiments.run_records import RunRecord
from cvdemo.experiments.spec import ClaimSpec
from cvdemo.experiments.statistics import VerdictRule, compare, summarize, verdict

__all__ = ["REQUIRED_KEYS", "claim_document", "read_claim_results", "recomputed_verdict", "results_path",
           "write_claim_results"]

REQUIRED_KEYS = ("claim", "claim_en", "claim_zh", "metric", "direction", "relation", "margin", "comparisons",
                 "seeds", "variants", "statistics", "verdict", "complete", "commands", "hardware")


def _dumps(value: Any, depth: int = 0) -> str:
    """Indented JSON with every list of plain values (numbers, strings, null) on one line, so curves read as
    [[step, value], ...] rows."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + _dumps(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def results_path(out_dir: str | Path, claim: str) -> Path:
    """``<out_dir>/<claim>.json``."""
    return Path(out_dir) / f"{claim}.json"


def _variant_entry(spec: ClaimSpec, name: str, records: list[RunRecord], seeds: Sequence[int]) -> dict[str, Any]:
    by_seed = {r.seed: r for r in records if r.variant == name}
    ran = [s for s in seeds if s in by_seed]
    return {"overrides": spec.overrides_of(name).to_dict(), "seeds": ran,
            "final": [by_seed[s].final for s in ran],
            "curves": [[[step, value] for step, value in by_seed[s].curve] for s in ran],
            "seconds": [round(by_seed[s].seconds, 2) for s in ran],
            "num_parameters": by_seed[ran[0]].num_parameters if ran else None}


def _wall_seconds(records: Sequence[RunRecord]) -> float:
    """The runs' summed wall time, a shared training (`cvdemo.experiments.shared_training`) counted once."""
    trainings = {(r.seed, tuple(r.extra.get("shared_training", [r.variant]))): r.seconds for r in records}
    return round(sum(trainings.values()), 1)


def claim_document(spec: ClaimSpec, records: Sequence[RunRecord], commands: Sequence[str],
                   seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """The results document of ``spec`` from its run records (see the module docstring)."""
    seeds = list(spec.seeds if seeds is None else seeds)
    records = list(records)
    variants = {name: _variant_entry(spec, name, records, seeds) for name in spec.variants}
    finals = {name: v["final"] for name, v in variants.items()}
    rule = VerdictRule.of(spec)
    hardware: list[dict[str, Any]] = []
    for r in records:
        if r.hardware not in hardware:
            hardware.append(r.hardware)
    return {
        "claim": spec.name, "section": spec.section, "claim_en": spec.claim_en, "claim_zh": spec.claim_zh,
        "why_may_differ_en": spec.why_may_differ_en, "why_may_differ_zh": spec.why_may_differ_zh,
        "task": spec.task, "kind": spec.kind, "preset": spec.preset, "varied": spec.varied, "metric": spec.metric,
        "direction": spec.direction, "relation": spec.relation, "margin": spec.margin,
        "comparisons": [list(p) for p in rule.pairs], "steps": records[0].settings["steps"] if records else spec.steps,
        "eval_every": spec.eval_every, "seeds": seeds,
        "variants": variants,
        "statistics": {"variants": {n: summarize(n, f).to_dict() for n, f in finals.items()},
                       "comparisons": [d.to_dict() for d in compare(finals, rule.pairs)]},
        "verdict": verdict(rule, finals),
        "complete": all(len(v["final"]) == len(seeds) for v in variants.values()),
        "commands": list(dict.fromkeys(commands)),
        "hardware": hardware,
        "wall_seconds": _wall_seconds(records),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_claim_results(out_dir: str | Path, spec: ClaimSpec, records: Sequence[RunRecord],
                        commands: Sequence[str], seeds: Sequence[int] | None = None) -> Path:
    """Write ``<out_dir>/<claim>.json``; the commands of an earlier file of the same claim are kept (first)."""
    path = results_path(out_dir, spec.name)
    previous: list[str] = []
    if path.exists():
        try:
            previous = list(json.loads(path.read_text(encoding="utf-8")).get("commands", []))
        except (ValueError, AttributeError):
            previous = []
    document = claim_document(spec, records, [*previous, *commands], seeds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dumps(document) + "\n", encoding="utf-8")
    return path


def read_claim_results(path: str | Path) -> dict[str, Any]:
    """A results document; raises ValueError naming the file and the missing keys when it is incomplete."""
    path = Path(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in REQUIRED_KEYS if k not in document]
    if missing:
        raise ValueError(f"{path}: not a claim results file, missing {missing}")
    return document


def recomputed_verdict(document: dict[str, Any]) -> str:
    """The verdict the rule gives from the document's own numbers (its "final" values, relation, direction,
    margin and comparisons): a shipped file's ``verdict`` must equal it."""
    finals = {name: v["final"] for name, v in document["variants"].items()}
    return verdict(VerdictRule.from_dict(document), finals)
