"""App latency: start-up, and `/detect` and `/rollout` end to end through gradio_client vs the model alone.

    python -m benchmarks.bench_app [--calls 30] [--large]

Uses the shipped checkpoints (checkpoints/detr-shapes, checkpoints/vit-shapes) when they exist, otherwise
random models of the same sizes (detr-tiny preset; the vit-shapes preset: 64 px, 8 px patches, 4 blocks of
width 128, average pooling without a CLS token), on the example images. `--large` adds a DETR-R50-sized
random model (91 classes, 100 queries) on a 640x427 photo, resized to 800 px as DETR does: what
`facebook/detr-resnet-50` costs on this machine.

All numbers are measured in one run, side by side: end-to-end is a `Client.predict` call (upload, queue,
decode, model, drawing, encoding the JPEGs, downloading every result image, one after the other); "server" is
the handler's own time; "model" is the forward pass alone (with attention maps, as the app runs it, and
without). In the browser `/detect` shows the boxes, then `/attention_views` fills the attention panels and the
class plot: "detect + views" is the time until the whole tab is drawn.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import socket
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gradio_client import Client, handle_file

import cvdemo.models
from cvdemo.images import load_image_rgb
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.registry import CHECKPOINTS, ModelSpec
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.models.vit_transforms import vit_transform

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [str(x) for x in sorted((ROOT / "examples" / "shapes").glob("*.png"))]
SHAPES_CLASSIFY = [str(x) for x in sorted((ROOT / "examples" / "shapes-classify").glob("*.png"))]
PHOTO = str(ROOT / "examples" / "photos" / "rocket.jpg")
NAMES = {k: n for k, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}


def percentiles(ms: list[float]) -> str:
    q = np.percentile(ms, [50, 95])
    return f"p50 {q[0]:7.1f} ms   p95 {q[1]:7.1f} ms"


def model_sources(tmp: Path, large: bool) -> tuple[list[ModelSpec], dict[str, str]]:
    """Shipped checkpoints if present, else random models of their sizes saved under tmp."""
    torch.manual_seed(0)
    what = {}
    detr_dir, vit_dir = CHECKPOINTS / "detr-shapes", CHECKPOINTS / "vit-shapes"
    if not detr_dir.exists():
        detr_dir = cvdemo.models.save(DETR(DETRConfig(**DETR_PRESETS["detr-tiny"], num_classes=6,
                                                      id2label=NAMES)), tmp / "detr")
    what["detr"] = "shipped detr-shapes" if detr_dir.parent == CHECKPOINTS else "random detr-tiny"
    if not vit_dir.exists():
        config = ViTConfig(image_size=64, patch_size=8, embed_dim=128, depth=4, num_heads=4, num_classes=6,
                           id2label=NAMES, class_token=False, global_pool="avg")
        vit_dir = cvdemo.models.save(ViT(config), tmp / "vit")
    what["vit"] = "shipped vit-shapes" if vit_dir.parent == CHECKPOINTS else "random vit-shapes-sized"
    specs = [ModelSpec("detr", str(detr_dir), "detect"), ModelSpec("vit", str(vit_dir), "classify")]
    if large:
        coco = {k: f"class {k}" for k in range(91)}
        r50 = cvdemo.models.save(DETR(DETRConfig(id2label=coco)), tmp / "r50")
        specs.append(ModelSpec("detr-r50", str(r50), "detect"))
    return specs, what


def time_model(model, inputs_fn, attention: bool, repeats: int) -> list[float]:
    times = []
    with torch.inference_mode():
        for i in range(repeats + 2):
            x = inputs_fn(i)
            start = time.perf_counter()
            if isinstance(model, DETR):
                model(x, None, return_attention=attention)
            else:
                model(x, return_attention=attention)
            if i >= 2:  # warm-up
                times.append((time.perf_counter() - start) * 1000)
    return times


def time_endpoint(client: Client, api_name: str, args_fn, repeats: int,
                  then: str | None = None) -> tuple[list[float], list[float], list[float]]:
    """End-to-end and server times of `api_name`; with `then`, also the time until that follow-up is done."""
    e2e, server, total = [], [], []
    for i in range(repeats + 2):
        start = time.perf_counter()
        result = client.predict(*args_fn(i), api_name=api_name)
        done = time.perf_counter()
        if then:
            client.predict(0.5, api_name=then)
        if i >= 2:
            e2e.append((done - start) * 1000)
            total.append((time.perf_counter() - start) * 1000)
            summary = result[2] if api_name == "/detect" else result[1]
            server.append(float(re.search(r"total on the server \*\*(\d+) ms", summary).group(1)))
    return e2e, server, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per endpoint")
    parser.add_argument("--large", action="store_true", help="also time a DETR-R50-sized model on a photo")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    with tempfile.TemporaryDirectory() as tmp:
        specs, what = model_sources(Path(tmp), args.large)
        spec = importlib.util.spec_from_file_location("cvdemo_app", ROOT / "app.py")
        start = time.perf_counter()
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)  # imports gradio, torch, the tabs
        imported = time.perf_counter()
        demo = app.build_demo(specs, device="cpu")
        built = time.perf_counter()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        _, url, _ = demo.launch(prevent_thread_lock=True, **{**app.launch_settings(), "server_port": port,
                                                             "quiet": True})
        launched = time.perf_counter()
        print(f"\nstart-up: import app {imported - start:.2f} s + build_demo {built - imported:.2f} s "
              f"+ launch {launched - built:.2f} s = {launched - start:.2f} s (models load on first use)")
        client = Client(url, verbose=False)
        try:
            first = time.perf_counter()
            client.predict(handle_file(SHAPES[0]), "detr", 0.5, api_name="/detect")
            print(f"first /detect (loads the DETR): {time.perf_counter() - first:.2f} s")
            client.predict(handle_file(SHAPES_CLASSIFY[0]), "vit", "mean", 0.0, 1, api_name="/rollout")

            rows = []
            detr = cvdemo.models.load(specs[0].source).optimize_for_inference()
            images = [load_image_rgb(p) for p in SHAPES]
            detr_in = [prepare_detr_inputs(im, detr.config)["pixel_values"] for im in images]
            e2e, server, total = time_endpoint(client, "/detect", lambda i: (
                handle_file(SHAPES[i % len(SHAPES)]), "detr", 0.5), args.calls, then="/attention_views")
            with_att = time_model(detr, lambda i: detr_in[i % len(images)], True, args.calls)
            without = time_model(detr, lambda i: detr_in[i % len(images)], False, args.calls)
            rows.append((f"/detect  {what['detr']} @ {images[0].shape[1]}x{images[0].shape[0]}",
                         e2e, server, with_att, without, total))

            vit = cvdemo.models.load(specs[1].source)
            vimages = [load_image_rgb(p) for p in SHAPES_CLASSIFY]
            vit_in = [vit_transform(im, vit.config) for im in vimages]
            e2e, server, _ = time_endpoint(client, "/rollout", lambda i: (
                handle_file(SHAPES_CLASSIFY[i % len(vimages)]), "vit", "mean", 0.0, 1), args.calls)
            with_att = time_model(vit, lambda i: vit_in[i % len(vimages)], True, args.calls)
            without = time_model(vit, lambda i: vit_in[i % len(vimages)], False, args.calls)
            rows.append((f"/rollout {what['vit']} @ {vimages[0].shape[1]}x{vimages[0].shape[0]}",
                         e2e, server, with_att, without, None))

            if args.large:
                r50 = cvdemo.models.load(specs[2].source).optimize_for_inference()
                photo = load_image_rgb(PHOTO)
                x = prepare_detr_inputs(photo, r50.config)["pixel_values"]
                n = max(3, args.calls // 6)
                e2e, server, total = time_endpoint(client, "/detect", lambda i: (
                    handle_file(PHOTO), "detr-r50", 0.5), n, then="/attention_views")
                name = (f"/detect  DETR-R50-sized @ {photo.shape[1]}x{photo.shape[0]} "
                        f"(input {x.shape[3]}x{x.shape[2]})")
                rows.append((name, e2e, server, time_model(r50, lambda i: x, True, n),
                             time_model(r50, lambda i: x, False, n), total))
        finally:
            demo.close()

    print(f"\n{args.calls} calls each (after 2 warm-up calls):")
    for name, e2e, server, with_att, without, total in rows:
        p50 = statistics.median
        print(f"\n{name}\n"
              f"  end to end (gradio_client)     {percentiles(e2e)}\n"
              + (f"  detect + views (whole tab)     {percentiles(total)}\n" if total else "") +
              f"  server handler                 {percentiles(server)}\n"
              f"  model, with attention maps     {percentiles(with_att)}\n"
              f"  model, fused attention         {percentiles(without)}\n"
              f"  ratios (p50): end-to-end / model-with-attention {p50(e2e) / p50(with_att):.1f}x, "
              f"server / model {p50(server) / p50(with_att):.1f}x, "
              f"attention maps cost {p50(with_att) / p50(without):.2f}x")


if __name__ == "__main__":
    main()
