"""Which explanation to trust on the shipped models: pointing game and deletion/insertion AUC per method.

    python benchmarks/bench_explain_faithfulness.py [--model vit-shapes detr-shapes --images 500 --steps 16
                                                     --threads 1 --out examples/explain-faithfulness.json]

On fresh shapes images (seeds never used in training: 2026 for vit-shapes, 2027 for detr-shapes), every method of
`cvdemo.explain.evaluation` on the same images, objects and random seeds: the pointing game against the ground-
truth box, the deletion and insertion AUC (blurred baseline, `steps` steps), a random map as the baseline, and the
paired difference of each method's deletion AUC minus the random map's. Writes (merges per model) the JSON the
app's Attention and Detect tabs quote, and prints the table. DETR: detections above score 0.5 that match a
ground-truth object of their class at IoU >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository's cvdemo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {"vit-shapes": 2026, "detr-shapes": 2027}


def vit_samples(model, images: int, seed: int):
    from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset
    from cvdemo.models.vit_transforms import vit_transform

    # the vit-shapes card's data: one shape per 64 px image, sizes 0.35-0.85 of the side
    data = ShapesDataset(images, seed=seed, config=ShapesConfig(image_size=64, task="classify", min_size=0.35,
                                                                max_size=0.85))
    for i in range(len(data)):
        scene = data.scene(i)
        yield vit_transform(scene.image, model.config), scene.boxes_xyxy


def detr_samples(model, images: int, seed: int):
    from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset
    from cvdemo.models.image_processing import prepare_detr_inputs

    # the detr-shapes card's data: 1-4 shapes at 128 px, sizes 0.15-0.6 (128 px in, 128 px to the model)
    data = ShapesDataset(images, seed=seed, config=ShapesConfig(image_size=128, min_objects=1, max_objects=4,
                                                                min_size=0.15, max_size=0.6))
    for i in range(len(data)):
        scene = data.scene(i)
        inputs = prepare_detr_inputs(scene.image, model.config)
        yield inputs["pixel_values"], torch.from_numpy(scene.boxes_xyxy), torch.from_numpy(scene.labels)


def _fmt(stat: dict, digits: int = 3) -> str:
    return f"{stat['mean']:.{digits}f} [{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"


def print_table(name: str, entry: dict) -> None:
    print(f"\n{name}: {entry['objects']} objects on {entry['images']} fresh images (seed {entry['seed']}), "
          f"{entry['steps']} steps, {entry['seconds']:.0f} s")
    print(f"{'method':<18} {'pointing game':>24} {'deletion AUC (lower=better)':>30} {'insertion AUC':>24} "
          f"{'deletion - random':>28}")
    for method, row in entry["methods"].items():
        diff = _fmt(row["deletion_minus_random"]) if "deletion_minus_random" in row else ""
        print(f"{method:<18} {_fmt(row['pointing']):>24} {_fmt(row['deletion_auc']):>30} "
              f"{_fmt(row['insertion_auc']):>24} {diff:>28}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=list(SEEDS), choices=list(SEEDS))
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "explain-faithfulness.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from cvdemo.explain.evaluation import evaluate_detr, evaluate_vit, summarize
    from cvdemo.models import load

    for name in args.model:
        model = load(ROOT / "checkpoints" / name).eval()
        seed = SEEDS[name]
        start = time.perf_counter()
        if name == "vit-shapes":
            records = evaluate_vit(model, vit_samples(model, args.images, seed), steps=args.steps)
            counts = {"images": args.images}
        else:
            records, counts = evaluate_detr(model, detr_samples(model, args.images, seed), steps=args.steps)
        seconds = time.perf_counter() - start
        entry = {"images": args.images, "seed": seed, "steps": args.steps, "baseline": "blur",
                 "objects": len(next(iter(records.values())).hits), "counts": counts, "seconds": seconds,
                 "machine": f"{platform.machine()}, {args.threads} torch thread(s), torch {torch.__version__}",
                 "methods": summarize(records)}
        print_table(name, entry)
        results = json.loads(args.out.read_text()) if args.out.exists() else {}
        results[name] = entry
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
