"""Matching speed: our per-image HungarianMatcher vs DETR's full-batch cost matrix; hungarian_steps timing.

Run by hand: ``python benchmarks/bench_matching.py``. Both matchers are timed in the same run,
interleaved, so the ratio is meaningful on a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvdemo.boxes import box_cxcywh_to_xyxy, generalized_box_iou_xyxy  # noqa: E402
from cvdemo.hungarian import hungarian_steps  # noqa: E402
from cvdemo.matching import HungarianMatcher  # noqa: E402


@torch.no_grad()
def detr_full_batch_matcher(outputs, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
    """facebookresearch/detr's matcher: one [B*Q, sum n] cost matrix, then one block per image."""
    bs, num_queries = outputs["pred_logits"].shape[:2]
    out_prob = outputs["pred_logits"].flatten(0, 1).softmax(-1)  # [B*Q, C+1]
    out_bbox = outputs["pred_boxes"].flatten(0, 1)  # [B*Q, 4]
    tgt_ids = torch.cat([v["labels"] for v in targets])
    tgt_bbox = torch.cat([v["boxes"] for v in targets])
    c_class = -out_prob[:, tgt_ids]
    c_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)
    c_giou = -generalized_box_iou_xyxy(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox))
    cost = (cost_bbox * c_bbox + cost_class * c_class + cost_giou * c_giou).view(bs, num_queries, -1).cpu()
    sizes = [len(v["boxes"]) for v in targets]
    indices = [linear_sum_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]
    return [
        (torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices
    ]


def make_batch(batch, queries, num_classes, mean_targets, rng):
    outputs = {
        "pred_logits": torch.from_numpy(
            rng.normal(size=(batch, queries, num_classes + 1)).astype(np.float32)
        ),
        "pred_boxes": torch.from_numpy(rng.uniform(0.1, 0.9, size=(batch, queries, 4)).astype(np.float32)),
    }
    sizes = np.clip(rng.poisson(mean_targets, size=batch), 1, queries)
    targets = [
        {
            "labels": torch.from_numpy(rng.integers(0, num_classes, n)),
            "boxes": torch.from_numpy(rng.uniform(0.1, 0.9, size=(n, 4)).astype(np.float32)),
        }
        for n in sizes
    ]
    return outputs, targets


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns, repeats):
    """Time the functions turn by turn, ``repeats`` times each: lists of seconds, one per function."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for slot, fn in zip(times, fns):
            slot.append(time_once(fn))
    return times


def bench_matchers(args, rng):
    print(
        f"\nMatcher per training step: Q={args.queries}, ~{args.targets} targets/image (Poisson), "
        f"C={args.classes}, CPU, torch threads={torch.get_num_threads()}, {args.repeats} interleaved runs"
    )
    print("(median and best of the runs; the best is the figure least disturbed by other load)")
    head = f"{'batch':>6} {'ours median/best (ms)':>22} {'DETR full-batch median/best (ms)':>33}"
    print(f"{head} {'full/ours':>16}")
    ours = HungarianMatcher(1, 5, 2)
    for batch in (2, 8, 32):
        outputs, targets = make_batch(batch, args.queries, args.classes, args.targets, rng)
        # same assignment first
        for (a, b), (c, d) in zip(ours(outputs, targets), detr_full_batch_matcher(outputs, targets)):
            assert torch.equal(a, c) and torch.equal(b, d)
        t_ours, t_full = interleaved(
            [
                lambda o=outputs, t=targets: ours(o, t),
                lambda o=outputs, t=targets: detr_full_batch_matcher(o, t),
            ],
            args.repeats,
        )
        mo, mf, bo, bf = (
            f(t) * 1e3 for f, t in zip([statistics.median] * 2 + [min] * 2, [t_ours, t_full] * 2)
        )
        ratio = f"{mf / mo:.2f} / {bf / bo:.2f}"
        print(f"{batch:>6} {mo:>12.2f} / {bo:<7.2f} {mf:>22.2f} / {bf:<8.2f} {ratio:>16}")


def bench_hungarian_steps(args, rng):
    print("\nhungarian_steps (pure NumPy, every step recorded) vs scipy linear_sum_assignment, medians")
    print(f"{'shape':>8} {'kind':>9} {'steps':>6} {'ours (ms)':>10} {'scipy (ms)':>11} {'ours/scipy':>11}")
    matcher = HungarianMatcher(1, 5, 2)
    for n_gt in (10, 50):
        outputs, targets = make_batch(1, 100, args.classes, n_gt, rng)
        targets[0] = {
            "labels": torch.from_numpy(rng.integers(0, args.classes, n_gt)),
            "boxes": torch.from_numpy(rng.uniform(0.1, 0.9, size=(n_gt, 4)).astype(np.float32)),
        }
        detr_cost = matcher.cost_terms(outputs, targets)[0].total.double().numpy()
        # i*j: a structured matrix that needs many primes and adjustments (a hard case for Munkres)
        hard = np.multiply.outer(np.arange(100.0), np.arange(float(n_gt)))
        for kind, cost in (("DETR", detr_cost), ("uniform", rng.random((100, n_gt))), ("i*j", hard)):
            steps = len(hungarian_steps(cost)[2])
            t_ours, t_scipy = interleaved(
                [lambda c=cost: hungarian_steps(c), lambda c=cost: linear_sum_assignment(c)], args.repeats
            )
            t_ours, t_scipy = statistics.median(t_ours), statistics.median(t_scipy)
            rows, cols, _ = hungarian_steps(cost)
            ref = linear_sum_assignment(cost)
            assert np.isclose(cost[rows, cols].sum(), cost[ref].sum())
            shape = f"100x{n_gt}"
            print(
                f"{shape:>8} {kind:>9} {steps:>6} {t_ours * 1e3:>10.2f} {t_scipy * 1e3:>11.3f} "
                f"{t_ours / t_scipy:>11.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--targets", type=float, default=7.0)
    parser.add_argument("--classes", type=int, default=91)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    bench_matchers(args, rng)
    bench_hungarian_steps(args, rng)


if __name__ == "__main__":
    main()
