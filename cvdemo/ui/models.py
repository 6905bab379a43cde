"""The models the app offers, in the user's words: the default list, the note under a dropdown, and running a
registry model from a handler (a message while it loads, the wrong kind refused by name)."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from cvdemo.models.registry import CHECKPOINTS, ModelRegistry, ModelSpec, ModelUnavailableError, Task, shipped_metrics
from cvdemo.ui.errors import translate
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES
from cvdemo.ui.texts.common import T

__all__ = ["call_model", "default_model_specs", "model_note", "require_task", "shipped_quality"]

R = TypeVar("R")


def shipped_quality(folder: Path, locale: str = DEFAULT_LOCALE) -> str:
    """The model card's headline metric from ``folder/metrics.json`` in ``locale`` ("" when there is none)."""
    metrics = shipped_metrics(folder)
    if "AP" in metrics and "AP50" in metrics:
        return T.text("quality_detect", locale, ap=metrics["AP"], ap50=metrics["AP50"])
    if "accuracy" in metrics:
        return T.text("quality_classify", locale, accuracy=metrics["accuracy"])
    return ""


# the shipped detectors of the other families (the Detectors tab): offered when their folder exists
FAMILY_CHECKPOINTS = ("fasterrcnn-shapes", "ssd-shapes", "yolo-shapes", "rcnn-shapes")
# torchvision's COCO-trained detectors, downloaded on first use (for photos)
COCO_FAMILIES = (("torchvision/fasterrcnn_resnet50_fpn", "FasterRCNN_ResNet50_FPN_Weights.COCO_V1", "about_tv_frcnn"),
                 ("torchvision/ssd300_vgg16", "SSD300_VGG16_Weights.COCO_V1", "about_tv_ssd"),
                 ("torchvision/retinanet_resnet50_fpn", "RetinaNet_ResNet50_FPN_Weights.COCO_V1", "about_tv_retinanet"))


def default_model_specs(checkpoints: Path = CHECKPOINTS) -> list[ModelSpec]:
    """The shipped checkpoints first (the defaults), then well-known Hub models; the other detector families'
    shipped checkpoints that exist."""

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
        *(ModelSpec(name, str(checkpoints / name), "family", shipped(name, f"about_{name.replace('-', '_')}"))
          for name in FAMILY_CHECKPOINTS if (checkpoints / name).is_dir()),
        *(ModelSpec(name, f"torchvision:{weights}", "family", T.pair(about)) for name, weights, about in COCO_FAMILIES),
        ModelSpec("vit-shapes", str(checkpoints / "vit-shapes"), "classify",
                  shipped("vit-shapes", "about_vit_shapes")),
        ModelSpec("google/vit-base-patch16-224", "hf:google/vit-base-patch16-224", "classify",
                  T.pair("about_vit_b16")),
        ModelSpec("facebook/deit-tiny-patch16-224", "hf:facebook/deit-tiny-patch16-224", "classify",
                  T.pair("about_deit_tiny")),
    ]


def model_note(registry: ModelRegistry, name: str | None, locale: str = DEFAULT_LOCALE,
               owner: str | None = None) -> str:
    """One Markdown line under a model dropdown, in ``locale``: what the model is, or why it is not available."""
    if not name:
        return ""
    try:
        spec = registry.spec(name, owner)
    except ModelUnavailableError as e:
        return f"⚠️ {html.escape(translate(e, locale), quote=False)}"
    reason = registry.unavailable_reason(name, owner)
    if reason:
        return f"⚠️ **{T.text('not_available', locale)}** {html.escape(translate(reason, locale))}"
    about = spec.about_in(locale)
    return f"*{html.escape(about)}*" if about else ""


def require_task(registry: ModelRegistry, name: Any, task: Task, locale: str = DEFAULT_LOCALE,
                 owner: str | None = None) -> str:
    """``name`` if it is a ``task`` model ``owner`` may use; else a gr.Error that says which models fit (a ViT
    name sent to /detect, a name that does not exist, a number instead of a name)."""
    try:
        registry.require(name if isinstance(name, str) else repr(name), task, owner)
    except ModelUnavailableError as e:
        raise gr.Error(html.escape(translate(e, locale), quote=False), title=T.text("model_unavailable_title", locale),
                       print_exception=False) from None
    return name


def call_model(registry: ModelRegistry, infer: Callable[[str, Any], R], name: str, pixels: Any,
               progress: gr.Progress, locale: str = DEFAULT_LOCALE, owner: str | None = None) -> R:
    """``infer(name, pixels)``; on a model's first use say that it is loading (downloading, for Hub models).
    A model that cannot be loaded becomes a gr.Error with the registry's explanation, in ``locale``."""
    try:
        if not registry.is_loaded(name, owner):
            if registry.spec(name, owner).from_hub:
                gr.Info(T.text("loading_from_hub", locale, name=name))
            progress(0.1, desc=T.text("loading", locale, name=name))
        return infer(name, pixels)
    except ModelUnavailableError as e:
        raise gr.Error(html.escape(translate(e, locale), quote=False), title=T.text("model_unavailable_title", locale),
                       print_exception=False) from None
