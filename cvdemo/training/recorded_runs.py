"""Recorded live runs: a preset's default Train-tab run, measured once and shipped, shown before anyone trains.

A newcomer opening the Train tab sees what the ``tiny`` preset's default run does on a small CPU (its curves and
its last snapshot) before pressing Start, and can overlay it on their own run. A recording is one JSON file,
``examples/train-runs/<kind>-<preset>.json``, written by ``benchmarks/bench_train_presets.py --record``:

    {"kind": "detr", "preset": "tiny", "request": {TrainRequest fields}, "hardware": "...", "command": "...",
     "recorded": "2026-12-06", "curves": RunCurves.to_dict(),
     "snapshot": {"step": ..., "id2label": {...}, "predictions": [ImagePrediction / ClassPrediction .to_dict()]}}

The snapshot's images are not stored: the generated validation images are regenerated from the request (the
shapes generator draws item ``i`` from ``(seed, i)`` alone), and each prediction's ``image_id`` is checked
against them. `load_recorded_run` returns None when there is no recording (or it no longer fits the preset).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvdemo.training.events import ClassPrediction, ImagePrediction, SnapshotEvent
from cvdemo.training.run_curves import RunCurves

__all__ = ["RECORDED_DIR", "RecordedRun", "load_recorded_run", "recorded_path", "write_recorded_run"]

log = logging.getLogger(__name__)

RECORDED_DIR = Path(__file__).resolve().parents[2] / "examples" / "train-runs"


@dataclass(frozen=True)
class RecordedRun:
    """A shipped run: its ``curves``, its last ``snapshot`` (images regenerated), the ``request`` that made it
    (`TrainRequest` fields), the ``hardware`` and ``command`` it ran on, the date it was ``recorded``."""

    kind: str
    preset: str
    request: dict[str, Any]
    hardware: str
    command: str
    recorded: str
    curves: RunCurves
    snapshot: SnapshotEvent | None


def recorded_path(kind: str, preset: str, folder: Path = RECORDED_DIR) -> Path:
    return folder / f"{kind}-{preset}.json"


def write_recorded_run(path: Path, *, kind: str, preset: str, request: dict[str, Any], hardware: str,
                       command: str, curves: RunCurves, snapshot: SnapshotEvent | None) -> Path:
    """Write a recording (see the module docstring); returns ``path``."""
    data = {"kind": kind, "preset": preset, "request": request, "hardware": hardware, "command": command,
            "recorded": datetime.date.today().isoformat(), "curves": curves.thinned().to_dict(),
            "snapshot": None if snapshot is None else snapshot.to_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    return path


def _prediction(item: dict[str, Any], image: np.ndarray) -> ImagePrediction | ClassPrediction:
    if "probs" in item:
        return ClassPrediction(image_id=int(item["image_id"]), image=image, label=int(item["label"]),
                               probs=np.asarray(item["probs"], np.float32))
    fields = {f.name for f in dataclasses.fields(ImagePrediction)} - {"image", "image_id"}
    arrays = {name: np.asarray(item[name], np.int64 if name in ("gt_labels", "labels", "query_index", "matched_gt")
                               else np.float32) for name in fields}
    arrays["gt_boxes_xyxy"] = arrays["gt_boxes_xyxy"].reshape(-1, 4)
    arrays["boxes_xyxy"] = arrays["boxes_xyxy"].reshape(-1, 4)
    return ImagePrediction(image_id=int(item["image_id"]), image=image, **arrays)


def _snapshot(data: dict[str, Any] | None, val_data) -> SnapshotEvent | None:
    if not data:
        return None
    predictions = []
    for i, item in enumerate(data["predictions"]):
        image, target = val_data[i]
        if int(target["image_id"]) != int(item["image_id"]):
            raise ValueError(f"prediction {i} is of image {item['image_id']}, the data's image {i} is "
                             f"{target['image_id']}")
        predictions.append(_prediction(item, image.permute(1, 2, 0).numpy().copy()))
    return SnapshotEvent(step=int(data["step"]), epoch=int(data.get("epoch", 0)),
                         id2label={int(k): str(v) for k, v in data["id2label"].items()},
                         predictions=tuple(predictions))


def load_recorded_run(kind: str, preset: str, folder: Path = RECORDED_DIR) -> RecordedRun | None:
    """The recording of ``kind``'s ``preset`` with its snapshot images regenerated; None when there is none or
    it cannot be read (logged)."""
    from cvdemo.training.kinds import KINDS  # the presets, imported late: kinds imports the training modules

    path = recorded_path(kind, preset, folder)
    if not path.is_file() or kind not in KINDS or preset not in KINDS[kind].presets:
        return None
    try:
        data = json.loads(path.read_text())
        request = dict(data["request"])
        _, val = KINDS[kind].presets[preset].datasets(num_val=int(request["num_val_images"]),
                                                      seed=int(request.get("seed", 0)))
        return RecordedRun(kind, preset, request, str(data["hardware"]), str(data["command"]),
                           str(data.get("recorded", "")), RunCurves.from_dict(data["curves"]),
                           _snapshot(data.get("snapshot"), val))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        log.warning("recorded run %s cannot be read: %s", path, e)
        return None
