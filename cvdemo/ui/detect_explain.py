"""The Detect tab's "Explain" section: the selected detection explained, and how faithful the map is.

The section explains the selected detection by its decoder cross-attention (the tab's layer and head) or by the
relevance through the whole model (Chefer 2021; target its class logit or a box coordinate), with the map's
deletion and insertion AUCs beside the random map's, its curves and the shipped model's measured table
(`cvdemo.detr_explanation`, one GPU task). It follows every event of the tab that may change the selected detection
(`wire`'s ``after``), skipping a repeat of the shown explanation (`explained_state`); the curves are measured at once
when the run's own forward says they are cheap, else on "Measure faithfulness" (/measure_detection_faithfulness),
whose cost the text states. /explain_detection is the section's API.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from cvdemo import detr_explanation
from cvdemo.detection_run import DetectionRun
from cvdemo.detr_explanation import DetectionExplanation
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import detect_views as views
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.detect_checks import DETECTION_RUNS, checked_row, decoder_view_args
from cvdemo.ui.errors import answers
from cvdemo.ui.explain_table import faithfulness_markdown
from cvdemo.ui.i18n import locale_of
from cvdemo.ui.models import call_model
from cvdemo.ui.texts.detect import T
from cvdemo.ui.zerogpu import gpu_task

__all__ = ["FAITHFULNESS_TABLE", "SHIPPED_MODEL", "explain", "explainer", "layout", "outputs", "wire"]

FAITHFULNESS_TABLE = "explain-faithfulness.json"  # in the examples folder: the shipped models' measured table
SHIPPED_MODEL = "detr-shapes"  # the entry of that table the "Explain" section shows


# ---------------------------------------------------------------- layout

def layout(ui: SimpleNamespace) -> None:
    """The "Explain" section of the selected detection: method, relevance target, map, AUCs and curves."""
    gr.Markdown(T("explain_heading"))
    ui.explained_state = gr.State(None)  # what the shown explanation is of (`explanation_key`), to skip repeats
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=260):
            ui.explain_method = gr.Radio(views.explain_method_choices(), value="relevance",
                                         label=T("explain_method"), elem_id="detect-explain-method")
            ui.explain_target = gr.Dropdown(views.explain_target_choices(), value="class", label=T("explain_target"),
                                            info=T("explain_target_info"), elem_id="detect-explain-target")
            ui.measure_btn = gr.Button(T("measure_button"), elem_id="detect-measure")
        with gr.Column(scale=3, min_width=300):
            ui.explain_img = gr.Image(label=T("explain_label"), interactive=False, format="jpeg",
                                      elem_id="detect-explain", buttons=["fullscreen"])
        with gr.Column(scale=3, min_width=300):  # the map's AUCs and curves beside it
            ui.explain_text = gr.Markdown(elem_id="detect-explain-text")
            ui.explain_plot = gr.Plot(label=T("curve_plot"), elem_id="detect-explain-curve")
    ui.explain_table = gr.Markdown(elem_id="detect-explain-table")  # the shipped model's measured table
    with gr.Accordion(T("explain_help_title"), open=False):
        gr.Markdown(T("explain_help"))


# ---------------------------------------------------------------- handlers

def explanation_key(token, row: int, method: str, layer: int, head: int | None, target: str) -> tuple:
    """What an explanation depends on (the decoder layer and head only for cross-attention, the target only for
    the relevance)."""
    if method == "cross_attention":
        return token, row, method, layer, head
    return token, row, method, target


def explain(token, row, method, dec_layer, dec_head, target, explained, request: gr.Request,
            progress=gr.Progress(), *,  # noqa: B008 - how Gradio asks for a progress tracker
            registry: ModelRegistry, explainer: Callable[..., DetectionExplanation], measure: bool = False,
            table_path: Path | None = None):
    """/explain_detection: the selected detection's map by the chosen method, over the image, with its faithfulness
    (measured at once when cheap, `cvdemo.detr_explanation.measures_at_once`; else the cost and the "Measure
    faithfulness" button). ``explained`` (`explained_state`) skips a repeat of the shown explanation;
    /measure_detection_faithfulness (``measure``) always measures. Returns the map, its text, its curves, the
    shipped model's measured table (``table_path``; with a note when the run's model is another) and the new
    `explained_state`."""
    if token is None or row is None:
        return None, "", None, "", None
    locale, owner = locale_of(request), sessions.session_of(request)
    run = DETECTION_RUNS.get(token)
    row = checked_row(row, run, locale)
    method = validate.choice(method, list(views.EXPLAIN_METHODS), name=T.text("explain_method", locale),
                             locale=locale)
    target = validate.choice(target, list(views.EXPLAIN_TARGETS), name=T.text("explain_target", locale),
                             locale=locale)
    layer, head = decoder_view_args(run, dec_layer, dec_head, locale)
    key = explanation_key(token, row, method, layer, head, target)
    if not measure and explained == key:
        return (gr.skip(),) * 5
    measure = measure or detr_explanation.measures_at_once(run)
    explanation = call_model(
        registry, lambda name, _: explainer(name, run, row, method, layer, head, target, measure, owner),
        run.model_name, None, progress, locale, owner)
    return (views.explanation_view(run, explanation, locale), views.explanation_text(run, explanation, locale),
            views.explanation_figure(explanation, locale),
            "" if table_path is None else faithfulness_markdown(table_path, SHIPPED_MODEL, run.model_name, locale), key)


def localize(request: gr.Request):
    """On page load: the "Explain" section's choices in the user's language."""
    locale = locale_of(request)
    return (gr.Radio(choices=views.explain_method_choices(locale)),
            gr.Dropdown(choices=views.explain_target_choices(locale)))


def explainer(registry: ModelRegistry) -> Callable[..., DetectionExplanation]:
    """``explain(name, run, row, method, layer, head, target, measure, owner)``: the registry's model explains
    detection ``row`` of the run (`cvdemo.detr_explanation.explain_detection`; target "class" or a box
    coordinate), as one GPU task."""
    @gpu_task
    def explain_run(name: str, run: DetectionRun, row: int, method: str, layer: int, head: int | None, target: str,
                    measure: bool, owner: str | None = None) -> DetectionExplanation:
        box = None if target == "class" else target
        return detr_explanation.explain_detection(registry.get(name, owner), run, row, method, layer, head,
                                                  "class" if box is None else "box", box, measure=measure)
    return explain_run


# ---------------------------------------------------------------- wiring

def outputs(ui: SimpleNamespace) -> list:
    """What an explanation redraws: its map, its text, its curves, the measured table and `explained_state`."""
    return [ui.explain_img, ui.explain_text, ui.explain_plot, ui.explain_table, ui.explained_state]


def wire(ui: SimpleNamespace, registry: ModelRegistry, after: list, loaded,
                 table_path: Path | None = None) -> None:
    """The "Explain" section: redrawn after every event that may change the selected detection (a repeat of the
    shown explanation is skipped), on a new method or target (/explain_detection), and measured on the button
    (/measure_detection_faithfulness)."""
    inputs = [ui.run_state, ui.detection, ui.explain_method, ui.dec_layer, ui.dec_head, ui.explain_target,
              ui.explained_state]
    run_on = {"concurrency_id": "gpu", "concurrency_limit": 1, "show_progress_on": [ui.explain_img]}
    model_explains = explainer(registry)
    explain_fn = answers(bind(explain, registry=registry, explainer=model_explains, measure=False,
                              table_path=table_path))
    gr.on([ui.explain_method.input, ui.explain_target.input], explain_fn, inputs, outputs(ui),
          api_name="explain_detection", trigger_mode="always_last", **run_on)  # first: this event owns the name
    for event in after:
        event.success(explain_fn, inputs, outputs(ui), api_visibility="private", **run_on)
    measure_fn = answers(bind(explain, registry=registry, explainer=model_explains, measure=True,
                              table_path=table_path))
    ui.measure_btn.click(measure_fn, inputs, outputs(ui), api_name="measure_detection_faithfulness", **run_on)
    loaded.then(answers(localize), None, [ui.explain_method, ui.explain_target], api_visibility="private",
                show_progress="hidden", queue=False)
