"""Make the Evaluate tab's example with images; from the repository root:

    PYTHONPATH=. python examples/shapes-detr-eval/make_example.py

It writes, beside itself, `images/*.png` and `annotations.json` (12 shapes scenes like those the shipped
`detr-shapes` was trained on, from a seed its training and its published evaluation never used) and
`predictions.json`: the shipped `checkpoints/detr-shapes` run on those images as DETR's official evaluation does
(every query, `cvdemo.predict.predict_coco`), boxes and scores rounded to 4 decimals to keep the file small.
Same code, same model, same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import cvdemo.models
from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
from cvdemo.predict import predict_coco

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NUM_IMAGES, SEED = 12, 4242  # training used seeds 0-7, the shipped metrics seed 777
CONFIG = ShapesConfig(image_size=128, min_objects=1, max_objects=4, min_size=0.15, max_size=0.6)


def main() -> None:
    gt = write_shapes_dataset(HERE, NUM_IMAGES, SEED, CONFIG, overwrite=True)
    model = cvdemo.models.load(ROOT / "checkpoints" / "detr-shapes").eval()
    records = predict_coco(model, HERE / "images", gt)
    for r in records:
        r["bbox"] = [round(float(v), 4) for v in r["bbox"]]
        r["score"] = round(float(r["score"]), 4)
    (HERE / "predictions.json").write_text(json.dumps(records, separators=(",", ":")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
