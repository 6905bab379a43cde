"""A run's curves as plain data, kept after the run for comparison: `RunCurves` and a session's `RunHistory`.

`RunCurves.add(event)` takes a run's events in order (`cvdemo.training.events`) and keeps what its curves need:
every step's weighted total ``loss``, each unweighted loss term (``terms``: DETR's ``loss_ce``, ``loss_bbox``,
``loss_giou``, their auxiliary-layer copies ``loss_ce_0``...; a classifier's ``loss_ce``, ``accuracy``), each
parameter group's learning rate (``lrs``), and every evaluation (``evals``: ``(step, {"AP": ...})``).
``to_dict`` / ``from_dict`` round-trip it through JSON (a recorded run ships that way; see
`cvdemo.training.recorded_runs`), ``thinned`` keeps at most a number of steps (the last one included).

`RunHistory` keeps the finished runs of each owner (a browser session), at most `MAX_RUNS_PER_OWNER` each
(the oldest dropped first) and `MAX_OWNERS` owners (the least recently active dropped first), so that a
session can overlay its earlier runs on the current one; `drop_owner` forgets a session's runs when it ends.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cvdemo.training.events import EvalEvent, RunFinished, RunStarted, StepEvent, TrainingEvent

__all__ = ["MAX_OWNERS", "MAX_RUNS_PER_OWNER", "RunCurves", "RunHistory"]

MAX_RUNS_PER_OWNER = 4
MAX_OWNERS = 256
STORED_POINTS = 1000  # steps a finished run keeps for comparison (evenly thinned, the last one included)


@dataclass
class RunCurves:
    """One run's curves (see the module docstring). ``task``: "detection" | "classification" ("" before
    RunStarted); ``total_steps``, ``batch_size``, ``device`` from RunStarted; ``elapsed_s`` from RunFinished."""

    task: str = ""
    total_steps: int = 0
    batch_size: int = 0
    device: str = ""
    elapsed_s: float | None = None
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    lrs: dict[str, list[float]] = field(default_factory=dict)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)

    def add(self, event: TrainingEvent) -> None:
        """Take one event (others than start, step, evaluation and end are ignored)."""
        if isinstance(event, StepEvent):
            self.steps.append(event.step)
            self.loss.append(event.loss)
            for name, value in event.losses.items():
                self.terms.setdefault(name, []).append(value)
            for name, value in event.lrs.items():
                self.lrs.setdefault(name, []).append(value)
        elif isinstance(event, EvalEvent):
            self.evals.append((event.step, dict(event.metrics)))
        elif isinstance(event, RunStarted):
            self.task, self.total_steps = event.task, event.total_steps
            self.batch_size, self.device = event.batch_size, event.device
        elif isinstance(event, RunFinished):
            self.elapsed_s = event.elapsed_s

    @property
    def last_step(self) -> int:
        return self.steps[-1] if self.steps else 0

    def thinned(self, max_points: int = STORED_POINTS) -> RunCurves:
        """A copy with at most ``max_points`` evenly spread steps (the last one included); evaluations all kept."""
        n = len(self.steps)
        keep = list(range(n)) if n <= max_points else sorted(
            set(range(0, n, math.ceil(n / max_points))) | {n - 1})

        def pick(values: list[float]) -> list[float]:
            return [values[i] for i in keep if i < len(values)]

        return RunCurves(self.task, self.total_steps, self.batch_size, self.device, self.elapsed_s,
                         [self.steps[i] for i in keep], pick(self.loss),
                         {k: pick(v) for k, v in self.terms.items()}, {k: pick(v) for k, v in self.lrs.items()},
                         [(s, dict(m)) for s, m in self.evals])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (non-finite numbers become None)."""
        def clean(values: list[float]) -> list[float | None]:
            return [v if math.isfinite(v) else None for v in values]

        return {"task": self.task, "total_steps": self.total_steps, "batch_size": self.batch_size,
                "device": self.device, "elapsed_s": self.elapsed_s, "steps": list(self.steps),
                "loss": clean(self.loss), "terms": {k: clean(v) for k, v in self.terms.items()},
                "lrs": {k: clean(v) for k, v in self.lrs.items()},
                "evals": [{"step": s, "metrics": m} for s, m in self.evals]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunCurves:
        """The inverse of `to_dict` (None read back as NaN). Raises KeyError / TypeError / ValueError on a
        malformed dict."""
        def numbers(values: list[Any]) -> list[float]:
            return [math.nan if v is None else float(v) for v in values]

        steps = [int(s) for s in data["steps"]]
        curves = cls(str(data["task"]), int(data["total_steps"]), int(data.get("batch_size", 0)),
                     str(data.get("device", "")),
                     None if data.get("elapsed_s") is None else float(data["elapsed_s"]), steps,
                     numbers(data["loss"]), {str(k): numbers(v) for k, v in data.get("terms", {}).items()},
                     {str(k): numbers(v) for k, v in data.get("lrs", {}).items()},
                     [(int(e["step"]), {str(k): float(v) for k, v in e["metrics"].items()})
                      for e in data.get("evals", [])])
        if len(curves.loss) != len(steps) or any(len(v) != len(steps) for v in (*curves.terms.values(),
                                                                                 *curves.lrs.values())):
            raise ValueError("every curve needs one value per step")
        return curves


@dataclass(frozen=True)
class _Entry:
    run_id: str
    about: Any  # what the run was (e.g. its setup's description message), for the UI to word
    curves: RunCurves


class RunHistory:
    """Finished runs per owner, bounded (see the module docstring). Thread-safe."""

    def __init__(self, per_owner: int = MAX_RUNS_PER_OWNER, max_owners: int = MAX_OWNERS) -> None:
        if min(per_owner, max_owners) < 1:
            raise ValueError("per_owner and max_owners must be >= 1")
        self.per_owner, self.max_owners = per_owner, max_owners
        self._runs: OrderedDict[str, list[_Entry]] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, owner: str, curves: RunCurves, about: Any = None) -> str:
        """Keep a finished run's curves (thinned) for ``owner``; returns its id ("run-3")."""
        entry = _Entry(f"run-{next(self._ids)}", about, curves.thinned())
        with self._lock:
            runs = self._runs.setdefault(owner, [])
            runs.append(entry)
            del runs[:-self.per_owner]
            self._runs.move_to_end(owner)
            while len(self._runs) > self.max_owners:
                self._runs.popitem(last=False)
        return entry.run_id

    def runs(self, owner: str) -> list[tuple[str, Any, RunCurves]]:
        """(id, about, curves) of ``owner``'s kept runs, oldest first."""
        with self._lock:
            return [(e.run_id, e.about, e.curves) for e in self._runs.get(owner, [])]

    def drop_owner(self, owner: str) -> None:
        with self._lock:
            self._runs.pop(owner, None)
