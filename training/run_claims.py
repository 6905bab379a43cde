"""Run the claims lab's experiments: ``python -m training.run_claims [--claim NAME] [--seeds N] [--steps N]
[--out experiments/results] [--threads 1]`` (``--list`` shows the claims).

For each claim (`cvdemo.experiments.claims`): every variant x seed through the training engine, one run at a
time, each finished run appended to ``OUT/<claim>.runs.jsonl`` (a rerun skips the runs already there and restarts
an interrupted one), a progress bar within each run and a line after it; then ``OUT/<claim>.json`` with the
per-seed results, the statistics and the verdict (`cvdemo.experiments.results`). Without ``--claim`` every runnable
claim runs; a claim that needs a model option that does not exist yet is skipped with a warning (named with
``--claim``, it is an error). Ctrl-C stops after the current run's step (that run is not recorded); a second
Ctrl-C aborts.
"""

from __future__ import annotations

import argparse
import functools
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from cvdemo.experiments.claims import CLAIMS
from cvdemo.experiments.results import write_claim_results
from cvdemo.experiments.runner import run_claim
from cvdemo.experiments.spec import ClaimNeedsOptionError
from cvdemo.training.progress import ConsoleReporter

log = logging.getLogger("training.run_claims")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.run_claims",
                                     description="Run the study notes' claims as controlled experiments.")
    parser.add_argument("--claim", action="append", choices=sorted(CLAIMS), metavar="NAME",
                        help="a claim to run (repeatable; default: every runnable claim). --list shows them")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--seeds", type=int, metavar="N", help="seeds 0..N-1 (default: the claim's)")
    parser.add_argument("--steps", type=int, metavar="N", help="updates per run (default: the claim's)")
    parser.add_argument("--out", type=Path, default=Path("experiments/results"),
                        help="folder of the results and run logs (default experiments/results)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar within each run")
    return parser


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available; use --device cpu")
    return name


def _list() -> None:
    for name, spec in CLAIMS.items():
        state = "runnable" if spec.runnable else "needs: " + "; ".join(spec.needs)
        sys.stdout.write(f"{name} (notes §{spec.section}, {len(spec.variants)} variants x {len(spec.seeds)} seeds, "
                         f"{spec.steps} steps, {spec.metric}): {state}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        _list()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    if args.seeds is not None and args.seeds < 2:
        parser.error("--seeds must be >= 2 (the statistics need two values per variant)")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1")
    try:
        device = _device(args.device)
    except ValueError as e:
        parser.error(str(e))
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.claim or list(CLAIMS)
    command = "python -m training.run_claims " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    stop = threading.Event()
    reporters: dict[tuple[str, str, int], ConsoleReporter] = {}

    def progress(claim: str, variant: str, seed: int, event) -> None:  # a fresh bar for each run
        reporters.setdefault((claim, variant, seed), ConsoleReporter())(event)

    def on_sigint(signum, frame):  # first Ctrl-C: stop cleanly; the second one aborts
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log.warning("stopping after this step (Ctrl-C again to abort)")
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        for name in names:
            spec = CLAIMS[name]
            if not spec.runnable:
                if args.claim:
                    parser.exit(2, f"error: {ClaimNeedsOptionError(name, tuple(spec.needs))}\n")
                log.warning("skipping %s: it needs %s", name, "; ".join(spec.needs))
                continue
            seeds = tuple(range(args.seeds)) if args.seeds else spec.seeds
            on_event = None if args.no_progress else functools.partial(progress, name)
            records = run_claim(spec, args.out, seeds=seeds, steps=args.steps, device=device, stop=stop,
                                on_event=on_event)
            path = write_claim_results(args.out, spec, records, [command], seeds)
            log.info("%s: %d runs -> %s", name, len(records), path)
            if stop.is_set():
                return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
