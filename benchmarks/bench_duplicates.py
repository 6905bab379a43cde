"""How many duplicates does a DETR make, and does each decoder layer suppress more of them? (run by hand:
``python benchmarks/bench_duplicates.py [--model checkpoints/detr-shapes] [--images 300] [--seed 101]``)

Runs the model on fresh shapes images of the ``small`` preset's distribution (the one detr-shapes was trained on;
``--seed`` picks fresh ones) and counts, for the last decoder layer and every auxiliary layer's predictions
(`cvdemo.metrics.duplicates.count_duplicates`, score >= ``--score``, IoU >= 0.5): objects found, duplicates (boxes
of an object a better box of its class already found) and other false boxes, then the same after class-wise NMS
(IoU 0.5) for comparison. DETR's paper (Fig. 4 and §4.2) reports that NMS helps the first decoder layers and not
the last: if a shallow decoder still makes duplicates, more layers (or more training) is what the paper suggests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torchvision.ops import batched_nms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvdemo.models  # noqa: E402
from cvdemo.metrics.duplicates import count_duplicates  # noqa: E402
from cvdemo.models import post_process_object_detection  # noqa: E402
from cvdemo.models.image_processing import prepare_detr_inputs  # noqa: E402
from cvdemo.training.presets import DETR_TRAINING_PRESETS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/detr-shapes")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--score", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = cvdemo.models.load(args.model)
    _, data = DETR_TRAINING_PRESETS["small"].datasets(num_train=1, num_val=args.images, seed=args.seed - 1)
    layers = model.config.decoder_layers
    per_layer: list[list[SimpleNamespace]] = [[] for _ in range(layers)]
    nms: list[list[SimpleNamespace]] = [[] for _ in range(layers)]
    start = time.perf_counter()
    for i in range(len(data)):
        image, target = data[i]
        pixels = image.permute(1, 2, 0).numpy()
        inputs = prepare_detr_inputs(pixels, model.config)
        with torch.inference_mode():
            out = model(inputs["pixel_values"], inputs["pixel_mask"])
        outputs = [*out["aux_outputs"], {"pred_logits": out["pred_logits"], "pred_boxes": out["pred_boxes"]}]
        for layer, o in enumerate(outputs):
            det = post_process_object_detection(o, inputs["original_sizes"])[0]
            item = SimpleNamespace(boxes_xyxy=det["boxes"].numpy(), labels=det["labels"].numpy(),
                                   scores=det["scores"].numpy(), gt_boxes_xyxy=target["boxes_xyxy"].numpy(),
                                   gt_labels=target["labels"].numpy())
            per_layer[layer].append(item)
            keep = batched_nms(det["boxes"], det["scores"], det["labels"], 0.5).numpy()
            nms[layer].append(SimpleNamespace(**{**vars(item), "boxes_xyxy": item.boxes_xyxy[keep],
                                                 "labels": item.labels[keep], "scores": item.scores[keep]}))
    print(f"{args.model}: {len(data)} fresh images (seed {args.seed}), score >= {args.score}, "
          f"{time.perf_counter() - start:.0f} s\n")
    print(f"{'decoder layer':>13} {'objects':>8} {'found':>6} {'duplicates':>11} {'rate':>6} {'other FP':>9} "
          f"{'| after NMS: found':>18} {'duplicates':>11}")
    for layer in range(layers):
        c = count_duplicates(per_layer[layer], args.score)
        n = count_duplicates(nms[layer], args.score)
        print(f"{layer + 1:>13} {c.num_objects:>8} {c.found:>6} {c.duplicates:>11} {c.duplicate_rate:>6.1%} "
              f"{c.other_false:>9} {n.found:>18} {n.duplicates:>11}")
    rates = [count_duplicates(per_layer[k], args.score).duplicate_rate for k in range(layers)]
    print(f"\nduplicates per object, first -> last layer: {' -> '.join(f'{r:.1%}' for r in rates)}; "
          f"mean score of the duplicates: "
          f"{np.mean([s for im in per_layer[-1] for s in im.scores if s >= args.score]):.2f} (all kept boxes)")


if __name__ == "__main__":
    main()
