"""The Evaluate tab: a data set and its predictions -> COCO and VOC metrics, PR curves, confusion, TP/FP/FN.

`/evaluate` (data set files, prediction files, IoU and score thresholds, and optionally a detection model of
the registry to run on the data set's images instead of uploaded predictions) stages the uploads in a
per-session temporary folder, loads (runs the model: at most `MAX_MODEL_IMAGES` images) and evaluates once
(`cvdemo.ui.evaluation_session`) and keeps the session in a `gr.State`; the sliders, filters, paging and
clicks then only re-assign (`ObjectAssigner`) and redraw.

Text is in English or Simplified Chinese (`cvdemo.ui.texts.evaluate`): static text through `T("key")`, what the
handlers compose in the language of the request. `/evaluate` called without a browser language (gradio_client)
answers in English; the metrics JSON and the CSV export are machine-readable and always English.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from cvdemo.datasets.coco import load_coco_detections
from cvdemo.datasets.folder import LoadedDataset
from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics import Assignment
from cvdemo.predict import CategoryMismatchError, predict_coco
from cvdemo.training.image_files import ImageReadError
from cvdemo.ui.evaluation_figures import confusion_figure, pr_curves_figure
from cvdemo.ui.evaluation_session import (
    ERROR_FILTERS,
    MIN_IOU,
    PAGE_SIZE,
    SORTS,
    BrowseView,
    EvaluationSession,
    choice_text,
    error_filter_choices,
    sort_choices,
)
from cvdemo.ui.evaluation_viewer import describe_object, legend_html, object_at, render_image
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES, locale_of
from cvdemo.ui.models_registry import ModelRegistry, ModelUnavailableError
from cvdemo.ui.texts.evaluate import T
from cvdemo.ui.zerogpu import gpu_task

STATE_SECONDS = 1800  # a session's evaluation (and its temporary folder) is dropped after 30 minutes unused
WORK_ROOT = Path(tempfile.gettempdir()) / "cvdemo-evaluate"  # one sub-folder per evaluation, nothing else
ALL = -1  # the "all classes" entry of the class dropdown
UPLOADED = ""  # the "uploaded predictions" entry of the model dropdown
# images a model may be run on in one evaluation (a CPU runs DETR-R50 at ~1 image/s)
MAX_MODEL_IMAGES = int(os.environ.get("CVDEMO_MAX_EVAL_MODEL_IMAGES", "500"))
# the shown tables' headers: a catalog key, or a token shown as is in every language
_COLUMNS = {
    "coco": ("col_metric", "col_value"),
    "class": ("col_class", "col_num_gt", "AP", "AP50", "AP75", "AR", "VOC07", "VOC12"),
    "page": ("#", "col_image_id", "TP", "FP", "FN", "F1", "col_file"),
    "objects": ("col_kind", "col_row", "col_status", "col_class", "col_score", "IoU", "col_matched",
                "x", "y", "w", "h"),
}
# {locale: {table: headers}}, made once (a slider move only looks its headers up)
_HEADERS = {locale: {table: [T.text(c, locale) if c in T.texts else c for c in columns]
                     for table, columns in _COLUMNS.items()} for locale in LOCALES}
COCO_COLUMNS, CLASS_COLUMNS, PAGE_COLUMNS, OBJECT_COLUMNS = (_HEADERS[DEFAULT_LOCALE][t] for t in _COLUMNS)


def _headers(table: str, locale: str) -> list[str]:
    return _HEADERS.get(locale, _HEADERS[DEFAULT_LOCALE])[table]


def _table(table: str, rows: list[list], locale: str) -> dict:
    """A gr.Dataframe value with the headers in ``locale`` (the component's own headers are English)."""
    return {"headers": _headers(table, locale), "data": rows}


def _number(value: float) -> float | str:
    return "" if value is None or not np.isfinite(value) or value < 0 else round(float(value), 3)


def _files(payload: Any) -> list[tuple[str, str]]:
    """[(original name, local path)] of a gr.File(file_count="multiple") payload (preprocess=False)."""
    if not payload:
        return []
    items = payload if isinstance(payload, list) else [payload]
    out = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else getattr(item, "path", item)
        name = (item.get("orig_name") if isinstance(item, dict) else getattr(item, "orig_name", None)) or path
        if path:
            out.append((Path(str(name)).name, str(path)))
    return out


# catalog keys of pycocotools' 12 numbers, in its order
COCO_LABELS = ("coco_ap", "coco_ap50", "coco_ap75", "coco_ap_small", "coco_ap_medium", "coco_ap_large",
               "coco_ar1", "coco_ar10", "coco_ar100", "coco_ar_small", "coco_ar_medium", "coco_ar_large")


def _coco_rows(session: EvaluationSession, locale: str = DEFAULT_LOCALE) -> list[list]:
    """pycocotools' summary, one row per number (its full line is in the metrics JSON's CLI twin)."""
    return [[T.text(label, locale), _number(v)] for label, v in zip(COCO_LABELS, session.coco.stats)]


def _voc_markdown(session: EvaluationSession, locale: str = DEFAULT_LOCALE) -> str:
    voc, stats = session.voc, session.coco.stats_dict()
    table = T.text("voc_table", locale, map07=_number(voc.map07), map12=_number(voc.map12),
                   ap50=_number(stats["AP50"]))
    why = T.text("why_differ", locale, ap50=_number(stats["AP50"]), voc12=_number(voc.map12), ap=_number(stats["AP"]))
    return table + "\n\n" + why


def _class_rows(session: EvaluationSession) -> list[list]:
    voc = {c: (a07, a12) for c, a07, a12 in zip(session.voc.category_ids.tolist(), session.voc.ap07, session.voc.ap12)}
    rows = []
    for k, (cat, v) in enumerate(session.coco.per_class().items()):
        a07, a12 = voc.get(cat, (np.nan, np.nan))
        rows.append([session.names.get(cat, str(cat)), int(session.coco.num_gt[k, 0]), _number(v["AP"]),
                     _number(v["AP50"]), _number(v["AP75"]), _number(v["AR"]), _number(a07), _number(a12)])
    return rows


def _status(session: EvaluationSession, seconds: float, locale: str = DEFAULT_LOCALE,
            model_run: tuple[str, float, str] | None = None) -> str:
    """The data set, the predictions (and the model that made them: name, seconds, device) and the time."""
    gt, ds = session.gt, session.dataset
    fields = dict(format=ds.format, images=len(gt.images), objects=len(gt), classes=len(gt.categories),
                  predictions=len(session.dt), seconds=seconds)
    if model_run is None:
        text = T.text("status", locale, **fields)
    else:
        name, model_seconds, device = model_run
        text = T.text("status_model", locale, model=html.escape(name), model_seconds=model_seconds,
                      device=device, **fields)
    if ds.notes:  # the library's notes: English
        text += "  \n*" + html.escape("; ".join(ds.notes)) + "*"
    return text


def _counts(view: BrowseView, class_name: str | None, locale: str = DEFAULT_LOCALE) -> str:
    c, a = view.counts, view.assignment
    precision = c["tp"] / max(c["tp"] + c["fp"], 1)
    recall = c["tp"] / max(c["tp"] + c["fn"], 1)
    where = (T.text("where_class", locale, name=html.escape(class_name)) if class_name
             else T.text("all_classes", locale))
    return T.text("counts", locale, iou=a.iou_threshold, score=a.score_threshold, where=where, tp=c["tp"],
                  fp=c["fp"], fn=c["fn"], precision=precision, recall=recall, ignored_dets=c["ignored_dets"],
                  ignored_gts=c["ignored_gts"])


# the catalog key of each count of `TideBreakdown.counts`
_TIDE_ROWS = {"loc": "tide_loc", "cls": "tide_cls", "dupe": "tide_dupe", "bkg": "tide_bkg", "both": "tide_both",
              "missed": "tide_missed"}


def _tide_markdown(session: EvaluationSession, iou: float, score: float, locale: str = DEFAULT_LOCALE) -> str:
    counts = session.tide(iou, score).counts()
    rows = [T.text("tide_table_header", locale), "|---|---|"]
    rows += [f"| {T.text(_TIDE_ROWS[k], locale)} | {v:,} |" for k, v in counts.items()]
    return T.text("tide_heading", locale, iou=iou, score=score) + "\n\n" + "\n".join(rows)


def _class_choices(session: EvaluationSession | None, locale: str) -> list[tuple[str, int]]:
    """The class dropdown's entries: all classes, then the data set's classes (their own names)."""
    choices = [(T.text("all_classes", locale), ALL)]
    if session is not None:
        choices += [(session.names.get(c, str(c)), int(c)) for c in session.coco.category_ids]
    return choices


def build_evaluate_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    ``registry``'s detection models can be run on an uploaded data set's images instead of uploading
    predictions; ``examples_dir/coco-val2014-100`` holds the example offered under the upload boxes."""
    model_names = registry.names("detect")
    gr.Markdown(T("intro"))
    session_state = gr.State(None, time_to_live=STATE_SECONDS, delete_callback=_close)
    view_state = gr.State(None, time_to_live=STATE_SECONDS)  # {"image_id", "scale", "selected"}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            dataset_in = gr.File(file_count="multiple", label=T("dataset_label"), elem_id="eval-dataset", height=140)
            preds_in = gr.File(file_count="multiple", label=T("predictions_label"), elem_id="eval-predictions",
                               height=140)
            model_dd = gr.Dropdown(_model_choices(model_names, DEFAULT_LOCALE), value=UPLOADED, label=T("model_label"),
                                   info=T("model_info"), elem_id="eval-model")
            evaluate_btn = gr.Button(T("evaluate_button"), variant="primary", elem_id="eval-button")
            example_table = _examples(dataset_in, preds_in, examples_dir)
            status = gr.Markdown(elem_id="eval-status")
        with gr.Column(scale=3, min_width=360):
            with gr.Row(equal_height=False):
                coco_table = gr.Dataframe(headers=COCO_COLUMNS, label=T("coco_table_label"),
                                          interactive=False, elem_id="eval-coco", column_widths=["70%", "30%"])
                voc_md = gr.Markdown(elem_id="eval-voc")
            metrics_file = gr.File(label=T("metrics_file_label"), interactive=False, elem_id="eval-metrics-file",
                                   height=60)
    gr.Markdown(T("per_class_heading"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            class_table = gr.Dataframe(headers=CLASS_COLUMNS, label=T("class_table_label"),
                                       interactive=False, max_height=460, elem_id="eval-classes")
        with gr.Column(scale=2):
            class_dd = gr.Dropdown(_class_choices(None, DEFAULT_LOCALE), value=ALL, label=T("class_label"),
                                   elem_id="eval-class")
            pr_plot = gr.Plot(label=T("pr_label"), elem_id="eval-pr")
    gr.Markdown(T("images_heading"))
    with gr.Row():
        iou = gr.Slider(MIN_IOU, 0.95, value=0.5, step=0.05, label=T("iou_label"), elem_id="eval-iou",
                        info=T("iou_info"))
        score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label=T("score_label"), elem_id="eval-score",
                          info=T("score_info"))
        error_dd = gr.Dropdown(error_filter_choices(), value=ERROR_FILTERS[0], label=T("error_label"),
                               elem_id="eval-error")
        sort_dd = gr.Dropdown(sort_choices(), value=SORTS[0], label=T("sort_label"), elem_id="eval-sort")
    counts = gr.Markdown(elem_id="eval-counts")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                prev_btn = gr.Button(T("previous_page"), size="sm", min_width=80)
                page = gr.Number(1, precision=0, minimum=1, label=T("page_label"), min_width=80, elem_id="eval-page")
                next_btn = gr.Button(T("next_page"), size="sm", min_width=80, elem_id="eval-next")
            page_info = gr.Markdown(elem_id="eval-page-info")
            page_table = gr.Dataframe(headers=PAGE_COLUMNS, label=T("images_table_label"),
                                      interactive=False, elem_id="eval-images")
        with gr.Column(scale=3, min_width=360):
            legend = gr.HTML(legend_html())
            image = gr.Image(label=T("image_label"), interactive=False, format="jpeg",
                             elem_id="eval-image", buttons=["fullscreen"])
            click_info = gr.Markdown(elem_id="eval-click")
            objects = gr.Dataframe(headers=OBJECT_COLUMNS, label=T("objects_label"),
                                   interactive=False, max_height=300, elem_id="eval-objects")
    gr.Markdown(T("errors_heading"))
    with gr.Row(equal_height=False):
        confusion_plot = gr.Plot(label=T("confusion_label"), elem_id="eval-confusion")
        tide_md = gr.Markdown(elem_id="eval-tide")
    gr.Markdown(T("export_heading"))
    with gr.Row(equal_height=False):
        export_btn = gr.Button(T("export_button"))
        export_files = gr.File(label=T("downloads_label"), file_count="multiple", interactive=False,
                               elem_id="eval-exports", height=100)

    def localize(request: gr.Request):
        """On page load: the dropdowns' entries, the legend and the empty tables' headers in the user's language
        (static text is translated in the browser; these are values)."""
        locale = locale_of(request)
        return (gr.Dropdown(choices=_model_choices(model_names, locale)),
                gr.Dropdown(choices=_class_choices(None, locale), value=ALL),
                gr.Dropdown(choices=error_filter_choices(locale), value=ERROR_FILTERS[0]),
                gr.Dropdown(choices=sort_choices(locale), value=SORTS[0]), legend_html(locale),
                *(_table(t, [], locale) for t in ("coco", "class", "page", "objects")),
                *([gr.Dataset(headers=_example_headers(locale))] if example_table is not None else []))

    @gpu_task
    def run_model(name: str, dataset: LoadedDataset, on_image) -> list[dict]:
        return predict_coco(registry.get(name), dataset.image_files, dataset.ground_truth, registry.device,
                            on_image=on_image)

    def model_predictions(name: str, locale: str, progress: gr.Progress, timing: list):
        """``predict`` for `EvaluationSession.create`: ``name`` run on the data set's images (seconds -> timing)."""
        def predict(dataset: LoadedDataset):
            images = len(dataset.ground_truth.images)
            if images > MAX_MODEL_IMAGES:
                raise DatasetError(T.text("too_many_images", locale, images=images, limit=MAX_MODEL_IMAGES))
            started = time.perf_counter()
            try:
                records = run_model(name, dataset, lambda done, total: progress(
                    done / total, desc=T.text("model_progress", locale, model=name, done=done, total=total)))
            except (CategoryMismatchError, ImageReadError, ModelUnavailableError) as e:
                raise gr.Error(html.escape(str(e), quote=False), title=T.text("cannot_run_model_title", locale),
                               print_exception=False) from None
            timing.append(time.perf_counter() - started)
            return load_coco_detections(records, dataset.ground_truth)
        return predict

    def evaluate(dataset_payload, preds_payload, iou_v: float, score_v: float, model_name: str | None,
                 old: EvaluationSession | None, request: gr.Request,
                 progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        locale = locale_of(request)
        start = time.perf_counter()
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="session-", dir=WORK_ROOT))
        progress(0.1, desc=T.text("progress", locale))
        model_name = model_name or UPLOADED
        if model_name != UPLOADED and model_name not in model_names:
            raise gr.Error(T.text("unknown_model", locale, name=html.escape(str(model_name)),
                                  names=", ".join(model_names)), print_exception=False)
        timing: list[float] = []
        predict = model_predictions(model_name, locale, progress, timing) if model_name != UPLOADED else None
        try:
            session = EvaluationSession.create(workdir, _files(dataset_payload), _files(preds_payload),
                                               predict=predict, locale=locale)
        except DatasetError as e:  # the library's message (English), a title in the user's language
            shutil.rmtree(workdir, ignore_errors=True)
            raise gr.Error(html.escape(str(e), quote=False), title=T.text("cannot_evaluate_title", locale),
                           print_exception=False) from None
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        _close(old)
        metrics_path = session.write_metrics_json()
        model_run = (model_name, timing[0], registry.device.type.upper()) if timing else None
        return (_status(session, time.perf_counter() - start, locale, model_run),
                _table("coco", _coco_rows(session, locale), locale), _voc_markdown(session, locale),
                str(metrics_path), _table("class", _class_rows(session), locale),
                gr.Dropdown(choices=_class_choices(session, locale), value=ALL),
                pr_curves_figure(session.coco, locale=locale), 1, session, None)

    def refresh(session: EvaluationSession | None, iou_v, score_v, class_v, error_v, sort_v, page_v, view,
                request: gr.Request):
        """Counts, the page of images, and the image on show (kept if it is still on the page)."""
        if session is None:
            return (gr.skip(),) * 8
        locale = locale_of(request)
        class_id = None if class_v in (None, ALL) else int(class_v)
        v = session.browse(float(iou_v), float(score_v), class_id, error_v, sort_v)
        pages = session.num_pages(v)
        page_v = min(max(1, int(page_v or 1)), pages)
        rows = session.page_rows(v, page_v - 1)
        first, last = (page_v - 1) * PAGE_SIZE + 1, (page_v - 1) * PAGE_SIZE + len(rows)
        error_text = choice_text(error_v, locale)
        info = (T.text("page_info", locale, first=first, last=last, total=len(v.order), error=error_text,
                       sort=choice_text(sort_v, locale), page=page_v, pages=pages)
                if rows else T.text("no_image_matches", locale, error=error_text))
        rows = [[*r[:2], *r[3:], r[2]] for r in rows]  # the file name last: it is the widest
        shown = [r[1] for r in rows]
        image_id = view["image_id"] if view and view.get("image_id") in shown else (shown[0] if shown else None)
        selected = view.get("selected") if view and view.get("image_id") == image_id else None
        outs = _show(session, v.assignment, image_id, class_id, selected, locale)
        return (_counts(v, session.names.get(class_id), locale), info, _table("page", rows, locale), page_v, *outs)

    def _show(session, a: Assignment, image_id, class_id, selected, locale: str):
        if image_id is None:
            return None, "", _table("objects", [], locale), None
        img, scale, note = render_image(session, image_id, a, class_id, selected, locale=locale)
        info, _ = session.image_info(image_id)
        tide = session.tide_if_computed(a.iou_threshold, a.score_threshold)
        text = describe_object(session, a, *selected, tide, locale=locale) if selected else T.text(
            "image_line", locale, image_id=image_id, file=html.escape(info.file_name),
            note=note + " · " if note else "")
        return (img, text, _table("objects", session.object_rows(image_id, a, class_id, locale=locale), locale),
                {"image_id": image_id, "scale": scale, "selected": selected})

    def view_row(session, iou_v, score_v, class_v, error_v, sort_v, evt: gr.SelectData, request: gr.Request):
        if session is None or not evt.row_value:
            return (gr.skip(),) * 4
        class_id = None if class_v in (None, ALL) else int(class_v)
        v = session.browse(float(iou_v), float(score_v), class_id, error_v, sort_v)
        return _show(session, v.assignment, int(evt.row_value[1]), class_id, None, locale_of(request))

    def click(session, iou_v, score_v, class_v, view, evt: gr.SelectData, request: gr.Request):
        if session is None or not view or evt.index is None:
            return (gr.skip(),) * 4
        class_id = None if class_v in (None, ALL) else int(class_v)
        a = session.assignment(float(iou_v), float(score_v))
        hit = object_at(session, view["image_id"], a, class_id, evt.index[0], evt.index[1], view["scale"])
        return _show(session, a, view["image_id"], class_id, hit, locale_of(request))

    def errors_view(session, iou_v, score_v, request: gr.Request, delay: float = 0.0):
        if session is None:
            return gr.skip(), gr.skip()
        time.sleep(delay)  # after a slider move: let the counts and the image (same trigger) have the CPU first
        locale = locale_of(request)
        return (confusion_figure(session.confusion(float(iou_v), float(score_v)), locale=locale),
                _tide_markdown(session, float(iou_v), float(score_v), locale))

    def errors_after_move(session, iou_v, score_v, request: gr.Request):
        # not functools.partial: Gradio finds the gr.Request parameter from a function's type hints only
        return errors_view(session, iou_v, score_v, request, delay=0.3)

    def pr_view(session, class_v, request: gr.Request):
        if session is None:
            return gr.skip()
        return pr_curves_figure(session.coco, None if class_v in (None, ALL) else int(class_v),
                                locale=locale_of(request))

    def export(session, iou_v, score_v, request: gr.Request):
        if session is None:
            locale = locale_of(request)
            raise gr.Error(T.text("nothing_to_export", locale), title=T.text("nothing_to_export_title", locale),
                           print_exception=False)
        return [str(session.write_objects_csv(float(iou_v), float(score_v))),
                str(session.write_metrics_json(float(iou_v), float(score_v)))]

    browse_inputs = [session_state, iou, score, class_dd, error_dd, sort_dd, page, view_state]
    browse_outputs = [counts, page_info, page_table, page, image, click_info, objects, view_state]
    hidden = dict(show_progress="hidden", api_visibility="private")
    # page load (no inputs: they would re-trigger it on every change)
    gr.on(None, localize, inputs=None,
          outputs=[model_dd, class_dd, error_dd, sort_dd, legend, coco_table, class_table, page_table, objects,
                   *([example_table] if example_table is not None else [])],
          queue=False, **hidden)
    gr.on([evaluate_btn.click], evaluate, [dataset_in, preds_in, iou, score, model_dd, session_state],
          [status, coco_table, voc_md, metrics_file, class_table, class_dd, pr_plot, page, session_state, view_state],
          api_name="evaluate", preprocess=False, concurrency_limit=2, show_progress_on=[status, coco_table],
          ).success(refresh, browse_inputs, browse_outputs, **hidden
                    ).success(errors_view, [session_state, iou, score], [confusion_plot, tide_md], **hidden)
    gr.on([iou.input, score.input], refresh, browse_inputs, browse_outputs, trigger_mode="always_last", **hidden)
    # the slower error views (~0.5-1.5 s on 500k detections) follow any change, drag or keyboard, in their own
    # event so that the counts above never wait for them; always_last folds a drag into at most two runs
    gr.on([iou.change, score.change], errors_after_move, [session_state, iou, score],
          [confusion_plot, tide_md], trigger_mode="always_last", show_progress="minimal", api_visibility="private")
    # a new filter or order starts again at page 1
    gr.on([class_dd.input, error_dd.input, sort_dd.input], lambda: 1, None, page, queue=False, **hidden
          ).then(refresh, browse_inputs, browse_outputs, **hidden)
    class_dd.input(pr_view, [session_state, class_dd], pr_plot, **hidden)
    prev_btn.click(lambda p: max(1, int(p or 1) - 1), page, page, queue=False, **hidden
                   ).then(refresh, browse_inputs, browse_outputs, **hidden)
    next_btn.click(lambda p: int(p or 1) + 1, page, page, queue=False, **hidden
                   ).then(refresh, browse_inputs, browse_outputs, **hidden)
    page.submit(refresh, browse_inputs, browse_outputs, **hidden)
    page_table.select(view_row, [session_state, iou, score, class_dd, error_dd, sort_dd],
                      [image, click_info, objects, view_state], **hidden)
    image.select(click, [session_state, iou, score, class_dd, view_state], [image, click_info, objects, view_state],
                 **hidden)
    export_btn.click(export, [session_state, iou, score], export_files, api_visibility="private")


def _model_choices(names: list[str], locale: str) -> list[tuple[str, str]]:
    """The model dropdown: the uploaded predictions, then every detection model."""
    return [(T.text("no_model", locale), UPLOADED)] + [(name, name) for name in names]


def _example_headers(locale: str) -> list[str]:
    """The example table's column headers (Gradio shows them as they are: no translation key)."""
    return [T.text("dataset_label", locale), T.text("predictions_label", locale)]


def _examples(dataset_in: gr.File, preds_in: gr.File, examples_dir: Path) -> gr.Dataset | None:
    """The example under the upload boxes; its table (None without the example files)."""
    folder = examples_dir / "coco-val2014-100"
    gt, dt = folder / "instances_val2014_100.json", folder / "instances_val2014_fakebbox100_results.json"
    if not (gt.is_file() and dt.is_file()):
        return None
    examples = gr.Examples([[[str(gt)], [str(dt)]]], [dataset_in, preds_in], cache_examples=False,
                           label=T("example_label"))
    examples.dataset.headers = _example_headers(DEFAULT_LOCALE)  # the inputs' labels are keys: show text
    return examples.dataset


def _close(session: EvaluationSession | None) -> None:
    if session is not None:
        session.close()
