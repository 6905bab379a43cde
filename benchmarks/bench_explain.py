"""What each explanation costs: ViT-B/16 at 224 and DETR-R50 at 800x1066, vs one forward of the same model.

    python benchmarks/bench_explain.py [--repeats 5 --threads 0 --skip-detr]
    (or python -m benchmarks.bench_explain ...)

Random weights (the cost does not depend on them; nothing is downloaded). Methods, each from the image tensor
to the [gh, gw] (ViT) or [h, w] (DETR) map:
    ViT   forward            plain inference forward (fused attention), the baseline
          raw attention      forward returning every layer's attention, one layer read out
          rollout            the same forward, then `attention_rollout` over all layers
          gradient rollout   forward + backward to the maps (`cvdemo.explain.gradient_rollout`)
          relevance          forward + backward + Chefer's rule (`cvdemo.explain.vit_relevance`)
    DETR  forward            plain inference forward, the baseline
          cross-attention    forward returning the attention maps, one query's last-layer map read out
          relevance          forward + backward + the encoder-decoder rules (`cvdemo.explain.detr_relevance`)
Runs are interleaved (A B C A B C ...) so machine noise hits all alike; prints the median per method and its
ratio to the model's forward (the issue's goal for the relevance: <= 3x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository's cvdemo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _interleaved(runs: dict, repeats: int, warmup: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _report(title: str, medians: dict[str, float]) -> None:
    base = medians["forward"]
    print(f"\n{title}")
    print(f"{'method':<18} {'median ms':>10} {'x forward':>10}")
    for name, t in medians.items():
        print(f"{name:<18} {t * 1e3:>10.0f} {t / base:>10.2f}")


def bench_vit(repeats: int, warmup: int) -> dict[str, float]:
    from cvdemo.attention import attention_rollout
    from cvdemo.explain import gradient_rollout, read_patch_map, vit_relevance
    from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig

    torch.manual_seed(0)
    model = ViT(ViTConfig(**VIT_PRESETS["vit_base_patch16_224"])).eval()
    x = torch.randn(1, 3, 224, 224)
    P, pool = model.config.num_prefix_tokens, model.config.global_pool

    def forward():
        with torch.inference_mode():
            model(x)

    def raw():
        with torch.inference_mode():
            out = model(x, return_attention=True)
            read_patch_map(out["attentions"][-1].mean(1), out["grid_size"], P, pool)

    def rollout():
        with torch.inference_mode():
            out = model(x, return_attention=True)
            read_patch_map(attention_rollout(out["attentions"], num_prefix_tokens=P), out["grid_size"], P, pool)

    runs = {"forward": forward, "raw attention": raw, "rollout": rollout,
            "gradient rollout": lambda: gradient_rollout(model, x), "relevance": lambda: vit_relevance(model, x)}
    return _interleaved(runs, repeats, warmup)


def bench_detr(repeats: int, warmup: int) -> dict[str, float]:
    from cvdemo.explain import detr_relevance
    from cvdemo.models.detr import DETR, DETRConfig

    torch.manual_seed(0)
    model = DETR(DETRConfig()).eval()  # DETR-R50
    x = torch.randn(1, 3, 800, 1066)
    query = 7

    def forward():
        with torch.inference_mode():
            model(x)

    def cross():
        with torch.inference_mode():
            out = model(x, return_attention=True)
            out["cross_attentions"][-1][0, :, query].mean(0).reshape(out["feature_size"])

    runs = {"forward": forward, "cross-attention": cross, "relevance": lambda: detr_relevance(model, x, query)}
    return _interleaved(runs, repeats, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--skip-detr", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import platform
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
          f", median of {args.repeats}, batch 1, random weights")
    _report("ViT-B/16 at 224 (vit_base_patch16_224, 1000 classes)", bench_vit(args.repeats, args.warmup))
    if not args.skip_detr:
        _report("DETR-R50 at 800x1066 (25x34 feature map, 100 queries)", bench_detr(args.repeats, args.warmup))


if __name__ == "__main__":
    main()
