"""How long do the claims lab's experiments take? (run by hand: ``python benchmarks/bench_claims.py``)

1. **Full experiments**: for every shipped results file (`experiments/results/<claim>.json`), the wall time of
   the whole experiment as the runner recorded it, the number of runs, and the mean time of one run per variant
   (each run records its own seconds in ``<claim>.runs.jsonl``).
2. **Live rerun**, side by side for each claim given (default one ViT and one DETR claim):

   * ``runner``: the short version the Claims tab runs (the claim's first seed, ``2 * eval_every`` updates per
     variant, variant after variant; variants that differ only in evaluation share one run), trained directly by
     `train_variants`, the way ``training.run_claims`` trains;
   * ``app``: the same runs through the Claims tab: the tab served by Gradio in this process, "Rerun live"
     clicked in headless Chromium, the figure watched in the page. The tab runs them in two rounds (every
     training to its first evaluation, then each resumed from its checkpoint), so its first comparison comes after
     one evaluation interval per training where the runner's waits for every variant but the last to finish.

   For both: the time to the **first comparison** (every variant has at least one evaluation point) and to the
   end. The ratio compares like with like only at the end. The issue's goal: a first comparison within 3 minutes
   on this CPU.

Options: ``--claim NAME`` (repeatable), ``--threads N`` (torch threads for both ways, default 1), ``--skip-live``,
``--app-only`` (the live rerun through the tab only).
This machine is shared and noisy: compare the two ways within one run only.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvdemo.claim_reports import RESULTS_DIR  # noqa: E402
from cvdemo.experiments import CLAIMS  # noqa: E402
from cvdemo.experiments.runner import train_variants  # noqa: E402
from cvdemo.experiments.shared_training import training_groups  # noqa: E402
from cvdemo.training import EvalEvent  # noqa: E402

DEFAULT_CLAIMS = ("vit-gelu-vs-relu", "detr-aux-loss")


def full_experiments(results_dir: Path) -> None:
    print(f"{'claim':34s} {'runs':>5s} {'wall':>9s}  mean seconds of one run per variant")
    for path in sorted(results_dir.glob("*.json")):
        doc = json.loads(path.read_text())
        runs = [json.loads(line) for line in path.with_suffix(".runs.jsonl").read_text().splitlines() if line]
        per_variant = {}
        for run in runs:
            per_variant.setdefault(run["variant"], []).append(run["seconds"])
        means = ", ".join(f"{v} {statistics.mean(s):.0f} s" for v, s in per_variant.items())
        print(f"{doc['claim']:34s} {len(runs):5d} {doc['wall_seconds'] / 60:7.1f} min  {means}")


def live_by_runner(name: str) -> tuple[float, float]:
    """(seconds to the first comparison, seconds to the end) of the short version trained directly."""
    spec = CLAIMS[name]
    steps, seed = 2 * spec.eval_every, spec.seeds[0]
    started, first = time.perf_counter(), None
    seen: set[str] = set()

    groups = {group[0]: group for group in training_groups(spec)}

    def on_event(trained, _seed, event):
        nonlocal first
        if isinstance(event, EvalEvent):
            seen.update(groups[trained])
            if first is None and len(seen) == len(spec.variants):
                first = time.perf_counter() - started

    for variants in groups.values():  # variants that differ only in evaluation share one run, as in the tab
        train_variants(spec, variants, seed, steps=steps, on_event=on_event)
    return first, time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LIVE_TRACES = ("(() => { const p = document.querySelector('#claims-plot .js-plotly-plot');"
               " return p && p.data ? p.data.filter(t => t.line && t.line.dash === 'dash' && t.x.length > 0).length"
               " : 0; })()")


def live_by_app(name: str) -> tuple[float, float]:
    """(seconds to the first comparison, seconds to the end) of "Rerun live" clicked in the served Claims tab."""
    import gradio as gr
    from playwright.sync_api import sync_playwright

    from cvdemo.ui.claims_tab import build_claims_tab
    from cvdemo.ui.i18n import gradio_i18n

    with gr.Blocks() as demo:
        build_claims_tab()
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_port=_free_port(), i18n=gradio_i18n())
    n = len(CLAIMS[name].variants)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(locale="en-US")
            page.goto(url)
            page.wait_for_selector("#claims-plot .js-plotly-plot", timeout=60_000)
            page.locator("#claims-claim input").fill(name)
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.querySelector('#claims-sentence').innerText.includes("
                                   f"{CLAIMS[name].section!r})", timeout=60_000)
            page.click("#claims-rerun")
            started = time.perf_counter()
            page.wait_for_function(f"{LIVE_TRACES} >= {n}", timeout=1_800_000, polling=200)
            first = time.perf_counter() - started
            page.wait_for_function("document.querySelector('#claims-live').innerText.includes('Live rerun finished')",
                                   timeout=1_800_000, polling=200)
            total = time.perf_counter() - started
            browser.close()
    finally:
        demo.close()
    return first, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claim", action="append", help="a claim to rerun live (repeatable)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--app-only", action="store_true", help="rerun live through the tab only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# full experiments (from {RESULTS_DIR})")
    full_experiments(Path(RESULTS_DIR))
    if args.skip_live:
        return
    print(f"\n# live rerun: first seed, 2 x eval_every updates per variant, {args.threads} torch thread(s)")
    print(f"{'claim':26s} {'way':7s} {'first comparison':>17s} {'end':>8s}  app / runner")
    for name in args.claim or DEFAULT_CLAIMS:
        by_runner = None if args.app_only else live_by_runner(name)
        by_app = live_by_app(name)
        if by_runner is not None:
            print(f"{name:26s} {'runner':7s} {by_runner[0]:15.0f} s {by_runner[1]:6.0f} s", flush=True)
        ratio = "" if by_runner is None else f"{by_app[0] / by_runner[0]:.2f} / {by_app[1] / by_runner[1]:.2f}"
        print(f"{name:26s} {'app':7s} {by_app[0]:15.0f} s {by_app[1]:6.0f} s  {ratio}", flush=True)

if __name__ == "__main__":
    main()
