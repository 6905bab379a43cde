"""ViT forward: cvdemo vs timm, same weights, side by side in one run.

    python benchmarks/bench_vit.py [--arch vit_base_patch16_224 --batches 1 8 --repeats 20
                                    --device cpu --dtype float32]
    (or python -m benchmarks.bench_vit ...)

Random weights: timm builds the model, its state dict is converted into cvdemo's ViT.
Prints the median (and fastest) time per forward, images/s at the median, and the ratios of medians
(cvdemo / timm; cvdemo with return_attention=True / without). Runs are interleaved (A B C A B C ...)
so machine noise hits all alike.
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


def _timed(fn, sync) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="vit_base_patch16_224", help="a timm name from VIT_PRESETS")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default); "
                        "1 is steadier on a shared machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import timm

    from cvdemo.models.convert_vit import convert_timm_vit_state_dict
    from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig

    torch.manual_seed(0)
    reference = timm.create_model(args.arch, pretrained=False).eval()
    ours = ViT(ViTConfig(**VIT_PRESETS[args.arch], num_classes=reference.num_classes)).eval()
    ours.load_state_dict(convert_timm_vit_state_dict(reference.state_dict(), ours.config), strict=True)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    reference.to(device, dtype)
    ours.to(device, dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    h, w = ours.config.image_hw
    print(f"{args.arch} forward ({ours.num_params / 1e6:.1f} M params), {h}x{w}, {device} {args.dtype}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, timm {timm.__version__}, "
          f"median of {args.repeats}")

    for batch in args.batches:
        x = torch.randn(batch, 3, h, w, device=device, dtype=dtype)
        runs = {
            "timm": lambda x=x: reference(x),
            "cvdemo": lambda x=x: ours(x),
            "cvdemo+attention": lambda x=x: ours(x, return_attention=True),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        with torch.inference_mode():
            for _ in range(args.warmup):
                for fn in runs.values():
                    fn()
            sync()
            for _ in range(args.repeats):
                for name, fn in runs.items():
                    times[name].append(_timed(fn, sync))
            diff = (ours(x)["logits"].float() - reference(x).float()).abs().max().item()

        med = {k: statistics.median(v) for k, v in times.items()}
        fastest = {k: min(v) for k, v in times.items()}
        print(f"batch {batch}:")
        for name, t in med.items():
            print(f"  {name:18s} {t * 1e3:9.2f} ms (fastest {fastest[name] * 1e3:9.2f})"
                  f"   {batch / t:9.1f} images/s")
        print(f"  cvdemo / timm                = {med['cvdemo'] / med['timm']:.3f}x "
              f"(fastest runs: {fastest['cvdemo'] / fastest['timm']:.3f}x)")
        print(f"  attention on / off (cvdemo)  = {med['cvdemo+attention'] / med['cvdemo']:.3f}x")
        print(f"  max |logit difference|       = {diff:.2e}")


if __name__ == "__main__":
    main()
