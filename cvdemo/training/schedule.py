"""Learning-rate schedules: a multiplier of each parameter group's base learning rate per step.

``lr(step) = base_lr * lr_factor(step, ...)``, where ``step`` counts updates already done (0 for the first).

- warm-up: linear from ``1 / (warmup_steps + 1)`` to 1 over the first ``warmup_steps`` updates;
- then ``"cosine"``: half a cosine from 1 down to ``min_ratio`` at ``total_steps``;
  ``"step"``: 1, then ``drop_factor`` from ``drop_step`` on (DETR's ``lr_drop``: x0.1 at epoch 200 of 300);
  ``"constant"``: 1.

A pure function of the step, so a resumed run needs no scheduler state.
"""

from __future__ import annotations

import math

__all__ = ["SCHEDULES", "lr_factor"]

SCHEDULES = ("cosine", "step", "constant")


def lr_factor(step: int, total_steps: int, schedule: str = "cosine", warmup_steps: int = 0,
              min_ratio: float = 0.0, drop_step: int | None = None, drop_factor: float = 0.1) -> float:
    """Multiplier of the base learning rate for update number ``step`` (0-based)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return drop_factor if drop_step is not None and step >= drop_step else 1.0
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
