"""The Attention tab: a ViT's top-5 classes, attention rollout, raw CLS attention, patches and positions.

`/rollout` (image, model, head fusion, discard ratio, start layer) runs the model once (`cvdemo.vit_run.run_vit`)
and keeps the run in a bounded per-session store (`VIT_RUNS`; the page's `gr.State` holds its token); changing
the rollout settings, layer or head only recomputes from it, through the tab's views
(`cvdemo.ui.attention_views`). Text is in the browser's language (`cvdemo/ui/texts/attention.py`).

The Explain section (issue 15) puts one method's map (raw attention, rollout, gradient rollout, Chefer relevance)
for the predicted class or any class beside its deletion / insertion AUCs and the random order's, with the verdict
of the deletion test and the curves, and plots every head's mean attention distance (`cvdemo.vit_explanation`).
`/explain_class` (method, class, and the raw attention's and rollout's settings above) computes from the kept run (the
gradient methods run the model again); the curves cost 136 model runs (34 when another map of the same class has
measured the random order's), measured at once when that is estimated at most `MEASURE_AT_ONCE_SECONDS` from the
run's own forward time, else on `/measure_class_faithfulness` (a button that says how many runs).

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

from cvdemo import vit_explanation, vit_run
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import attention_views as views
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.choices import MEAN, head_choices, head_index, layer_choices, layer_index, parse_layer
from cvdemo.ui.errors import answers
from cvdemo.ui.explain_table import faithfulness_markdown
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.models import call_model, model_note, require_task
from cvdemo.ui.texts import common
from cvdemo.ui.texts.attention import T
from cvdemo.ui.uploads import first_example, image_examples, load_upload, offered
from cvdemo.ui.zerogpu import gpu_task
from cvdemo.vit_explanation import METHODS, ViTExplanation
from cvdemo.vit_run import HEAD_FUSIONS, ClassificationRun

FUSION_KEYS = {"mean": "fusion_mean", "max": "fusion_max", "min": "fusion_min"}  # HEAD_FUSIONS -> catalog key
# one run holds the image and every layer's attention: ~25 MB for ViT-B/16 at 224, well under 1 MB for vit-shapes
VIT_RUNS = sessions.store("vit", max_runs=64, max_bytes=96 * 2**20, per_session=2)
# the Explain section measures a map's faithfulness at once when its curves would take at most this long (estimated
# from the run's own forward time); longer, it shows the map and offers a button that says how many model runs
MEASURE_AT_ONCE_SECONDS = 5.0
FAITHFULNESS_TABLE = "explain-faithfulness.json"  # in the examples folder: the shipped models' measured table
SHIPPED_MODEL = "vit-shapes"  # the entry of that table the section shows


def fusion_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] for the head-fusion radio: the values are `HEAD_FUSIONS` in every language."""
    return [(T.text(FUSION_KEYS[f], locale), f) for f in HEAD_FUSIONS]


def build_attention_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = registry.names("classify")
    wire(layout(names, examples_dir), registry, names, table_path=examples_dir / FAITHFULNESS_TABLE)


# ---------------------------------------------------------------- layout

def layout(names: list[str], examples_dir: Path) -> SimpleNamespace:
    """Create the tab's components; returns them by name."""
    ui = SimpleNamespace()
    gr.Markdown(T("intro"))
    ui.run_state = gr.State(None, time_to_live=sessions.STATE_SECONDS)  # the token of the run in VIT_RUNS
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            ui.model = gr.Dropdown(names, value=names[0] if names else None, label=common.T("model"),
                                   elem_id="vit-model")
            # the model's note is written in the user's language when the page loads (`localize`)
            ui.note = gr.Markdown("" if names else common.T("no_vit_model"))
            # the first view: the first shapes example, run on the page's load when its model is the default
            ui.first_example = first_example(examples_dir / "shapes-classify", names, "vit-shapes")
            ui.image_in = gr.Image(ui.first_example, type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                   height=260,
                                   label=T("image_input"), elem_id="vit-input")
            ui.run_btn = gr.Button(T("classify_button"), variant="primary")
            image_examples(ui.image_in, examples_dir / "shapes-classify", T("examples_shapes"),
                           examples_dir / "photos", T("examples_photos"), model=ui.model,
                           shapes_model=offered(names, "vit-shapes"),
                           photos_model=offered(names, "facebook/deit-tiny-patch16-224"), elem_prefix="vit")
        with gr.Column(scale=3, min_width=360):
            ui.top5 = gr.Label(num_top_classes=5, label=T("top5"))
            ui.summary = gr.Markdown(elem_id="vit-summary")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("rollout_heading"))
            with gr.Row():
                ui.fusion = gr.Radio(fusion_choices(), value="mean", label=T("head_fusion"), min_width=200)
                ui.start_layer = gr.Dropdown(layer_choices(12), value=1, label=T("start_layer"), min_width=200,
                                             info=T("start_layer_info"))
            ui.discard = gr.Slider(0.0, 0.99, value=0.0, step=0.01, label=T("discard_ratio"),
                                   info=T("discard_info"))
            ui.rollout_img = gr.Image(interactive=False, format="jpeg", show_label=False, elem_id="vit-rollout")
        with gr.Column():
            gr.Markdown(T("raw_heading"))
            with gr.Row():
                ui.layer = gr.Dropdown(layer_choices(12), value=12, label=T("layer"))
                ui.head = gr.Dropdown(head_choices(12), value=MEAN, label=T("head"))
            ui.cls_img = gr.Image(interactive=False, format="jpeg", show_label=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("patches_heading"))
            ui.grid_text = gr.Markdown()
            ui.grid_img = gr.Image(interactive=False, format="jpeg", show_label=False)
        with gr.Column():
            gr.Markdown(T("positions_heading"))
            gr.Markdown(T("positions_caption"))
            ui.pos_img = gr.Image(interactive=False, format="jpeg", show_label=False)
    explain_layout(ui)
    return ui


def explain_layout(ui: SimpleNamespace) -> None:
    """The Explain section: method and class, the map with its faithfulness beside it, the attention distance."""
    gr.Markdown(T("explain_heading"))
    gr.Markdown(T("explain_intro"))
    with gr.Row():
        ui.method = gr.Radio(views.method_choices(), value="relevance", label=T("method"), elem_id="vit-method")
        # the run's classes are set after each run; an API call that skips that step may still name a class index
        ui.target = gr.Dropdown([], value=None, label=T("target_class"), info=T("target_info"),
                                allow_custom_value=True, elem_id="vit-target")
    with gr.Row(equal_height=False):
        with gr.Column():
            ui.explain_img = gr.Image(interactive=False, format="jpeg", show_label=False, elem_id="vit-explain")
        with gr.Column():
            ui.explain_text = gr.Markdown(elem_id="vit-explain-text")
            ui.measure_btn = gr.Button(T("measure_label"), visible=False, elem_id="vit-measure")
            ui.curve_plot = gr.Plot(show_label=False, elem_id="vit-faithfulness")
    ui.table_text = gr.Markdown(elem_id="vit-explain-table")  # the shipped model's table, written after a run
    gr.Markdown(T("distance_heading"))
    gr.Markdown(T("distance_caption"))
    ui.distance_plot = gr.Plot(show_label=False, elem_id="vit-distance")


# ---------------------------------------------------------------- checks of the values a handler gets

def _rollout_settings(fusion, discard, locale: str) -> tuple[str, float]:
    """(head fusion, discard ratio) checked: a fusion of `HEAD_FUSIONS`, a ratio in [0, 1)."""
    fusion = validate.choice(fusion, HEAD_FUSIONS, name=T.text("head_fusion", locale), locale=locale)
    discard = validate.number(discard, name=T.text("discard_ratio", locale), low=0.0, high=1.0, high_open=True,
                              locale=locale)
    return fusion, discard


def _start_layer(value, run: ClassificationRun, locale: str) -> int:
    """The 0-based start layer of a 1-based value in [1, the run's layers]."""
    return layer_index(value, run.num_layers, name=T.text("start_layer", locale), locale=locale)


# ---------------------------------------------------------------- handlers

def classify(image_payload, model_name, fusion_v, discard_v, start_v, request: gr.Request,
             progress=gr.Progress(), *,  # noqa: B008 - how Gradio asks for a progress tracker
             registry: ModelRegistry, infer: Callable[..., ClassificationRun], clamp_start: bool = False):
    """/rollout: classify the image; the top-5, the summary, the rollout, the dropdowns set for the run and the
    run's token. clamp_start: a start layer past the model's last layer becomes the last (the UI's model change,
    which sends the previous model's choice) instead of being refused."""
    fusion, discard, start_layer = fusion_v, discard_v, start_v  # the API names these parameters *_v
    start = time.perf_counter()
    locale, owner = locale_of(request), sessions.session_of(request)
    fusion, discard = _rollout_settings(fusion, discard, locale)
    model_name = require_task(registry, model_name, "classify", locale, owner)
    if image_payload is None:  # after a model change, start from layer 1 (in range for every model)
        return None, "", None, gr.Dropdown(value=1) if clamp_start else gr.skip(), gr.skip(), gr.skip(), None
    loaded = load_upload(image_payload, locale=locale)
    run = call_model(registry, lambda name, pixels: infer(name, pixels, owner), model_name, loaded.pixels,
                     progress, locale, owner)
    first = parse_layer(start_layer, run.num_layers) if clamp_start else _start_layer(start_layer, run, locale)
    token = VIT_RUNS.put(owner, run)
    rollout = views.rollout_view(run, fusion, discard, first)
    total_ms = (time.perf_counter() - start) * 1000
    notes = views.image_notes(loaded.notes, run, locale)
    return (views.top_classes(run, locale=locale), views.summary(run, total_ms, notes, locale), rollout,
            gr.Dropdown(choices=layer_choices(run.num_layers, locale), value=first + 1),
            gr.Dropdown(choices=layer_choices(run.num_layers, locale), value=run.num_layers),
            gr.Dropdown(choices=head_choices(run.num_heads, locale), value=MEAN), token)


def other_views(token, request: gr.Request):
    """/vit_views, after /rollout: the last layer's attention (mean of heads), the patches, the positions."""
    if token is None:
        return None, "", None, None
    run = VIT_RUNS.get(token)
    grid_view, grid_caption = views.patch_grid_view(run, locale=locale_of(request))
    return (views.layer_view(run, run.num_layers - 1, None), grid_caption, grid_view,
            views.position_similarity_view(run))


def redraw_rollout(token, fusion, discard, start_layer, request: gr.Request):
    """Other rollout settings: the rollout again, from the kept attention."""
    if token is None:
        return gr.skip()
    locale = locale_of(request)
    fusion, discard = _rollout_settings(fusion, discard, locale)
    run = VIT_RUNS.get(token)
    return views.rollout_view(run, fusion, discard, _start_layer(start_layer, run, locale))


def redraw_layer(token, layer, head, request: gr.Request):
    """Another layer or head of the raw attention."""
    if token is None:
        return gr.skip()
    locale = locale_of(request)
    run = VIT_RUNS.get(token)
    return views.layer_view(run, layer_index(layer, run.num_layers, name=T.text("layer", locale), locale=locale),
                            head_index(head, run.num_heads, name=T.text("head", locale), locale=locale))


def _target_class(value, run: ClassificationRun, locale: str) -> int | None:
    """The class dropdown's value: `views.PREDICTED` (or nothing) -> None, else a class index of the run's model
    (a string of digits counts as that number, as the API documents dropdown values)."""
    if value is None or value == views.PREDICTED:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return validate.number(value, name=T.text("target_class", locale), low=0, high=len(run.probs) - 1,
                           integer=True, locale=locale)


def _explain_settings(run: ClassificationRun, layer, head, fusion, discard, start_layer, locale: str) -> dict:
    """The raw attention's and the rollout's settings, checked, as `vit_explanation.explain_vit` takes them."""
    fusion, discard = _rollout_settings(fusion, discard, locale)
    return {"layer": layer_index(layer, run.num_layers, name=T.text("layer", locale), locale=locale),
            "head": head_index(head, run.num_heads, name=T.text("head", locale), locale=locale),
            "head_fusion": fusion, "discard_ratio": discard, "start_layer": _start_layer(start_layer, run, locale)}


def explain(token, method, target, layer, head, fusion, discard, start_layer, request: gr.Request, *,
            explainer: Callable[..., ViTExplanation], measure: bool = False,
            only_for: tuple[str, ...] = METHODS):
    """/explain_class: the map of ``method`` for the class ``target`` over the image, its AUC table and verdict, its
    curves, and the "Measure faithfulness" button (shown when the curves were left for it). The curves are
    measured at once when estimated at most `MEASURE_AT_ONCE_SECONDS`, or with ``measure`` (the button).
    only_for: the methods a changed setting affects (another method's map stays: every output skipped)."""
    if token is None:
        return None, "", None, gr.Button(visible=False)
    locale, owner = locale_of(request), sessions.session_of(request)
    method = validate.choice(method, METHODS, name=T.text("method", locale), locale=locale)
    if method not in only_for:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    run = VIT_RUNS.get(token)
    settings = _explain_settings(run, layer, head, fusion, discard, start_layer, locale)
    target_class = _target_class(target, run, locale)
    explanation = explainer(run.model_name, run, method, target_class, owner, measure=True if measure else None,
                            budget_seconds=MEASURE_AT_ONCE_SECONDS, **settings)
    button = gr.Button(visible=not explanation.measured, value=T.text(
        "measure_button", locale, runs=explanation.curve_runs, seconds=explanation.estimated_seconds))
    return (views.explanation_view(run, explanation), views.explanation_text(run, explanation, locale),
            views.faithfulness_plot(explanation, locale), button)


def explain_new_run(token, method, layer, head, fusion, discard, start_layer, request: gr.Request, *,
                    explainer: Callable[..., ViTExplanation], table_path: Path | None = None):
    """After a new run: the class dropdown for its model (the predicted class chosen), the Explain outputs for the
    predicted class (`explain`), the mean attention distance of its heads, and the shipped model's faithfulness
    table (`table_path`; a note when the run's model is another)."""
    if token is None:
        return gr.skip(), None, "", None, gr.Button(visible=False), None, gr.skip()
    locale = locale_of(request)
    run = VIT_RUNS.get(token)
    shown = explain(token, method, views.PREDICTED, layer, head, fusion, discard, start_layer, request,
                    explainer=explainer)
    table = "" if table_path is None else faithfulness_markdown(table_path, SHIPPED_MODEL, run.model_name, locale)
    return (gr.Dropdown(choices=views.target_choices(run, locale), value=views.PREDICTED), *shown,
            views.distance_plot(run, locale), table)


def show_note(name, request: gr.Request, *, registry: ModelRegistry) -> str:
    """The note under the model dropdown: what the model is, or why it is not available."""
    return model_note(registry, name, locale_of(request), sessions.session_of(request))


def localize(request: gr.Request, *, registry: ModelRegistry, default_model: str | None):
    """On page load: what the layout could not write in the user's language (the model note, the fusion,
    layer and head entries), the build-time selections kept."""
    locale = locale_of(request)
    return (model_note(registry, default_model, locale) if default_model else gr.skip(),
            gr.Radio(choices=fusion_choices(locale), value="mean"),
            gr.Dropdown(choices=layer_choices(12, locale), value=1),
            gr.Dropdown(choices=layer_choices(12, locale), value=12),
            gr.Dropdown(choices=head_choices(12, locale), value=MEAN))


def localize_explain(request: gr.Request):
    """After the page load's `localize`: the Explain method entries in the user's language (selection kept)."""
    return gr.Radio(choices=views.method_choices(locale_of(request)))


def cleared() -> tuple:
    """After a failed /rollout: the classes, the rollout, every view and the Explain section emptied (the error
    says why)."""
    return None, "", None, None, None, "", None, None, None, "", None, gr.Button(visible=False), None


def model_runner(registry: ModelRegistry) -> Callable[..., ClassificationRun]:
    """``infer(name, pixels, owner)``: the registry's model run on the pixels (`run_vit`), as one GPU task."""
    @gpu_task
    def infer(name: str, pixels, owner: str | None = None) -> ClassificationRun:
        return vit_run.run_vit(registry.get(name, owner), pixels, name)
    return infer


def explanation_runner(registry: ModelRegistry) -> Callable[..., ViTExplanation]:
    """``explain(name, run, method, target_class, owner, **settings)``: `vit_explanation.explain_vit` with the
    registry's model ``name`` (the run's), as one GPU task."""
    @gpu_task
    def explain_run(name: str, run: ClassificationRun, method: str, target_class: int | None,
                    owner: str | None = None, **settings) -> ViTExplanation:
        return vit_explanation.explain_vit(registry.get(name, owner), run, method, target_class, **settings)
    return explain_run


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace, registry: ModelRegistry, names: list[str], table_path: Path | None = None) -> None:
    """Connect the components to the handlers (``table_path``: the shipped faithfulness table, for Explain)."""
    infer = model_runner(registry)
    run_classify = answers(bind(classify, registry=registry, infer=infer))  # a click, a new image, the first view
    run_inputs = [ui.image_in, ui.model, ui.fusion, ui.discard, ui.start_layer]
    run_outputs = [ui.top5, ui.summary, ui.rollout_img, ui.start_layer, ui.layer, ui.head, ui.run_state]
    view_outputs = [ui.cls_img, ui.grid_text, ui.grid_img, ui.pos_img]
    explain_outputs = [ui.explain_img, ui.explain_text, ui.curve_plot, ui.measure_btn, ui.distance_plot]
    gpu = {"preprocess": False, "concurrency_id": "gpu", "concurrency_limit": 1, "show_progress_on": [ui.top5],
           "trigger_mode": "always_last"}
    # /rollout runs the model and shows the classes and the rollout; the other views follow, without the model
    run = gr.on([ui.run_btn.click, ui.image_in.change], run_classify,
                inputs=run_inputs, outputs=run_outputs, api_name="rollout", **gpu)
    shown = [run.success(answers(other_views), ui.run_state, view_outputs, show_progress="hidden",
                         api_name="vit_views", api_visibility="undocumented")]
    # another model: the same, but a start layer past the new model's last layer is moved to its last
    rerun = ui.model.change(answers(bind(classify, registry=registry, infer=infer, clamp_start=True)), run_inputs,
                            run_outputs, api_visibility="private", **gpu)
    shown.append(rerun.success(answers(other_views), ui.run_state, view_outputs, show_progress="hidden",
                               api_visibility="private"))
    # a failed run (a bad file, a model that cannot load) leaves nothing of the previous run on the screen
    for dependency in (run, rerun):
        dependency.failure(answers(cleared), None, [ui.top5, ui.summary, ui.rollout_img, ui.run_state, *view_outputs,
                                                    *explain_outputs],
                           show_progress="hidden", api_visibility="private")
    ui.model.change(answers(bind(show_note, registry=registry)), ui.model, ui.note, queue=False,
                    api_visibility="private")
    rollout_inputs = [ui.run_state, ui.fusion, ui.discard, ui.start_layer]
    gr.on([ui.fusion.input, ui.discard.input, ui.start_layer.input], answers(redraw_rollout), rollout_inputs,
          ui.rollout_img, show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    gr.on([ui.layer.input, ui.head.input], answers(redraw_layer), [ui.run_state, ui.layer, ui.head], ui.cls_img,
          show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    # triggers=None: on page load only (no inputs, so no other trigger)
    loaded = gr.on(None, answers(bind(localize, registry=registry, default_model=names[0] if names else None)),
                   inputs=None, outputs=[ui.note, ui.fusion, ui.start_layer, ui.layer, ui.head],
                   api_visibility="private", show_progress="hidden", queue=False)
    loaded.then(answers(localize_explain), None, ui.method, api_visibility="private", show_progress="hidden",
                queue=False)
    if ui.first_example:  # a newcomer sees a result before reading any help text
        first = loaded.then(run_classify, run_inputs, run_outputs,
                            api_visibility="private", **gpu)
        shown.append(first.success(answers(other_views), ui.run_state, view_outputs, show_progress="hidden",
                                   api_visibility="private"))
    wire_explain(ui, registry, shown, table_path)


def wire_explain(ui: SimpleNamespace, registry: ModelRegistry, shown: list, table_path: Path | None) -> None:
    """Connect the Explain section: a new run (each of ``shown``, the events that show a run's views) explains its
    predicted class; a method or class change is /explain_class; a changed layer, head or rollout setting redraws the
    methods it affects; the button measures the faithfulness that was left for it (/measure_class_faithfulness)."""
    explainer = explanation_runner(registry)
    inputs = [ui.run_state, ui.method, ui.target, ui.layer, ui.head, ui.fusion, ui.discard, ui.start_layer]
    outputs = [ui.explain_img, ui.explain_text, ui.curve_plot, ui.measure_btn]
    gpu = {"concurrency_id": "gpu", "concurrency_limit": 1, "show_progress_on": [ui.explain_img],
           "trigger_mode": "always_last"}
    for dependency in shown:
        dependency.success(answers(bind(explain_new_run, explainer=explainer, table_path=table_path)),
                           [ui.run_state, ui.method, ui.layer, ui.head, ui.fusion, ui.discard, ui.start_layer],
                           [ui.target, *outputs, ui.distance_plot, ui.table_text], api_visibility="private", **gpu)
    gr.on([ui.method.input, ui.target.select], answers(bind(explain, explainer=explainer)), inputs, outputs,
          api_name="explain_class", **gpu)
    gr.on([ui.layer.input, ui.head.input], answers(bind(explain, explainer=explainer, only_for=("attention",))),
          inputs, outputs, api_visibility="private", **gpu)
    gr.on([ui.fusion.input, ui.discard.input, ui.start_layer.input],
          answers(bind(explain, explainer=explainer, only_for=("rollout", "gradient_rollout"))),
          inputs, outputs, api_visibility="private", **gpu)
    ui.measure_btn.click(answers(bind(explain, explainer=explainer, measure=True)), inputs, outputs,
                         api_name="measure_class_faithfulness", **gpu)
