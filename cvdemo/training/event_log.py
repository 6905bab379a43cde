"""A JSON-lines log of training events: one ``event.to_dict()`` per line, with a wall-clock ``time``.

Every metric of every step is there (each loss term incl. aux layers, lr per group, gradient norm,
throughput, memory), plus evaluations, snapshots (predictions, without the images) and checkpoints::

    {"event": "step", "time": 1717171717.1, "step": 1, "loss": 17.1, "losses": {"loss_ce": ...}, ...}

Read it back with ``[json.loads(line) for line in open(path)]``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType

from cvdemo.training.events import TrainingEvent

__all__ = ["JsonLinesLog"]


class JsonLinesLog:
    """Appends events to ``path`` (created with its folder; ``append=False`` starts a fresh file)."""

    def __init__(self, path: str | Path, append: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a" if append else "w", encoding="utf-8")

    def __call__(self, event: TrainingEvent) -> None:
        record = event.to_dict()
        record = {"event": record.pop("event"), "time": round(time.time(), 3), **record}
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonLinesLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
