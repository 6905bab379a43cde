"""COCO evaluation, whole process, side by side: our CLI vs pycocotools vs faster-coco-eval.

    python benchmarks/bench_coco_eval.py [--workload DIR] [--repeats 3] [--skip-pycocotools]

Makes (once) the COCO-val-sized workload of ../shared/tools/make_coco_workload.py (5,000
images, ~35k objects, 500k detections) under DIR (default /tmp/cvdemo_coco_workload), then
runs each evaluator as its own process, one after the other in the same run (the machine is
noisy: compare the ratios), and reports for each: wall time of the whole process
(interpreter start, imports, json loading, evaluation, summary), peak memory (the child's
max RSS from ``wait4``), and whether its 12 stats equal ours. Then, in this process: our
load / evaluate split, and the per-object assignment for a slider: building the IoU cache
once, then re-assigning the whole workload at new IoU thresholds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MAKE_WORKLOAD = ROOT.parent / "shared" / "tools" / "make_coco_workload.py"

PYCOCOTOOLS = """
import contextlib, io, json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); ev = COCOeval(gt, gt.loadRes(sys.argv[2]), "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps([float(s) for s in ev.stats[:12]]))
"""
FASTER_COCO_EVAL = """
import contextlib, io, json, sys
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); ev = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps([float(s) for s in ev.stats[:12]]))
"""
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def run_child(cmd: list[str]) -> tuple[float, float, list[float]]:
    """Wall seconds, peak RSS in MiB of exactly this child (Popen + wait4), and its 12 stats."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {err.read().decode()[-2000:]}")
    data = json.loads(out)
    stats = [data[k] for k in STAT_NAMES] if isinstance(data, dict) else data
    return elapsed, usage.ru_maxrss / 1024, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, default=Path("/tmp/cvdemo_coco_workload"))
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours and faster-coco-eval, best kept")
    parser.add_argument("--skip-pycocotools", action="store_true", help="it takes about a minute")
    args = parser.parse_args()
    gt_path, dt_path = args.workload / "gt.json", args.workload / "dt.json"
    if not (gt_path.exists() and dt_path.exists()):
        print(f"making the workload in {args.workload} ...", flush=True)
        subprocess.run([sys.executable, str(MAKE_WORKLOAD), str(args.workload)], check=True)

    py = sys.executable
    contenders = {
        "cvdemo CLI": [py, "-m", "cvdemo.evaluate", str(gt_path), str(dt_path), "--json"],
        "faster-coco-eval": [py, "-c", FASTER_COCO_EVAL, str(gt_path), str(dt_path)],
        "pycocotools": [py, "-c", PYCOCOTOOLS, str(gt_path), str(dt_path)],
    }
    results: dict[str, list[tuple[float, float, list[float]]]] = {name: [] for name in contenders}
    for r in range(args.repeats):
        for name, cmd in contenders.items():
            if name == "pycocotools" and (args.skip_pycocotools or r > 0):
                continue
            results[name].append(run_child(cmd))
            print(f"  run {r + 1}: {name:<17} {results[name][-1][0]:7.2f} s", flush=True)

    ours = min(results["cvdemo CLI"], key=lambda x: x[0])
    print(f"\nwhole process, best of {args.repeats} (pycocotools: 1 run), {os.cpu_count()} CPUs")
    print(f"{'':<18} {'seconds':>8} {'ours / it':>10} {'peak MiB':>9} {'max |stat diff|':>16}")
    for name, runs in results.items():
        if not runs:
            continue
        best = min(runs, key=lambda x: x[0])
        diff = float(np.max(np.abs(np.array(best[2]) - np.array(ours[2]))))
        print(f"{name:<18} {best[0]:8.2f} {ours[0] / best[0]:10.3f} {best[1]:9.0f} {diff:16.2e}")
    print("stats:", json.dumps(dict(zip(STAT_NAMES, ours[2]))))

    # in-process split, and the slider path
    from cvdemo.datasets import load_coco_detections, load_coco_ground_truth
    from cvdemo.metrics import ObjectAssigner, evaluate_coco

    t0 = time.perf_counter()
    gt = load_coco_ground_truth(gt_path)
    t1 = time.perf_counter()
    dt = load_coco_detections(dt_path, gt)
    t2 = time.perf_counter()
    evaluate_coco(gt, dt)
    t3 = time.perf_counter()
    print(f"\nin process: load gt {t1 - t0:.2f} s, load detections {t2 - t1:.2f} s, evaluate {t3 - t2:.2f} s")
    assigner = ObjectAssigner(gt, dt, min_iou=0.1)
    t4 = time.perf_counter()
    print(f"per-object assignment: IoU cache built once in {t4 - t3:.2f} s")
    for iou, score in ((0.5, 0.0), (0.75, 0.0), (0.3, 0.5), (0.95, 0.0)):
        t = time.perf_counter()
        c = assigner.assign(iou, score).counts()
        print(f"  re-assign {len(dt):,} detections at IoU {iou:.2f}, score >= {score:.1f}: "
              f"{time.perf_counter() - t:.3f} s  (TP {c['tp']:,} FP {c['fp']:,} FN {c['fn']:,})")


if __name__ == "__main__":
    main()
