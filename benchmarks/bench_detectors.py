"""The Detectors tab's cost: `/detectors` end to end through gradio_client, for every shipped detector on one image,
against the same models run directly (the library alone), and the slider's `/detectors_filter`.

    python -m benchmarks.bench_detectors [--calls 10] [--threads 1]

Uses the app's default models that are local (the shipped checkpoints: detr-shapes and the families that exist
in checkpoints/), as the tab's first view does, on the shapes examples. Measured in one run, interleaved: "end to
end" is a `Client.predict` call (upload, queue, every model, drawing 3 pictures per model, encoding the JPEGs,
downloading them); "models" is `run_detector` for each model in a loop, warm; "filter" is `/detectors_filter`
(re-filtering the stored outputs at another NMS IoU and redrawing). The issue's goal: <= 1.5 s end to end for
all models on one image on this CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch
from gradio_client import Client, handle_file

from cvdemo.detectors_run import run_detector
from cvdemo.images import load_image_rgb
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui.detectors_tab import default_selection, detector_names
from cvdemo.ui.models import default_model_specs

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [str(p) for p in sorted((ROOT / "examples" / "shapes").glob("*.png"))]


def _app():
    spec = importlib.util.spec_from_file_location("cvdemo_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    specs = default_model_specs()
    registry = ModelRegistry(specs, device="cpu")
    names = default_selection(registry, detector_names(registry))
    app = _app()
    demo = app.build_demo(specs, device="cpu")
    settings = {**app.launch_settings(), "server_port": 7899, "quiet": True}
    _, url, _ = demo.launch(prevent_thread_lock=True, **settings)
    client = Client(url, verbose=False)
    models = {n: registry.get(n) for n in names}
    images = [load_image_rgb(p) for p in SHAPES]
    client.predict(handle_file(SHAPES[0]), names, 0.5, 0.5, api_name="/detectors")  # warm up: loads the models
    end_to_end, direct, refilter = [], [], []
    for k in range(args.calls):
        path, image = SHAPES[k % len(SHAPES)], images[k % len(images)]
        start = time.perf_counter()
        client.predict(handle_file(path), names, 0.5, 0.5, api_name="/detectors")
        end_to_end.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.predict(0.3 + 0.05 * (k % 5), 0.5, api_name="/detectors_filter")
        refilter.append(time.perf_counter() - start)
        start = time.perf_counter()
        for name, model in models.items():
            run_detector(name, model, image)
        direct.append(time.perf_counter() - start)
    demo.close()
    print(f"/detectors with {len(names)} models ({', '.join(names)}), {args.calls} calls, {args.threads} thread(s):")
    for label, values in (("end to end", end_to_end), ("models alone", direct), ("/detectors_filter", refilter)):
        print(f"  {label:<18} median {1000 * statistics.median(values):7.0f} ms   max {1000 * max(values):7.0f} ms")
    print(f"  end to end / models alone: {statistics.median(end_to_end) / statistics.median(direct):.2f}x; "
          f"goal <= 1500 ms end to end: {'met' if statistics.median(end_to_end) <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
