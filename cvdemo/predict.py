"""Run a model over the images of a COCO annotation file and write COCO results.

    python -m cvdemo.predict MODEL --images DIR --annotations ANN.json --out OUT.json

MODEL is anything `cvdemo.models.load` reads (a checkpoint folder, an original DETR ``.pth``,
``hf:<repo_id>``). Each image of ANN.json is read from ``DIR/<file_name>``.

- A detector (DETR) writes, as DETR's official evaluation does, **every query** with its best class other
  than "no object" and that class's probability, no threshold: ``[{"image_id", "category_id",
  "bbox": [x, y, w, h] (pixels), "score"}, ...]``; evaluate it with ``python -m cvdemo.evaluate ANN OUT``.
  Images go through the model one at a time (padding in a batch would change the predictions).
- A classifier (ViT) writes every class's probability for every image: ``[{"image_id", "category_id",
  "score"}, ...]`` (the image's predicted class is its highest score).

Category ids are matched by name: model class ``k`` named ``id2label[k]`` becomes the id of ANN.json's
category of that name (exact match, else case-insensitive). A category of ANN.json that the model does
not know is an error listing both sides; model classes absent from ANN.json are left out of the results.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

import cvdemo.models
from cvdemo.boxes import box_xyxy_to_xywh
from cvdemo.datasets.coco import load_coco_ground_truth
from cvdemo.datasets.structure import Category, DatasetError, GroundTruth
from cvdemo.images import ImageLoadError, load_image_file
from cvdemo.messages import UserError
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.loading import CheckpointError, family_modules
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.models.vit import ViT
from cvdemo.models.vit_transforms import vit_transform

__all__ = ["CategoryMismatchError", "main", "map_categories", "predict_coco"]

log = logging.getLogger(__name__)


class CategoryMismatchError(UserError, ValueError):
    """The annotation file names a category the model does not know."""


def map_categories(id2label: dict[int, str], categories: Sequence[Category]) -> dict[int, int]:
    """Model class index -> category id, by name (exact, else case-insensitive).

    Raises:
        CategoryMismatchError: a category of ``categories`` has no model class of that name; the message
            lists the model's classes and the annotation file's categories.
    """
    exact = {}
    folded = {}
    for index, name in sorted(id2label.items()):
        exact.setdefault(name, index)
        folded.setdefault(name.casefold(), index)
    mapping: dict[int, int] = {}
    unknown = []
    for cat in categories:
        index = exact.get(cat.name, folded.get(cat.name.casefold()))
        if index is None:
            unknown.append(cat.name)
        else:
            mapping[index] = cat.id
    if unknown:
        model_names = [n for _, n in sorted(id2label.items())]
        raise CategoryMismatchError(
            f"the annotations name {len(unknown)} categories the model does not know: {unknown}. "
            f"Model classes: {model_names}. Annotation categories: {[c.name for c in categories]}.")
    return mapping


def _detect(model: DETR, image: np.ndarray, image_id: int, mapping: dict[int, int], device) -> list[dict]:
    inputs = prepare_detr_inputs(image, model.config, device=device)
    outputs = model(inputs["pixel_values"], inputs["pixel_mask"])
    result = post_process_object_detection(outputs, inputs["original_sizes"])[0]
    boxes = box_xyxy_to_xywh(result["boxes"].double().cpu().numpy())
    records = []
    for label, score, box in zip(result["labels"].tolist(), result["scores"].tolist(), boxes.tolist()):
        if label in mapping:
            records.append({"image_id": image_id, "category_id": mapping[label], "bbox": box, "score": score})
    return records


def _detect_family(model: nn.Module, image: np.ndarray, image_id: int, mapping: dict[int, int],
                   device) -> list[dict]:
    """A detector family beside DETR (`cvdemo.models.loading.FAMILY_MODULES`): its eval-mode detections, whose
    boxes are pixel xyxy of the image and labels class indices (its own score threshold and NMS)."""
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255).to(device)
    result = model([pixels])[0]
    boxes = box_xyxy_to_xywh(result["boxes"].double().cpu().numpy())
    return [{"image_id": image_id, "category_id": mapping[label], "bbox": box, "score": score}
            for label, score, box in zip(result["labels"].tolist(), result["scores"].tolist(), boxes.tolist())
            if label in mapping]


def _classify(model: ViT, image: np.ndarray, image_id: int, mapping: dict[int, int], device) -> list[dict]:
    pixels = vit_transform(image, model.config).to(device)
    probs = model(pixels)["logits"].float().softmax(-1)[0].tolist()
    return [{"image_id": image_id, "category_id": cat_id, "score": probs[index]}
            for index, cat_id in sorted(mapping.items())]


@torch.inference_mode()
def predict_coco(model: nn.Module, images: str | Path | Mapping[int, str | Path | None], ground_truth: GroundTruth,
                 device: str | torch.device = "cpu",
                 on_image: Callable[[int, int], None] | None = None) -> list[dict]:
    """COCO results of ``model`` (DETR, ViT or another detector family, in eval mode) on every image of
    ``ground_truth``; see the module docstring for the records.

    images: a folder holding each image's ``file_name``, or {image id: file} (e.g. `LoadedDataset.image_files`).
    on_image: called as ``on_image(done, total)`` after each image (progress).

    Raises:
        CategoryMismatchError: a category of ``ground_truth`` the model does not know (both sides listed).
        DatasetError: an image without a file.
        ImageLoadError: an image file that cannot be read (the message names it).
    """
    family = getattr(getattr(model, "config", None), "model_type", None) in family_modules()
    if not isinstance(model, (DETR, ViT)) and not family:
        raise TypeError(f"expected a DETR, a ViT or a detector family of cvdemo.models, got {type(model).__name__}")
    files = _image_files(images, ground_truth)
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    if not id2label:
        raise CategoryMismatchError("the model has no class names (config.id2label is empty), so its classes "
                                    "cannot be matched to the annotation file's categories by name")
    mapping = map_categories(id2label, ground_truth.categories)
    left_out = sorted(set(id2label) - set(mapping))
    if left_out:
        log.info("%d model classes are not in the annotations and are left out: %s", len(left_out),
                 [id2label[k] for k in left_out][:10])
    run = _detect if isinstance(model, DETR) else _classify if isinstance(model, ViT) else _detect_family
    results: list[dict] = []
    for done, info in enumerate(ground_truth.images, 1):
        results += run(model, load_image_file(files[info.id]), info.id, mapping, device)
        if on_image is not None:
            on_image(done, len(ground_truth.images))
    return results


def _image_files(images: str | Path | Mapping[int, str | Path | None], ground_truth: GroundTruth) -> dict[int, Path]:
    """{image id: file} for every image of ``ground_truth``; DatasetError for one without a file."""
    if isinstance(images, Mapping):
        files = {info.id: images.get(info.id) for info in ground_truth.images}
        missing = [info.file_name or str(info.id) for info in ground_truth.images if files[info.id] is None]
        if missing:
            raise DatasetError(f"{len(missing)} of {len(ground_truth.images)} images have no image file "
                               f"(first: {missing[0]!r}); the model needs every image")
        return {k: Path(v) for k, v in files.items()}
    without_name = [info.id for info in ground_truth.images if not info.file_name]
    if without_name:
        raise DatasetError(f"image id {without_name[0]} has no file_name in the annotations")
    return {info.id: Path(images) / info.file_name for info in ground_truth.images}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (0, or 2 for bad input)."""
    parser = argparse.ArgumentParser(prog="python -m cvdemo.predict",
                                     description="Run a DETR or ViT over the images of a COCO annotation "
                                                 "file and write COCO results (every query for DETR, no "
                                                 "threshold; every class's score for ViT).")
    parser.add_argument("model", help="a checkpoint folder, an original DETR .pth, or hf:<repo_id>")
    parser.add_argument("--images", required=True, type=Path, help="folder holding each image's file_name")
    parser.add_argument("--annotations", required=True, type=Path, help="COCO instances json")
    parser.add_argument("--out", required=True, type=Path, help="results json to write")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    try:
        ground_truth = load_coco_ground_truth(args.annotations)
        model = cvdemo.models.load(args.model, device=device)
        start = time.perf_counter()
        results = predict_coco(model, args.images, ground_truth, device)
    except (CheckpointError, DatasetError, ImageLoadError, CategoryMismatchError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results), encoding="utf-8")
    log.info("%d results for %d images in %.1f s written to %s", len(results), len(ground_truth.images),
             time.perf_counter() - start, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
