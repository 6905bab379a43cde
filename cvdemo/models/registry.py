"""The app's models: which ones it offers, and one lazily loaded, shared copy of each.

A `ModelSpec` names a model for the dropdowns and says where `cvdemo.models.load` finds it (a local checkpoint
folder or ``hf:<repo_id>``). `ModelRegistry.get(name)` loads a model on first use, once, however many sessions ask
at the same time, and hands every session the same instance (eval mode, on the GPU when there is one).

Models given at construction are shared by every session. A model added later with an ``owner`` (a browser
session that trained and saved it) is seen only by that owner (`names`, `spec`, `get` take ``owner``), at most
`MAX_MODELS_PER_OWNER` of them (the oldest is replaced), and `drop_owner` forgets them when the session ends.
Errors are `ModelUnavailableError` (a `UserError` with a message key); nothing here imports gradio.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

import cvdemo.models
from cvdemo.messages import Message, UserError
from cvdemo.models.detr import DETR
from cvdemo.models.loading import family_modules

__all__ = ["CHECKPOINTS", "MAX_MODELS_PER_OWNER", "ModelRegistry", "ModelSpec", "ModelUnavailableError", "Task",
           "default_device", "model_task", "shipped_metrics"]

logger = logging.getLogger(__name__)

# "detect": a DETR (attention, matching); "family": another detector family (Faster R-CNN, SSD, YOLO, RetinaNet,
# R-CNN: `cvdemo.models.loading.FAMILY_MODULES`); "classify": a ViT
Task = Literal["detect", "family", "classify"]
TASKS = ("detect", "family", "classify")
TASK_WORDS = {"detect": "a DETR detector", "family": "a detector of another family (Faster R-CNN, SSD, YOLO, ...)",
              "classify": "an image classifier (ViT)"}
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "checkpoints"
MAX_MODELS_PER_OWNER = 3  # models one session may add (saved from the Train tab); the oldest is replaced


class ModelUnavailableError(UserError, RuntimeError):
    """A model that cannot be used now (unknown, not trained yet, offline, wrong kind); the message says why."""


@dataclass(frozen=True)
class ModelSpec:
    """name: shown in the dropdown; source: for `cvdemo.models.load`; task: "detect" (DETR), "family" (another
    detector family) or "classify" (ViT); about: one line for the UI, the same in every language or {locale: text}."""

    name: str
    source: str
    task: Task
    about: str | Mapping[str, str] = ""

    def about_in(self, locale: str = "en") -> str:
        """``about`` in ``locale`` (English when that language is missing)."""
        if isinstance(self.about, str):
            return self.about
        return self.about.get(locale) or self.about.get("en", "")

    @property
    def from_hub(self) -> bool:
        """Downloaded on first use: a Hugging Face Hub id (``hf:``) or torchvision's weights (``torchvision:``)."""
        return self.source.startswith(("hf:", "torchvision:"))


def shipped_metrics(folder: Path) -> dict:
    """The model card's metrics, ``folder/metrics.json`` ({} when there is none or it cannot be read)."""
    try:
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ModelRegistry:
    """Lazy, thread-safe cache of the app's models.

    specs: the models every session is offered (names must be unique). device: where models run (default: CUDA
    if present).
    """

    def __init__(self, specs: Iterable[ModelSpec], device: str | torch.device | None = None):
        self._shared: dict[str, ModelSpec] = {}
        for spec in specs:
            _check_task(spec)
            if spec.name in self._shared:
                raise ValueError(f"two models are named {spec.name!r}")
            self._shared[spec.name] = spec
        self._owned: dict[str, dict[str, ModelSpec]] = {}  # owner -> name -> spec, oldest first
        self.device = torch.device(device) if device is not None else default_device()
        self._models: dict[tuple[str | None, str], nn.Module] = {}  # (owner or None, name) -> model
        self._lock = threading.Lock()
        self._loading: dict[tuple[str | None, str], threading.Lock] = {}

    # -- what is on offer ------------------------------------------------------------------------------------
    def names(self, task: Task, owner: str | None = None) -> list[str]:
        """Names of the ``task`` models ``owner`` may use: the shared ones, then the owner's own."""
        with self._lock:
            specs = [*self._shared.values(), *self._owned.get(owner, {}).values()] if owner else \
                list(self._shared.values())
        return [s.name for s in specs if s.task == task]

    def spec(self, name: str, owner: str | None = None) -> ModelSpec:
        """The spec of ``name`` as ``owner`` sees it; ModelUnavailableError for a name it cannot see."""
        with self._lock:
            spec = self._shared.get(name) or (self._owned.get(owner, {}).get(name) if owner else None)
            visible = list(self._shared) + (list(self._owned.get(owner, {})) if owner else [])
        if spec is None:
            shown = name if isinstance(name, str) and len(name) <= 80 else repr(name)[:80]
            raise ModelUnavailableError(f"Unknown model {shown!r}; choose one of {visible}",
                                        key="shared.unknown_model", name=shown, choices=", ".join(visible))
        return spec

    def require(self, name: str, task: Task, owner: str | None = None) -> ModelSpec:
        """The spec of ``name`` if it is a ``task`` model; ModelUnavailableError (unknown, or the other kind:
        a ViT sent where a detector is needed) otherwise."""
        spec = self.spec(name, owner)
        if spec.task != task:
            choices = ", ".join(self.names(task, owner))
            raise ModelUnavailableError(f"'{name}' is {TASK_WORDS[spec.task]}; this needs {TASK_WORDS[task]}. "
                                        f"Choose one of: {choices}.", key="shared.wrong_task", name=name,
                                        choices=choices, kind=_kind(spec.task), need=_kind(task))
        return spec

    def unavailable_reason(self, name: str, owner: str | None = None) -> Message | None:
        """Why ``name`` cannot load without trying it (a local folder that does not exist yet), else None."""
        spec = self.spec(name, owner)
        if spec.from_hub or Path(spec.source).exists():
            return None
        return Message("shared.model_missing", {"name": name, "source": spec.source})

    def is_loaded(self, name: str, owner: str | None = None) -> bool:
        with self._lock:
            return self._slot(name, owner) in self._models

    # -- models ----------------------------------------------------------------------------------------------
    def get(self, name: str, owner: str | None = None) -> nn.Module:
        """The model called ``name`` (as ``owner`` sees it), loaded on first use. Raises ModelUnavailableError with
        a user-facing message when it cannot be loaded (missing folder, offline Hub, a checkpoint of the wrong
        kind)."""
        spec = self.spec(name, owner)
        with self._lock:
            slot = self._slot(name, owner)
            model = self._models.get(slot)
            loading = self._loading.setdefault(slot, threading.Lock())
        if model is not None:
            return model
        with loading:  # one loader per model; other sessions wait for it, then share it
            with self._lock:
                model = self._models.get(slot)
            if model is None:
                model = self._load(spec, owner)
                with self._lock:
                    self._models[slot] = model
        return model

    def add(self, spec: ModelSpec, model: nn.Module | None = None, owner: str | None = None) -> None:
        """Offer one more model: to every session (``owner`` None), or to ``owner`` only (a model a session saved;
        beyond `MAX_MODELS_PER_OWNER` its oldest is forgotten). With ``model``, that instance is used (moved to the
        registry's device, prepared for inference); without, it loads from ``spec.source`` on first use.
        A name already on offer to that owner raises ValueError; a model of the wrong kind, ModelUnavailableError."""
        _check_task(spec)
        if model is not None:
            model = self._prepare(spec, model.to(self.device))
        with self._lock:
            if spec.name in self._shared or (owner and spec.name in self._owned.get(owner, {})):
                raise ValueError(f"a model named {spec.name!r} is already on offer")
            if owner is None:
                self._shared[spec.name] = spec
            else:
                mine = self._owned.setdefault(owner, {})
                mine[spec.name] = spec
                while len(mine) > MAX_MODELS_PER_OWNER:
                    oldest = next(iter(mine))
                    del mine[oldest]
                    self._forget((owner, oldest))
            if model is not None:
                self._models[(owner, spec.name)] = model
        logger.info("added model %s (%s)%s", spec.name, spec.source, f" for session {owner}" if owner else "")

    def remove(self, name: str, owner: str | None = None) -> None:
        """Stop offering ``name`` (to ``owner``, or the shared model) and drop its loaded copy; unknown names are
        ignored."""
        with self._lock:
            if owner is None:
                self._shared.pop(name, None)
            else:
                self._owned.get(owner, {}).pop(name, None)
            self._forget((owner, name))

    def drop_owner(self, owner: str) -> None:
        """Forget every model ``owner`` added (its session ended)."""
        with self._lock:
            for name in self._owned.pop(owner, {}):
                self._forget((owner, name))

    def owned(self, owner: str) -> list[str]:
        """Names of the models ``owner`` added, oldest first."""
        with self._lock:
            return list(self._owned.get(owner, {}))

    def _slot(self, name: str, owner: str | None) -> tuple[str | None, str]:
        return (None, name) if name in self._shared or owner is None else (owner, name)

    def _forget(self, slot: tuple[str | None, str]) -> None:
        self._models.pop(slot, None)
        self._loading.pop(slot, None)

    def _load(self, spec: ModelSpec, owner: str | None) -> nn.Module:
        reason = self.unavailable_reason(spec.name, owner)
        if reason:
            raise ModelUnavailableError(
                f"The model '{spec.name}' is not available: {spec.source} does not exist yet (the shipped "
                "checkpoint has not been trained or copied here). Choose another model.",
                key=reason.key, **reason.fields)
        start = time.perf_counter()
        try:
            model = cvdemo.models.load(spec.source, device=self.device)
        except cvdemo.models.CheckpointError as e:
            raise ModelUnavailableError(f"Cannot load '{spec.name}': {e}") from e
        except OSError as e:  # network errors from huggingface_hub that are not CheckpointErrors
            raise ModelUnavailableError(f"Cannot load '{spec.name}' ({type(e).__name__}: {e}). "
                                        "Check the network connection, or choose a shipped model.") from e
        model = self._prepare(spec, model)
        logger.info("loaded %s from %s in %.1f s on %s", spec.name, spec.source, time.perf_counter() - start,
                    self.device)
        return model

    @staticmethod
    def _prepare(spec: ModelSpec, model: nn.Module) -> nn.Module:
        """Check the model's kind against spec.task; eval mode, no gradients, DETR folded for inference."""
        task = model_task(model)
        if task != spec.task:
            raise ModelUnavailableError(f"'{spec.name}' is {TASK_WORDS[task]}; it cannot be used as "
                                        f"{TASK_WORDS[spec.task]}.")
        if task == "detect":
            model.optimize_for_inference()  # folds frozen BN, channels-last backbone: ~2x faster on CPU
        model.eval().requires_grad_(False)
        return model


def _kind(task: Task) -> Message:
    return Message(f"shared.kind_{task}", english=TASK_WORDS[task])


def model_task(model: nn.Module) -> Task:
    """The registry task of a loaded model: "detect" (DETR), "family" (a `FAMILY_MODULES` model) or "classify"."""
    if isinstance(model, DETR):
        return "detect"
    if getattr(getattr(model, "config", None), "model_type", None) in family_modules():
        return "family"
    return "classify"


def _check_task(spec: ModelSpec) -> None:
    if spec.task not in TASKS:
        raise ValueError(f"{spec.name}: task must be one of {TASKS}, got {spec.task!r}")
