"""The Detect tab: DETR's boxes, its table of detections, and what each object query attended to.

`/detect` (image, model, threshold) runs the model once (`cvdemo.detection_run.run_detr`) and keeps the run in a
bounded per-session store (`DETECTION_RUNS`; the page's `gr.State` holds its token); the threshold slider, the
choice of detection, layer and head, and clicks on the image then only redraw from that run, through the tab's
views (`cvdemo.ui.detect_views`). Text is in the browser's language (`cvdemo/ui/texts/detect.py`), the boxes'
captions included.

The "Captions" checkbox redraws only the boxes (a private event). Its value is mirrored in a `gr.State`
(`captions_state`) that every handler drawing the boxes takes as its last input: a State is no parameter of the
API, so /detect and /filter keep their parameters, and a new run, the threshold or a selection redraws with the
user's choice. The table's caption column says whether each detection's caption is on the picture.

The "Explain" section (`cvdemo.ui.detect_explain`) explains the selected detection and measures how faithful its map
is; the run store and the checks of the handlers' values are `cvdemo.ui.detect_checks`.

Read apart: `layout()` creates the components; the handlers are module-level functions (the registry and the model
runner given by `cvdemo.ui.binding.bind`), each wrapped with `answers` when `wire()` connects them. Values only
the API can send are checked on entry (`cvdemo.ui.validate`, `cvdemo.ui.models.require_task`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from cvdemo import detection_run
from cvdemo.detection_run import DetectionRun
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import detect_explain, sessions
from cvdemo.ui import detect_views as views
from cvdemo.ui.binding import bind
from cvdemo.ui.choices import MEAN, head_choices, layer_choices
from cvdemo.ui.detect_checks import (
    DETECTION_RUNS,
    checked_row,
    checked_threshold,
    decoder_view_args,
    encoder_view_args,
)
from cvdemo.ui.errors import answers
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.models import call_model, model_note, require_task
from cvdemo.ui.texts import common
from cvdemo.ui.texts.detect import T
from cvdemo.ui.uploads import first_example, image_examples, load_upload, offered
from cvdemo.ui.zerogpu import gpu_task

TABLE_COLUMNS = views.TABLE_COLUMNS


def build_detect_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = registry.names("detect")
    wire(layout(names, examples_dir), registry, names, table_path=examples_dir / detect_explain.FAITHFULNESS_TABLE)


# ---------------------------------------------------------------- layout

def layout(names: list[str], examples_dir: Path) -> SimpleNamespace:
    """Create the tab's components; returns them by name."""
    ui = SimpleNamespace()
    gr.Markdown(T("intro"))
    ui.run_state = gr.State(None, time_to_live=sessions.STATE_SECONDS)  # the token of the run in DETECTION_RUNS
    ui.point_state = gr.State(None, time_to_live=sessions.STATE_SECONDS)  # pixel (x, y) of the encoder map's point
    ui.captions_state = gr.State(True)  # the "Captions" checkbox, for the API's events (a State is no parameter)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            ui.model = gr.Dropdown(names, value=names[0] if names else None, label=common.T("model"),
                                   elem_id="detect-model")
            # the model's note is written in the user's language when the page loads (`localize`)
            ui.note = gr.Markdown("" if names else common.T("no_detection_model"))
            # the first view: the first shapes example, run on the page's load when its model is the default
            ui.first_example = first_example(examples_dir / "shapes", names, "detr-shapes")
            ui.image_in = gr.Image(ui.first_example, type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                   height=300,
                                   label=T("image_input"), elem_id="detect-input")
            ui.threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=T("threshold"),
                                     info=T("threshold_info"), elem_id="detect-threshold")
            ui.captions = gr.Checkbox(True, label=T("captions"), info=T("captions_info"), elem_id="detect-captions")
            ui.detect_btn = gr.Button(T("detect_button"), variant="primary", elem_id="detect-button")
            image_examples(ui.image_in, examples_dir / "shapes", T("examples_shapes"),
                           examples_dir / "photos", T("examples_photos"), model=ui.model,
                           shapes_model=offered(names, "detr-shapes"),
                           photos_model=offered(names, "facebook/detr-resnet-50"), elem_prefix="detect")
        with gr.Column(scale=3, min_width=360):
            ui.annotated = gr.Image(label=T("annotated_label"), interactive=False, format="jpeg",
                                    elem_id="detect-output", buttons=["fullscreen"])
            ui.summary = gr.Markdown(elem_id="detect-summary")
            ui.table = gr.Dataframe(headers=TABLE_COLUMNS, label=T("table_label"), interactive=False,
                                    max_height=260, elem_id="detect-table")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("cross_heading"))
            with gr.Row():
                ui.detection = gr.Dropdown([], label=T("detection"), scale=3, min_width=220)
                ui.dec_layer = gr.Dropdown(layer_choices(6), value=6, label=T("decoder_layer"), scale=2,
                                           min_width=140)
                ui.dec_head = gr.Dropdown(head_choices(8), value=MEAN, label=T("head"), scale=2, min_width=140)
            ui.cross_img = gr.Image(label=T("cross_label"), interactive=False, format="jpeg", show_label=False,
                                    elem_id="detect-cross")
        with gr.Column():
            gr.Markdown(T("encoder_heading"))
            with gr.Row():
                ui.enc_layer = gr.Dropdown(layer_choices(6), value=6, label=T("encoder_layer"), scale=2)
                ui.enc_head = gr.Dropdown(head_choices(8), value=MEAN, label=T("head"), scale=2)
            ui.enc_img = gr.Image(label=T("encoder_label"), interactive=False, format="jpeg", show_label=False,
                                  elem_id="detect-encoder")
    detect_explain.layout(ui)
    ui.class_plot = gr.Plot(label=T("class_plot"))
    return ui


# ---------------------------------------------------------------- handlers

def detect(image_payload, model_name, thr, request: gr.Request,
           progress=gr.Progress(), captions=True, *,  # noqa: B008 - how Gradio asks for a progress tracker
           registry: ModelRegistry, infer: Callable[..., DetectionRun]):
    """/detect: run the model on the image; the annotated image (captioned unless ``captions`` is False: the
    session's `captions_state`), table, summary, the dropdowns set for the run, the run's token and the encoder
    map's starting point."""
    start = time.perf_counter()
    locale, owner = locale_of(request), sessions.session_of(request)
    threshold = checked_threshold(thr, locale)  # `thr`: the API's name of this parameter since /detect exists
    model_name = require_task(registry, model_name, "detect", locale, owner)
    if image_payload is None:
        return _blank_outputs(locale)
    loaded = load_upload(image_payload, locale=locale)
    run = call_model(registry, lambda name, pixels: infer(name, pixels, owner), model_name, loaded.pixels,
                     progress, locale, owner)
    token = DETECTION_RUNS.put(owner, run)
    choices = views.detection_choices(run, threshold, locale)
    kept = len(run.kept(threshold))
    annotated, table = views.boxes_and_table(run, threshold, 0 if kept else None, bool(captions), locale)
    total_ms = (time.perf_counter() - start) * 1000
    last_dec, last_enc = run.num_decoder_layers, run.num_encoder_layers
    enc_heads = head_choices(run.num_heads if run.encoder_per_head else 0, locale)
    return (annotated, table,
            views.summary(run, threshold, total_ms, views.image_notes(loaded.notes, run, locale), locale),
            gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
            gr.Dropdown(choices=layer_choices(last_dec, locale), value=last_dec),
            gr.Dropdown(choices=head_choices(run.num_heads, locale), value=MEAN),
            gr.Dropdown(choices=layer_choices(last_enc, locale), value=last_enc),
            gr.Dropdown(choices=enc_heads, value=MEAN), token, views.default_point(run, threshold))


def attention_views(token, point, threshold, request: gr.Request):
    """/attention_views, after /detect: the attention maps at the defaults it set (best detection, last layers,
    mean of heads) and the class-distribution figure."""
    locale = locale_of(request)
    threshold = checked_threshold(threshold, locale)
    if token is None:
        return None, None, None
    run = DETECTION_RUNS.get(token)
    choices = views.detection_choices(run, threshold, locale)
    row = choices[0][1] if choices else None
    return (views.cross_view(run, row, run.num_decoder_layers - 1, None, locale),
            views.encoder_view(run, point, run.num_encoder_layers - 1, None),
            views.class_distribution_figure(run, threshold, row, locale=locale))


def refilter(token, threshold, dec_layer, dec_head, request: gr.Request, captions=True):
    """/filter: the views at another threshold, without running the model (captions: `captions_state`)."""
    locale = locale_of(request)
    threshold = checked_threshold(threshold, locale)
    if token is None:
        return (gr.skip(),) * 6
    run = DETECTION_RUNS.get(token)
    layer, head = decoder_view_args(run, dec_layer, dec_head, locale)
    choices = views.detection_choices(run, threshold, locale)
    row = choices[0][1] if choices else None
    annotated, table = views.boxes_and_table(run, threshold, 0 if len(run.kept(threshold)) else None,
                                             bool(captions), locale)
    return (annotated, table, views.summary(run, threshold, None, [], locale),
            gr.Dropdown(choices=choices, value=row), views.cross_view(run, row, layer, head, locale),
            views.class_distribution_figure(run, threshold, row, locale=locale))


def select_detection(token, threshold, row, dec_layer, dec_head, request: gr.Request, captions=True):
    """Another detection, decoder layer or head: its cross-attention, the boxes with it highlighted (its caption
    placed first, so the table's caption column is redrawn with them), the figure."""
    if token is None or row is None:
        return (gr.skip(),) * 4
    locale = locale_of(request)
    threshold = checked_threshold(threshold, locale)
    run = DETECTION_RUNS.get(token)
    row = checked_row(row, run, locale)
    layer, head = decoder_view_args(run, dec_layer, dec_head, locale)
    annotated, table = views.boxes_and_table(run, threshold, views.selected_rank(run, threshold, row),
                                             bool(captions), locale)
    return (views.cross_view(run, row, layer, head, locale), annotated, table,
            views.class_distribution_figure(run, threshold, row, locale=locale))


def table_select(token, threshold, dec_layer, dec_head, evt: gr.SelectData, request: gr.Request, captions=True):
    """A click on a table row selects that detection (the row's "#" is its rank, whatever the shown order)."""
    if token is None or not evt.row_value:
        return (gr.skip(),) * 5
    threshold = checked_threshold(threshold, locale_of(request))
    keep = DETECTION_RUNS.get(token).kept(threshold)
    rank = int(evt.row_value[0]) - 1
    if not 0 <= rank < len(keep):
        return (gr.skip(),) * 5
    row = int(keep[rank])
    return (gr.Dropdown(value=row),) + select_detection(token, threshold, row, dec_layer, dec_head, request,
                                                        captions)


def toggle_captions(token, threshold, row, captions, request: gr.Request):
    """The "Captions" checkbox: the boxes and the table redrawn from the stored run (the model does not run),
    and the choice kept in `captions_state` for the events that redraw them later."""
    captions = bool(captions)
    if token is None:
        return gr.skip(), gr.skip(), captions
    locale = locale_of(request)
    threshold = checked_threshold(threshold, locale)
    run = DETECTION_RUNS.get(token)
    selected = None if row is None else views.selected_rank(run, threshold, checked_row(row, run, locale))
    return (*views.boxes_and_table(run, threshold, selected, captions, locale), captions)


def click_point(token, enc_layer, enc_head, evt: gr.SelectData, request: gr.Request):
    """A click on the image moves the encoder map's point there."""
    if token is None or evt.index is None:
        return gr.skip(), gr.skip()
    run = DETECTION_RUNS.get(token)
    layer, head = encoder_view_args(run, enc_layer, enc_head, locale_of(request))
    point = (evt.index[0] / run.display_scale, evt.index[1] / run.display_scale)
    return views.encoder_view(run, point, layer, head), point


def redraw_encoder(token, point, enc_layer, enc_head, request: gr.Request):
    """Another encoder layer or head at the same point."""
    if token is None:
        return gr.skip()
    run = DETECTION_RUNS.get(token)
    layer, head = encoder_view_args(run, enc_layer, enc_head, locale_of(request))
    return views.encoder_view(run, point, layer, head)


def show_note(name, request: gr.Request, *, registry: ModelRegistry) -> str:
    """The note under the model dropdown: what the model is, or why it is not available."""
    return model_note(registry, name, locale_of(request), sessions.session_of(request))


def localize(request: gr.Request, *, registry: ModelRegistry, default_model: str | None):
    """On page load: what the layout could not write in the user's language (the model note, the layer
    and head entries, the table's headers), the build-time selections kept."""
    locale = locale_of(request)
    return (model_note(registry, default_model, locale) if default_model else gr.skip(),
            gr.Dropdown(choices=layer_choices(6, locale), value=6),
            gr.Dropdown(choices=head_choices(8, locale), value=MEAN),
            gr.Dropdown(choices=layer_choices(6, locale), value=6),
            gr.Dropdown(choices=head_choices(8, locale), value=MEAN), views.table(None, 0.0, locale))


def cleared(request: gr.Request) -> tuple:
    """After a failed /detect: every output of the run and its attention views emptied (the error says why)."""
    return (*_blank_outputs(locale_of(request)), None, None, None, None, "", None, "", None)


def _blank_outputs(locale: str = DEFAULT_LOCALE) -> tuple:
    cleared = gr.Dropdown(choices=[], value=None)
    return (None, views.table(None, 0.0, locale), "", cleared, gr.skip(), gr.skip(), gr.skip(), gr.skip(), None,
            None)


def model_runner(registry: ModelRegistry) -> Callable[..., DetectionRun]:
    """``infer(name, pixels, owner)``: the registry's model run on the pixels (`run_detr`), as one GPU task."""
    @gpu_task
    def infer(name: str, pixels, owner: str | None = None) -> DetectionRun:
        return detection_run.run_detr(registry.get(name, owner), pixels, name)
    return infer


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace, registry: ModelRegistry, names: list[str], table_path: Path | None = None) -> None:
    """Connect the components to the handlers (``table_path``: the shipped faithfulness table, for Explain)."""
    hidden = {"show_progress": "hidden", "api_visibility": "private"}
    run_detect = answers(bind(detect, registry=registry, infer=model_runner(registry)))  # one handler, two triggers
    # /detect runs the model and shows the boxes at once; the attention views follow in a second, cheap event
    detect_outputs = [ui.annotated, ui.table, ui.summary, ui.detection, ui.dec_layer, ui.dec_head, ui.enc_layer,
                      ui.enc_head, ui.run_state, ui.point_state]
    detect_inputs = [ui.image_in, ui.model, ui.threshold, ui.captions_state]  # the State is no API parameter
    run = gr.on([ui.detect_btn.click, ui.image_in.change, ui.model.change],
                run_detect, inputs=detect_inputs, outputs=detect_outputs, api_name="detect",
                preprocess=False, concurrency_id="gpu", concurrency_limit=1, show_progress_on=[ui.annotated],
                trigger_mode="always_last")
    views_event = run.success(answers(attention_views), [ui.run_state, ui.point_state, ui.threshold],
                              [ui.cross_img, ui.enc_img, ui.class_plot], show_progress="hidden",
                              api_name="attention_views", api_visibility="undocumented")
    # a failed run (a bad file, a model that cannot load) leaves nothing of the previous run on the screen
    run.failure(answers(cleared), None, [*detect_outputs, ui.cross_img, ui.enc_img, ui.class_plot,
                                         *detect_explain.outputs(ui)], **hidden)
    ui.model.change(answers(bind(show_note, registry=registry)), ui.model, ui.note, queue=False,
                    api_visibility="private")
    refiltered = ui.threshold.input(
        answers(refilter), [ui.run_state, ui.threshold, ui.dec_layer, ui.dec_head, ui.captions_state],
        [ui.annotated, ui.table, ui.summary, ui.detection, ui.cross_img, ui.class_plot], show_progress="hidden",
        trigger_mode="always_last", api_visibility="undocumented", api_name="filter")
    # .input (user actions only), not .change: `detect` updating these must not start a second event
    selected = gr.on([ui.detection.input, ui.dec_layer.input, ui.dec_head.input], answers(select_detection),
                     [ui.run_state, ui.threshold, ui.detection, ui.dec_layer, ui.dec_head, ui.captions_state],
                     [ui.cross_img, ui.annotated, ui.table, ui.class_plot], trigger_mode="always_last", **hidden)
    clicked = ui.table.select(answers(table_select),
                              [ui.run_state, ui.threshold, ui.dec_layer, ui.dec_head, ui.captions_state],
                              [ui.detection, ui.cross_img, ui.annotated, ui.table, ui.class_plot], **hidden)
    # the checkbox redraws the boxes from the stored run and keeps the choice for the events above
    ui.captions.input(answers(toggle_captions), [ui.run_state, ui.threshold, ui.detection, ui.captions],
                      [ui.annotated, ui.table, ui.captions_state], trigger_mode="always_last", **hidden)
    for clickable in (ui.annotated, ui.enc_img):
        clickable.select(answers(click_point), [ui.run_state, ui.enc_layer, ui.enc_head],
                         [ui.enc_img, ui.point_state], **hidden)
    gr.on([ui.enc_layer.input, ui.enc_head.input], answers(redraw_encoder),
          [ui.run_state, ui.point_state, ui.enc_layer, ui.enc_head], ui.enc_img, trigger_mode="always_last",
          **hidden)
    # triggers=None: on page load only (no inputs, so no other trigger)
    loaded = gr.on(None, answers(bind(localize, registry=registry, default_model=names[0] if names else None)),
                   inputs=None, outputs=[ui.note, ui.dec_layer, ui.dec_head, ui.enc_layer, ui.enc_head, ui.table],
                   api_visibility="private", show_progress="hidden", queue=False)
    if ui.first_example:  # a newcomer sees a result before reading any help text
        first = loaded.then(run_detect, inputs=detect_inputs, outputs=detect_outputs,
                            preprocess=False, concurrency_id="gpu", concurrency_limit=1,
                            show_progress_on=[ui.annotated], api_visibility="private")
        first_views = first.success(answers(attention_views), [ui.run_state, ui.point_state, ui.threshold],
                                    [ui.cross_img, ui.enc_img, ui.class_plot], **hidden)
    detect_explain.wire(ui, registry, [views_event, refiltered, selected, clicked]
                 + ([first_views] if ui.first_example else []), loaded, table_path)
