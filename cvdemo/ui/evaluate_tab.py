"""The Evaluate tab: a data set and its predictions -> COCO and VOC metrics, PR curves, confusion, TP/FP/FN.

Read apart: `layout` creates the components, the handlers below it are plain module-level functions (each wrapped
with `answers`, so every failure is a readable message), and `wire` connects them; `build_evaluate_tab` calls
the two. The handlers that browse a kept evaluation (sliders, filters, paging, clicks, error views, export) and the
stores are `cvdemo.ui.evaluate_browse`'s. What the tab shows is composed by `cvdemo.ui.evaluation_viewer`; the work
is the core's (`cvdemo.metrics.browse`).

`/evaluate` (data set files, prediction files, IoU and score thresholds, and optionally a detection model of the
registry to run on the data set's images instead of uploaded predictions) stages the uploads in a new folder of the
session (`evaluate_inputs.new_workdir`), loads (runs the model: at most `evaluate_inputs.MAX_MODEL_IMAGES` images)
and evaluates once, and keeps the `EvaluationBrowser` in the `evaluate_browse.EVALUATIONS` store (one per session,
`EVALUATIONS_MAX_BYTES` for all sessions together, least recently used evicted first); the session's `gr.State`
holds only its token. The sliders, filters, paging and clicks then only re-assign and redraw. An evaluation's
folder is deleted when it is evicted or replaced, and every folder of a session when the session ends.

The "compare two prediction sets" section at the foot of the tab (`/compare`, its store `COMPARISONS`) is
`cvdemo.ui.evaluate_compare`: `layout` and `wire` call its own, `localize` adds its localised components. Both use
`cvdemo.ui.evaluate_inputs` (the model dropdown and the checked model, the thresholds, staging under its
`WORK_ROOT`, the model run and its cap), whose `remove_session_folders` deletes a session's folders when it ends.

The first view: when the page loads, the built-in shapes example (its images and the shipped detr-shapes'
predictions, `examples_dir/shapes-detr-eval`) is evaluated from its files the same way (~0.1 s: no cache needed)
and shown with everything the Evaluate button shows; the upload boxes stay empty (filling them on load races
their change events). Each session gets its own copy, kept in `evaluate_browse.EXAMPLE_EVALUATIONS` (bounded like
`EVALUATIONS`, dropped with the session, and apart from it so that page loads never evict anyone's upload).

Text is in English or Simplified Chinese (`cvdemo.ui.texts.evaluate`): static text through `T("key")`, what the
handlers compose in the language of the request. `/evaluate` called without a browser language (gradio_client)
answers in English; the metrics JSON and the CSV export are machine-readable and always English.
"""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics.browse import ERROR_FILTERS, MIN_IOU, SORTS, EvaluationBrowser, load_evaluation
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import evaluate_browse as browse
from cvdemo.ui import evaluate_compare, sessions
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.evaluate_inputs import (
    MAX_IOU,
    UPLOADED,
    checked_thresholds,
    detectors,
    files_of,
    keep,
    model_choices,
    model_predictions,
    model_to_run,
    new_workdir,
    remove_session_folders,
)
from cvdemo.ui.evaluation_viewer import (
    HEADERS,
    class_rows,
    coco_rows,
    error_filter_choices,
    legend_html,
    pr_curves_figure,
    sort_choices,
    status_markdown,
    table,
    voc_markdown,
)
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.texts.evaluate import T
from cvdemo.ui.uploads import answering

COCO_COLUMNS, CLASS_COLUMNS, PAGE_COLUMNS, OBJECT_COLUMNS = (HEADERS[DEFAULT_LOCALE][t] for t in
                                                             ("coco", "class", "page", "objects"))


def build_evaluate_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    ``registry``'s detection models can be run on an uploaded data set's images instead of uploading
    predictions; ``examples_dir/shapes-detr-eval`` and ``examples_dir/coco-val2014-100`` hold the examples offered
    under the upload boxes; the first is evaluated when the page loads (the first view)."""
    wire(layout(detectors(registry, None), examples_dir, detectors(registry, None)), registry,
         _shapes_example(examples_dir))


# --- layout ----------------------------------------------------------------------------------------------------

def layout(model_names: list[str], examples_dir: Path, compare_models: list[str] | None = None) -> SimpleNamespace:
    """Create the tab's components (in the current Blocks context); returns them by name, the comparison's
    (`evaluate_compare.layout`) as ``compare``. ``compare_models``: the detectors of every family offered to the
    comparison of two prediction sets (default: ``model_names``)."""
    gr.Markdown(T("intro"))
    ui = SimpleNamespace(token=gr.State(None), view=gr.State(None))  # view: {"image_id", "scale", "selected"}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            _upload_column(ui, model_names, examples_dir)
        with gr.Column(scale=3, min_width=360):
            with gr.Row(equal_height=False):
                ui.coco_table = gr.Dataframe(headers=COCO_COLUMNS, label=T("coco_table_label"), interactive=False,
                                             elem_id="eval-coco", column_widths=["70%", "30%"])
                ui.voc_md = gr.Markdown(elem_id="eval-voc")
            ui.metrics_file = gr.File(label=T("metrics_file_label"), interactive=False, elem_id="eval-metrics-file",
                                      height=60)
    gr.Markdown(T("per_class_heading"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui.class_table = gr.Dataframe(headers=CLASS_COLUMNS, label=T("class_table_label"), interactive=False,
                                          max_height=460, elem_id="eval-classes")
        with gr.Column(scale=2):
            ui.class_dd = gr.Dropdown(browse.class_choices(None, DEFAULT_LOCALE), value=browse.ALL,
                                      label=T("class_label"), elem_id="eval-class")
            ui.pr_plot = gr.Plot(label=T("pr_label"), elem_id="eval-pr")
    _browse_area(ui)
    gr.Markdown(T("errors_heading"))
    with gr.Row(equal_height=False):
        ui.confusion_plot = gr.Plot(label=T("confusion_label"), elem_id="eval-confusion")
        ui.tide_md = gr.Markdown(elem_id="eval-tide")
    gr.Markdown(T("export_heading"))
    with gr.Row(equal_height=False):
        ui.export_btn = gr.Button(T("export_button"))
        ui.export_files = gr.File(label=T("downloads_label"), file_count="multiple", interactive=False,
                                  elem_id="eval-exports", height=100)
    ui.compare = evaluate_compare.layout(model_names if compare_models is None else compare_models)
    return ui


def _upload_column(ui: SimpleNamespace, model_names: list[str], examples_dir: Path) -> None:
    ui.dataset_in = gr.File(file_count="multiple", label=T("dataset_label"), elem_id="eval-dataset", height=140)
    ui.preds_in = gr.File(file_count="multiple", label=T("predictions_label"), elem_id="eval-predictions",
                          height=140)
    ui.upload_count = gr.Markdown(elem_id="eval-upload-count")  # the file lists show a few rows: say how many
    ui.model_dd = gr.Dropdown(model_choices(model_names, DEFAULT_LOCALE), value=UPLOADED, label=T("model_label"),
                              info=T("model_info"), elem_id="eval-model")
    ui.evaluate_btn = gr.Button(T("evaluate_button"), variant="primary", elem_id="eval-button")
    ui.example_table = _examples(ui.dataset_in, ui.preds_in, examples_dir)
    ui.status = gr.Markdown(elem_id="eval-status")


def _browse_area(ui: SimpleNamespace) -> None:
    """The thresholds, filters, the page of images and the image on show."""
    gr.Markdown(T("images_heading"))
    with gr.Row():
        ui.iou = gr.Slider(MIN_IOU, MAX_IOU, value=0.5, step=0.05, label=T("iou_label"), elem_id="eval-iou",
                           info=T("iou_info"))
        ui.score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label=T("score_label"), elem_id="eval-score",
                             info=T("score_info"))
        ui.error_dd = gr.Dropdown(error_filter_choices(), value=ERROR_FILTERS[0], label=T("error_label"),
                                  elem_id="eval-error")
        ui.sort_dd = gr.Dropdown(sort_choices(), value=SORTS[0], label=T("sort_label"), elem_id="eval-sort")
    ui.counts = gr.Markdown(elem_id="eval-counts")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                ui.prev_btn = gr.Button(T("previous_page"), size="sm", min_width=80)
                ui.page = gr.Number(1, precision=0, minimum=1, label=T("page_label"), min_width=80,
                                    elem_id="eval-page")
                ui.next_btn = gr.Button(T("next_page"), size="sm", min_width=80, elem_id="eval-next")
            ui.page_info = gr.Markdown(elem_id="eval-page-info")
            ui.page_table = gr.Dataframe(headers=PAGE_COLUMNS, label=T("images_table_label"), interactive=False,
                                         elem_id="eval-images")
        with gr.Column(scale=3, min_width=360):
            ui.legend = gr.HTML(legend_html())
            ui.image = gr.Image(label=T("image_label"), interactive=False, format="jpeg", elem_id="eval-image",
                                buttons=["fullscreen"])
            ui.click_info = gr.Markdown(elem_id="eval-click")
            ui.objects = gr.Dataframe(headers=OBJECT_COLUMNS, label=T("objects_label"), interactive=False,
                                      max_height=300, elem_id="eval-objects")


def _example_headers(locale: str) -> list[str]:
    """The example table's column headers (Gradio shows them as they are: no translation key)."""
    return [T.text("dataset_label", locale), T.text("predictions_label", locale)]


def _shapes_example(examples_dir: Path) -> list[list[str]] | None:
    """[data set files (annotations.json, then the images), prediction files] of the shapes example with the
    shipped detr-shapes' predictions, or None when its files are not there."""
    shapes = examples_dir / "shapes-detr-eval"
    if not ((shapes / "annotations.json").is_file() and (shapes / "predictions.json").is_file()):
        return None
    images = sorted(str(p) for p in (shapes / "images").glob("*.png"))
    return [[str(shapes / "annotations.json"), *images], [str(shapes / "predictions.json")]]


def _examples(dataset_in: gr.File, preds_in: gr.File, examples_dir: Path) -> gr.Dataset | None:
    """The examples under the upload boxes (those whose files are there); their table (None without any): shapes
    with their images and the shipped detr-shapes' predictions, then COCO val2014's annotations only."""
    coco = examples_dir / "coco-val2014-100"
    shapes = _shapes_example(examples_dir)
    rows = [shapes] if shapes else []
    gt, dt = coco / "instances_val2014_100.json", coco / "instances_val2014_fakebbox100_results.json"
    if gt.is_file() and dt.is_file():
        rows.append([[str(gt)], [str(dt)]])
    if not rows:
        return None
    examples = answering(gr.Examples(rows, [dataset_in, preds_in], cache_examples=False, label=T("example_label")))
    examples.dataset.headers = _example_headers(DEFAULT_LOCALE)  # the inputs' labels are keys: show text
    return examples.dataset


@answers
def upload_count(dataset_payload, preds_payload, request: gr.Request) -> str:
    """How many files each upload list holds (the lists show only their first rows); empty when both are empty."""
    dataset, preds = len(files_of(dataset_payload)), len(files_of(preds_payload))
    if not dataset and not preds:
        return ""
    return T.text("upload_count", locale_of(request), dataset=dataset, predictions=preds)


# --- handlers: evaluating an upload ------------------------------------------------------------------------------

@answers
def localize(request: gr.Request, *, registry: ModelRegistry, with_example: bool = True):
    """On page load: the dropdowns' entries, the legend, the empty tables' headers (and the example table's) in
    the user's language (static text is translated in the browser; these are values)."""
    locale = locale_of(request)
    names = detectors(registry, sessions.session_of(request))
    return (gr.Dropdown(choices=model_choices(names, locale)),
            gr.Dropdown(choices=browse.class_choices(None, locale), value=browse.ALL),
            gr.Dropdown(choices=error_filter_choices(locale), value=ERROR_FILTERS[0]),
            gr.Dropdown(choices=sort_choices(locale), value=SORTS[0]), legend_html(locale),
            *(table(t, [], locale) for t in ("coco", "class", "page", "objects")),
            *([gr.Dataset(headers=_example_headers(locale))] if with_example else []),
            *evaluate_compare.localized(registry, sessions.session_of(request), locale))


@answers
def evaluate(dataset_payload, preds_payload, iou_v, score_v, model_name, request: gr.Request,
             progress=gr.Progress(), *, registry: ModelRegistry):  # noqa: B008 - how Gradio asks for a tracker
    """Stage, load and evaluate an upload (or run a model on its images); keep it in `EVALUATIONS`."""
    locale, session = locale_of(request), sessions.session_of(request)
    start = time.perf_counter()
    checked_thresholds(iou_v, score_v, locale)
    model_name = model_to_run(registry, model_name, locale, session)
    progress(0.1, desc=T.text("progress", locale))
    timing: list[float] = []
    predict = (model_predictions(registry, model_name, session, locale, progress, timing)
               if model_name != UPLOADED else None)
    browser = _load(session, dataset_payload, preds_payload, predict, locale)
    token = keep(browse.EVALUATIONS, session, browser)  # evicts the session's previous evaluation
    browse.EXAMPLE_EVALUATIONS.drop_session(session)  # its first view's example is no longer on show
    model_run = (model_name, timing[0], registry.device.type.upper()) if timing else None
    return _result(browser, token, status_markdown(browser, time.perf_counter() - start, locale, model_run), locale)


@answers
def first_view(request: gr.Request, *, example: list[list[str]]):
    """On page load: the shapes example evaluated from its files (``example``: [data set files, prediction
    files]), shown as `evaluate` shows an upload, its status saying what it is and how to evaluate one's own."""
    locale, session = locale_of(request), sessions.session_of(request)
    start = time.perf_counter()
    dataset_files, prediction_files = example
    browser = _load(session, dataset_files, prediction_files, None, locale)  # paths: staged as an upload's files
    token = keep(browse.EXAMPLE_EVALUATIONS, session, browser)
    intro = T.text("example_status", locale, images=len(browser.gt.images))
    return _result(browser, token, intro + "\n\n" + status_markdown(browser, time.perf_counter() - start, locale),
                   locale)


def _result(browser: EvaluationBrowser, token: str, status: str, locale: str) -> tuple:
    """What `evaluate` and `first_view` show: status, COCO table, VOC, metrics file, class table, class dropdown,
    PR curves, page 1, the token, no image on show yet."""
    metrics_path = browser.write_metrics_json()
    return (status, table("coco", coco_rows(browser, locale), locale), voc_markdown(browser, locale),
            str(metrics_path), table("class", class_rows(browser, locale), locale),
            gr.Dropdown(choices=browse.class_choices(browser, locale), value=browse.ALL),
            pr_curves_figure(browser.coco, locale=locale), 1, token, None)


def _load(session: str, dataset_payload, preds_payload, predict, locale: str) -> EvaluationBrowser:
    """`load_evaluation` in a new folder of the session; a refused upload leaves nothing behind."""
    workdir = new_workdir(session)
    try:
        return load_evaluation(workdir, files_of(dataset_payload), files_of(preds_payload), predict=predict)
    except DatasetError as e:  # its own text (the library's, English), a title in the user's language
        shutil.rmtree(workdir, ignore_errors=True)
        raise gr.Error(html.escape(translate(e, locale), quote=False), title=T.text("cannot_evaluate_title", locale),
                       print_exception=False) from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


# --- wiring -------------------------------------------------------------------------------------------------------

def wire(ui: SimpleNamespace, registry: ModelRegistry, example: list[list[str]] | None = None) -> None:
    """Connect the handlers to the components of `layout`; ``example`` (the shapes example's [data set files,
    prediction files]) is evaluated and shown when the page loads."""
    sessions.on_session_end(remove_session_folders)
    browse_inputs = [ui.token, ui.iou, ui.score, ui.class_dd, ui.error_dd, ui.sort_dd, ui.page, ui.view]
    browse_outputs = [ui.counts, ui.page_info, ui.page_table, ui.page, ui.image, ui.click_info, ui.objects, ui.view]
    image_outputs = [ui.image, ui.click_info, ui.objects, ui.view]
    hidden = dict(show_progress="hidden", api_visibility="private")
    has_example = ui.example_table is not None
    cmp = ui.compare
    localized = [ui.model_dd, ui.class_dd, ui.error_dd, ui.sort_dd, ui.legend, ui.coco_table, ui.class_table,
                 ui.page_table, ui.objects, *([ui.example_table] if has_example else []), cmp.model_a, cmp.model_b,
                 cmp.coco_table, cmp.class_table, cmp.images_table, cmp.legend]
    gr.on([ui.dataset_in.change, ui.preds_in.change], upload_count, [ui.dataset_in, ui.preds_in], ui.upload_count,
          queue=False, preprocess=False, **hidden)
    result_outputs = [ui.status, ui.coco_table, ui.voc_md, ui.metrics_file, ui.class_table, ui.class_dd, ui.pr_plot,
                      ui.page, ui.token, ui.view]
    # page load (no inputs: they would re-trigger it on every change)
    loaded = gr.on(None, bind(localize, registry=registry, with_example=has_example), inputs=None,
                   outputs=localized, queue=False, **hidden)
    error_views = [ui.confusion_plot, ui.tide_md]
    if example:  # the first view: the example's result, after `localize` has set the empty tables' headers
        loaded.then(bind(first_view, example=example), None, result_outputs, **hidden
                    ).success(browse.refresh, browse_inputs, browse_outputs, **hidden
                              ).success(browse.errors_view, [ui.token, ui.iou, ui.score], error_views, **hidden)
    gr.on([ui.evaluate_btn.click], bind(evaluate, registry=registry),
          [ui.dataset_in, ui.preds_in, ui.iou, ui.score, ui.model_dd], result_outputs,
          api_name="evaluate", preprocess=False, concurrency_limit=2, show_progress_on=[ui.status, ui.coco_table],
          ).success(browse.refresh, browse_inputs, browse_outputs, **hidden
                    ).success(browse.errors_view, [ui.token, ui.iou, ui.score], error_views, **hidden)
    gr.on([ui.iou.input, ui.score.input], browse.refresh, browse_inputs, browse_outputs, trigger_mode="always_last",
          **hidden)
    # the slower error views (~0.5-1.5 s on 500k detections) follow any change, drag or keyboard, in their own
    # event so that the counts above never wait for them; always_last folds a drag into at most two runs
    gr.on([ui.iou.change, ui.score.change], browse.errors_after_move, [ui.token, ui.iou, ui.score],
          error_views, trigger_mode="always_last", show_progress="minimal",
          api_visibility="private")
    gr.on([ui.class_dd.input, ui.error_dd.input, ui.sort_dd.input], browse.first_page, None, ui.page, queue=False,
          **hidden).then(browse.refresh, browse_inputs, browse_outputs, **hidden)
    ui.class_dd.input(browse.pr_view, [ui.token, ui.class_dd], ui.pr_plot, **hidden)
    ui.prev_btn.click(browse.previous_page, ui.page, ui.page, queue=False, **hidden
                      ).then(browse.refresh, browse_inputs, browse_outputs, **hidden)
    ui.next_btn.click(browse.next_page, ui.page, ui.page, queue=False, **hidden
                      ).then(browse.refresh, browse_inputs, browse_outputs, **hidden)
    ui.page.submit(browse.refresh, browse_inputs, browse_outputs, **hidden)
    ui.page_table.select(browse.view_row, [ui.token, ui.iou, ui.score, ui.class_dd, ui.error_dd, ui.sort_dd],
                         image_outputs, **hidden)
    ui.image.select(browse.click, [ui.token, ui.iou, ui.score, ui.class_dd, ui.view], image_outputs, **hidden)
    ui.export_btn.click(browse.export, [ui.token, ui.iou, ui.score], ui.export_files, api_visibility="private")
    evaluate_compare.wire(cmp, registry)
