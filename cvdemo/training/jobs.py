"""Training jobs: one run per device at a time, each in a background thread, with a FIFO queue (the app's Train tab).

    manager = JobManager(JobLimits.from_env())
    job = manager.submit(owner, setup)         # queued, or started at once when the device is free
    events, cursor = job.poll(cursor)          # the new events since the last poll (RunStarted, StepEvent, ...)
    manager.stop(owner)                        # honoured before the next optimizer step

The thread runs `Trainer.run()` (`cvdemo.training.engine`) and only appends its events to the job's buffer,
so training goes as fast as from the command line; a session polls the buffer whenever it wants to redraw.
Other sessions asking for the same device wait in a FIFO queue (and are told their place), or are refused
when the queue is full. Hard caps from the environment bound every run on a public Space:

- ``CVDEMO_MAX_TRAIN_STEPS`` (default 2000): a request for more steps is cut to this;
- ``CVDEMO_MAX_TRAIN_SECONDS`` (default 600): a run stops (as if Stop were pressed) after this wall time;
- ``CVDEMO_MAX_TRAIN_QUEUE`` (default 4): runs waiting per device; more are refused with `TrainingBusyError`.

What the user is told (refusals, the cap note, why a run failed) is a `cvdemo.messages.Message` or a
`UserError` with a key of the "train" catalog; the UI words it in the user's language.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from cvdemo.messages import Message, UserError
from cvdemo.training.divergence import NonFiniteLossError
from cvdemo.training.engine import TrainConfig, Trainer
from cvdemo.training.events import EvalEvent, RunFinished, SnapshotEvent, StepEvent, TrainingEvent

__all__ = ["PAUSED", "JobLimits", "JobManager", "TrainingBusyError", "TrainingJob", "TrainingSetup",
           "already_training"]

log = logging.getLogger(__name__)

PAUSED = "paused"  # the stop reason of a run that reached its setup's ``pause_at``

KEEP_SNAPSHOTS = 2  # older snapshots in a job's buffer are dropped (their images are the bulk of its memory)


class TrainingBusyError(UserError, RuntimeError):
    """A run cannot be queued now (the queue is full, or this session already has one); the message says why."""


def already_training() -> TrainingBusyError:
    """The refusal of a second run for a session that has one queued or running."""
    return TrainingBusyError("You already have a training run; stop it before starting another.",
                             key="train.already_training")


@dataclass(frozen=True)
class JobLimits:
    """Caps on every run: max_steps, max_seconds (wall time), max_queue (waiting runs per device)."""

    max_steps: int = 2000
    max_seconds: float = 600.0
    max_queue: int = 4

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> JobLimits:
        env = os.environ if environ is None else environ
        try:
            return cls(max_steps=int(env.get("CVDEMO_MAX_TRAIN_STEPS", cls.max_steps)),
                       max_seconds=float(env.get("CVDEMO_MAX_TRAIN_SECONDS", cls.max_seconds)),
                       max_queue=int(env.get("CVDEMO_MAX_TRAIN_QUEUE", cls.max_queue)))
        except ValueError as e:
            raise ValueError(f"CVDEMO_MAX_TRAIN_STEPS / _SECONDS / _QUEUE must be numbers: {e}") from None


@dataclass
class TrainingSetup:
    """Everything a run needs: the model, its task (`DetectionTask` / `ClassificationTask`), the data sets,
    the `TrainConfig` (``config.device`` picks the device queue), what it is for the UI (``description``, a
    message whose fields may be messages too) and ``notes`` to show beside it (e.g. "steps cut to the cap").
    ``model_task``: "detect" (DETR), "family" (another detector family) or "classify", the task of the trained
    model in the app's registry. ``pause_at``: stop after the first evaluation at or after this many updates
    (before the next update; state "stopped", ``stop_reason`` `PAUSED`; with ``config.checkpoint_dir`` the stop
    writes a checkpoint there); ``resume_from``: a checkpoint folder of an earlier run of this setup to continue from
    (`Trainer`'s: exactly as the uninterrupted run)."""

    model: nn.Module
    task: Any
    train_data: Any
    val_data: Any
    config: TrainConfig
    description: Message | None = None
    notes: list[Message] = field(default_factory=list)
    model_task: str = "detect"
    pause_at: int | None = None
    resume_from: str | Path | None = None


class TrainingJob:
    """One run. ``state``: "queued" -> "running" -> "finished" | "stopped" | "failed". Thread-safe to read."""

    def __init__(self, job_id: int, owner: str, setup: TrainingSetup, limits: JobLimits) -> None:
        self.id = job_id
        self.owner = owner
        self.setup = setup
        self.limits = limits
        self.state = "queued"
        self.error: Message | None = None  # why, when state == "failed"
        self.stop_reason: str | None = None  # "stop pressed" | "time limit" when the run was stopped
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.steps_done = 0
        self._stop = threading.Event()
        self._events: list[TrainingEvent | None] = []
        self._snapshots: deque[int] = deque()  # buffer positions of the snapshots still kept
        self._lock = threading.Lock()
        self.done = threading.Event()

    @property
    def model(self) -> nn.Module:
        return self.setup.model

    @property
    def device(self) -> str:
        return self.setup.config.device

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def request_stop(self, reason: str = "stop pressed") -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    def should_stop(self) -> bool:
        """The Trainer's stop check: Stop pressed, paused, or the wall-time cap reached."""
        if self._stop.is_set():
            return True
        if self.started_at is not None and time.monotonic() - self.started_at > self.limits.max_seconds:
            self.request_stop("time limit")
            return True
        return False

    def poll(self, cursor: int = 0) -> tuple[list[TrainingEvent], int]:
        """(events appended since position ``cursor``, the new cursor). Old snapshots may have been dropped."""
        with self._lock:
            new = self._events[cursor:]
            end = len(self._events)
        return [e for e in new if e is not None], end

    def _append(self, event: TrainingEvent) -> None:
        with self._lock:
            if isinstance(event, SnapshotEvent):
                self._snapshots.append(len(self._events))
                while len(self._snapshots) > KEEP_SNAPSHOTS:
                    self._events[self._snapshots.popleft()] = None
            self._events.append(event)
            if isinstance(event, StepEvent):
                self.steps_done = event.step
        pause_at = self.setup.pause_at
        if isinstance(event, EvalEvent) and pause_at is not None and event.step >= pause_at:
            self.request_stop(PAUSED)

    def run(self) -> None:
        """The Trainer loop (called in the device's worker thread, which set state to "running")."""
        self.started_at = time.monotonic()
        s = self.setup
        trainer = Trainer(s.model, s.task, s.train_data, s.val_data, s.config, stop=self.should_stop,
                          resume_from=s.resume_from)
        try:
            for event in trainer.run():
                self._append(event)
                if isinstance(event, RunFinished):
                    self.state = "stopped" if event.reason == "stopped" else "finished"
        except NonFiniteLossError as e:
            self.state, self.error = "failed", Message("train.diverged", {"error": str(e)})
        except Exception:  # noqa: BLE001 - a failed run must never take the server down
            error_id = uuid.uuid4().hex[:8]
            log.exception("training job %d failed (error id %s)", self.id, error_id)
            self.state, self.error = "failed", Message("train.crashed", {"error_id": error_id})
        finally:
            s.model.eval()
            if self.state == "running":  # the loop ended without RunFinished
                self.state = "stopped"
            self.finished_at = time.monotonic()
            self.done.set()


class JobManager:
    """Runs `TrainingJob`s, one per device at a time, each device with its own worker thread and FIFO queue.

    A session (``owner``) has at most one queued or running job; its finished job stays available (for
    saving the model) until it submits the next one or calls `forget`.
    """

    def __init__(self, limits: JobLimits | None = None) -> None:
        self.limits = limits or JobLimits.from_env()
        self._lock = threading.Lock()
        self._queues: dict[str, deque[TrainingJob]] = {}
        self._running: dict[str, TrainingJob] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._by_owner: dict[str, TrainingJob] = {}
        self._ids = itertools.count(1)

    def cap_steps(self, requested: int) -> tuple[int, Message | None]:
        """(steps to run, a note when the request was cut to the cap)."""
        if requested > self.limits.max_steps:
            return self.limits.max_steps, Message("train.steps_capped",
                                                  {"asked": requested, "steps": self.limits.max_steps})
        return requested, None

    def submit(self, owner: str, setup: TrainingSetup) -> TrainingJob:
        """Queue a run for ``setup.config.device`` (steps cut to the cap). Raises `TrainingBusyError` when the
        owner already has an active job or the device's queue is full."""
        steps, note = self.cap_steps(setup.config.total_steps)
        if note:
            setup.config.total_steps = steps
            setup.notes.append(note)
        device = setup.config.device
        with self._lock:
            current = self._by_owner.get(owner)
            if current is not None and current.active:
                raise already_training()
            queue = self._queues.setdefault(device, deque())
            waiting = sum(j.state == "queued" for j in queue)
            if device in self._running and waiting >= self.limits.max_queue:
                raise TrainingBusyError(f"The server is busy: a training run is in progress on {device} and "
                                        f"{waiting} more are waiting. Try again in a few minutes.",
                                        key="train.server_busy", device=device, waiting=waiting)
            job = TrainingJob(next(self._ids), owner, setup, self.limits)
            self._by_owner[owner] = job
            queue.append(job)
            worker = self._workers.get(device)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(target=self._work, args=(device,), name=f"train-{device}", daemon=True)
                self._workers[device] = worker
                worker.start()
        log.info("training job %d for %s queued on %s", job.id, owner[:8], device)
        return job

    def _work(self, device: str) -> None:
        while True:
            with self._lock:  # the state changes under the manager's lock, so a Stop never races a start
                queue = self._queues[device]
                while queue and queue[0].state != "queued":  # stopped while waiting
                    queue.popleft()
                if not queue:
                    self._workers.pop(device, None)
                    return
                job = queue.popleft()
                job.state = "running"
                self._running[device] = job
            job.run()
            with self._lock:
                self._running.pop(device, None)

    def job_of(self, owner: str) -> TrainingJob | None:
        with self._lock:
            return self._by_owner.get(owner)

    def queue_position(self, job: TrainingJob) -> int:
        """How many runs go before this queued job (the running one included); 0 once it runs."""
        with self._lock:
            if job.state != "queued":
                return 0
            queue = list(self._queues.get(job.device, ()))
            ahead = [j for j in queue[:queue.index(job)] if j.active] if job in queue else []
            return len(ahead) + (1 if job.device in self._running else 0)

    def busy_message(self, device: str) -> Message | None:
        """"Busy: ..., N in queue" while a run holds ``device``, else None."""
        with self._lock:
            running = self._running.get(device)
            waiting = sum(j.active for j in self._queues.get(device, ()))
        if running is None:
            return None
        return Message("train.busy_message", {"device": device, "waiting": waiting})

    def stop(self, owner: str, reason: str = "stop pressed") -> TrainingJob | None:
        """Stop the owner's job: a queued job never starts, a running one stops before its next step."""
        job = self.job_of(owner)
        if job is None or not job.active:
            return job
        with self._lock:
            job.request_stop(reason)
            if job.state == "queued":
                job.state = "stopped"
                job.finished_at = time.monotonic()
                job.done.set()
        return job

    def forget(self, owner: str) -> TrainingJob | None:
        """The session is gone: stop its job and drop it (and the model it holds). Returns that job (its
        ``done`` event tells when its thread has let go of its data), or None."""
        job = self.stop(owner, "session closed")
        with self._lock:
            self._by_owner.pop(owner, None)
        return job

    def stop_all(self, reason: str = "server shutting down") -> None:
        """Stop every queued and running job (shutdown, tests)."""
        with self._lock:
            owners = [job.owner for job in self._by_owner.values() if job.active]
        for owner in owners:
            self.stop(owner, reason)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job runs or waits (tests, shutdown). True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._workers:
                    return True
            time.sleep(0.02)
        return False
