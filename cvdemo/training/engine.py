"""The training loop: `Trainer.run()` yields typed events (`cvdemo.training.events`); it knows nothing of
the CLI or the app, which both consume the same events.

    trainer = Trainer(model, DetectionTask(model.config), train_set, val_set, TrainConfig(total_steps=500))
    for event in trainer.run():
        ...                            # StepEvent, EvalEvent, SnapshotEvent, CheckpointEvent, ...
    trainer.request_stop()             # from any thread or from inside the loop: honoured within one step

Each update: seeded batch (`cvdemo.training.data.epoch_batches`), learning rate from the schedule
(`cvdemo.training.schedule`), forward and loss under bf16 autocast on CUDA (fp32 on the CPU), backward,
gradient-norm clipping, AdamW step. A NaN/inf output, loss or gradient raises `NonFiniteLossError` before
the weights change. Under torchrun the model is wrapped in DistributedDataParallel, each process takes its
share of every global batch, logged losses are averaged over processes, and only rank 0 evaluates, takes
snapshots and writes checkpoints.

Determinism: with the same seed, data and model initialisation, a CPU run gives the same losses step for
step, and a run resumed from a checkpoint continues exactly as the uninterrupted run (optimizer moments,
step, and random-number generator state are restored; the batch order is a function of (seed, epoch)).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import resource
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.data import DataLoader

from cvdemo.training import distributed
from cvdemo.training.checkpointing import load_training_checkpoint, save_training_checkpoint
from cvdemo.training.data import SeededSamples, epoch_batches, random_horizontal_flip, steps_per_epoch
from cvdemo.training.divergence import NonFiniteLossError, check_finite_loss
from cvdemo.training.events import (
    CheckpointEvent,
    EpochEvent,
    EvalEvent,
    RunFinished,
    RunStarted,
    SnapshotEvent,
    StepEvent,
    TrainingEvent,
)
from cvdemo.training.flops import model_flops_utilization, peak_flops
from cvdemo.training.schedule import SCHEDULES, lr_factor
from cvdemo.training.task import Task

__all__ = ["TrainConfig", "Trainer"]

log = logging.getLogger(__name__)

StopRequest = threading.Event | Callable[[], bool] | None


@dataclass
class TrainConfig:
    """How to train. Defaults are DETR's fine-tuning recipe; the presets in `cvdemo.training.presets` hold
    the from-scratch recipes for the synthetic shapes."""

    total_steps: int = 1000  # optimizer updates in the whole run
    batch_size: int = 8  # per process (global batch = batch_size x processes)
    lr: float = 1e-4  # AdamW learning rate of the transformer / head
    backbone_lr: float | None = 1e-5  # DETR's backbone group; None = lr (a backbone trained from scratch)
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 0.1  # max total gradient norm (DETR: 0.1); 0 = no clipping
    schedule: str = "cosine"  # "cosine" | "step" | "constant" (after the warm-up)
    warmup_steps: int = 0  # linear warm-up updates
    min_lr_ratio: float = 0.0  # cosine: final lr / base lr
    lr_drop_step: int | None = None  # step schedule: multiply by lr_drop_factor from this update on
    lr_drop_factor: float = 0.1
    hflip: float = 0.5  # probability of a left-right flip of a training image
    seed: int = 0  # batch order, augmentation, dropout
    device: str = "cpu"  # "cpu", "cuda", "cuda:N"
    bf16: bool = True  # bf16 autocast for forward and loss on CUDA (never on the CPU)
    eval_every: int = 0  # updates between evaluations (0: only at the end); needs a validation set
    eval_batch_size: int = 8
    snapshot_every: int = 0  # updates between prediction snapshots (0: none); one more before update 1
    num_snapshot_images: int = 4  # the first images of the validation set
    checkpoint_every: int = 0  # updates between resumable checkpoints in checkpoint_dir (0: only at the end)
    checkpoint_dir: str | None = None  # None: no checkpoints
    num_workers: int = 0  # DataLoader worker processes
    throughput_window: int = 20  # steps over which images/s and the ETA are averaged

    def __post_init__(self) -> None:
        problems = []
        if self.total_steps < 1 or self.batch_size < 1:
            problems.append("total_steps and batch_size must be >= 1")
        if self.lr <= 0 or (self.backbone_lr is not None and self.backbone_lr < 0):
            problems.append("lr must be > 0 and backbone_lr >= 0")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES}")
        if self.grad_clip < 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            problems.append("grad_clip, weight_decay and warmup_steps must be >= 0")
        if not 0 <= self.hflip <= 1:
            problems.append("hflip is a probability in [0, 1]")
        if min(self.eval_every, self.snapshot_every, self.checkpoint_every, self.num_workers) < 0:
            problems.append("eval_every, snapshot_every, checkpoint_every and num_workers must be >= 0")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {sorted(known)}")
        return cls(**d)


def _peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Trainer:
    """Trains ``model`` on ``train_data`` for ``config.total_steps`` updates; see the module docstring.

    Args:
        model: a DETR or ViT (anything the task's loss can call), on any device; moved to config.device.
        task: `DetectionTask` or `ClassificationTask` (the `Task` protocol).
        train_data: the training set (the item contract of `cvdemo.training.data`).
        val_data: validation set for evaluation and snapshots, or None.
        config: the `TrainConfig`.
        stop: a `threading.Event` or a callable returning True when the run should stop; checked before
            every update and between evaluation batches. `request_stop()` works too.
        resume_from: a checkpoint directory written by a previous run (`save_checkpoint`) to continue from.
    """

    def __init__(self, model: nn.Module, task: Task, train_data, val_data=None,
                 config: TrainConfig | None = None, *, stop: StopRequest = None,
                 resume_from: str | Path | None = None) -> None:
        self.model = model
        self.task = task
        self.train_data = train_data
        self.val_data = val_data
        self.config = config or TrainConfig()
        self.resume_from = Path(resume_from) if resume_from is not None else None
        self._external_stop = stop
        self._stop = threading.Event()
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.last_metrics: dict[str, float] = {}
        self.flops_per_step: int | None = None  # one process's update (forward + backward), counted at step 1

    # --- control -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the run to stop; it ends (with a checkpoint if configured) before the next update."""
        self._stop.set()

    def should_stop(self) -> bool:
        ext = self._external_stop
        if ext is None:
            external = False
        elif isinstance(ext, threading.Event):
            external = ext.is_set()
        else:
            external = bool(ext())
        return self._stop.is_set() or external

    def save_checkpoint(self, directory: str | Path) -> Path:
        """Write a resumable checkpoint of the current state (after `run` has started)."""
        if self.optimizer is None:
            raise RuntimeError("save_checkpoint needs a started run (iterate Trainer.run() first)")
        epoch = self.step // self._steps_per_epoch
        return save_training_checkpoint(directory, self.model, self.optimizer, step=self.step, epoch=epoch,
                                        train_config=self.config.to_dict(), extra={"task": self.task.name})

    # --- the loop --------------------------------------------------------------------------

    def _autocast(self):
        if self.config.bf16 and self._device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _set_lr(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        c = self.config
        factor = lr_factor(step, c.total_steps, c.schedule, c.warmup_steps, c.min_lr_ratio, c.lr_drop_step,
                           c.lr_drop_factor)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def _loader(self, epoch: int, skip: int) -> DataLoader:
        c, info = self.config, self._info
        batches = epoch_batches(len(self.train_data), c.batch_size, c.seed, epoch, info.world_size, info.rank)
        transform = random_horizontal_flip(c.hflip) if c.hflip > 0 else None
        # its own generator: creating an iterator must not draw from the global RNG (dropout's), or a
        # resumed run would drift from the uninterrupted one
        generator = torch.Generator().manual_seed(c.seed * 1_000_003 + epoch)
        return DataLoader(SeededSamples(self.train_data, transform), batch_sampler=batches[skip:],
                          collate_fn=self.task.collate, num_workers=c.num_workers,
                          pin_memory=self._device.type == "cuda", generator=generator)

    def _evaluate(self, step: int, epoch: int) -> EvalEvent | None:
        t0 = time.perf_counter()
        result = self.task.evaluate(self.model, self.val_data, self._device, self.config.eval_batch_size,
                                    self._autocast, self.should_stop)
        if result is None:
            return None
        metrics, per_class = result
        self.last_metrics = dict(metrics)
        return EvalEvent(step=step, epoch=epoch, metrics=metrics, per_class=per_class,
                         num_images=len(self.val_data), duration_s=time.perf_counter() - t0)

    def _snapshot(self, step: int, epoch: int) -> SnapshotEvent:
        predictions = self.task.snapshot(self.model, self._snapshot_samples, self._device, self._autocast)
        return SnapshotEvent(step=step, epoch=epoch, id2label=self.task.id2label, predictions=predictions)

    def _checkpoint(self, step: int) -> CheckpointEvent | None:
        if self.config.checkpoint_dir is None:
            return None
        path = None
        if self._info.is_main:
            path = self.save_checkpoint(self.config.checkpoint_dir)
        distributed.barrier()
        return CheckpointEvent(step=step, path=str(path or self.config.checkpoint_dir)) if path else None

    def _agree(self, error: NonFiniteLossError | None, step: int) -> None:
        """Raise on every process if any process diverged (so none waits forever in a collective)."""
        failed = error is not None
        if self._info.world_size > 1:
            flag = torch.tensor([1.0 if failed else 0.0], device=self._device)
            torch.distributed.all_reduce(flag)
            failed = bool(flag.item() > 0)
        if failed:
            raise error or NonFiniteLossError(f"Step {step}: another process reported a NaN/inf loss", step)

    def run(self) -> Iterator[TrainingEvent]:
        """Train, yielding events (see `cvdemo.training.events` for the order). Re-raises errors as they
        come (`NonFiniteLossError` for a diverged step) and never exits the process."""
        c = self.config
        self._info = info = distributed.process_info()
        self._device = device = torch.device(c.device)
        self._steps_per_epoch = spe = steps_per_epoch(len(self.train_data), c.batch_size, info.world_size)
        if spe == 0:
            epoch_batches(len(self.train_data), c.batch_size, c.seed, 0, info.world_size)  # raises, explains
        if self.resume_from is None:
            torch.manual_seed(c.seed + info.rank)  # dropout; the model's initialisation is the caller's
        self.model.to(device).train()
        train_model: nn.Module = self.model
        if info.world_size > 1:
            ids = [device.index] if device.type == "cuda" else None
            train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        groups = self.task.param_groups(self.model, c.lr, c.backbone_lr, c.weight_decay)
        for group in groups:
            group["base_lr"] = group["lr"]
        optimizer = torch.optim.AdamW(groups, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        self.optimizer = optimizer
        params = [p for g in optimizer.param_groups for p in g["params"]]
        step = 0
        if self.resume_from is not None:
            state = load_training_checkpoint(self.resume_from, self.model, optimizer)
            step = state.step
            log.info("resumed from %s at step %d", self.resume_from, step)
        self.step = step
        snapshot_source = self.val_data if self.val_data is not None else self.train_data
        count = min(c.num_snapshot_images, len(snapshot_source))
        self._snapshot_samples = [snapshot_source[i] for i in range(count)] if c.snapshot_every else []

        num_params = sum(p.numel() for p in self.model.parameters())
        yield RunStarted(task=self.task.name, start_step=step, total_steps=c.total_steps, steps_per_epoch=spe,
                         batch_size=c.batch_size * info.world_size, world_size=info.world_size,
                         device=str(device), num_parameters=num_params,
                         num_trainable_parameters=sum(p.numel() for p in params), config=c.to_dict())
        if c.snapshot_every and step == 0 and info.is_main and self._snapshot_samples:
            yield self._snapshot(0, 0)

        peak = peak_flops(device, c.bf16 and device.type == "cuda")
        flops_per_step: int | None = None
        t_start = time.perf_counter()
        window: deque[float] = deque(maxlen=max(c.throughput_window, 1))
        global_batch = c.batch_size * info.world_size
        reason = "completed"
        evaluated_at = -1
        while step < c.total_steps and reason == "completed":
            epoch, skip = divmod(step, spe)
            epoch_losses: list[float] = []
            batches = iter(self._loader(epoch, skip))
            epoch_done = False
            while step < c.total_steps:
                if self.should_stop():
                    reason = "stopped"
                    break
                t0 = time.perf_counter()
                batch = next(batches, None)
                if batch is None:
                    epoch_done = True
                    break
                batch = batch.to(device)
                self._set_lr(optimizer, step)
                lr = optimizer.param_groups[0]["lr"]
                error = None
                # BatchNorm statistics change in the forward pass: keep them to undo a diverged step
                saved_buffers = [b.detach().clone() for b in self.model.buffers()]
                counting = flops_per_step is None  # the first update of this run is counted
                counter = flop_counter.FlopCounterMode(display=False) if counting else None
                with counter or contextlib.nullcontext():
                    try:
                        with self._autocast():
                            total, terms = self.task.loss(train_model, batch, step + 1)
                        values = {k: float(v.detach()) for k, v in terms.items()}
                        check_finite_loss(total, values, step + 1, lr=lr)
                    except NonFiniteLossError as e:
                        error = e
                    try:
                        self._agree(error, step + 1)
                        optimizer.zero_grad(set_to_none=True)
                        total.backward()
                        max_norm = c.grad_clip if c.grad_clip > 0 else math.inf
                        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
                        check_finite_loss(total, values, step + 1, grad_norm=grad_norm, lr=lr)
                    except NonFiniteLossError:
                        optimizer.zero_grad(set_to_none=True)
                        with torch.no_grad():
                            for buffer, saved in zip(self.model.buffers(), saved_buffers):
                                buffer.copy_(saved)
                        raise
                if counter is not None:
                    flops_per_step = counter.get_total_flops()
                    self.flops_per_step = flops_per_step
                optimizer.step()
                step += 1
                self.step = step

                values["loss"] = float(total.detach())
                values = distributed.mean_across_processes(values, device)
                loss_value = values.pop("loss")
                epoch_losses.append(loss_value)
                step_time = time.perf_counter() - t0
                window.append(step_time)
                mean_time = sum(window) / len(window)
                lrs = {g.get("name", str(i)): g["lr"] for i, g in enumerate(optimizer.param_groups)}
                achieved = flops_per_step / mean_time if flops_per_step else None
                yield StepEvent(step=step, total_steps=c.total_steps, epoch=epoch, loss=loss_value,
                                losses=values, lr=lr, lrs=lrs, grad_norm=grad_norm,
                                images_per_s=global_batch / mean_time, step_time_s=step_time,
                                memory_mib=_peak_memory_mib(device), elapsed_s=time.perf_counter() - t_start,
                                eta_s=(c.total_steps - step) * mean_time,
                                tflops_per_s=achieved / 1e12 if achieved else None,
                                mfu=model_flops_utilization(flops_per_step, mean_time, peak) if achieved else None)
                if info.is_main and self.val_data is not None and c.eval_every and step % c.eval_every == 0:
                    event = self._evaluate(step, epoch)
                    if event is not None:
                        evaluated_at = step
                        yield event
                snapshot_due = c.snapshot_every and step % c.snapshot_every == 0
                if info.is_main and snapshot_due and self._snapshot_samples:
                    yield self._snapshot(step, epoch)
                if c.checkpoint_every and step % c.checkpoint_every == 0 and step < c.total_steps:
                    event = self._checkpoint(step)
                    if event is not None:
                        yield event
            if epoch_done or (step % spe == 0 and step > 0 and reason == "completed"):
                yield EpochEvent(epoch=epoch, step=step,
                                 mean_loss=sum(epoch_losses) / max(len(epoch_losses), 1))

        if reason == "completed" and info.is_main and self.val_data is not None and evaluated_at != step:
            event = self._evaluate(step, step // spe)
            if event is not None:
                yield event
        if step > 0 or reason == "stopped":
            event = self._checkpoint(step)
            if event is not None:
                yield event
        yield RunFinished(step=step, reason=reason, elapsed_s=time.perf_counter() - t_start,
                          final_metrics=dict(self.last_metrics))
