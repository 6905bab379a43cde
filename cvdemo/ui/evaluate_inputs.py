"""The Evaluate tab's inputs, shared by its evaluation (`cvdemo.ui.evaluate_tab`) and its comparison
(`cvdemo.ui.evaluate_compare`).

Uploads: `files_of` reads a gr.File payload; `new_workdir` makes a folder of the session under `WORK_ROOT` (read at
each call), `remove_session_folders` deletes them all when the session ends. Models: the dropdown's entries
(`model_choices`: the uploaded predictions `UPLOADED`, then every detector of `detectors`), `model_to_run` (a
checked name) and `model_predictions` (the ``predict`` of `cvdemo.metrics.browse.load_evaluation`: the model run on
the data set's images, at most `MAX_MODEL_IMAGES`, as one GPU task). `checked_thresholds` reads the IoU and score
sliders; `keep` puts an evaluation or a comparison in its session store.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from cvdemo.datasets.coco import load_coco_detections
from cvdemo.datasets.folder import LoadedDataset
from cvdemo.datasets.structure import DatasetError
from cvdemo.images import ImageLoadError
from cvdemo.metrics.browse import MIN_IOU, EvaluationBrowser
from cvdemo.metrics.comparison import LoadedComparison
from cvdemo.models.registry import ModelRegistry, ModelUnavailableError
from cvdemo.predict import CategoryMismatchError, predict_coco
from cvdemo.session_store import RunTooLargeError
from cvdemo.ui import validate
from cvdemo.ui.errors import translate
from cvdemo.ui.models import require_task
from cvdemo.ui.texts.evaluate import T
from cvdemo.ui.zerogpu import gpu_task

__all__ = ["MAX_IOU", "MAX_MODEL_IMAGES", "UPLOADED", "WORK_ROOT", "checked_thresholds", "detectors", "files_of",
           "keep", "model_choices", "model_predictions", "model_to_run", "new_workdir", "remove_session_folders"]

WORK_ROOT = Path(tempfile.gettempdir()) / "cvdemo-evaluate"  # one sub-folder per evaluation, nothing else
UPLOADED = ""  # the "uploaded predictions" entry of the model dropdown
MAX_IOU = 0.95  # the IoU slider's range is [MIN_IOU, MAX_IOU]
# images a model may be run on in one evaluation (a CPU runs DETR-R50 at ~1 image/s)
MAX_MODEL_IMAGES = int(os.environ.get("CVDEMO_MAX_EVAL_MODEL_IMAGES", "500"))


# --- uploads ---------------------------------------------------------------------------------------------------

def files_of(payload: Any) -> list[tuple[str, str]]:
    """[(original name, local path)] of a gr.File(file_count="multiple") payload (preprocess=False)."""
    if not payload:
        return []
    out = []
    for item in payload if isinstance(payload, list) else [payload]:
        path = item.get("path") if isinstance(item, dict) else getattr(item, "path", item)
        name = (item.get("orig_name") if isinstance(item, dict) else getattr(item, "orig_name", None)) or path
        if isinstance(path, str) and path:
            out.append((Path(str(name)).name, path))
    return out


def _folder_prefix(session: str) -> str:
    """The prefix of a session's folders under WORK_ROOT (letters and digits of its id only)."""
    return (re.sub(r"[^A-Za-z0-9]", "", session)[:40] or "anonymous") + "-"


def remove_session_folders(session: str) -> None:
    """Delete every folder of ``session`` under WORK_ROOT (registered with `sessions.on_session_end`)."""
    if WORK_ROOT.is_dir():
        for folder in WORK_ROOT.glob(f"{_folder_prefix(session)}*"):
            shutil.rmtree(folder, ignore_errors=True)


def new_workdir(session: str) -> Path:
    """A new, empty folder of ``session`` under `WORK_ROOT`, for one evaluation's or comparison's files."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_folder_prefix(session), dir=WORK_ROOT))


def keep(store, session: str, browser: EvaluationBrowser | LoadedComparison) -> str:
    """``browser`` (an evaluation or a comparison) kept in ``store`` for ``session``: its token (a run too large for
    the store is closed)."""
    try:
        return store.put(session, browser, size=browser.memory_bytes())
    except RunTooLargeError:
        browser.close()
        raise


# --- models ----------------------------------------------------------------------------------------------------

def model_choices(names: list[str], locale: str) -> list[tuple[str, str]]:
    """The model dropdown: the uploaded predictions, then every detection model."""
    return [(T.text("no_model", locale), UPLOADED)] + [(name, name) for name in names]


def detectors(registry: ModelRegistry, owner: str | None) -> list[str]:
    """The detection models of every family ``owner`` may run: the DETRs, then the other families."""
    return registry.names("detect", owner) + registry.names("family", owner)


def model_to_run(registry: ModelRegistry, name: Any, locale: str, owner: str,
                 allowed: list[str] | None = None) -> str:
    """UPLOADED, or the name of a detection model ``owner`` may run (one of ``allowed``, default every family's
    `detectors`); a ViT is refused as the wrong kind."""
    if name is None or name == UPLOADED:
        return UPLOADED
    allowed = detectors(registry, owner) if allowed is None else allowed
    if isinstance(name, str) and name in allowed:
        return name
    if isinstance(name, str) and name in registry.names("classify", owner):
        require_task(registry, name, "detect", locale, owner)  # raises: the wrong kind of model
    shown = str(name) if len(str(name)) <= 80 else str(name)[:77] + "..."
    raise gr.Error(T.text("unknown_model", locale, name=html.escape(shown), names=", ".join(allowed)),
                   title=T.text("cannot_evaluate_title", locale), print_exception=False)


@gpu_task
def _run_model(registry: ModelRegistry, name: str, owner: str, dataset: LoadedDataset, on_image) -> list[dict]:
    return predict_coco(registry.get(name, owner), dataset.image_files, dataset.ground_truth, registry.device,
                        on_image=on_image)


def model_predictions(registry: ModelRegistry, name: str, owner: str, locale: str, progress: gr.Progress,
                      timing: list[float]):
    """``predict`` for `load_evaluation`: ``name`` run on the data set's images (its seconds -> ``timing``)."""
    def predict(dataset: LoadedDataset):
        images = len(dataset.ground_truth.images)
        if images > MAX_MODEL_IMAGES:
            raise DatasetError(T.text("too_many_images", "en", images=images, limit=MAX_MODEL_IMAGES),
                               key="evaluate.too_many_images", images=images, limit=MAX_MODEL_IMAGES)
        started = time.perf_counter()
        try:
            records = _run_model(registry, name, owner, dataset, lambda done, total: progress(
                done / total, desc=T.text("model_progress", locale, model=name, done=done, total=total)))
        except ImageLoadError as e:  # names the image file: a DatasetError, shown without the server's folders
            raise DatasetError(str(e)) from None
        except (CategoryMismatchError, ModelUnavailableError) as e:
            raise gr.Error(html.escape(translate(e, locale), quote=False),
                           title=T.text("cannot_run_model_title", locale), print_exception=False) from None
        timing.append(time.perf_counter() - started)
        return load_coco_detections(records, dataset.ground_truth)
    return predict


# --- thresholds ------------------------------------------------------------------------------------------------

def checked_thresholds(iou_v: Any, score_v: Any, locale: str) -> tuple[float, float]:
    """The IoU and score thresholds within the sliders' ranges (a gr.Error naming the control otherwise)."""
    iou = validate.number(iou_v, name=T.text("iou_label", locale), low=MIN_IOU, high=MAX_IOU, locale=locale)
    score = validate.number(score_v, name=T.text("score_label", locale), low=0.0, high=1.0, locale=locale)
    return iou, score
