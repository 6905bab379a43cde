"""Speed of the synthetic shapes generator and of the VOC / YOLO loaders.

Run by hand: ``python benchmarks/bench_shapes.py``. Everything is measured in this one run,
on one core (OpenCV threads off), so the ratios are comparable even on a noisy machine.
The generator's target: >= 500 images/s at 128 x 128 for on-the-fly training.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as StdET
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset, render_scene, write_shapes_dataset
from cvdemo.datasets.structure import Detections
from cvdemo.datasets.voc import load_voc_ground_truth, write_voc_annotations
from cvdemo.datasets.yolo import (
    load_yolo_detections,
    load_yolo_ground_truth,
    write_yolo_detections,
    write_yolo_labels,
)

TARGET_IMAGES_PER_S = 500


def _rate(fn, n: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` calls per second of ``fn(i)`` over ``i in range(n)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - start)
    return n / best


def bench_generator() -> None:
    print("generator, one core (images/s; ratio to the 500/s target)")
    rows = [
        ("detect 128, 1-6 shapes", ShapesConfig(), 600),
        ("classify 128, 1 shape", ShapesConfig(task="classify"), 600),
        ("detect 128, 6 shapes", ShapesConfig(min_objects=6, max_objects=6), 600),
        ("detect 256, 1-6 shapes", ShapesConfig(image_size=256), 200),
        ("detect 512, 1-6 shapes", ShapesConfig(image_size=512), 60),
    ]
    for name, config, n in rows:
        rate = _rate(lambda i, c=config: render_scene([0, i], c), n)
        print(f"  {name:28s} {rate:8.0f} /s   x{rate / TARGET_IMAGES_PER_S:.2f}")
    dataset = ShapesDataset(600, 0, ShapesConfig())
    dataset[0]  # import torch outside the timing
    rate = _rate(lambda i: dataset[i], 600)
    print(f"  {'ShapesDataset[i] (+ torch)':28s} {rate:8.0f} /s   x{rate / TARGET_IMAGES_PER_S:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_shapes_dataset(Path(tmp) / "out", 300, 0, ShapesConfig())
        rate = 300 / (time.perf_counter() - start)
    print(f"  {'write PNG + COCO json':28s} {rate:8.0f} /s   x{rate / TARGET_IMAGES_PER_S:.2f}")


def bench_loaders(num_images: int = 2000, per_image: int = 7) -> None:
    print(f"\nloaders, {num_images} images x {per_image} objects")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gt = write_shapes_dataset(root / "shapes", num_images, 1,
                                  ShapesConfig(min_objects=per_image, max_objects=per_image, min_visible=0.0))
        write_voc_annotations(gt, root / "voc")
        write_yolo_labels(gt, root / "yolo")
        sizes = {im.file_name: (im.width, im.height) for im in gt.images}
        dets = Detections(gt.image_ids, gt.category_ids, gt.boxes_xywh, np.full(len(gt), 0.5))
        write_yolo_detections(dets, gt, root / "pred")
        xmls = sorted((root / "voc" / "Annotations").glob("*.xml"))

        def timed(fn, repeats: int = 3) -> float:  # best of `repeats`; the first also warms the file cache
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - start)
            return best

        stdlib = timed(lambda: [StdET.parse(p) for p in xmls])
        voc = timed(lambda: load_voc_ground_truth(root / "voc"))
        yolo = timed(lambda: load_yolo_ground_truth(root / "yolo", image_sizes=sizes))
        shutil.copytree(root / "shapes" / "images", root / "yolo" / "images")
        yolo_headers = timed(lambda: load_yolo_ground_truth(root / "yolo"))
        pred = timed(lambda: load_yolo_detections(root / "pred", gt))
        print(f"  stdlib ElementTree parse only  {stdlib:6.2f} s")
        print(f"  load_voc_ground_truth          {voc:6.2f} s   x{voc / stdlib:.2f} the bare stdlib parse")
        print(f"  load_yolo_ground_truth (sizes) {yolo:6.2f} s")
        print(f"  load_yolo_ground_truth (PNGs)  {yolo_headers:6.2f} s   (image sizes from the headers)")
        print(f"  load_yolo_detections           {pred:6.2f} s")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    bench_generator()
    bench_loaders()
