"""A progress bar and one-line summaries of training events, on a text stream (stderr by default).

On a terminal the bar redraws in place (at most 10 times a second); in a log file or pipe it prints a
plain line every ``log_interval_s`` seconds instead, so logs stay readable. No dependency beyond the
standard library (tqdm is not a runtime dependency of cvdemo).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from cvdemo.durations import CLOCK, format_duration
from cvdemo.training.events import (
    CheckpointEvent,
    EpochEvent,
    EvalEvent,
    RunFinished,
    RunStarted,
    StepEvent,
    TrainingEvent,
)

__all__ = ["ConsoleReporter"]


def _metrics_line(metrics: dict[str, float], keys: tuple[str, ...]) -> str:
    return " ".join(f"{k} {metrics[k]:.4f}" for k in keys if k in metrics)


class ConsoleReporter:
    """Consumes training events and draws a progress bar with loss, lr, images/s and ETA.

    Args:
        stream: where to write (stderr).
        width: bar width in characters.
        log_interval_s: when ``stream`` is not a terminal, seconds between plain progress lines.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 24, log_interval_s: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.log_interval_s = log_interval_s
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._bar_visible = False
        self._last_step: StepEvent | None = None

    def _bar(self, event: StepEvent) -> str:
        frac = event.step / max(event.total_steps, 1)
        filled = int(frac * self.width)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        return (f"step {event.step}/{event.total_steps} [{bar}] {100 * frac:3.0f}% loss {event.loss:.4f} "
                f"lr {event.lr:.2e} {event.images_per_s:.1f} img/s "
                + (f"MFU {100 * event.mfu:.1f}% " if event.mfu is not None else "")
                + f"{format_duration(event.elapsed_s, CLOCK)}<{format_duration(event.eta_s, CLOCK)}")

    def _write_line(self, line: str) -> None:
        if self._bar_visible:
            self.stream.write("\r\033[K")
            self._bar_visible = False
        self.stream.write(line + "\n")
        if self.is_tty and self._last_step is not None:
            self.stream.write(self._bar(self._last_step))
            self._bar_visible = True
        self.stream.flush()

    def __call__(self, event: TrainingEvent) -> None:
        """Show one event."""
        if isinstance(event, StepEvent):
            self._last_step = event
            now = time.monotonic()
            final = event.step == event.total_steps
            if self.is_tty:
                if final or now - self._last_draw >= 0.1:
                    self.stream.write("\r\033[K" + self._bar(event))
                    self.stream.flush()
                    self._bar_visible = True
                    self._last_draw = now
            elif final or event.step == 1 or now - self._last_draw >= self.log_interval_s:
                self.stream.write(self._bar(event).replace("[", "").replace("]", "") + "\n")
                self.stream.flush()
                self._last_draw = now
        elif isinstance(event, RunStarted):
            what = f"resuming at step {event.start_step}" if event.start_step else "starting"
            self._write_line(f"{event.task}: {what}, {event.total_steps} steps of batch {event.batch_size} "
                             f"on {event.device} x{event.world_size}, "
                             f"{event.num_parameters / 1e6:.2f} M parameters")
        elif isinstance(event, EvalEvent):
            keys = ("AP", "AP50", "AP75", "AR100", "accuracy", "loss")
            self._write_line(f"eval @ step {event.step}: {_metrics_line(event.metrics, keys)} "
                             f"({event.num_images} images, {event.duration_s:.1f} s)")
        elif isinstance(event, CheckpointEvent):
            self._write_line(f"checkpoint @ step {event.step}: {event.path}")
        elif isinstance(event, EpochEvent):
            if not self.is_tty:
                self._write_line(f"epoch {event.epoch} done @ step {event.step}: "
                                 f"mean loss {event.mean_loss:.4f}")
        elif isinstance(event, RunFinished):
            if self._bar_visible:
                self.stream.write("\n")
                self._bar_visible = False
            self._last_step = None
            elapsed = format_duration(event.elapsed_s, CLOCK)
            self._write_line(f"{event.reason} at step {event.step} after {elapsed}")
