"""The app's models: which ones it offers, and one lazily loaded, shared copy of each.

A `ModelSpec` names a model for the dropdowns and says where `cvdemo.models.load` finds it (a local
checkpoint folder or `hf:<repo_id>`). `ModelRegistry.get(name)` loads a model on first use, once, however
many sessions ask at the same time, and hands every session the same instance (eval mode, on the GPU
when there is one). Nothing here imports gradio.
"""

from __future__ import annotations

import html
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
from cvdemo.models.detr import DETR
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES
from cvdemo.ui.texts.common import T

logger = logging.getLogger(__name__)

Task = Literal["detect", "classify"]
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "checkpoints"


class ModelUnavailableError(RuntimeError):
    """A model that cannot be loaded now (not trained yet, offline, wrong kind); the message says why."""


@dataclass(frozen=True)
class ModelSpec:
    """name: shown in the dropdown; source: for `cvdemo.models.load`; task: "detect" (DETR) or "classify"
    (ViT); about: one line for the UI, the same in every language or {locale: text}."""

    name: str
    source: str
    task: Task
    about: str | Mapping[str, str] = ""

    def about_in(self, locale: str = DEFAULT_LOCALE) -> str:
        """``about`` in ``locale`` (English when that language is missing)."""
        if isinstance(self.about, str):
            return self.about
        return self.about.get(locale) or self.about.get(DEFAULT_LOCALE, "")

    @property
    def from_hub(self) -> bool:
        return self.source.startswith("hf:")


def shipped_quality(folder: Path, locale: str = DEFAULT_LOCALE) -> str:
    """The model card's headline metric from ``folder/metrics.json`` ("" when there is none)."""
    try:
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
    except (OSError, ValueError):
        return ""
    if "AP" in metrics:
        return T.text("quality_detect", locale, ap=metrics["AP"], ap50=metrics["AP50"])
    if "accuracy" in metrics:
        return T.text("quality_classify", locale, accuracy=metrics["accuracy"])
    return ""


def default_model_specs(checkpoints: Path = CHECKPOINTS) -> list[ModelSpec]:
    """The shipped checkpoints first (the defaults), then well-known Hub models."""

    def shipped(name: str, what: str) -> dict[str, str]:
        texts = {}
        for locale in LOCALES:
            quality = shipped_quality(checkpoints / name, locale)
            line = T.text("shipped", locale, what=T.text(what, locale))
            texts[locale] = T.text("shipped_with_quality", locale, line=line, quality=quality) if quality else line
        return texts

    return [
        ModelSpec("detr-shapes", str(checkpoints / "detr-shapes"), "detect",
                  shipped("detr-shapes", "about_detr_shapes")),
        ModelSpec("facebook/detr-resnet-50", "hf:facebook/detr-resnet-50", "detect", T.pair("about_detr_r50")),
        ModelSpec("vit-shapes", str(checkpoints / "vit-shapes"), "classify",
                  shipped("vit-shapes", "about_vit_shapes")),
        ModelSpec("google/vit-base-patch16-224", "hf:google/vit-base-patch16-224", "classify",
                  T.pair("about_vit_b16")),
        ModelSpec("facebook/deit-tiny-patch16-224", "hf:facebook/deit-tiny-patch16-224", "classify",
                  T.pair("about_deit_tiny")),
    ]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ModelRegistry:
    """Lazy, thread-safe cache of the app's models, shared by all sessions.

    specs: the models on offer (names must be unique). device: where models run (default: CUDA if present).
    """

    def __init__(self, specs: Iterable[ModelSpec], device: str | torch.device | None = None):
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"two models are named {spec.name!r}")
            if spec.task not in ("detect", "classify"):
                raise ValueError(f"{spec.name}: task must be 'detect' or 'classify', got {spec.task!r}")
            self._specs[spec.name] = spec
        self.device = torch.device(device) if device is not None else default_device()
        self._models: dict[str, nn.Module] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {name: threading.Lock() for name in self._specs}

    def names(self, task: Task) -> list[str]:
        with self._lock:  # `add` may run in another thread
            specs = list(self._specs.values())
        return [s.name for s in specs if s.task == task]

    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ModelUnavailableError(f"Unknown model {name!r}; "
                                        f"choose one of {list(self._specs)}") from None

    def is_loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._models

    def unavailable_reason(self, name: str) -> str | None:
        """Why `name` cannot load without trying it (a local folder that does not exist yet), else None."""
        spec = self.spec(name)
        if spec.from_hub or Path(spec.source).exists():
            return None
        return (f"The model '{name}' is not available: {spec.source} does not exist yet "
                "(the shipped checkpoint has not been trained or copied here). Choose another model.")

    def get(self, name: str) -> nn.Module:
        """The model called `name`, loaded on first use. Raises ModelUnavailableError with a user-facing
        message when it cannot be loaded (missing folder, offline Hub, a checkpoint of the wrong kind)."""
        spec = self.spec(name)
        with self._lock:
            model = self._models.get(name)
        if model is not None:
            return model
        with self._loading[name]:  # one loader per model; other sessions wait for it, then share it
            with self._lock:
                model = self._models.get(name)
            if model is None:
                model = self._load(spec)
                with self._lock:
                    self._models[name] = model
        return model

    def add(self, spec: ModelSpec, model: nn.Module | None = None) -> None:
        """Offer one more model (e.g. one trained in the app). With ``model``, that instance is used (moved to
        the registry's device, prepared for inference); without, it loads from ``spec.source`` on first use.
        A name already on offer raises ValueError; a model of the wrong kind for ``spec.task``,
        ModelUnavailableError."""
        if spec.task not in ("detect", "classify"):
            raise ValueError(f"{spec.name}: task must be 'detect' or 'classify', got {spec.task!r}")
        if model is not None:
            model = self._prepare(spec, model.to(self.device))
        with self._lock:
            if spec.name in self._specs:
                raise ValueError(f"a model named {spec.name!r} is already on offer")
            self._loading[spec.name] = threading.Lock()
            if model is not None:
                self._models[spec.name] = model
            self._specs[spec.name] = spec
        logger.info("added model %s (%s)", spec.name, spec.source)

    def remove(self, name: str) -> None:
        """Stop offering `name` (a model added with `add`) and drop its loaded copy; unknown names are ignored."""
        with self._lock:
            self._specs.pop(name, None)
            self._models.pop(name, None)
            self._loading.pop(name, None)

    def _load(self, spec: ModelSpec) -> nn.Module:
        reason = self.unavailable_reason(spec.name)
        if reason:
            raise ModelUnavailableError(reason)
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
        is_detr = isinstance(model, DETR)
        if is_detr != (spec.task == "detect"):
            kind = "a DETR detector" if is_detr else "an image classifier"
            raise ModelUnavailableError(f"'{spec.name}' is {kind}; it cannot be used for "
                                        f"{'detection' if spec.task == 'detect' else 'classification'}.")
        if is_detr:
            model.optimize_for_inference()  # folds frozen BN, channels-last backbone: ~2x faster on CPU
        model.eval().requires_grad_(False)
        return model


def model_note(registry: ModelRegistry, name: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """One Markdown line under a model dropdown, in ``locale``: what the model is, or why it is not available
    (the registry's explanation stays in English)."""
    if not name:
        return ""
    try:
        spec = registry.spec(name)
    except ModelUnavailableError as e:
        return f"⚠️ {html.escape(str(e), quote=False)}"
    reason = registry.unavailable_reason(name)
    if reason:
        return f"⚠️ **{T.text('not_available', locale)}** {html.escape(reason)}"
    about = spec.about_in(locale)
    return f"*{html.escape(about)}*" if about else ""
