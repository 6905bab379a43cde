"""Training FLOPs and model FLOPs utilisation (MFU).

MFU = (FLOPs a training step needs) x (steps per second) / (the device's peak FLOP/s). The FLOPs of a step
are *counted*, not estimated from the parameter count: the trainer runs its first update under
`torch.utils.flop_counter.FlopCounterMode`, which adds up the matrix multiplications, convolutions and
attention of the forward and backward passes (2 FLOPs per multiply-add; element-wise work, norms and the
optimizer are left out, as in the usual MFU definitions). The backward pass of attention on the CPU, which
torch's counter does not know, is registered here with torch's own formulas.

Peak FLOP/s: dense (no sparsity) bf16 tensor-core figures from the vendors' data sheets for runs under bf16
autocast, fp32 figures otherwise (PyTorch does not use TF32 for matrix multiplications by default). A GPU not
in the table, or any CPU, has no peak: set ``CVDEMO_PEAK_TFLOPS`` (TFLOP/s of one device) to get an MFU there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import torch
from torch.utils import flop_counter

__all__ = ["PEAK_TFLOPS", "count_flops", "model_flops_utilization", "peak_flops"]

log = logging.getLogger(__name__)

# substring of torch.cuda.get_device_name() (lower case) -> (bf16 dense, fp32) TFLOP/s per device.
# Checked in order: the more specific names first.
PEAK_TFLOPS: tuple[tuple[str, float, float], ...] = (
    ("h200", 989.0, 67.0),
    ("h100 pcie", 756.0, 51.0),
    ("h100", 989.0, 67.0),  # SXM
    ("a100", 312.0, 19.5),
    ("l40s", 362.0, 91.6),
    ("l4", 121.0, 30.3),
    ("rtx 4090", 165.2, 82.6),
    ("rtx 3090", 71.0, 35.6),
    ("v100", 125.0, 15.7),  # fp16 tensor cores (no bf16 on Volta)
    ("t4", 65.0, 8.1),  # fp16 tensor cores (no bf16 on Turing)
)


def _register_cpu_attention() -> None:
    """Teach torch's FLOP counter the CPU flash-attention kernels (forward and backward)."""
    aten = torch.ops.aten
    forward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    backward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
    if forward is not None and forward.default not in flop_counter.flop_registry:
        @flop_counter.register_flop_formula(forward)
        def _cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
            return flop_counter.sdpa_flop_count(query, key, value)
    if backward is not None and backward.default not in flop_counter.flop_registry:
        @flop_counter.register_flop_formula(backward)
        def _cpu_sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
            return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


_register_cpu_attention()


def count_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` under torch's FLOP counter: (its result, FLOPs it took). Count a training step by
    calling forward, loss and ``backward()`` inside ``fn``."""
    with flop_counter.FlopCounterMode(display=False) as counter:
        result = fn()
    return result, int(counter.get_total_flops())


def peak_flops(device: torch.device | str, bf16: bool) -> float | None:
    """Peak FLOP/s of one ``device``: ``CVDEMO_PEAK_TFLOPS`` if set, else the table above for a known GPU
    (bf16 tensor-core peak when ``bf16`` autocast is on, fp32 otherwise), else None (CPUs, unknown GPUs)."""
    override = os.environ.get("CVDEMO_PEAK_TFLOPS")
    if override:
        try:
            value = float(override)
        except ValueError:
            raise ValueError(f"CVDEMO_PEAK_TFLOPS must be a number of TFLOP/s, got {override!r}") from None
        if value <= 0:
            raise ValueError(f"CVDEMO_PEAK_TFLOPS must be > 0, got {override!r}")
        return value * 1e12
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device).lower()
    for key, bf16_peak, fp32_peak in PEAK_TFLOPS:
        if key in name:
            return (bf16_peak if bf16 else fp32_peak) * 1e12
    log.info("no peak FLOP/s known for %r: set CVDEMO_PEAK_TFLOPS to get an MFU estimate", name)
    return None


def model_flops_utilization(flops_per_step: float, step_time_s: float, peak: float | None) -> float | None:
    """Achieved / peak FLOP/s of one device for a step of ``flops_per_step`` taking ``step_time_s``; None
    without a peak."""
    if peak is None or step_time_s <= 0:
        return None
    return flops_per_step / step_time_s / peak
