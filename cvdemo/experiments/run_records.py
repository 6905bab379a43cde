"""The runner's JSON-lines log: one `RunRecord` per finished run (variant x seed) of a claim, appended as each run
ends, so that a rerun skips what is already done (`cvdemo.experiments.runner`).

File: ``<out>/<claim>.runs.jsonl``, one JSON object a line (the fields of `RunRecord`). ``settings`` holds what
made the run (preset, overrides, steps, data sizes, metric): a record counts for a claim only when its settings
equal the current ones, so changing ``--steps`` or a spec never mixes two experiments. A line that is not valid
JSON (a run killed while writing) is skipped with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunRecord", "append_record", "normalized", "read_records", "runs_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRecord:
    """One finished run.

    final: the metric at the end (None when the run diverged: ``status`` "diverged", ``error`` says where);
    curve: [(step, value)] of the metric over the run; seconds: wall time of the run (build, train, evaluate);
    num_parameters: the model's weights; hardware: `cvdemo.experiments.runner.hardware()` of the machine.
    """

    claim: str
    variant: str
    seed: int
    final: float | None
    curve: list[tuple[int, float]]
    seconds: float
    num_parameters: int
    settings: dict[str, Any]
    hardware: dict[str, Any]
    status: str = "finished"  # "finished" | "diverged"
    error: str = ""
    finished_at: str = ""  # ISO 8601, UTC
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["curve"] = [[int(s), float(v)] for s, v in self.curve]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["curve"] = [(int(s), float(v)) for s, v in d.get("curve", [])]
        return cls(**d)


def runs_path(out_dir: str | Path, claim: str) -> Path:
    """Where the runs of ``claim`` are logged: ``<out_dir>/<claim>.runs.jsonl``."""
    return Path(out_dir) / f"{claim}.runs.jsonl"


def normalized(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as they read back from JSON (tuples as lists, int keys as strings), for comparison."""
    return json.loads(json.dumps(settings, sort_keys=True))


def append_record(path: str | Path, record: RunRecord) -> None:
    """Append one record as a line (the file and its folder are created when missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
        f.flush()


def read_records(path: str | Path) -> list[RunRecord]:
    """Every record of the file, in order ([] when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(RunRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError) as e:
            log.warning("%s line %d: not a run record (%s); skipped", path, number, e)
    return records
