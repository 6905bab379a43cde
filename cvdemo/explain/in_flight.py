"""Explanations being computed right now, and a clean interpreter exit while they run.

The app computes explanations (seconds of torch work) in server worker threads; a process that exits while one
of them is inside torch aborts in torch's thread pools' destructors ("terminate called without an active
exception", exit status 134). `EXPLANATIONS` counts them (``with EXPLANATIONS: ...``), wraps the score
functions of faithfulness curves so they stop at their next batch once the process exits, and is waited for by
an `atexit` hook. Shared by `cvdemo.vit_explanation` and `cvdemo.detr_explanation`.
"""

from __future__ import annotations

import atexit
import threading

import torch

from cvdemo.explain.faithfulness import ScoreFn

__all__ = ["EXPLANATIONS", "InFlight"]


class InFlight:
    """How many explanations are being computed, and a wait for none at interpreter exit: the app computes them
    in server worker threads, and a process that exits while one of them is inside torch aborts ("terminate called
    without an active exception", exit status 134) instead of exiting cleanly. At exit (`at_exit`) no new
    explanation starts, the curves being measured stop at their next batch of images, and the exit waits for
    the ones in flight (at most ``timeout_s``)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()
        self.exiting = threading.Event()

    def __enter__(self) -> None:
        if self.exiting.is_set():
            raise RuntimeError("the process is exiting: no new explanation")
        with self.changed:
            self.count += 1

    def __exit__(self, *exc) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait(self, timeout_s: float = 60.0) -> bool:
        """True once none is running (False after ``timeout_s``)."""
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout=timeout_s)

    def at_exit(self) -> None:
        self.exiting.set()
        self.wait()

    def stoppable(self, score: ScoreFn) -> ScoreFn:
        """``score`` that refuses new batches once the process is exiting."""
        def score_unless_exiting(images: torch.Tensor) -> torch.Tensor:
            if self.exiting.is_set():
                raise RuntimeError("the process is exiting: faithfulness not measured")
            return score(images)
        return score_unless_exiting


EXPLANATIONS = InFlight()
atexit.register(EXPLANATIONS.at_exit)
