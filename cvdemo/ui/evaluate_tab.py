"""The Evaluate tab: a data set and its predictions -> COCO and VOC metrics, PR curves, confusion, TP/FP/FN.

`/evaluate` (data set files, prediction files, IoU and score thresholds) stages the uploads in a per-session
temporary folder, loads and evaluates once (`cvdemo.ui.evaluation_session`) and keeps the session in a
`gr.State`; the sliders, filters, paging and clicks then only re-assign (`ObjectAssigner`) and redraw.
"""

from __future__ import annotations

import html
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np

from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics import Assignment
from cvdemo.ui.evaluation_figures import confusion_figure, pr_curves_figure
from cvdemo.ui.evaluation_session import ERROR_FILTERS, MIN_IOU, PAGE_SIZE, SORTS, BrowseView, EvaluationSession
from cvdemo.ui.evaluation_viewer import describe_object, legend_html, object_at, render_image

if TYPE_CHECKING:  # the registry (and torch) is not needed to evaluate
    from cvdemo.ui.models_registry import ModelRegistry

STATE_SECONDS = 1800  # a session's evaluation (and its temporary folder) is dropped after 30 minutes unused
WORK_ROOT = Path(tempfile.gettempdir()) / "cvdemo-evaluate"  # one sub-folder per evaluation, nothing else
ALL = -1  # the "all classes" entry of the class dropdown
COCO_COLUMNS = ["metric", "value"]
CLASS_COLUMNS = ["class", "#GT", "AP", "AP50", "AP75", "AR", "VOC07", "VOC12"]
PAGE_COLUMNS = ["#", "image id", "TP", "FP", "FN", "F1", "file"]
OBJECT_COLUMNS = ["kind", "row", "status", "class", "score", "IoU", "matched", "x", "y", "w", "h"]

INTRO = """Upload a **data set** (COCO instances json, Pascal VOC xml or YOLO txt with `classes.txt`, with or without
its images: loose files or one zip) and its **predictions** (COCO results json, or YOLO txt with a confidence
column), then **Evaluate**. The COCO metrics are pycocotools' numbers. Below, move the **IoU** and **score
thresholds** to recolour every box as a true positive, false positive or missed object, browse the images
with the most errors, and **click a box** to see its score, IoU and match."""

WHY_DIFFER = """**Why COCO AP50 ({ap50}) and VOC AP ({voc12}) can differ at the same IoU 0.5.** COCO keeps the best 100
detections per image and class, ignores crowd regions (a detection on one is neither TP nor FP), matches a
detection to the best *still unmatched* object with IoU ≥ 0.5 and samples precision at 101 recall points.
VOC keeps every detection, takes its best object even if already found (a second hit is a duplicate FP),
needs IoU > 0.5, ignores `difficult` objects (and crowd here) and integrates the whole curve (VOC2010+) or
averages 11 points (VOC2007). COCO's headline
AP ({ap}) also averages IoU 0.50…0.95, so it rewards tight boxes."""


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


COCO_LABELS = ("AP  IoU .50:.95", "AP  IoU .50", "AP  IoU .75", "AP  small", "AP  medium", "AP  large",
               "AR  1 det/image", "AR  10 det/image", "AR  100 det/image", "AR  small", "AR  medium", "AR  large")


def _coco_rows(session: EvaluationSession) -> list[list]:
    """pycocotools' summary, one row per number (its full line is in the metrics JSON's CLI twin)."""
    return [[label, _number(v)] for label, v in zip(COCO_LABELS, session.coco.stats)]


def _voc_markdown(session: EvaluationSession) -> str:
    voc, stats = session.voc, session.coco.stats_dict()
    rows = ["| Pascal VOC mAP, IoU > 0.5 | value |", "|---|---|",
            f"| VOC2007, 11-point | **{_number(voc.map07)}** |", f"| VOC2010+, all points | **{_number(voc.map12)}** |",
            f"| *COCO AP50, for comparison* | *{_number(stats['AP50'])}* |"]
    why = WHY_DIFFER.format(ap50=_number(stats["AP50"]), voc12=_number(voc.map12), ap=_number(stats["AP"]))
    return "\n".join(rows) + "\n\n" + why


def _class_rows(session: EvaluationSession) -> list[list]:
    voc = {c: (a07, a12) for c, a07, a12 in zip(session.voc.category_ids.tolist(), session.voc.ap07, session.voc.ap12)}
    rows = []
    for k, (cat, v) in enumerate(session.coco.per_class().items()):
        a07, a12 = voc.get(cat, (np.nan, np.nan))
        rows.append([session.names.get(cat, str(cat)), int(session.coco.num_gt[k, 0]), _number(v["AP"]),
                     _number(v["AP50"]), _number(v["AP75"]), _number(v["AR"]), _number(a07), _number(a12)])
    return rows


def _status(session: EvaluationSession, seconds: float) -> str:
    gt, ds = session.gt, session.dataset
    text = (f"**{ds.format}**: {len(gt.images):,} images, {len(gt):,} objects, {len(gt.categories)} classes · "
            f"**{len(session.dt):,} predictions** · evaluated in {seconds:.1f} s")
    if ds.notes:
        text += "  \n*" + html.escape("; ".join(ds.notes)) + "*"
    return text


def _counts(view: BrowseView, class_name: str | None) -> str:
    c, a = view.counts, view.assignment
    precision = c["tp"] / max(c["tp"] + c["fp"], 1)
    recall = c["tp"] / max(c["tp"] + c["fn"], 1)
    where = f"class **{html.escape(class_name)}**" if class_name else "all classes"
    return (f"At IoU ≥ {a.iou_threshold:.2f} and score ≥ {a.score_threshold:.2f} ({where}): "
            f"**TP {c['tp']:,} · FP {c['fp']:,} · FN {c['fn']:,}** · precision {precision:.3f} · recall {recall:.3f}"
            f" · ignored: {c['ignored_dets']:,} detections, {c['ignored_gts']:,} crowd/ignored objects")


def _tide_markdown(session: EvaluationSession, iou: float, score: float) -> str:
    counts = session.tide(iou, score).counts()
    rows = ["| false positives by cause (TIDE) | count |", "|---|---|"]
    names = {"loc": "badly localised", "cls": "wrong class", "dupe": "duplicate", "bkg": "background",
             "both": "wrong class and location", "missed": "**missed objects**"}
    rows += [f"| {names[k]} | {v:,} |" for k, v in counts.items()]
    return f"At IoU ≥ {iou:.2f}, score ≥ {score:.2f}:\n\n" + "\n".join(rows)


def build_evaluate_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    ``registry`` is accepted for symmetry with the other tabs (running a model on the data set is not offered
    yet); ``examples_dir/coco-val2014-100`` holds the example offered under the upload boxes."""
    del registry
    gr.Markdown(INTRO)
    session_state = gr.State(None, time_to_live=STATE_SECONDS, delete_callback=_close)
    view_state = gr.State(None, time_to_live=STATE_SECONDS)  # {"image_id", "scale", "selected"}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            dataset_in = gr.File(file_count="multiple", label="Data set: annotations (+ images), files or one .zip",
                                 elem_id="eval-dataset", height=140)
            preds_in = gr.File(file_count="multiple", label="Predictions: COCO results .json or YOLO .txt (or .zip)",
                               elem_id="eval-predictions", height=140)
            evaluate_btn = gr.Button("Evaluate", variant="primary", elem_id="eval-button")
            _examples(dataset_in, preds_in, examples_dir)
            status = gr.Markdown(elem_id="eval-status")
        with gr.Column(scale=3, min_width=360):
            with gr.Row(equal_height=False):
                coco_table = gr.Dataframe(headers=COCO_COLUMNS, label="COCO (pycocotools' 12 numbers)",
                                          interactive=False, elem_id="eval-coco", column_widths=["70%", "30%"])
                voc_md = gr.Markdown(elem_id="eval-voc")
            metrics_file = gr.File(label="Metrics (JSON, as `python -m cvdemo.evaluate --json --per-class --voc`)",
                                   interactive=False, elem_id="eval-metrics-file", height=60)
    gr.Markdown("### Per class")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            class_table = gr.Dataframe(headers=CLASS_COLUMNS, label="AP per class (click a header to sort)",
                                       interactive=False, max_height=460, elem_id="eval-classes")
        with gr.Column(scale=2):
            class_dd = gr.Dropdown([("all classes", ALL)], value=ALL, label="Class (PR curves and image browser)",
                                   elem_id="eval-class")
            pr_plot = gr.Plot(label="Precision–recall (hover: the score threshold)", elem_id="eval-pr")
    gr.Markdown("### Images: true positives, false positives and misses at your thresholds")
    with gr.Row():
        iou = gr.Slider(MIN_IOU, 0.95, value=0.5, step=0.05, label="IoU threshold", elem_id="eval-iou",
                        info="a detection is a TP if it overlaps a still unmatched object of its class this much")
        score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label="Score threshold", elem_id="eval-score",
                          info="detections below it are dropped")
        error_dd = gr.Dropdown(list(ERROR_FILTERS), value=ERROR_FILTERS[0], label="Show images", elem_id="eval-error")
        sort_dd = gr.Dropdown(list(SORTS), value=SORTS[0], label="Sort by", elem_id="eval-sort")
    counts = gr.Markdown(elem_id="eval-counts")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                prev_btn = gr.Button("◀ previous page", size="sm", min_width=80)
                page = gr.Number(1, precision=0, minimum=1, label="Page", min_width=80, elem_id="eval-page")
                next_btn = gr.Button("next page ▶", size="sm", min_width=80, elem_id="eval-next")
            page_info = gr.Markdown(elem_id="eval-page-info")
            page_table = gr.Dataframe(headers=PAGE_COLUMNS, label="Images (click a row to view it)",
                                      interactive=False, elem_id="eval-images")
        with gr.Column(scale=3, min_width=360):
            gr.HTML(legend_html())
            image = gr.Image(label="Click a box for its score, IoU and match", interactive=False, format="jpeg",
                             elem_id="eval-image", buttons=["fullscreen"])
            click_info = gr.Markdown(elem_id="eval-click")
            objects = gr.Dataframe(headers=OBJECT_COLUMNS, label="Detections and objects of this image",
                                   interactive=False, max_height=300, elem_id="eval-objects")
    gr.Markdown("### Error analysis")
    with gr.Row(equal_height=False):
        confusion_plot = gr.Plot(label="Confusion matrix", elem_id="eval-confusion")
        tide_md = gr.Markdown(elem_id="eval-tide")
    gr.Markdown("### Export")
    with gr.Row(equal_height=False):
        export_btn = gr.Button("Export the per-object table (CSV) and the metrics (JSON) at these thresholds")
        export_files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="eval-exports",
                               height=100)

    def evaluate(dataset_payload, preds_payload, iou_v: float, score_v: float, old: EvaluationSession | None,
                 progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        start = time.perf_counter()
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="session-", dir=WORK_ROOT))
        progress(0.1, desc="Loading and evaluating…")
        try:
            session = EvaluationSession.create(workdir, _files(dataset_payload), _files(preds_payload))
        except DatasetError as e:
            shutil.rmtree(workdir, ignore_errors=True)
            raise gr.Error(html.escape(str(e), quote=False), title="Cannot evaluate this upload",
                           print_exception=False) from None
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        _close(old)
        metrics_path = session.write_metrics_json()
        choices = [("all classes", ALL)] + [(session.names.get(c, str(c)), int(c)) for c in session.coco.category_ids]
        return (_status(session, time.perf_counter() - start), _coco_rows(session), _voc_markdown(session),
                str(metrics_path), _class_rows(session), gr.Dropdown(choices=choices, value=ALL),
                pr_curves_figure(session.coco), 1, session, None)

    def refresh(session: EvaluationSession | None, iou_v, score_v, class_v, error_v, sort_v, page_v, view):
        """Counts, the page of images, and the image on show (kept if it is still on the page)."""
        if session is None:
            return (gr.skip(),) * 8
        class_id = None if class_v in (None, ALL) else int(class_v)
        v = session.browse(float(iou_v), float(score_v), class_id, error_v, sort_v)
        pages = session.num_pages(v)
        page_v = min(max(1, int(page_v or 1)), pages)
        rows = session.page_rows(v, page_v - 1)
        first, last = (page_v - 1) * PAGE_SIZE + 1, (page_v - 1) * PAGE_SIZE + len(rows)
        info = (f"Images {first}–{last} of {len(v.order):,} ({error_v}, sorted by {sort_v}) · page {page_v} of {pages}"
                if rows else f"No image matches “{error_v}” at these thresholds.")
        rows = [[*r[:2], *r[3:], r[2]] for r in rows]  # the file name last: it is the widest
        shown = [r[1] for r in rows]
        image_id = view["image_id"] if view and view.get("image_id") in shown else (shown[0] if shown else None)
        selected = view.get("selected") if view and view.get("image_id") == image_id else None
        outs = _show(session, v.assignment, image_id, class_id, selected)
        return (_counts(v, session.names.get(class_id)), info, rows, page_v, *outs)

    def _show(session, a: Assignment, image_id, class_id, selected):
        if image_id is None:
            return None, "", [], None
        img, scale, note = render_image(session, image_id, a, class_id, selected)
        info, _ = session.image_info(image_id)
        tide = session.tide_if_computed(a.iou_threshold, a.score_threshold)
        text = describe_object(session, a, *selected, tide) if selected else (
            f"Image **{image_id}** {html.escape(info.file_name)} · {note + ' · ' if note else ''}"
            "click a box to see its score, IoU and match")
        return (img, text, session.object_rows(image_id, a, class_id),
                {"image_id": image_id, "scale": scale, "selected": selected})

    def view_row(session, iou_v, score_v, class_v, error_v, sort_v, evt: gr.SelectData):
        if session is None or not evt.row_value:
            return (gr.skip(),) * 4
        class_id = None if class_v in (None, ALL) else int(class_v)
        v = session.browse(float(iou_v), float(score_v), class_id, error_v, sort_v)
        return _show(session, v.assignment, int(evt.row_value[1]), class_id, None)

    def click(session, iou_v, score_v, class_v, view, evt: gr.SelectData):
        if session is None or not view or evt.index is None:
            return (gr.skip(),) * 4
        class_id = None if class_v in (None, ALL) else int(class_v)
        a = session.assignment(float(iou_v), float(score_v))
        hit = object_at(session, view["image_id"], a, class_id, evt.index[0], evt.index[1], view["scale"])
        return _show(session, a, view["image_id"], class_id, hit)

    def errors_view(session, iou_v, score_v, delay: float = 0.0):
        if session is None:
            return gr.skip(), gr.skip()
        time.sleep(delay)  # after a slider move: let the counts and the image (same trigger) have the CPU first
        return (confusion_figure(session.confusion(float(iou_v), float(score_v))),
                _tide_markdown(session, float(iou_v), float(score_v)))

    def pr_view(session, class_v):
        if session is None:
            return gr.skip()
        return pr_curves_figure(session.coco, None if class_v in (None, ALL) else int(class_v))

    def export(session, iou_v, score_v):
        if session is None:
            raise gr.Error("Evaluate a data set first.", title="Nothing to export", print_exception=False)
        return [str(session.write_objects_csv(float(iou_v), float(score_v))),
                str(session.write_metrics_json(float(iou_v), float(score_v)))]

    browse_inputs = [session_state, iou, score, class_dd, error_dd, sort_dd, page, view_state]
    browse_outputs = [counts, page_info, page_table, page, image, click_info, objects, view_state]
    hidden = dict(show_progress="hidden", api_visibility="private")
    gr.on([evaluate_btn.click], evaluate, [dataset_in, preds_in, iou, score, session_state],
          [status, coco_table, voc_md, metrics_file, class_table, class_dd, pr_plot, page, session_state, view_state],
          api_name="evaluate", preprocess=False, concurrency_limit=2, show_progress_on=[status, coco_table],
          ).success(refresh, browse_inputs, browse_outputs, **hidden
                    ).success(errors_view, [session_state, iou, score], [confusion_plot, tide_md], **hidden)
    gr.on([iou.input, score.input], refresh, browse_inputs, browse_outputs, trigger_mode="always_last", **hidden)
    # the slower error views (~0.5-1.5 s on 500k detections) follow any change, drag or keyboard, in their own
    # event so that the counts above never wait for them; always_last folds a drag into at most two runs
    gr.on([iou.change, score.change], partial(errors_view, delay=0.3), [session_state, iou, score],
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


def _examples(dataset_in: gr.File, preds_in: gr.File, examples_dir: Path) -> None:
    folder = examples_dir / "coco-val2014-100"
    gt, dt = folder / "instances_val2014_100.json", folder / "instances_val2014_fakebbox100_results.json"
    if gt.is_file() and dt.is_file():
        gr.Examples([[[str(gt)], [str(dt)]]], [dataset_in, preds_in], cache_examples=False,
                    label="Example: COCO val2014, 100 images, annotations only, with the COCO API's fake results")


def _close(session: EvaluationSession | None) -> None:
    if session is not None:
        session.close()
