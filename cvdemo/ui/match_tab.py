"""The Matching tab: how DETR assigns one query to each ground-truth object (Hungarian matching), and the loss.

`/match` (source, validation index, image, ground truth, model, three cost weights) runs the model once
(`cvdemo.matching_run.run_matching_model`) and keeps the run in a bounded per-session store (`MATCHING_RUNS`; the
page's `gr.State` holds its token); the weight fields (`/rematch`, on Enter or leaving a field), the decoder layer
and the Hungarian step controls then only recompute from that run with the library, through the tab's views
(`cvdemo.ui.matching_views`). The step-through can also show a matrix of its own (a private control): the hard
example or a seeded random matrix (`cvdemo.hungarian`), whose steps cover, adjust and augment.
Text in English or Simplified Chinese (`cvdemo/ui/texts/match.py`), following the browser's language.

Read apart: `layout()` creates the components; the handlers are module-level functions (the registry and the
model runner given by `cvdemo.ui.binding.bind`), each wrapped with `answers` when `wire()` connects them. Values
only the API can send are checked on entry (`cvdemo.ui.validate`, `cvdemo.ui.models.require_task`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from cvdemo import matching_run as mr
from cvdemo.ground_truth_text import GroundTruthError, format_ground_truth, ground_truth_for_image
from cvdemo.hungarian import HungarianStep, hard_example, hungarian_steps, random_cost_matrix
from cvdemo.matching_run import MatchRun
from cvdemo.messages import Message
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import matching_views as views
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.models import call_model, model_note, require_task
from cvdemo.ui.texts import common
from cvdemo.ui.texts.match import T
from cvdemo.ui.uploads import load_upload
from cvdemo.ui.zerogpu import gpu_task

# a run is ~0.1 MB on a shapes image, up to ~7 MB on a large upload (image, every layer's logits, the steps)
FIRST_VIEW_MODEL = "detr-shapes"  # the model the shapes validation images are for: the tab opens matched with it
MATCHING_RUNS = sessions.store("match", max_runs=64, max_bytes=64 * 2**20, per_session=2)
# the Image radio's values (the API's `source` input, the same in every language) and their texts' keys
SHAPES, UPLOAD = "Shapes validation image", "Your image + boxes"
SOURCE_KEYS = {SHAPES: "source_shapes", UPLOAD: "source_upload"}
MAX_WEIGHT = 10.0  # the weight fields' range is [0, MAX_WEIGHT]
# the step-through's matrix (a private control's values) and their texts' keys: the run's cost, or a matrix of its own
STEP_MATCHING, STEP_HARD, STEP_RANDOM = "matching", "hard", "random"
STEP_SOURCE_KEYS = {STEP_MATCHING: "step_source_matching", STEP_HARD: "step_source_hard",
                    STEP_RANDOM: "step_source_random"}
MAX_RANDOM_SIDE, MAX_SEED = 8, 2**32 - 1  # a random matrix's rows and columns are in [1, 8]
PLAY_SECONDS = 0.8
LOSS_COLUMNS, COMPARE_COLUMNS = views.LOSS_COLUMNS, views.COMPARE_COLUMNS


@dataclass
class ShownMatching:
    """What a session keeps in `MATCHING_RUNS`: its run, and the Hungarian steps of the matching shown now
    (replaced by `rematch` when the weights or the layer change; the store keeps the size counted at `put`, which
    the run's arrays dominate)."""

    run: MatchRun
    steps: list[HungarianStep]


def build_match_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    examples_dir: unused (the tab generates its own validation images); kept for the tabs' common signature."""
    names = registry.names("detect")
    wire(layout(names), registry, names)


# ---------------------------------------------------------------- layout

def layout(names: list[str]) -> SimpleNamespace:
    """Create the tab's components; returns them by name."""
    ui = SimpleNamespace()
    gr.Markdown(T("intro"))
    ui.run_state = gr.State(None, time_to_live=sessions.STATE_SECONDS)  # the token of the run in MATCHING_RUNS
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            _input_controls(ui, names)
        with gr.Column(scale=3, min_width=360):
            ui.match_img = gr.Image(label=T("match_image_label"), interactive=False, format="png",
                                    elem_id="match-output", buttons=["fullscreen"])
            ui.summary = gr.Markdown(elem_id="match-summary")
    ui.cost_plot = gr.Plot(label=T("cost_plot_label"), elem_id="match-costs")
    _step_controls(ui)
    _result_views(ui)
    return ui


def _input_controls(ui: SimpleNamespace, names: list[str]) -> None:
    ui.model = gr.Dropdown(names, value=names[0] if names else None, label=common.T("model"), elem_id="match-model")
    # the model's note is written in the user's language on page load (`localize`)
    ui.note = gr.Markdown("" if names else common.T("no_detection_model"))
    ui.source = gr.Radio(source_choices(DEFAULT_LOCALE), value=SHAPES, label=T("source_label"),
                         elem_id="match-source")
    ui.val_index = gr.Slider(0, len(mr.validation_set()) - 1, value=0, step=1, label=T("val_index_label"),
                             info=T("val_index_info_any"), elem_id="match-index")
    ui.image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=220,
                           label=T("image_label"), visible=False, elem_id="match-input")
    ui.gt_text = gr.Textbox(lines=4, max_lines=12, label=T("gt_label"), info=T("gt_help"),
                            placeholder=T("gt_placeholder"), elem_id="match-gt")
    # number fields (not sliders): Enter (`.submit`) applies a weight, as leaving the field does
    with gr.Group():
        ui.w_cls, ui.w_l1, ui.w_giou = (
            gr.Number(value, minimum=0, maximum=MAX_WEIGHT, step=0.5, label=T(key), min_width=100,
                      elem_id=f"match-{key.replace('_', '-')}")
            for value, key in zip(mr.DEFAULT_WEIGHTS, ("weight_class", "weight_l1", "weight_giou")))
    ui.layer = gr.Dropdown([], label=T("layer_label"), info=T("layer_info"), elem_id="match-layer")
    ui.match_btn = gr.Button(T("match_button"), variant="primary", elem_id="match-button")


def _step_controls(ui: SimpleNamespace) -> None:
    gr.Markdown(T("steps_heading"))
    with gr.Row():
        ui.back_btn = gr.Button(T("back_button"), size="sm", elem_id="match-back")
        ui.step_btn = gr.Button(T("step_button"), size="sm", variant="primary", elem_id="match-step")
        ui.play_btn = gr.Button(T("play_button"), size="sm", elem_id="match-play")
        ui.pause_btn = gr.Button(T("pause_button"), size="sm", elem_id="match-pause")
        ui.step_slider = gr.Slider(0, 1, value=0, step=1, label=T("step_slider_label"), scale=3,
                                   elem_id="match-step-index")
    with gr.Row():
        ui.step_source = gr.Radio(step_source_choices(DEFAULT_LOCALE), value=STEP_MATCHING, scale=3,
                                  label=T("step_source_label"), info=T("step_source_info"),
                                  elem_id="match-step-source")
        ui.seed = gr.Number(0, minimum=0, maximum=MAX_SEED, precision=0, label=T("random_seed_label"),
                            min_width=120, elem_id="match-seed")
        ui.rows = gr.Number(5, minimum=1, maximum=MAX_RANDOM_SIDE, precision=0, label=T("random_rows_label"),
                            min_width=80, elem_id="match-rows")
        ui.cols = gr.Number(5, minimum=1, maximum=MAX_RANDOM_SIDE, precision=0, label=T("random_cols_label"),
                            min_width=80, elem_id="match-cols")
    with gr.Row(equal_height=False):
        ui.step_plot = gr.Plot(show_label=False, scale=3, elem_id="match-step-plot")
        ui.step_text = gr.Markdown(elem_id="match-step-text")
    ui.timer = gr.Timer(PLAY_SECONDS, active=False)


def _result_views(ui: SimpleNamespace) -> None:
    gr.Markdown(T("loss_heading"))
    ui.loss_table = gr.Dataframe(headers=LOSS_COLUMNS, interactive=False, max_height=320, elem_id="match-losses")
    ui.loss_totals = gr.Markdown(elem_id="match-loss-totals")
    gr.Markdown(T("p_vs_log_p"))
    gr.Markdown(T("layers_heading"))
    ui.layers_table = gr.Dataframe(interactive=False, elem_id="match-layers")
    ui.layers_note = gr.Markdown()
    gr.Markdown(T("compare_heading"))
    gr.Markdown(T("compare_legend"))
    with gr.Row():
        ui.otm_img = gr.Image(label=T("one_to_many_label"), interactive=False, format="png",
                              elem_id="match-one-to-many")
        ui.oto_img = gr.Image(label=T("one_to_one_label"), interactive=False, format="png",
                              elem_id="match-one-to-one")
    ui.compare_table = gr.Dataframe(headers=COMPARE_COLUMNS, interactive=False, elem_id="match-compare")
    ui.compare_text = gr.Markdown(elem_id="match-compare-text")


VIEW_COUNT = 14  # outputs of `_view_values`


def view_outputs(ui: SimpleNamespace) -> list:
    """The VIEW_COUNT components `_view_values` fills, in its order."""
    return [ui.match_img, ui.summary, ui.cost_plot, ui.step_slider, ui.step_plot, ui.step_text, ui.loss_table,
            ui.loss_totals, ui.layers_table, ui.layers_note, ui.otm_img, ui.oto_img, ui.compare_table,
            ui.compare_text]


def _view_values(v: views.MatchingViews) -> tuple:
    return (v.matching_image, v.summary, v.cost_figure, gr.Slider(minimum=0, maximum=v.step_count - 1,
                                                                  value=v.step_index, step=1),
            v.step_figure, v.step_text, v.loss_table, v.loss_totals, v.layers_table, v.layers_note,
            v.one_to_many_image, v.one_to_one_image, v.compare_table, v.compare_text)


# ---------------------------------------------------------------- checks of the values a handler gets

def source_choices(locale: str) -> list[tuple[str, str]]:
    return [(T.text(key, locale), value) for value, key in SOURCE_KEYS.items()]


def step_source_choices(locale: str) -> list[tuple[str, str]]:
    return [(T.text(key, locale), value) for value, key in STEP_SOURCE_KEYS.items()]


def _weights(w_cls, w_l1, w_giou, locale: str) -> tuple[float, float, float]:
    """The three cost weights, each a number in [0, MAX_WEIGHT], not all 0."""
    weights = tuple(validate.number(value, name=T.text(key, locale), low=0.0, high=MAX_WEIGHT, locale=locale)
                    for value, key in ((w_cls, "weight_class"), (w_l1, "weight_l1"), (w_giou, "weight_giou")))
    if not any(weights):
        raise gr.Error(T.text("weights_zero", locale), title=T.text("weights_title", locale), print_exception=False)
    return weights


def _layer(run: MatchRun, value, locale: str) -> int:
    """A 1-based decoder layer from the dropdown or the API (None: the last) -> 0-based index."""
    if value is None:
        return run.num_layers - 1
    return validate.number(value, name=T.text("layer_label", locale), low=1, high=run.num_layers, integer=True,
                           locale=locale) - 1


def _ground_truth_error(error: GroundTruthError, title_key: str, locale: str) -> gr.Error:
    return gr.Error(html.escape(translate(error, locale), quote=False), title=T.text(title_key, locale),
                    print_exception=False)


# ---------------------------------------------------------------- handlers

def run_match(src, index, image_payload, gt, model_name, wc, wl, wg, request: gr.Request,
              progress=gr.Progress(), *,  # noqa: B008 - how Gradio asks for a progress tracker
              registry: ModelRegistry, infer: Callable[..., MatchRun]):
    """/match: run the model on a validation image (or an upload and its typed boxes) and show the last layer's
    matching: the views, the ground-truth text, the layer dropdown, the run's token, the Play timer stopped."""
    locale, owner = locale_of(request), sessions.session_of(request)
    src = validate.choice(src, list(SOURCE_KEYS), name=T.text("source_label", locale), locale=locale)
    if src == SHAPES:
        index = validate.number(index, name=T.text("val_index_label", locale), low=0,
                                high=len(mr.validation_set()) - 1, integer=True, locale=locale)
    weights = _weights(wc, wl, wg, locale)
    model_name = require_task(registry, model_name, "detect", locale, owner)
    model = call_model(registry, lambda name, _: registry.get(name, owner), model_name, None, progress, locale, owner)
    id2label, queries = dict(model.config.id2label), int(model.config.num_queries)
    notes: list[Message] = []
    if src == UPLOAD:
        loaded = load_upload(image_payload, locale=locale)
        try:
            boxes, labels = ground_truth_for_image("" if gt is None else gt, id2label, loaded, queries)
        except GroundTruthError as e:
            raise _ground_truth_error(e, "gt_error_title", locale) from None
        pixels, notes, validation_index = loaded.pixels, list(loaded.notes), None
    else:
        try:
            pixels, boxes, labels = mr.validation_sample(index, id2label)
        except GroundTruthError as e:
            raise _ground_truth_error(e, "validation_error_title", locale) from None
        gt, validation_index = format_ground_truth(boxes, labels, id2label), index
    run = infer(model_name, pixels, boxes, labels, validation_index, owner)
    shown = views.views(run, run.num_layers - 1, weights, views.image_notes(notes, run, locale), locale)
    token = MATCHING_RUNS.put(owner, ShownMatching(run, shown.steps))
    last = run.num_layers
    return (*_view_values(shown), gt, gr.Dropdown(choices=views.layer_choices(last, locale), value=last), token,
            gr.Timer(active=False))


def rematch(token, layer, wc, wl, wg, request: gr.Request):
    """/rematch: the views at other cost weights or another decoder layer, from the session's run (the model does
    not run again)."""
    locale = locale_of(request)
    weights = _weights(wc, wl, wg, locale)
    if token is None:
        return (gr.skip(),) * VIEW_COUNT
    shown = MATCHING_RUNS.get(token)
    result = views.views(shown.run, _layer(shown.run, layer, locale), weights, [], locale)
    shown.steps = result.steps
    return _view_values(result)


def stepped(token, source, seed, rows, cols, locale: str) -> tuple[MatchRun | None, list[HungarianStep]] | None:
    """The step-through's (run, steps): the session's matching (None before a run), or, with ``run`` None, the
    hard example's or the seeded random matrix's steps (recomputed: a few milliseconds)."""
    source = validate.choice(STEP_MATCHING if source is None else source, list(STEP_SOURCE_KEYS),
                             name=T.text("step_source_label", locale), locale=locale)
    if source == STEP_HARD:
        return None, hungarian_steps(hard_example())[2]
    if source == STEP_RANDOM:
        n, m = (validate.number(v, name=T.text(key, locale), low=1, high=MAX_RANDOM_SIDE, integer=True,
                                locale=locale) for v, key in ((rows, "random_rows_label"), (cols, "random_cols_label")))
        seed = validate.number(seed, name=T.text("random_seed_label", locale), low=0, high=MAX_SEED, integer=True,
                               locale=locale)
        return None, hungarian_steps(random_cost_matrix(n, m, seed))[2]
    shown = None if token is None else MATCHING_RUNS.get(token)
    return None if shown is None or not shown.steps else (shown.run, shown.steps)


def show_steps(token, source, seed, rows, cols, request: gr.Request):
    """The step-through's matrix (its radio, seed, rows, columns): its first step, the slider spanning its steps."""
    locale = locale_of(request)
    found = stepped(token, source, seed, rows, cols, locale)
    if found is None:
        return gr.skip(), gr.skip(), gr.skip()
    run, steps = found
    _, fig, text = views.step_view(run, steps, 0, locale)
    return gr.Slider(minimum=0, maximum=len(steps) - 1, value=0, step=1), fig, text


def show_matching_steps(request: gr.Request):
    """After /match or /rematch (which show the matching's steps): the step-through's radio says so."""
    return STEP_MATCHING


def _show_step(token, index, delta: int, source, seed, rows, cols, request: gr.Request) -> tuple:
    locale = locale_of(request)
    found = stepped(token, source, seed, rows, cols, locale)
    if found is None:
        return gr.skip(), gr.skip(), gr.skip()
    run, steps = found
    return views.step_view(run, steps, views.step_index(steps, index) + delta, locale)


def step_forward(token, index, source, seed, rows, cols, request: gr.Request):
    """Step ▶: the next Hungarian step."""
    return _show_step(token, index, 1, source, seed, rows, cols, request)


def step_back(token, index, source, seed, rows, cols, request: gr.Request):
    """◀ Back: the previous Hungarian step."""
    return _show_step(token, index, -1, source, seed, rows, cols, request)


def step_to(token, index, source, seed, rows, cols, request: gr.Request):
    """The step slider: that Hungarian step."""
    return _show_step(token, index, 0, source, seed, rows, cols, request)


def tick(token, index, source, seed, rows, cols, request: gr.Request):
    """Play's timer: the next step; the timer stops at the last."""
    locale = locale_of(request)
    found = stepped(token, source, seed, rows, cols, locale)
    if found is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
    run, steps = found
    i, fig, text = views.step_view(run, steps, views.step_index(steps, index) + 1, locale)
    return i, fig, text, gr.Timer(active=i < len(steps) - 1)


def play(request: gr.Request):
    return gr.Timer(active=True)


def pause(request: gr.Request):
    return gr.Timer(active=False)


def switch_source(src, request: gr.Request):
    """The Image radio: the validation slider or the upload, and an empty ground truth for an upload."""
    return (gr.Slider(visible=src == SHAPES), gr.Image(visible=src == UPLOAD),
            "" if src == UPLOAD else gr.skip())


def show_note(name, request: gr.Request, *, registry: ModelRegistry) -> str:
    """The note under the model dropdown: what the model is, or why it is not available."""
    return model_note(registry, name, locale_of(request), sessions.session_of(request))


def localize(request: gr.Request, *, registry: ModelRegistry, default_model: str | None):
    """On page load: what the layout could only write in English, in the user's language."""
    locale = locale_of(request)
    note = (model_note(registry, default_model, locale) if default_model
            else common.T.text("no_detection_model", locale))
    return (note, gr.Radio(choices=source_choices(locale), value=SHAPES),
            gr.Slider(info=T.text("val_index_info", locale, n=len(mr.validation_set()))),
            views.empty_table(views.LOSS_COLUMN_KEYS, locale), views.empty_table(views.COMPARE_COLUMN_KEYS, locale),
            gr.Radio(choices=step_source_choices(locale)))


def model_runner(registry: ModelRegistry) -> Callable[..., MatchRun]:
    """``infer(name, pixels, boxes, labels, validation_index, owner)``: the registry's model run once on the image
    (`run_matching_model`), as one GPU task."""
    @gpu_task
    def infer(name: str, pixels: np.ndarray, boxes: np.ndarray, labels: np.ndarray, validation_index: int | None,
              owner: str | None = None) -> MatchRun:
        return mr.run_matching_model(registry.get(name, owner), pixels, boxes, labels, name, validation_index)
    return infer


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace, registry: ModelRegistry, names: list[str]) -> None:
    """Connect the components to the handlers."""
    hidden = {"show_progress": "hidden", "api_visibility": "private"}
    outputs = view_outputs(ui)
    # triggers=None: on page load only (no inputs, so no other trigger)
    loaded = gr.on(None, answers(bind(localize, registry=registry, default_model=names[0] if names else None)),
                   inputs=None, outputs=[ui.note, ui.source, ui.val_index, ui.loss_table, ui.compare_table,
                                         ui.step_source], queue=False, **hidden)
    run_matching = answers(bind(run_match, registry=registry, infer=model_runner(registry)))  # /match, first view
    match_inputs = [ui.source, ui.val_index, ui.image_in, ui.gt_text, ui.model, ui.w_cls, ui.w_l1, ui.w_giou]
    match_outputs = [*outputs, ui.gt_text, ui.layer, ui.run_state, ui.timer]
    matched = gr.on([ui.match_btn.click, ui.val_index.release, ui.model.change],
          run_matching, inputs=match_inputs, outputs=match_outputs, api_name="match", preprocess=False,
          concurrency_id="gpu", concurrency_limit=1, show_progress_on=[ui.match_img], trigger_mode="always_last")
    if names and names[0] == FIRST_VIEW_MODEL:  # the first view: validation image 0 matched on the page's load
        first = loaded.then(run_matching, match_inputs, match_outputs, preprocess=False, concurrency_id="gpu",
                            concurrency_limit=1, show_progress_on=[ui.match_img], api_visibility="private")
        first.success(answers(show_matching_steps), None, ui.step_source, queue=False, **hidden)
    ui.model.change(answers(bind(show_note, registry=registry)), ui.model, ui.note, queue=False,
                    api_visibility="private")
    ui.source.input(answers(switch_source), ui.source, [ui.val_index, ui.image_in, ui.gt_text], queue=False,
                    api_visibility="private")
    # .input / .release (user actions only): /match updating these must not start a second event. No
    # preprocessing: `rematch` checks the layer itself, with a message that names the control in the user's language
    # a weight field applies on Enter (.submit) and when it loses focus (.blur)
    weights = (ui.w_cls, ui.w_l1, ui.w_giou)
    rematched = gr.on([*(w.submit for w in weights), *(w.blur for w in weights), ui.layer.input], answers(rematch),
                      [ui.run_state, ui.layer, ui.w_cls, ui.w_l1, ui.w_giou], outputs, show_progress="hidden",
                      trigger_mode="always_last", api_name="rematch", api_visibility="undocumented",
                      preprocess=False)
    for event in (matched, rematched):
        event.success(answers(show_matching_steps), None, ui.step_source, queue=False, **hidden)
    _wire_steps(ui, hidden)


def _wire_steps(ui: SimpleNamespace, hidden: dict) -> None:
    """The Hungarian step-through: its matrix (radio; seed, rows and columns apply on Enter or leaving the field)
    and the step buttons, slider and Play."""
    step_inputs = [ui.run_state, ui.step_slider, ui.step_source, ui.seed, ui.rows, ui.cols]
    step_outputs = [ui.step_slider, ui.step_plot, ui.step_text]
    hidden = {**hidden, "preprocess": False}  # the handlers check the numbers, naming the field in the user's language
    fields = (ui.seed, ui.rows, ui.cols)
    gr.on([ui.step_source.input, *(f.submit for f in fields), *(f.blur for f in fields)], answers(show_steps),
          [ui.run_state, ui.step_source, ui.seed, ui.rows, ui.cols], step_outputs, trigger_mode="always_last",
          **hidden)
    ui.step_btn.click(answers(step_forward), step_inputs, step_outputs, **hidden)
    ui.back_btn.click(answers(step_back), step_inputs, step_outputs, **hidden)
    ui.step_slider.release(answers(step_to), step_inputs, step_outputs, trigger_mode="always_last", **hidden)
    ui.play_btn.click(answers(play), None, ui.timer, queue=False, api_visibility="private")
    ui.pause_btn.click(answers(pause), None, ui.timer, queue=False, api_visibility="private")
    ui.timer.tick(answers(tick), step_inputs, [*step_outputs, ui.timer], **hidden)
