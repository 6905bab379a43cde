"""DETR-R50 forward: cvdemo (plain and optimize_for_inference) vs transformers, same weights, one run.

    python -m benchmarks.bench_detr [--height 800 --width 1066 --repeats 5 --device cpu --dtype float32]

Prints median seconds per forward and the ratios (cvdemo / transformers; attention on / off).
Runs are interleaved (A B A B ...) so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def _timed(fn, sync):
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--width", type=int, default=1066)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import DetrConfig, DetrForObjectDetection

    import cvdemo.models

    torch.manual_seed(0)
    reference = DetrForObjectDetection(DetrConfig(use_pretrained_backbone=False, num_labels=91)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        reference.save_pretrained(tmp)
        ours = cvdemo.models.load(tmp)
        fast = cvdemo.models.load(tmp).optimize_for_inference()
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    reference.to(device, dtype)
    ours.to(device, dtype)
    fast.to(device, dtype)
    x = torch.randn(args.batch, 3, args.height, args.width, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    runs = {
        "transformers": lambda: reference(x),
        "cvdemo": lambda: ours(x),
        "cvdemo+attention": lambda: ours(x, return_attention=True),
        "cvdemo-optimized": lambda: fast(x),
        "cvdemo-opt+attention": lambda: fast(x, return_attention=True),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    with torch.inference_mode():
        for fn in runs.values():  # warm-up
            fn()
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(_timed(fn, sync))
        ref_logits = reference(x).logits.float()
        check = (ours(x)["pred_logits"].float() - ref_logits).abs().max().item()
        check_fast = (fast(x)["pred_logits"].float() - ref_logits).abs().max().item()

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"DETR-R50 forward, batch {args.batch}, {args.height}x{args.width}, {args.device} {args.dtype}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    for name, t in med.items():
        print(f"  {name:22s} {t:8.3f} s   {args.batch / t:7.2f} images/s")
    print(f"  cvdemo / transformers            = {med['cvdemo'] / med['transformers']:.2f}x")
    print(f"  cvdemo-optimized / transformers  = {med['cvdemo-optimized'] / med['transformers']:.2f}x")
    print(f"  attention on / off (plain)       = {med['cvdemo+attention'] / med['cvdemo']:.2f}x")
    print(f"  attention on / off (optimized)   = {med['cvdemo-opt+attention'] / med['cvdemo-optimized']:.2f}x")
    print(f"  max |logit difference| plain = {check:.2e}, optimized = {check_fast:.2e}")


if __name__ == "__main__":
    main()
