"""Does the Train tab slow training down? (run by hand: ``python benchmarks/bench_train_tab.py``)

The same ``tiny`` run (DETR and ViT: same seed, data, model and config) three ways, side by side:

1. ``trainer``: the plain `Trainer.run()` loop, events consumed and dropped (what the CLI does, minus
   printing);
2. ``manager``: through the app's `JobManager` (`cvdemo.training.jobs`, its own thread), with a poller doing
   what the tab's stream does every `UPDATE_SECONDS`: take the new events, redraw the curves, the progress
   text and the snapshot, and serialise the figure to JSON as Gradio does;
3. ``server``: the tab launched in a Gradio server in this process, streamed by a `gradio_client.Client`
   in a separate process (as a browser would be: its decoding is not the server's cost).

Throughput is measured identically for all three from the run's own StepEvents: images between the
first and the last step / the time between them (warm-up step and final evaluation excluded). The UI
must not cost more than 10 %. On a shared, loaded machine throughput swings by +-15 % from run to run,
so the CPU time is measured too: ``ui cpu`` is the CPU time this process spent outside the training
thread (redraws, serving the stream; for ``server`` also building the model and data, which the request
handler does) as a fraction of the training thread's CPU time, after subtracting what the idle Gradio
server spends anyway (measured for a few seconds before the run; about 4 % of a core here). That
fraction does not depend much on what else the machine runs.

Options: ``--threads N`` (default 1: the machine is shared), ``--detr-steps``, ``--vit-steps``,
``--repeats``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvdemo.training import RunStarted, StepEvent, Trainer  # noqa: E402
from cvdemo.training.jobs import JobLimits, JobManager, TrainingJob  # noqa: E402
from cvdemo.training.requests import TrainRequest, build_setup  # noqa: E402
from cvdemo.ui.train_tab import UPDATE_SECONDS  # noqa: E402
from cvdemo.ui.training_view import RunView  # noqa: E402


def images_per_s(events) -> float:
    """Images between the first and the last StepEvent / the time between them (global batch from RunStarted)."""
    batch = next(e.batch_size for e in events if isinstance(e, RunStarted))
    steps = [e for e in events if isinstance(e, StepEvent)]
    first, last = steps[0], steps[-1]
    return (last.step - first.step) * batch / (last.elapsed_s - first.elapsed_s)


def request(kind: str, steps: int) -> TrainRequest:
    return TrainRequest(kind=kind, preset="tiny", length=steps, snapshot_every=25, num_val_images=8)


class _Cpu:
    """CPU seconds of the whole process and of the training thread over one run. ``idle``: CPU seconds per
    second this process spends anyway (an idle Gradio server's loops), subtracted from the UI's share."""

    def __init__(self, idle: float = 0.0) -> None:
        self.process0, self.wall0 = time.process_time(), time.perf_counter()
        self.idle = idle
        self.train_thread = 0.0

    def ui_fraction(self) -> float:
        other = time.process_time() - self.process0 - self.train_thread
        return (other - self.idle * (time.perf_counter() - self.wall0)) / self.train_thread


def _timed_job_run(cpu: _Cpu):
    """Wraps TrainingJob.run to record the training thread's CPU time."""
    original = TrainingJob.run

    def run(job: TrainingJob) -> None:
        start = time.thread_time()
        try:
            original(job)
        finally:
            cpu.train_thread = time.thread_time() - start

    return original, run


def run_trainer(kind: str, steps: int) -> tuple[float, float]:
    s = build_setup(request(kind, steps))
    cpu = _Cpu()
    start = time.thread_time()
    events = list(Trainer(s.model, s.task, s.train_data, s.val_data, s.config).run())
    cpu.train_thread = time.thread_time() - start
    return images_per_s(events), cpu.ui_fraction()


def run_manager(kind: str, steps: int) -> tuple[float, float]:
    manager = JobManager(JobLimits(max_steps=10**6, max_seconds=10**6))
    setup = build_setup(request(kind, steps))
    cpu = _Cpu()
    original, timed = _timed_job_run(cpu)
    TrainingJob.run = timed
    try:
        job = manager.submit("bench", setup)
        view, cursor, last_snapshot = RunView(), 0, None
        while not job.done.wait(UPDATE_SECONDS):  # what the tab's stream does between yields
            events, cursor = job.poll(cursor)
            view.consume(events)
            view.figure_json()
            view.progress_markdown(job.state)
            if view.snapshot is not last_snapshot:
                last_snapshot = view.snapshot
                view.snapshot_image()
        manager.wait_idle()
    finally:
        TrainingJob.run = original
    assert job.state == "finished", job.error
    return images_per_s(job.poll(0)[0]), cpu.ui_fraction()


IDLE_SECONDS = 5.0
_CLIENT = """
import sys
from gradio_client import Client
url, kind, steps, lr, batch, snap = sys.argv[1:]
client = Client(url, verbose=False, download_files=False)
job = client.submit(kind, "tiny", "Generated shapes", None, int(steps), "steps", float(lr), int(batch), int(snap),
                    api_name="/train")
for _ in job:
    pass
print(client.session_hash)
"""


def run_server(kind: str, steps: int) -> tuple[float, float]:
    import gradio as gr

    from cvdemo.models.registry import ModelRegistry
    from cvdemo.ui.train_tab import build_train_tab

    manager = JobManager(JobLimits(max_steps=10**6, max_seconds=10**6))
    with gr.Blocks() as demo:
        build_train_tab(ModelRegistry([], device="cpu"), Path("examples"), manager=manager)
    demo.queue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_port=port)
    time.sleep(1)
    wall, process = time.perf_counter(), time.process_time()
    time.sleep(IDLE_SECONDS)  # the idle server's own CPU use, to tell it apart from the tab's
    cpu = _Cpu(idle=(time.process_time() - process) / (time.perf_counter() - wall))
    original, timed = _timed_job_run(cpu)
    TrainingJob.run = timed
    try:
        r = request(kind, steps)
        config = build_setup(r).config
        out = subprocess.run([sys.executable, "-c", _CLIENT, url, kind, str(steps), str(config.lr),
                              str(config.batch_size), str(r.snapshot_every)], capture_output=True, text=True,
                             check=True)
        manager.wait_idle()
        train_job = manager.job_of(out.stdout.split()[-1])
        assert train_job is not None and train_job.state == "finished", out.stderr[-2000:]
        return images_per_s(train_job.poll(0)[0]), cpu.ui_fraction()
    finally:
        TrainingJob.run = original
        demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--detr-steps", type=int, default=60)
    parser.add_argument("--vit-steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {args.threads}; UI redraw every {UPDATE_SECONDS} s; median of {args.repeats} runs "
          "each, interleaved")
    print(f"{'run':<18}{'trainer img/s':>14}{'manager img/s':>14}{'server img/s':>13}{'manager':>9}{'server':>8}"
          f"{'ui cpu: manager':>17}{'server':>8}")
    for kind, steps in (("detr", args.detr_steps), ("vit", args.vit_steps)):
        results: dict[str, list[tuple[float, float]]] = {"trainer": [], "manager": [], "server": []}
        for _ in range(args.repeats):
            for name, fn in (("trainer", run_trainer), ("manager", run_manager), ("server", run_server)):
                results[name].append(fn(kind, steps))
        ips = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
        ui = {k: statistics.median(r[1] for r in v) for k, v in results.items()}
        print(f"{kind + ' tiny, ' + str(steps) + ' steps':<18}{ips['trainer']:>14.1f}{ips['manager']:>14.1f}"
              f"{ips['server']:>13.1f}{ips['manager'] / ips['trainer']:>9.2f}{ips['server'] / ips['trainer']:>8.2f}"
              f"{ui['manager']:>17.1%}{ui['server']:>8.1%}")
        print("   all runs (img/s, ui cpu):",
              {k: [(round(a, 1), f"{b:.1%}") for a, b in v] for k, v in results.items()}, flush=True)


if __name__ == "__main__":
    main()
