"""Detecting a diverged run: NaN/inf in the model's outputs, the loss or the gradients.

A diverged step raises `NonFiniteLossError` (never ``sys.exit``: the trainer also runs inside a web
server) with what was non-finite, where, and what to try; the weights are left as they were before the
update, so the last checkpoint and the in-memory model are both still usable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

__all__ = ["NonFiniteLossError", "check_finite_outputs", "check_finite_loss"]

_ADVICE = ("The model diverged. Try a lower learning rate (--lr), a longer warm-up (--warmup-steps), "
           "keep gradient clipping on (--grad-clip), disable bf16 autocast (--no-bf16), or check the data "
           "for broken boxes; then resume from the last checkpoint.")


class NonFiniteLossError(FloatingPointError):
    """A training step produced NaN or inf. ``step`` is the update that failed (1-based), ``terms`` the
    values that were logged for it."""

    def __init__(self, message: str, step: int, terms: Mapping[str, float] | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.terms = dict(terms or {})


def check_finite_outputs(outputs: Mapping[str, torch.Tensor], step: int) -> None:
    """Raise if any of the named output tensors holds NaN/inf (before a matcher or loss sees them)."""
    bad = [name for name, value in outputs.items() if not bool(torch.isfinite(value).all())]
    if bad:
        raise NonFiniteLossError(f"Step {step}: the model's outputs {bad} contain NaN or inf. {_ADVICE}",
                                 step)


def check_finite_loss(total: torch.Tensor, terms: Mapping[str, float], step: int,
                      grad_norm: float | None = None, lr: float | None = None) -> None:
    """Raise if the weighted total, any logged term or the gradient norm is NaN/inf."""
    bad = {k: v for k, v in terms.items() if not math.isfinite(v)}
    total_value = float(total.detach())
    where = f" at lr {lr:.3g}" if lr is not None else ""
    if bad or not math.isfinite(total_value):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(bad.items())) or "none of the terms"
        raise NonFiniteLossError(f"Step {step}{where}: the loss is {total_value} (non-finite terms: "
                                 f"{shown}). {_ADVICE}", step, terms)
    if grad_norm is not None and not math.isfinite(grad_norm):
        raise NonFiniteLossError(f"Step {step}{where}: the loss is finite ({total_value:.4g}) but the "
                                 f"gradient norm is {grad_norm}. {_ADVICE}", step, terms)
