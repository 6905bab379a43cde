"""Running a registry model from an event handler: a message while a model loads, errors as `gr.Error`."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TypeVar

import gradio as gr
import numpy as np

from cvdemo.ui.models_registry import ModelRegistry, ModelUnavailableError

R = TypeVar("R")


def call_model(registry: ModelRegistry, infer: Callable[[str, np.ndarray], R], name: str, pixels: np.ndarray,
               progress: gr.Progress) -> R:
    """`infer(name, pixels)`; on a model's first use say that it is loading (downloading, for Hub models).
    A model that cannot be loaded becomes a gr.Error with the registry's explanation."""
    try:
        if not registry.is_loaded(name):
            if registry.spec(name).from_hub:
                gr.Info(f"Loading {name} from the Hugging Face Hub (first use only; this can take a minute)…")
            progress(0.1, desc=f"Loading {name}…")
        return infer(name, pixels)
    except ModelUnavailableError as e:
        raise gr.Error(html.escape(str(e), quote=False), title="Model not available",
                       print_exception=False) from None
