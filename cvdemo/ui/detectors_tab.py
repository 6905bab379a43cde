"""The Detectors tab: one image through every detector of the app (DETR and the CNN families) side by side.

`/detectors` (image, models, NMS IoU, score) runs each chosen model once (`cvdemo.detectors_run.run_detector`)
and keeps the outputs in a bounded per-session store (`DETECTOR_RUNS`; the page's `gr.State` holds its token);
the NMS IoU and score sliders then only re-filter the stored raw detections (`/detectors_filter`), the way each
family's own NMS does, so the models do not run again. What it shows is composed by
`cvdemo.ui.detectors_views`; text is in the browser's language (`cvdemo/ui/texts/detectors.py`).

A model that cannot be loaded (a Hub model offline, a checkpoint not trained yet) is skipped with its reason in
the summary; the others still run. Read apart: `layout()`, the handlers, `wire()`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from cvdemo.detector_comparison import ComparisonError, check_claims, load_comparison
from cvdemo.detectors_run import DetectorOutput, run_detector
from cvdemo.models.registry import ModelRegistry, ModelUnavailableError
from cvdemo.ui import detectors_views as views
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.i18n import locale_of
from cvdemo.ui.texts.detectors import T
from cvdemo.ui.uploads import image_examples, load_upload
from cvdemo.ui.zerogpu import gpu_task

DETECTOR_TASKS = ("detect", "family")
DETECTOR_RUNS = sessions.store("detectors", max_runs=64, max_bytes=64 * 2**20, per_session=2)
NMS_RANGE, SCORE_RANGE = (0.1, 0.95), (0.05, 1.0)
COMPARISON_FILE = "detectors-comparison.json"  # in the examples folder: python -m training.compare_detectors


@dataclass
class DetectorsRun:
    """What the sliders re-filter: the image and every model's output, and the models skipped (name, reason)."""

    image: np.ndarray
    outputs: list[DetectorOutput]
    skipped: list[tuple[str, ModelUnavailableError]]


def detector_names(registry: ModelRegistry, owner: str | None = None) -> list[str]:
    """Every detection model ``owner`` may use: the DETRs, then the other families."""
    return [n for task in DETECTOR_TASKS for n in registry.names(task, owner)]


def default_selection(registry: ModelRegistry, names: list[str]) -> list[str]:
    """The models checked at first: the local checkpoints that exist (no Hub download before anyone asks)."""
    return [n for n in names if not registry.spec(n).from_hub and registry.unavailable_reason(n) is None]


def build_detectors_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = detector_names(registry)
    wire(layout(names, default_selection(registry, names), examples_dir), registry,
         comparison_text(examples_dir / COMPARISON_FILE))


def comparison_text(path: Path) -> Callable[[str], str]:
    """``text(locale)``: the comparison section's Markdown (read and checked once, here), or why there is none."""
    try:
        comparison = load_comparison(path)
    except ComparisonError as e:
        error = e  # `e` is unbound after the except block
        return lambda locale: f"⚠️ {translate(error, locale)}"
    claims = check_claims(comparison)
    return lambda locale: views.comparison_markdown(comparison, claims, locale)


# ---------------------------------------------------------------- layout

def layout(names: list[str], selected: list[str], examples_dir: Path) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(T("intro"))
    ui.run_state = gr.State(None, time_to_live=sessions.STATE_SECONDS)  # the token of the run in DETECTOR_RUNS
    shapes = sorted((examples_dir / "shapes").glob("*.png"))
    ui.first_example = str(shapes[0]) if shapes and selected else None
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            ui.image_in = gr.Image(ui.first_example, type="filepath", image_mode=None,
                                   sources=["upload", "clipboard"], height=260, label=T("image_input"),
                                   elem_id="detectors-input")
            ui.models = gr.CheckboxGroup(names, value=selected, label=T("models"), info=T("models_info"),
                                         elem_id="detectors-models")
            ui.nms_iou = gr.Slider(*NMS_RANGE, value=0.5, step=0.05, label=T("nms_iou"), info=T("nms_iou_info"),
                                   elem_id="detectors-nms")
            ui.score = gr.Slider(*SCORE_RANGE, value=0.5, step=0.01, label=T("score"), info=T("score_info"),
                                 elem_id="detectors-score")
            ui.run_btn = gr.Button(T("run_button"), variant="primary", elem_id="detectors-button")
            image_examples(ui.image_in, examples_dir / "shapes", T("examples_shapes"), examples_dir / "photos",
                           T("examples_photos"), elem_prefix="detectors")
        with gr.Column(scale=3, min_width=360):
            ui.summary = gr.Markdown(elem_id="detectors-summary")
            ui.table = gr.Dataframe(headers=views.TABLE_COLUMNS, label=T("table_label"), interactive=False,
                                    elem_id="detectors-table")
    ui.gallery = gr.Gallery(label=T("gallery_label"), columns=3, object_fit="contain", height="auto",
                            format="jpeg", elem_id="detectors-gallery")
    gr.Markdown(T("comparison_heading"))
    ui.comparison = gr.Markdown(elem_id="detectors-comparison")  # written in the user's language on page load
    return ui


# ---------------------------------------------------------------- checks of the values a handler gets

def _sliders(nms_iou, score, locale: str) -> tuple[float, float]:
    return (validate.number(nms_iou, name=T.text("nms_iou", locale), low=NMS_RANGE[0], high=NMS_RANGE[1],
                            locale=locale),
            validate.number(score, name=T.text("score", locale), low=0.0, high=SCORE_RANGE[1], locale=locale))


def _models(value, registry: ModelRegistry, owner: str, locale: str) -> list[str]:
    """The chosen names, each a detection model ``owner`` may use; a gr.Error naming the choices otherwise."""
    offered = detector_names(registry, owner)
    chosen = [value] if isinstance(value, str) else list(value or [])
    for name in chosen:
        validate.choice(name, offered, name=T.text("models", locale), locale=locale)
    if not chosen:
        raise gr.Error(T.text("no_models", locale), print_exception=False)
    return list(dict.fromkeys(chosen))


def _table(rows: list[list], locale: str) -> dict:
    """The table's value with its headers in ``locale`` (a plain value: API callers get the rows as they are)."""
    return {"headers": views.table_headers(locale), "data": rows}


# ---------------------------------------------------------------- handlers

def run_all(image_payload, model_names, nms_iou, score, request: gr.Request,
            progress=gr.Progress(), *,  # noqa: B008 - how Gradio asks for a progress tracker
            registry: ModelRegistry, infer: Callable[..., DetectorsRun]):
    """/detectors: run every chosen model on the image; the gallery (per model: candidates, raw, final), the
    table of counts, the summary and the run's token."""
    start = time.perf_counter()
    locale, owner = locale_of(request), sessions.session_of(request)
    nms_iou, score = _sliders(nms_iou, score, locale)
    names = _models(model_names, registry, owner, locale)
    if image_payload is None:
        return [], _table([], locale), "", None
    loaded = load_upload(image_payload, locale=locale)
    progress(0.1, desc=", ".join(names))
    run = infer(names, loaded.pixels, owner)
    token = DETECTOR_RUNS.put(owner, run)
    total_ms = (time.perf_counter() - start) * 1000
    return _views(run, nms_iou, score, total_ms, locale) + (token,)


def refilter(token, nms_iou, score, request: gr.Request):
    """/detectors_filter: the views at another NMS IoU or score, from the stored outputs (no model runs)."""
    locale = locale_of(request)
    nms_iou, score = _sliders(nms_iou, score, locale)
    if token is None:
        return gr.skip(), gr.skip(), gr.skip()
    return _views(DETECTOR_RUNS.get(token), nms_iou, score, None, locale)


def _views(run: DetectorsRun, nms_iou: float, score: float, total_ms: float | None, locale: str) -> tuple:
    skipped = [(name, html.escape(translate(reason, locale))) for name, reason in run.skipped]
    return (views.gallery(run.outputs, run.image, nms_iou, score, locale),
            _table(views.counts_rows(run.outputs, nms_iou, score, locale), locale),
            views.summary(run.outputs, run.image.shape[:2], nms_iou, score, total_ms, skipped, locale))


def localize(request: gr.Request, *, comparison: Callable[[str], str]):
    """On page load: the table's headers and the comparison section in the user's language."""
    locale = locale_of(request)
    return _table([], locale), comparison(locale)


def model_runner(registry: ModelRegistry) -> Callable[..., DetectorsRun]:
    """``infer(names, pixels, owner)``: every named model run on the pixels, as one GPU task; a model that cannot
    load is skipped with its reason."""
    @gpu_task
    def infer(names: list[str], pixels: np.ndarray, owner: str | None = None) -> DetectorsRun:
        outputs, skipped = [], []
        for name in names:
            try:
                outputs.append(run_detector(name, registry.get(name, owner), pixels))
            except ModelUnavailableError as e:
                skipped.append((name, e))
        return DetectorsRun(pixels, outputs, skipped)
    return infer


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace, registry: ModelRegistry, comparison: Callable[[str], str]) -> None:
    hidden = {"show_progress": "hidden", "api_visibility": "private"}
    run_handler = answers(bind(run_all, registry=registry, infer=model_runner(registry)))
    inputs = [ui.image_in, ui.models, ui.nms_iou, ui.score]
    outputs = [ui.gallery, ui.table, ui.summary, ui.run_state]
    gr.on([ui.run_btn.click, ui.image_in.change], run_handler, inputs=inputs, outputs=outputs,
          api_name="detectors", preprocess=False, concurrency_id="gpu", concurrency_limit=1,
          show_progress_on=[ui.gallery], trigger_mode="always_last")
    gr.on([ui.nms_iou.input, ui.score.input], answers(refilter), [ui.run_state, ui.nms_iou, ui.score],
          [ui.gallery, ui.table, ui.summary], show_progress="hidden", trigger_mode="always_last",
          api_name="detectors_filter", api_visibility="undocumented")
    loaded = gr.on(None, answers(bind(localize, comparison=comparison)), inputs=None,
                   outputs=[ui.table, ui.comparison], queue=False, **hidden)
    if ui.first_example:  # a newcomer sees every model's stages before reading any help text
        loaded.then(run_handler, inputs=inputs, outputs=outputs, preprocess=False, concurrency_id="gpu",
                    concurrency_limit=1, show_progress_on=[ui.gallery], api_visibility="private")
