"""Running a registry model from an event handler: a message while a model loads, errors as `gr.Error`."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TypeVar

import gradio as gr
import numpy as np

from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.models_registry import ModelRegistry, ModelUnavailableError
from cvdemo.ui.texts.common import T

R = TypeVar("R")


def call_model(registry: ModelRegistry, infer: Callable[[str, np.ndarray], R], name: str, pixels: np.ndarray,
               progress: gr.Progress, locale: str = DEFAULT_LOCALE) -> R:
    """`infer(name, pixels)`; on a model's first use say that it is loading (downloading, for Hub models).
    A model that cannot be loaded becomes a gr.Error with the registry's explanation. Messages in ``locale``."""
    try:
        if not registry.is_loaded(name):
            if registry.spec(name).from_hub:
                gr.Info(T.text("loading_from_hub", locale, name=name))
            progress(0.1, desc=T.text("loading", locale, name=name))
        return infer(name, pixels)
    except ModelUnavailableError as e:
        raise gr.Error(html.escape(str(e), quote=False), title=T.text("model_unavailable_title", locale),
                       print_exception=False) from None
