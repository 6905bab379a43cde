"""Multi-process training with torch.distributed: set-up from torchrun's environment and small collectives.

Launch as ``torchrun --nproc_per_node N -m training.train_detr ...``: torchrun sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` (and the rendezvous address); `init_from_environment` then starts the
process group (NCCL on CUDA, gloo on the CPU) and gives each process its own GPU. Without those variables
everything here is a no-op for a single process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["ProcessInfo", "barrier", "init_from_environment", "mean_across_processes", "process_info",
           "shutdown"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run (rank 0 of 1 without torch.distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def process_info() -> ProcessInfo:
    """The current rank and world size (0 of 1 when torch.distributed is not initialised)."""
    if dist.is_available() and dist.is_initialized():
        return ProcessInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return ProcessInfo()


def init_from_environment(device: str) -> tuple[ProcessInfo, str]:
    """Start torch.distributed if torchrun launched this process with WORLD_SIZE > 1.

    Args:
        device: "cpu", "cuda" or "cuda:N" as asked by the user.

    Returns:
        (this process's info, the device it should use: "cuda:LOCAL_RANK" on GPUs).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 or (dist.is_available() and dist.is_initialized()):
        return process_info(), device
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed support")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPUs are "
                               "visible: use --nproc_per_node <= the number of GPUs")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    info = process_info()
    log.info("torch.distributed: rank %d of %d on %s", info.rank, info.world_size, device)
    return info, device


def mean_across_processes(values: dict[str, float], device: torch.device | str = "cpu") -> dict[str, float]:
    """Each value averaged over all processes (one all-reduce); unchanged for a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1 or not values:
        return values
    keys = sorted(values)
    stacked = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(stacked)
    stacked /= dist.get_world_size()
    return dict(zip(keys, stacked.tolist()))


def barrier() -> None:
    """Wait for every process (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    """Tear down the process group if this module's caller started one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
