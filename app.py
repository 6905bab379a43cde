"""cvdemo's web app: `python app.py`, then open http://127.0.0.1:7860.

Layout and wiring only: each tab lives in `cvdemo/ui/<name>_tab.py`, the models in one shared, lazily
loading `ModelRegistry`, and everything the tabs show is computed by the `cvdemo` library. Honours
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT. API endpoints: `/detect` (DETR), `/detectors` (every detector side by
side), `/match` (Hungarian matching and
the loss), `/rollout` (ViT), `/evaluate` (predictions against ground truth), `/train` (live training, with
`/stop_training`, `/save_model`, `/push_to_hub`) and `/claims` (a claim of the study notes with its shipped
results). All text is in English and Simplified Chinese
(`cvdemo/ui/texts/`, chosen by the browser's language).
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.ui import gradio_cache, sessions
from cvdemo.ui.attention_tab import build_attention_tab
from cvdemo.ui.claims_tab import build_claims_tab
from cvdemo.ui.concepts_tab import build_concepts_tab
from cvdemo.ui.detect_tab import build_detect_tab
from cvdemo.ui.detectors_tab import build_detectors_tab
from cvdemo.ui.errors import answers
from cvdemo.ui.evaluate_tab import build_evaluate_tab
from cvdemo.ui.i18n import gradio_i18n
from cvdemo.ui.match_tab import build_match_tab
from cvdemo.ui.models import default_model_specs
from cvdemo.ui.texts.app import T
from cvdemo.ui.train_tab import build_train_tab

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
QUEUE_SIZE = 32  # requests waiting at most; more get "queue full" instead of waiting minutes
MAX_FILE_SIZE = "100mb"  # a COCO-val-sized results json is ~80 MB
# Gradio's cache (uploads and outputs): every CACHE_SWEEP_S, files older than CACHE_MAX_AGE_S are deleted
CACHE_SWEEP_S, CACHE_MAX_AGE_S = 600, 3600
# sessions whose state Gradio keeps (~0.47 MB each: its copy of the page's configuration); the least recently used
# beyond are forgotten (their pages are told to run again). Gradio's default, 10000, would be ~4.7 GB.
MAX_SESSIONS = int(os.environ.get("CVDEMO_MAX_SESSIONS", "64"))

CSS = """
.gradio-container {max-width: 1400px !important}
#detect-summary p {margin: 0.2em 0}
"""


def build_demo(models: Sequence[ModelSpec] | None = None, device: str | None = None) -> gr.Blocks:
    """The whole app. models: what the dropdowns offer (default: the shipped checkpoints, then Hub models)."""
    registry = ModelRegistry(default_model_specs() if models is None else models, device=device)
    return_freed_memory()
    gradio_cache.install()  # identical concurrent answers are all complete (see cvdemo/ui/gradio_cache.py)
    sessions.on_session_end(registry.drop_owner)  # models a session saved go with it
    with gr.Blocks(title="cvdemo: inside DETR and ViT", delete_cache=(CACHE_SWEEP_S, CACHE_MAX_AGE_S)) as demo:
        gr.Markdown(T("header"))
        with gr.Tabs():
            with gr.Tab(T("tab_detect"), id="detect", elem_id="tab-detect"):
                build_detect_tab(registry, EXAMPLES)
            with gr.Tab(T("tab_detectors"), id="detectors", elem_id="tab-detectors"):
                build_detectors_tab(registry, EXAMPLES)
            with gr.Tab(T("tab_match"), id="match", elem_id="tab-match"):
                build_match_tab(registry, EXAMPLES)
            with gr.Tab(T("tab_attention"), id="attention", elem_id="tab-attention"):
                build_attention_tab(registry, EXAMPLES)
            with gr.Tab(T("tab_evaluate"), id="evaluate", elem_id="tab-evaluate"):
                build_evaluate_tab(registry, EXAMPLES)
            # Train comes after the tabs whose model lists it refreshes
            with gr.Tab(T("tab_train"), id="train", elem_id="tab-train"):
                build_train_tab(registry, EXAMPLES)
            with gr.Tab(T("tab_claims"), id="claims", elem_id="tab-claims"):
                build_claims_tab()
            with gr.Tab(T("tab_concepts"), id="concepts", elem_id="tab-concepts"):
                build_concepts_tab()
        demo.unload(answers(sessions.end_session))  # a closed browser tab frees its results, folders and saved models
    # Model events share concurrency_id="gpu" with a limit of 1; cheap redraws may run beside them.
    demo.queue(default_concurrency_limit=4, max_size=QUEUE_SIZE)
    return demo


def return_freed_memory() -> None:
    """Make glibc give large freed blocks back to the system: blocks of 1 MiB and more (images, attention maps of
    stored results) get their own mappings. By default glibc raises this threshold up to 32 MiB after the first
    large frees, and the results dropped from the stores then stay in a fragmented heap (measured: +221 MB instead
    of +147 MB after 150 large-image sessions). 1 MiB rather than glibc's initial 128 KiB keeps the model's
    activations in the heap (a fresh mapping per activation made /detect 1.4x slower). Only glibc has mallopt."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def launch_settings() -> dict:
    """Keyword arguments for `demo.launch`, safe for a public Space."""
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=MAX_FILE_SIZE,
        state_session_capacity=MAX_SESSIONS,
        enable_monitoring=False,
        allowed_paths=[str(EXAMPLES)],  # nothing else of this folder is served
        theme=gr.themes.Soft(),
        i18n=gradio_i18n(),  # English and Simplified Chinese, following the browser's language
        css=CSS,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request otherwise
    build_demo().launch(**launch_settings())
