"""Does each ``tiny`` preset keep its promise? (run by hand: ``python benchmarks/bench_train_presets.py``)

Runs the Train tab's default run of each live preset exactly as the tab builds it
(`cvdemo.training.requests.build_setup` with the preset's ``demo_steps``, the tab's validation images and
snapshot interval, request seed 0 as the tab uses), on this CPU with one thread (``--threads``), and reports:

- the wall time of the run (what the preset's text promises in minutes);
- on the snapshot images the tab shows (the first ``num_snapshot_images`` validation images), how many have
  a right top prediction: DETR's best-scoring box names the class of an object it overlaps with IoU >= 0.5
  (`ImagePrediction.top_box_right`), the ViT's top class is the true one;
- the same fraction on all the tab's validation images, and the final COCO AP / accuracy.

``--lengths 300,600`` sweeps other lengths (each a whole run: the cosine schedule ends at the run's end),
``--seeds 0,1,2`` repeats with other seeds (the tab uses seed 0; other seeds say how lucky that is),
``--kinds detr`` restricts the kinds, ``--json FILE`` appends one JSON line per run. ``--record`` writes each
kind's first run (the tab's default: seed 0, the preset's demo_steps) as the recording the Train tab shows before
anyone trains (`cvdemo.training.recorded_runs`, examples/train-runs/).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dataclasses  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402

from cvdemo.training import RunFinished, Trainer  # noqa: E402
from cvdemo.training.events import ImagePrediction, SnapshotEvent  # noqa: E402
from cvdemo.training.kinds import KINDS  # noqa: E402
from cvdemo.training.recorded_runs import recorded_path, write_recorded_run  # noqa: E402
from cvdemo.training.requests import TrainRequest, build_setup  # noqa: E402
from cvdemo.training.run_curves import RunCurves  # noqa: E402


def right(prediction) -> bool:
    if isinstance(prediction, ImagePrediction):
        return prediction.top_box_right()
    return prediction.top_class_right()


def hardware() -> str:
    """"a 2-core CPU (Intel Xeon ...), 1 torch thread": what the recorded run ran on."""
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    name = names[0] if names else platform.machine()
    threads = torch.get_num_threads()
    return f"a {os.cpu_count()}-core CPU ({name}), {threads} torch thread{'s' if threads > 1 else ''}"


def one_run(kind: str, preset: str, steps: int, seed: int, record: bool = False, lr: float | None = None) -> dict:
    request = TrainRequest(kind=kind, preset=preset, length=steps, seed=seed, snapshot_every=25, lr=lr)
    setup = build_setup(request)
    start = time.perf_counter()
    final, curves, snapshot = {}, RunCurves(), None
    for event in Trainer(setup.model, setup.task, setup.train_data, setup.val_data, setup.config).run():
        curves.add(event)
        if isinstance(event, SnapshotEvent):
            snapshot = event
        if isinstance(event, RunFinished):
            final = event.final_metrics
    if record:
        path = write_recorded_run(
            recorded_path(kind, preset), kind=kind, preset=preset,
            request={k: v for k, v in dataclasses.asdict(request).items() if k != "dataset"}, hardware=hardware(),
            command=f"python benchmarks/bench_train_presets.py --kinds {kind} --record", curves=curves,
            snapshot=snapshot)
        print(f"recorded {path}", flush=True)
    seconds = time.perf_counter() - start
    val = [setup.val_data[i] for i in range(len(setup.val_data))]
    predictions = setup.task.snapshot(setup.model, val, torch.device("cpu"))
    shown = setup.config.num_snapshot_images
    flags = [right(p) for p in predictions]
    return {"kind": kind, "preset": preset, "steps": steps, "seed": seed, "lr": setup.config.lr,
            "seconds": round(seconds, 1),
            "snapshot_right": int(sum(flags[:shown])), "snapshot_images": shown,
            "val_right": int(sum(flags)), "val_images": len(flags),
            **{k: round(float(final[k]), 4) for k in ("AP", "AP50", "accuracy") if k in final}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="detr,vit")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--lengths", default="", help="comma-separated steps (default: each preset's demo_steps)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--lr", type=float, help="the learning rate (default: the preset's), as the tab's field")
    parser.add_argument("--record", action="store_true", help="record each kind's first run (examples/train-runs/)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for kind in args.kinds.split(","):
        preset = KINDS[kind].presets[args.preset]
        lengths = [int(x) for x in args.lengths.split(",")] if args.lengths else [preset.demo_steps]
        for steps in lengths:
            for seed in (int(s) for s in args.seeds.split(",")):
                first = not any(r["kind"] == kind for r in rows)
                row = one_run(kind, args.preset, steps, seed, record=args.record and first, lr=args.lr)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json:
                    with args.json.open("a") as f:
                        f.write(json.dumps(row) + "\n")
    print(f"\n{'kind':5} {'steps':>6} {'seed':>4} {'time':>8} {'snapshot right':>15} {'val right':>10} {'metric':>8}")
    for r in rows:
        metric = r.get("AP", r.get("accuracy", float("nan")))
        print(f"{r['kind']:5} {r['steps']:6d} {r['seed']:4d} {r['seconds'] / 60:6.1f} m "
              f"{r['snapshot_right']:>7d} of {r['snapshot_images']:<4d} {r['val_right']:>4d}/{r['val_images']:<4d} "
              f"{metric:8.3f}")
    for kind in {r["kind"] for r in rows}:
        mine = [r for r in rows if r["kind"] == kind]
        print(f"{kind}: runs with >= 1 right snapshot image: {sum(r['snapshot_right'] > 0 for r in mine)} of "
              f"{len(mine)}; mean val right {np.mean([r['val_right'] / r['val_images'] for r in mine]):.2f}")


if __name__ == "__main__":
    main()
