"""Keeping a model trained live: save it as a checkpoint folder, read a fresh copy back, push it to the Hub.

    saved = save_trained_model(job.model, folder, name=model_name("my detr", taken), task="detect")
    registry.add(ModelSpec(saved.name, str(saved.folder), saved.task, about), model=saved.model, owner=session)
    url = push_to_hub(saved.folder, "me/my-detr", token)
    best, default = suggested_threshold(job.model, job.setup.task, job.setup.val_data)  # a detector's threshold

The checkpoint is `cvdemo.models.save`'s format (``config.json`` + ``model.safetensors``). Errors a user can act
on are `PushError` (`UserError`) with keys of the "train" catalog.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

import cvdemo.models
from cvdemo.messages import UserError
from cvdemo.metrics.score_threshold import ThresholdCounts, best_threshold, threshold_counts

__all__ = ["DEFAULT_THRESHOLD", "MODEL_FILES", "PushError", "SavedModel", "model_name", "push_to_hub",
           "save_trained_model", "suggested_threshold"]

log = logging.getLogger(__name__)

MODEL_FILES = ("config.json", "model.safetensors")
DEFAULT_NAME = "my-model"
MAX_NAME = 40  # characters of a saved model's name
DEFAULT_THRESHOLD = 0.5  # the Detect tab's score threshold when it opens
MAX_THRESHOLD_IMAGES = 64  # validation images a saved detector is run on to suggest its threshold
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


class PushError(UserError, ValueError):
    """The model cannot be pushed (no token, a malformed repository id, nothing saved, offline, the Hub refused)."""


@dataclass(frozen=True)
class SavedModel:
    """A saved model: its name, checkpoint folder, task ("detect" | "classify") and a fresh copy read back from the
    files (the instance to serve: the training run's own model is left alone)."""

    name: str
    folder: Path
    task: str
    model: nn.Module

    @property
    def files(self) -> list[Path]:
        """The checkpoint's files, for download."""
        return [self.folder / name for name in MODEL_FILES]


def model_name(wanted: Any, taken: Iterable[str]) -> str:
    """A name for a saved model from what the user typed: letters, digits, ``_.-`` (other runs of characters
    become "-"), at most `MAX_NAME` characters, not starting with a dot, "my-model" when nothing is left; "-2",
    "-3", ... appended until it differs from every name in ``taken``."""
    text = wanted.strip() if isinstance(wanted, str) else ""
    base = re.sub(r"[^\w.-]+", "-", text).strip("-.")[:MAX_NAME].strip("-.") or DEFAULT_NAME
    taken = set(taken)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def save_trained_model(model: nn.Module, folder: str | Path, *, name: str, task: str) -> SavedModel:
    """Write ``model`` into ``folder`` (created) and read it back: the copy a registry serves is exactly what
    the files hold."""
    folder = cvdemo.models.save(model, folder)
    return SavedModel(name=name, folder=folder, task=task, model=cvdemo.models.load(folder))


def suggested_threshold(model: nn.Module, task: Any, val_data: Any, device: str | torch.device = "cpu",
                        max_images: int = MAX_THRESHOLD_IMAGES) -> tuple[ThresholdCounts, ThresholdCounts]:
    """(the score threshold showing the detector's detections best, what `DEFAULT_THRESHOLD` shows) on the first
    ``max_images`` images of ``val_data``, by `cvdemo.metrics.score_threshold`. ``task``: the run's
    `DetectionTask` (its ``snapshot`` runs the model on the images, one at a time)."""
    samples = [val_data[i] for i in range(min(max_images, len(val_data)))]
    predictions = task.snapshot(model, samples, torch.device(device))
    best = best_threshold(predictions)
    default = threshold_counts(predictions, [DEFAULT_THRESHOLD])[0]
    return best, default


def _offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE) or flag


def push_to_hub(folder: str | Path | None, repo_id: Any, token: Any, private: bool = True) -> str:
    """Upload a saved model folder (config.json + model.safetensors) to the user's own Hub repository with the
    user's own token (used for this call only). Returns the repository URL. Raises `PushError`, checked in this
    order: no token, a malformed repository id, no saved model in ``folder``, an offline server, a refusal or
    network error from the Hub."""
    token = token.strip() if isinstance(token, str) else ""
    if not token:
        raise PushError("A Hugging Face token is needed to push: paste a token with write access "
                        "(huggingface.co/settings/tokens). It is used for this upload only and never stored.",
                        key="train.token_needed")
    repo = repo_id.strip() if isinstance(repo_id, str) else ""
    shown = repo if len(repo) <= 100 else repo[:97] + "..."
    if not _REPO_ID.match(repo):
        raise PushError(f"{shown!r} is not a Hub repository id: use <your-user-name>/<model-name>",
                        key="train.bad_repo_id", repo=shown)
    if folder is None or not (Path(folder) / "model.safetensors").is_file():
        raise PushError("Save the trained model first", key="train.save_first")
    if _offline():
        raise PushError("This server works offline (HF_HUB_OFFLINE): it cannot reach the Hugging Face Hub. "
                        "Download the checkpoint and push it from your own computer.", key="train.push_offline")
    from huggingface_hub import HfApi  # only when pushing

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo, repo_type="model", private=bool(private), exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model",
                          allow_patterns=["*.json", "*.safetensors", "*.md"],
                          commit_message="Upload a model trained in the cvdemo app")
    except Exception as e:  # noqa: BLE001 - HTTP, auth and network errors all become a message
        log.warning("push to %s failed: %s: %s", repo, type(e).__name__, e)
        error = f"{type(e).__name__}: {e}"
        error = error if len(error) <= 300 else error[:297] + "..."
        raise PushError(f"Pushing to {repo} failed: {error}", key="train.push_failed", repo=repo,
                        error=error) from None
    return str(url)
