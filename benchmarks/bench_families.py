"""Images/s of every detector family on this CPU, side by side (run by hand:
``python benchmarks/bench_families.py [--threads 1] [--rounds 5]``).

Each family's ``tiny`` training preset model (the sizes the Train tab and the shipped checkpoints use; DETR: the
shipped detr-shapes) runs in eval mode on the same 128 px shapes images at batch 1 and 8. Rounds interleave the
families (this machine is shared and noisy: every family sees the same load), and the median round is reported
with its ratio to DETR. Throughput barely depends on the weights, except through how many boxes survive the
score threshold before NMS: the families are built with the detr-shapes backbone start and otherwise random heads,
so their NMS sees many low-scoring boxes (an upper bound on its cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvdemo.models  # noqa: E402
from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset  # noqa: E402
from cvdemo.models.image_processing import prepare_detr_inputs  # noqa: E402
from cvdemo.training.kinds import KINDS  # noqa: E402


def detr_runner(model):
    def run(images: list[torch.Tensor]) -> None:
        inputs = prepare_detr_inputs([im.permute(1, 2, 0).numpy() for im in images], model.config)
        model(inputs["pixel_values"], inputs["pixel_mask"])
    return run


def family_runner(model):
    def run(images: list[torch.Tensor]) -> None:
        model([im.float() / 255.0 for im in images])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=16, help="images per round and batch size")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = ShapesDataset(args.images, 101, SHARED_SHAPES)
    images = [data[i][0] for i in range(args.images)]
    runners = {"detr": detr_runner(cvdemo.models.load("checkpoints/detr-shapes"))}
    params = {"detr": sum(p.numel() for p in cvdemo.models.load("checkpoints/detr-shapes").parameters())}
    for kind in ("fasterrcnn", "ssd", "yolo"):
        model = KINDS[kind].build_model(KINDS[kind].presets["tiny"], None).eval()
        runners[kind] = family_runner(model)
        params[kind] = sum(p.numel() for p in model.parameters())
    speed: dict[tuple[str, int], list[float]] = {}
    with torch.inference_mode():
        for run in runners.values():  # warm-up
            run(images[:2])
        for _ in range(args.rounds):
            for batch in (1, 8):
                for name, run in runners.items():
                    start = time.perf_counter()
                    for i in range(0, len(images), batch):
                        run(images[i:i + batch])
                    speed.setdefault((name, batch), []).append(len(images) / (time.perf_counter() - start))
    print(f"{args.images} shapes images of 128 px per round, {args.rounds} rounds, {args.threads} thread(s); "
          "median images/s (ratio to DETR)\n")
    print(f"{'family':>11} {'weights':>9} {'batch 1':>16} {'batch 8':>16}")
    for name in runners:
        cells = []
        for batch in (1, 8):
            ips = statistics.median(speed[(name, batch)])
            ratio = ips / statistics.median(speed[("detr", batch)])
            cells.append(f"{ips:7.1f} ({ratio:4.2f}x)")
        print(f"{name:>11} {params[name] / 1e6:8.2f}M {cells[0]:>16} {cells[1]:>16}")


if __name__ == "__main__":
    main()
