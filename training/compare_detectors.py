"""Every shipped detector on one fresh evaluation set, side by side: the comparison the Detectors tab shows.

    python -m training.compare_detectors [--models checkpoints/detr-shapes checkpoints/fasterrcnn-shapes ...]
                                         [--images 500] [--seed 777] [--out examples/detectors-comparison.json]

Generates ``--images`` images of the shared distribution (`cvdemo.datasets.shapes.SHARED_SHAPES`, seed ``--seed``,
a seed no shipped detector trained or validated on) once, runs every model of ``--models`` on the same images (a
folder that does not exist is skipped with a warning) and writes, per model:

- the 12 COCO numbers of its detections as shipped (DETR: every query with its best class, as DETR's official
  evaluation; a CNN family: its own score threshold and NMS), AP per class;
- TIDE's error counts (`cvdemo.metrics.tide`) at IoU 0.5 of the detections scoring >= 0.5;
- duplicates per object (`cvdemo.metrics.duplicates`, score >= 0.5, IoU >= 0.5) of the detections as shipped, and
  for a CNN family also before its NMS (``model.inspect(...)["detections_before_nms"]``), for DETR also after a
  class-wise NMS at IoU 0.5 (what an NMS would still remove);
- images/s at batch 1 on this machine with one thread (whole pipeline: preprocessing, network, post-processing),
  measured side by side: the models take turns on the same images in each round, the median round counts;
- parameters, MB on disk, and ``minutes_to_AP50`` / ``steps_to_AP50`` / ``train_minutes`` copied from the
  checkpoint's ``metrics.json`` (written by ``training.model_card``; null when it has none).

`cvdemo.detector_comparison.load_comparison` reads the file back (the Detectors tab) and checks the study notes'
claims against it. `evaluate_detector` is also what ``training.model_card`` measures a card's numbers with.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

import cvdemo.models
from cvdemo.boxes import box_xyxy_to_xywh
from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesConfig, ShapesDataset
from cvdemo.datasets.structure import Detections
from cvdemo.detector_comparison import COCO_KEYS, FORMAT, VERSION, family_of
from cvdemo.metrics import evaluate_coco, tide_errors
from cvdemo.metrics.duplicates import DuplicateCounts, count_duplicates
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.training.data import ground_truth_of

__all__ = ["DEFAULT_MODELS", "DetectorEvaluation", "EvalSet", "evaluate_detector", "main", "make_eval_set",
           "measure_speed"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("checkpoints/detr-shapes", "checkpoints/fasterrcnn-shapes", "checkpoints/ssd-shapes",
                  "checkpoints/yolo-shapes", "checkpoints/retinanet-shapes", "checkpoints/rcnn-shapes")
SCORE_THRESHOLD = 0.5  # TIDE and duplicates count the detections a viewer sees at the app's default threshold
IOU_THRESHOLD = 0.5
DETR_NMS_IOU = 0.5  # the class-wise NMS DETR does not need (what it would still remove)


@dataclass
class EvalSet:
    """Images generated once and their ground truth: ``images`` uint8 [3, H, W] tensors, ``targets`` the
    ShapesDataset targets ("boxes_xyxy" pixel xyxy, "labels" 0..C-1, "image_id"), ``gt`` the `GroundTruth`."""

    images: list[torch.Tensor]
    targets: list[dict]
    gt: object
    category_ids: np.ndarray  # model class k -> the ground truth's category id
    seed: int
    config: ShapesConfig

    @property
    def num_objects(self) -> int:
        return sum(len(t["labels"]) for t in self.targets)


def make_eval_set(num_images: int, seed: int, config: ShapesConfig = SHARED_SHAPES) -> EvalSet:
    """``num_images`` fresh images of ``config`` with seed ``seed``, generated once."""
    data = ShapesDataset(num_images, seed, config)
    items = [data[i] for i in range(len(data))]
    return EvalSet([image for image, _ in items], [target for _, target in items], ground_truth_of(data),
                   np.array([c.id for c in data.categories], np.int64), seed, config)


def _numpy(result: dict) -> dict[str, np.ndarray]:
    """{"boxes" float64 [N, 4] pixel xyxy, "labels" int64 [N], "scores" float64 [N]} of a torch result."""
    return {"boxes": result["boxes"].detach().double().cpu().numpy().reshape(-1, 4),
            "labels": result["labels"].detach().cpu().numpy().astype(np.int64),
            "scores": result["scores"].detach().double().cpu().numpy()}


def _detr_detect(model: DETR, image: torch.Tensor) -> dict:
    inputs = prepare_detr_inputs(image.permute(1, 2, 0).numpy(), model.config)
    outputs = model(inputs["pixel_values"], inputs["pixel_mask"])
    return post_process_object_detection(outputs, inputs["original_sizes"])[0]


def detector_runner(model: nn.Module) -> Callable[[torch.Tensor], dict]:
    """One image (uint8 [3, H, W]) -> the model's detections as shipped (pixel xyxy, labels 0..C-1, scores):
    the whole pipeline the app runs, for the evaluation and the speed measurement alike."""
    if isinstance(model, DETR):
        return lambda image: _detr_detect(model, image)
    return lambda image: model([image.float() / 255.0])[0]


def _raw_detections(model: nn.Module, image: torch.Tensor, shipped: dict) -> dict:
    """The detections before the model's NMS: a family's ``inspect`` stage; DETR has none (its shipped ones)."""
    if isinstance(model, DETR):
        return shipped
    return _numpy(model.inspect([image.float() / 255.0])[0]["detections_before_nms"])


def _with_nms(result: dict, iou: float) -> dict:
    keep = batched_nms(torch.from_numpy(result["boxes"]), torch.from_numpy(result["scores"]),
                       torch.from_numpy(result["labels"]), iou).numpy()
    return {k: v[keep] for k, v in result.items()}


@dataclass
class DetectorEvaluation:
    """What `evaluate_detector` measured: ``metrics`` the 12 COCO numbers, ``per_class`` AP per class name,
    ``tide`` counts {loc, cls, dupe, bkg, both, missed}, duplicates as shipped, before the model's NMS (families)
    and after a class-wise NMS (DETR)."""

    metrics: dict[str, float]
    per_class: dict[str, float]
    tide: dict[str, int]
    duplicates: DuplicateCounts
    duplicates_before_nms: DuplicateCounts | None
    duplicates_after_nms: DuplicateCounts | None
    num_images: int
    num_objects: int
    seconds: float

    def as_dict(self) -> dict:
        """The JSON fields shared by the comparison and ``metrics.json`` of a card."""
        def rate(counts: DuplicateCounts | None) -> float | None:
            return None if counts is None else counts.duplicate_rate

        return {**self.metrics, "per_class": self.per_class, "tide": self.tide,
                "duplicates_per_object": self.duplicates.duplicate_rate,
                "duplicates_before_nms_per_object": rate(self.duplicates_before_nms),
                "duplicates_after_nms_per_object": rate(self.duplicates_after_nms),
                "duplicates": dataclasses.asdict(self.duplicates),
                "tide_score_threshold": SCORE_THRESHOLD, "tide_iou_threshold": IOU_THRESHOLD}


def _detections_table(results: list[dict], eval_set: EvalSet) -> Detections:
    columns = [(np.full(len(r["scores"]), int(t["image_id"]), np.int64), eval_set.category_ids[r["labels"]],
                box_xyxy_to_xywh(r["boxes"]), r["scores"]) for r, t in zip(results, eval_set.targets)]
    columns = [c for c in columns if len(c[0])]
    return Detections(*(np.concatenate(col) for col in zip(*columns))) if columns else Detections.empty()


def _duplicates(results: list[dict] | None, eval_set: EvalSet) -> DuplicateCounts | None:
    if results is None:
        return None
    images = [SimpleNamespace(boxes_xyxy=r["boxes"], labels=r["labels"], scores=r["scores"],
                              gt_boxes_xyxy=t["boxes_xyxy"].numpy(), gt_labels=t["labels"].numpy())
              for r, t in zip(results, eval_set.targets)]
    return count_duplicates(images, SCORE_THRESHOLD, IOU_THRESHOLD)


@torch.inference_mode()
def evaluate_detector(model: nn.Module, eval_set: EvalSet) -> DetectorEvaluation:
    """COCO, TIDE and duplicates of ``model`` (DETR or a detector family, put in eval mode) on ``eval_set``, one
    image at a time (batch 1, as DETR's evaluation asks)."""
    model.eval()
    run = detector_runner(model)
    start = time.perf_counter()
    shipped, raw = [], []
    for image in eval_set.images:
        result = _numpy(run(image))
        shipped.append(result)
        raw.append(_raw_detections(model, image, result))
    seconds = time.perf_counter() - start
    detections = _detections_table(shipped, eval_set)
    coco = evaluate_coco(eval_set.gt, detections)
    names = coco.category_names
    tide = tide_errors(eval_set.gt, detections, fg_threshold=IOU_THRESHOLD, score_threshold=SCORE_THRESHOLD)
    is_detr = isinstance(model, DETR)
    return DetectorEvaluation(
        metrics={k: float(coco.stats_dict()[k]) for k in COCO_KEYS},
        per_class={names.get(c, str(c)): float(v["AP"]) for c, v in coco.per_class().items()},
        tide=tide.counts(), duplicates=_duplicates(shipped, eval_set),
        duplicates_before_nms=None if is_detr else _duplicates(raw, eval_set),
        duplicates_after_nms=_duplicates([_with_nms(r, DETR_NMS_IOU) for r in shipped], eval_set) if is_detr
        else None,
        num_images=len(eval_set.images), num_objects=eval_set.num_objects, seconds=seconds)


@torch.inference_mode()
def measure_speed(models: dict[str, nn.Module], images: Sequence[torch.Tensor], rounds: int = 5,
                  threads: int = 1) -> dict[str, float]:
    """Median images/s of each model at batch 1 over ``rounds`` rounds; in each round every model in turn runs
    its whole pipeline on all ``images`` (the same load for all on a shared machine). One warm-up image each."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runners = {name: detector_runner(model.eval()) for name, model in models.items()}
        for run in runners.values():
            run(images[0])
        rates: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(rounds):
            for name, run in runners.items():
                start = time.perf_counter()
                for image in images:
                    run(image)
                rates[name].append(len(images) / (time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous)
    return {name: statistics.median(values) for name, values in rates.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _card_numbers(folder: Path) -> dict:
    """minutes_to_AP50, steps_to_AP50 and train_minutes from the checkpoint's metrics.json (None when absent)."""
    try:
        card = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        card = {}
    return {k: card.get(k) for k in ("minutes_to_AP50", "steps_to_AP50", "train_minutes")}


def _model_row(folder: Path, model: nn.Module, evaluation: DetectorEvaluation, images_per_s: float) -> dict:
    return {"name": folder.name, "path": str(folder), "family": family_of(model.config.model_type),
            "model_type": model.config.model_type, **evaluation.as_dict(), "images_per_s": images_per_s,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "size_mb": (folder / "model.safetensors").stat().st_size / 2**20, **_card_numbers(folder)}


def _load_models(paths: Sequence[Path]) -> dict[Path, nn.Module]:
    models = {}
    for path in paths:
        if not path.is_dir():
            log.warning("%s does not exist: left out of the comparison", path)
            continue
        models[path] = cvdemo.models.load(path).eval()
        family_of(models[path].config.model_type)  # raises for a model that is not a detector
    return models


def compare(paths: Sequence[Path], num_images: int, seed: int, rounds: int = 5, speed_images: int = 20,
            threads: int = 1, command: str = "") -> dict:
    """The comparison's JSON (module docstring) of the detectors in ``paths`` (missing folders skipped)."""
    models = _load_models(paths)
    eval_set = make_eval_set(num_images, seed)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        evaluations = {path: evaluate_detector(model, eval_set) for path, model in models.items()}
    finally:
        torch.set_num_threads(previous)
    speed = measure_speed({str(p): m for p, m in models.items()}, eval_set.images[:speed_images], rounds, threads)
    return {
        "format": FORMAT, "version": VERSION, "command": command,
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
                    "platform": platform.platform()},
        "eval": {"distribution": dataclasses.asdict(eval_set.config), "seed": seed, "images": num_images,
                 "objects": eval_set.num_objects, "iou_threshold": IOU_THRESHOLD, "score_threshold": SCORE_THRESHOLD},
        "speed": {"batch_size": 1, "rounds": rounds, "images_per_round": min(speed_images, num_images),
                  "threads": threads, "statistic": "median round"},
        "models": [_model_row(p, m, evaluations[p], speed[str(p)]) for p, m in models.items()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare_detectors",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, nargs="+", default=[Path(p) for p in DEFAULT_MODELS],
                        help="checkpoint folders (DETR or a detector family); missing ones are skipped")
    parser.add_argument("--images", type=int, default=500, help="images of the fresh evaluation set")
    parser.add_argument("--seed", type=int, default=777, help="seed of the fresh evaluation set")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the speed measurement")
    parser.add_argument("--speed-images", type=int, default=20, help="images per model and round (batch 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for evaluation and speed")
    parser.add_argument("--out", type=Path, default=Path("examples/detectors-comparison.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.images < 1 or args.rounds < 1 or args.speed_images < 1:
        parser.error("--images, --rounds and --speed-images must be >= 1")
    command = "python -m training.compare_detectors " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    result = compare(args.models, args.images, args.seed, args.rounds, args.speed_images, args.threads,
                     command.strip())
    if not result["models"]:
        parser.exit(1, "error: none of the --models folders exists\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for row in result["models"]:
        log.info("%-18s AP %.3f  APs %.3f  APm %.3f  dupes/object %.3f  %.1f images/s", row["name"], row["AP"],
                 row["APs"], row["APm"], row["duplicates_per_object"], row["images_per_s"])
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
