"""Everything the Evaluate tab shows, composed from an `EvaluationBrowser`'s data in the user's language: the
tables, the Markdown lines, the PR and confusion figures, and the image drawn with its boxes. No gradio here.

Colours: a true positive detection green, a false positive red, a missed object (false negative) orange, an
object that was found blue (thin, uncaptioned: its detection carries the caption), ignored ones (crowd regions,
detections on them) grey. Detections below the score threshold are not drawn. An image that was not uploaded is
a blank canvas of its size.

Two prediction sets compared (`cvdemo.metrics.comparison`) are composed by `cvdemo.ui.evaluate_compare_views` from
the helpers here (the tables' headers, numbers, notes and drawn images); `HEADERS` holds its tables' headers too.

Text comes in ``locale`` ("en" or "zh-CN"); the data set's class names are its own. What is drawn into the image
(box captions, the blank canvas's label) stays English: the font Pillow ships has no CJK glyphs.
"""
from __future__ import annotations

import html

import cv2
import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from cvdemo.boxes import box_xywh_to_xyxy
from cvdemo.images import ImageLoadError, load_image
from cvdemo.messages import Message
from cvdemo.metrics import Assignment, CocoEvaluation, ConfusionMatrix
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, SKIPPED, TP
from cvdemo.metrics.browse import (
    ERROR_FILTERS,
    PAGE_SIZE,
    SORTS,
    BrowseView,
    EvaluationBrowser,
    ObjectRow,
    PageRow,
)
from cvdemo.metrics.reconcile import Reconciliation
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES
from cvdemo.ui.texts.evaluate import T
from cvdemo.visualize import draw_boxes_xyxy

__all__ = ["COLORS", "DISPLAY_SIDE", "choice_text", "class_rows", "coco_rows", "confusion_figure", "counts_markdown",
           "describe_object", "error_filter_choices", "legend_html", "object_at", "object_table", "page_info",
           "page_table", "pr_curves_figure", "reconcile_markdown", "render_image", "sort_choices", "status_markdown",
           "status_texts", "table", "tide_markdown", "voc_markdown"]

DISPLAY_SIDE = 800  # the longer side of the drawn image, in pixels
MAX_CAPTIONS = 40  # more boxes than this are drawn without captions
MAX_CURVES = 8  # classes drawn at once when no class is chosen (the ones with most objects)
MAX_CONFUSION_CLASSES = 25
COLORS = {"TP": (0, 170, 60), "FP": (230, 40, 40), "FN": (255, 140, 0), "found": (40, 110, 230),
          "ignored": (150, 150, 150)}
# catalog keys of pycocotools' 12 numbers, in its order
COCO_LABELS = ("coco_ap", "coco_ap50", "coco_ap75", "coco_ap_small", "coco_ap_medium", "coco_ap_large",
               "coco_ar1", "coco_ar10", "coco_ar100", "coco_ar_small", "coco_ar_medium", "coco_ar_large")
# the shown tables' headers: a catalog key, or a token shown as is in every language
_COLUMNS = {
    "coco": ("col_metric", "col_value"),
    "class": ("col_class", "col_num_gt", "AP", "AP50", "AP75", "AR", "VOC07", "VOC12"),
    "page": ("#", "col_image_id", "TP", "FP", "FN", "F1", "col_file"),
    "objects": ("col_kind", "col_row", "col_status", "col_class", "col_score", "IoU", "col_matched",
                "x", "y", "w", "h"),
    "compare_coco": ("col_metric", "A", "B", "B − A"),
    "compare_class": ("col_class", "col_num_gt", "AP A", "AP B", "AP B − A", "AP50 A", "AP50 B", "AP50 B − A"),
    "compare_images": ("#", "col_image_id", "col_disagreement", "col_only_a", "col_only_b", "TP A", "FP A", "FN A",
                       "TP B", "FP B", "FN B", "col_file"),
}
# {locale: {table: headers}}, made once (a slider move only looks its headers up)
HEADERS = {locale: {name: [T.text(c, locale) if c in T.texts else c for c in columns]
                    for name, columns in _COLUMNS.items()} for locale in LOCALES}
# the catalog key of each filter and sort value (the value is what code compares; the text is shown)
_CHOICE_KEYS = {**dict(zip(ERROR_FILTERS, ("filter_all", "filter_fp", "filter_fn", "filter_fp_fn", "filter_loc",
                                           "filter_cls", "filter_dupe", "filter_bkg", "filter_both"))),
                **dict(zip(SORTS, ("sort_image_id", "sort_most_fp", "sort_most_fn", "sort_lowest_f1")))}
# the statuses as the UI shows them, per locale (made once: the tables and descriptions only look them up)
_DET_STATUS_TEXT = {locale: {FP: "FP", TP: "TP", IGNORED: T.text("status_ignored", locale),
                             SKIPPED: T.text("status_below_score", locale)} for locale in LOCALES}
_GT_STATUS_TEXT = {locale: {MISSED: T.text("status_missed", locale), FOUND: T.text("status_found", locale),
                            IGNORED: T.text("status_ignored_crowd", locale)} for locale in LOCALES}
_TIDE_ROWS = {"loc": "tide_loc", "cls": "tide_cls", "dupe": "tide_dupe", "bkg": "tide_bkg", "both": "tide_both",
              "missed": "tide_missed"}  # the catalog key of each count of `TideBreakdown.counts`
# each figure of `Reconciliation.figures`: (its name, its definition), catalog keys
_FIGURES = {
    "objects": ("rc_objects", "rc_def_objects"), "tp": ("rc_tp", "rc_def_tp"), "fn": ("rc_fn", "rc_def_fn"),
    "dets": ("rc_dets", "rc_def_dets"), "fp": ("rc_fp", "rc_def_fp"), "fp_loc": ("rc_fp_loc", "rc_def_fp_loc"),
    "fp_cls": ("rc_fp_cls", "rc_def_fp_cls"), "fp_dupe": ("rc_fp_dupe", "rc_def_fp_dupe"),
    "fp_bkg": ("rc_fp_bkg", "rc_def_fp_bkg"), "fp_both": ("rc_fp_both", "rc_def_fp_both"),
    "ignored_dets": ("rc_ignored_dets", "rc_def_ignored_dets"), "beyond_top": ("rc_beyond_top", "rc_def_beyond_top"),
    "tide_missed": ("rc_tide_missed", "rc_def_tide_missed"), "fn_loc": ("rc_fn_loc", "rc_def_fn_loc"),
    "fn_cls": ("rc_fn_cls", "rc_def_fn_cls"), "bg_col": ("rc_bg_col", "rc_def_bg_col"),
    "bg_row": ("rc_bg_row", "rc_def_bg_row"), "fn_cm_wrong": ("rc_fn_cm_wrong", "rc_def_fn_cm_wrong"),
    "fn_cm_right": ("rc_fn_cm_right", "rc_def_fn_cm_right"), "tp_bg_col": ("rc_tp_bg_col", "rc_def_tp_bg_col"),
    "crowd_fp_bkg": ("rc_crowd_fp_bkg", "rc_def_crowd_fp_bkg"),
}
_TIDE_TEXT = {"loc": "why_loc", "cls": "why_cls", "dupe": "why_dupe", "bkg": "why_bkg", "both": "why_both"}


# --- choices, statuses, tables --------------------------------------------------------------------------------

def choice_text(value: str, locale: str = DEFAULT_LOCALE) -> str:
    """The shown text of a filter or sort value (the value itself if it is not one)."""
    key = _CHOICE_KEYS.get(value)
    return T.text(key, locale) if key else str(value)


def error_filter_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the "show images" dropdown."""
    return [(choice_text(v, locale), v) for v in ERROR_FILTERS]


def sort_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the "sort by" dropdown."""
    return [(choice_text(v, locale), v) for v in SORTS]


def status_texts(locale: str = DEFAULT_LOCALE) -> tuple[dict[int, str], dict[int, str]]:
    """({detection status: text}, {object status: text}) in ``locale`` (English for an unknown one)."""
    locale = locale if locale in _DET_STATUS_TEXT else DEFAULT_LOCALE
    return _DET_STATUS_TEXT[locale], _GT_STATUS_TEXT[locale]


def table(name: str, rows: list[list], locale: str = DEFAULT_LOCALE) -> dict:
    """A gr.Dataframe value with the headers of table ``name`` in ``locale`` (the components' own are English)."""
    return {"headers": HEADERS.get(locale, HEADERS[DEFAULT_LOCALE])[name], "data": rows}


def _number(value: float | None, locale: str = DEFAULT_LOCALE) -> float | str:
    """A metric rounded for a table; "n/a" for what COCO leaves undefined (-1: no object of that size/class)."""
    if value is None or not np.isfinite(value) or value < 0:
        return T.text("not_applicable", locale)
    return round(float(value), 3)


def coco_rows(browser: EvaluationBrowser, locale: str = DEFAULT_LOCALE) -> list[list]:
    """pycocotools' summary, one row per number (the full floats are in the metrics JSON)."""
    return [[T.text(label, locale), _number(v, locale)] for label, v in zip(COCO_LABELS, browser.coco.stats)]


def class_rows(browser: EvaluationBrowser, locale: str = DEFAULT_LOCALE) -> list[list]:
    """Per class: name, #GT, AP, AP50, AP75, AR (COCO), VOC07, VOC12."""
    voc = browser.voc
    by_class = {c: (a07, a12) for c, a07, a12 in zip(voc.category_ids.tolist(), voc.ap07, voc.ap12)}
    rows = []
    for k, (cat, v) in enumerate(browser.coco.per_class().items()):
        a07, a12 = by_class.get(cat, (np.nan, np.nan))
        rows.append([browser.names.get(cat, str(cat)), int(browser.coco.num_gt[k, 0]),
                     *(_number(x, locale) for x in (v["AP"], v["AP50"], v["AP75"], v["AR"], a07, a12))])
    return rows


def page_table(rows: list[PageRow], locale: str = DEFAULT_LOCALE) -> dict:
    """The image table (the file name last: it is the widest)."""
    data = [[r.position, r.image_id, r.tp, r.fp, r.fn, "" if r.f1 is None else round(r.f1, 3), r.file_name]
            for r in rows]
    return table("page", data, locale)


def object_table(rows: list[ObjectRow], locale: str = DEFAULT_LOCALE) -> dict:
    """The table ``[kind, row, status, class, score, IoU, matched with, x, y, w, h]`` of one image."""
    det_status, gt_status = status_texts(locale)  # looked up once, not per row
    detection, detection_n, object_n = (T.text(k, locale) for k in ("detection", "detection_n", "object_n"))
    data = []
    for r in rows:
        iou = "" if r.iou is None else round(r.iou, 3)
        box = [round(v, 1) for v in r.box_xywh]
        if r.kind == "det":
            matched = "" if r.matched is None else object_n.format(id=r.matched)
            data.append([detection, r.row, det_status[r.status], r.category, round(r.score, 3), iou, matched, *box])
        else:
            matched = "" if r.matched is None else detection_n.format(row=r.matched)
            data.append([object_n.format(id=r.ann_id), r.row, gt_status[r.status], r.category, "", iou, matched,
                         *box])
    return table("objects", data, locale)


# --- Markdown --------------------------------------------------------------------------------------------------

def _note(note: Message, locale: str) -> str:
    """A data set note (a key of this tab's catalog) in ``locale``."""
    namespace, _, name = note.key.partition(".")
    return T.text(name, locale, **note.fields) if namespace == T.namespace and name in T.texts else note.key


def status_markdown(browser: EvaluationBrowser, seconds: float, locale: str = DEFAULT_LOCALE,
                    model_run: tuple[str, float, str] | None = None) -> str:
    """The data set, the predictions (and the model that made them: name, seconds, device) and the time."""
    gt, ds = browser.gt, browser.dataset
    fields = dict(format=ds.format, images=len(gt.images), objects=len(gt), classes=len(gt.categories),
                  predictions=len(browser.dt), seconds=seconds)
    if model_run is None:
        text = T.text("status", locale, **fields)
    else:
        name, model_seconds, device = model_run
        text = T.text("status_model", locale, model=html.escape(name), model_seconds=model_seconds,
                      device=device, **fields)
    if ds.notes:
        text += "  \n*" + html.escape(T.text("note_join", locale).join(_note(n, locale) for n in ds.notes)) + "*"
    return text


def voc_markdown(browser: EvaluationBrowser, locale: str = DEFAULT_LOCALE) -> str:
    """VOC mAP (2007 and 2010+) beside COCO AP50, and why they differ."""
    voc, stats = browser.voc, browser.coco.stats_dict()
    ap50, voc12 = _number(stats["AP50"], locale), _number(voc.map12, locale)
    text = T.text("voc_table", locale, map07=_number(voc.map07, locale), map12=voc12, ap50=ap50)
    return text + "\n\n" + T.text("why_differ", locale, ap50=ap50, voc12=voc12, ap=_number(stats["AP"], locale))


def counts_markdown(view: BrowseView, class_name: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """TP/FP/FN, precision and recall at the view's thresholds (for one class or all)."""
    c, a = view.counts, view.assignment
    precision = c["tp"] / max(c["tp"] + c["fp"], 1)
    recall = c["tp"] / max(c["tp"] + c["fn"], 1)
    where = (T.text("where_class", locale, name=html.escape(class_name)) if class_name
             else T.text("all_classes", locale))
    return T.text("counts", locale, iou=a.iou_threshold, score=a.score_threshold, where=where, tp=c["tp"],
                  fp=c["fp"], fn=c["fn"], precision=precision, recall=recall, ignored_dets=c["ignored_dets"],
                  ignored_gts=c["ignored_gts"])


def tide_markdown(browser: EvaluationBrowser, iou: float, score: float, locale: str = DEFAULT_LOCALE) -> str:
    """The false positives by cause (TIDE) and the missed objects, as a table; then how these counts, the counts
    line's and the confusion matrix's background cells reconcile (`reconcile_markdown`)."""
    counts = browser.tide(iou, score).counts()
    rows = [T.text("tide_table_header", locale), "|---|---|"]
    rows += [f"| {T.text(_TIDE_ROWS[k], locale)} | {v:,} |" for k, v in counts.items()]
    return (T.text("tide_heading", locale, iou=iou, score=score) + "\n\n" + "\n".join(rows) + "\n\n"
            + reconcile_markdown(browser.reconciliation(iou, score), locale))


def _figure_name(key: str, locale: str) -> str:
    """The shown name of a `Reconciliation.figures` key ("bg_row_<row>": that row's name in the background row)."""
    if key.startswith("bg_row_"):
        return T.text("rc_in_bg_row", locale, name=T.text(_FIGURES[key[len("bg_row_"):]][0], locale))
    return T.text(_FIGURES[key][0], locale)


def reconcile_markdown(rec: Reconciliation, locale: str = DEFAULT_LOCALE) -> str:
    """The identities that link the counts line, the confusion matrix's background cells and TIDE, with this
    evaluation's numbers (terms that are 0 left out), then a table that defines every figure they name."""
    lines = [T.text("rc_heading", locale, iou=rec.iou_threshold, score=rec.score_threshold), "",
             T.text("rc_intro", locale), "", T.text("rc_identities", locale), ""]
    used: list[str] = []
    for identity in rec.identities():
        key, value = identity.total
        terms = [(sign, k, v) for sign, k, v in identity.terms if v] or list(identity.terms[:1])
        text = " ".join(f"{'−' if sign < 0 else '+'} {_figure_name(k, locale)} **{v:,}**"
                        for sign, k, v in terms).removeprefix("+ ")
        lines.append(f"- {_figure_name(key, locale)} **{value:,}** = {text}")
        used += [k for k in (key, *(k for _, k, _ in identity.terms)) if k in _FIGURES and k not in used]
    figures = rec.figures()
    lines += ["", T.text("rc_definitions", locale), "", T.text("rc_table_header", locale)]
    lines += [f"| {_figure_name(k, locale)} | {figures[k]:,} | {T.text(_FIGURES[k][1], locale)} |" for k in used]
    return "\n".join(lines)


def page_info(view: BrowseView, page: int, pages: int, shown: int, error: str, sort: str,
              locale: str = DEFAULT_LOCALE) -> str:
    """"Images 21–40 of 100 (filter, sorted by ...) · page 2 of 5" for ``shown`` rows on ``page`` (1-based), or
    that no image matches the filter."""
    error_text = choice_text(error, locale)
    if not shown:
        return T.text("no_image_matches", locale, error=error_text)
    first = (page - 1) * PAGE_SIZE + 1
    return T.text("page_info", locale, first=first, last=first + shown - 1, total=len(view.order), error=error_text,
                  sort=choice_text(sort, locale), page=page, pages=pages)


def legend_html(locale: str = DEFAULT_LOCALE) -> str:
    """A one-line colour legend in ``locale``."""
    items = [("TP", "legend_tp"), ("FP", "legend_fp"), ("FN", "legend_fn"), ("found", "legend_found"),
             ("ignored", "legend_ignored")]
    return " ".join(f'<span style="border:3px solid rgb{COLORS[k]};padding:0 6px;margin-right:6px">'
                    f'{T.text(key, locale)}</span>' for k, key in items)


# --- figures ---------------------------------------------------------------------------------------------------

def pr_curves_figure(coco: CocoEvaluation, class_id: int | None = None, *,
                     locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Precision against recall (area "all", maxDets 100), as `CocoEvaluation.precision` at its 101 recall points
    with `CocoEvaluation.scores` on hover. One class: its curves at IoU 0.50, 0.75 and 0.95; no class: the
    MAX_CURVES classes with the most objects at IoU 0.50."""
    recall = np.asarray(coco.params.recall_thresholds)
    ious = np.asarray(coco.params.iou_thresholds)
    cats = coco.category_ids.tolist()
    if class_id is not None and class_id in cats:
        k = cats.index(class_id)
        curves = [(k, t, f"IoU {ious[t]:.2f}") for t in range(len(ious)) if round(ious[t], 2) in (0.5, 0.75, 0.95)]
        title = T.text("pr_title_class", locale, name=coco.category_names.get(class_id, class_id))
    else:
        t50 = int(np.argmin(np.abs(ious - 0.5)))
        top = np.argsort(-coco.num_gt[:, 0], kind="stable")[:MAX_CURVES]
        curves = [(int(k), t50, coco.category_names.get(cats[k], str(cats[k]))) for k in top if coco.num_gt[k, 0]]
        title = T.text("pr_title_all", locale, n=len(curves))
    hover = T.text("pr_hover", locale)  # a Plotly template: no format fields
    fig = go.Figure()
    for k, t, name in curves:
        reached = recall <= max(coco.recall[t, k, 0, -1], 0) + 1e-12  # past the highest recall COCO puts 0
        fig.add_trace(go.Scatter(x=recall[reached], y=coco.precision[t, :, k, 0, -1][reached], mode="lines+markers",
                                 marker={"size": 4}, name=name, customdata=coco.scores[t, :, k, 0, -1][reached],
                                 hovertemplate=f"{name}<br>{hover}"))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, template="plotly_white", height=380,
                      xaxis={"title": T.text("recall", locale), "range": [0, 1.02]},
                      yaxis={"title": T.text("precision", locale), "range": [0, 1.05]},
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"font": {"size": 11}})
    if not curves:
        fig.add_annotation(text=T.text("pr_empty", locale), showarrow=False, x=0.5, y=0.5)
    return fig


def confusion_figure(cm: ConfusionMatrix, *, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Heatmap of counts (rows: true class, columns: predicted; background last), colour on a log scale.
    With many classes, the MAX_CONFUSION_CLASSES busiest ones are shown (title says so)."""
    m, labels = cm.matrix, cm.labels
    k = len(labels) - 1
    keep = np.arange(k)
    if k > MAX_CONFUSION_CLASSES:
        busy = m[:k].sum(1) + m[:, :k].sum(0)
        keep = np.sort(np.argsort(-busy, kind="stable")[:MAX_CONFUSION_CLASSES])
    idx = np.append(keep, k)
    sub = m[np.ix_(idx, idx)]
    names = [labels[i] for i in idx[:-1]] + [T.text("background", locale)]  # the library's "background", shown
    busiest = T.text("cm_busiest", locale, shown=len(keep), total=k) if len(keep) < k else ""
    fig = go.Figure(go.Heatmap(
        z=np.log10(1 + sub), x=names, y=names, colorscale="Blues", customdata=sub, showscale=False,
        text=np.where(sub > 0, sub.astype(str), ""), texttemplate="%{text}" if len(idx) <= 30 else None,
        textfont={"size": 10}, hovertemplate=T.text("cm_hover", locale)))  # a Plotly template: no format fields
    fig.update_layout(
        title={"text": T.text("cm_title", locale, busiest=busiest, iou=cm.iou_threshold, score=cm.score_threshold),
               "font": {"size": 14}},
        xaxis={"title": T.text("predicted", locale), "tickangle": -45, "tickfont": {"size": 10}},
        yaxis={"title": T.text("true", locale), "autorange": "reversed", "tickfont": {"size": 10}},
        template="plotly_white", height=max(360, 140 + 18 * len(idx)), margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig


# --- one image drawn with its boxes, and what a click hits ------------------------------------------------------

def _image_size(browser: EvaluationBrowser, image_id: int, pixels: np.ndarray | None) -> tuple[int, int]:
    """(width, height): the annotation's, else the file's, else the extent of the boxes."""
    info, _ = browser.image_info(image_id)
    if info.width > 0 and info.height > 0:
        return info.width, info.height
    if pixels is not None:
        return pixels.shape[1], pixels.shape[0]
    det_rows, gt_rows = browser.assigner.rows_of_image(image_id)
    boxes = np.concatenate([browser.dt.boxes_xywh[det_rows], browser.gt.boxes_xywh[gt_rows], [[0, 0, 100, 100]]])
    return int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())), int(np.ceil((boxes[:, 1] + boxes[:, 3]).max()))


def _base_image(browser: EvaluationBrowser, image_id: int, locale: str = DEFAULT_LOCALE
                ) -> tuple[np.ndarray, float, str]:
    """(display pixels, scale from image to display coordinates, a note in ``locale``)."""
    _, path = browser.image_info(image_id)
    pixels, note = None, ""
    if path is not None:
        try:
            pixels = load_image(path, max_side=2 * DISPLAY_SIDE).pixels
        except ImageLoadError as e:
            note = T.text("note_unreadable", locale, error=e)
    w, h = _image_size(browser, image_id, pixels)
    scale = DISPLAY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if pixels is None:
        canvas = Image.new("RGB", size, (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(170, 170, 180), width=2)  # the image's extent
        draw.text((8, size[1] - 24), f"no image uploaded: blank {w} x {h} canvas", fill=(120, 120, 130),
                  font=ImageFont.load_default(size=15))
        return np.asarray(canvas), scale, note or T.text("note_blank", locale)
    interpolation = cv2.INTER_AREA if size[0] < pixels.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(pixels, size, interpolation=interpolation), scale, note


def _drawn(browser: EvaluationBrowser, image_id: int, a: Assignment, class_id: int | None):
    """The boxes drawn, in drawing order: [(kind, row, xywh, caption, colour)]."""
    det_rows, gt_rows = browser.image_objects(image_id, a, class_id)
    gt, dt, names, out = browser.gt, browser.dt, browser.names, []
    for r in gt_rows.tolist():
        name = names.get(int(gt.category_ids[r]), "")
        caption, color = {MISSED: (f"FN {name}", COLORS["FN"]), FOUND: ("", COLORS["found"]),
                          IGNORED: ("crowd" if gt.iscrowd[r] else "ignored", COLORS["ignored"])}[a.gt_status[r]]
        out.append(("gt", r, gt.boxes_xywh[r], caption, color))
    for r in det_rows[np.argsort(dt.scores[det_rows], kind="stable")].tolist():  # best on top
        name = names.get(int(dt.category_ids[r]), "")
        key = {TP: "TP", FP: "FP"}.get(a.det_status[r], "ignored")
        caption = f"{key} {name} {dt.scores[r]:.2f}" if key != "ignored" else ""
        out.append(("det", r, dt.boxes_xywh[r], caption, COLORS[key]))
    return out


def render_image(browser: EvaluationBrowser, image_id: int, a: Assignment, class_id: int | None = None,
                 selected: tuple[str, int] | None = None, *, locale: str = DEFAULT_LOCALE
                 ) -> tuple[np.ndarray, float, str]:
    """(RGB uint8 image with the boxes, display scale, note in ``locale``). ``selected`` = ("det" | "gt", row)
    is drawn thicker, on top."""
    base, scale, note = _base_image(browser, image_id, locale)
    boxes = _drawn(browser, image_id, a, class_id)
    if not boxes:
        return base, scale, note
    highlight = next((i for i, (k, r, *_) in enumerate(boxes) if (k, r) == selected), None)
    captions = [b[3] for b in boxes]
    if len(boxes) > MAX_CAPTIONS:  # captions would hide the image: keep the selected box's only
        captions = [c if i == highlight else "" for i, c in enumerate(captions)]
        hidden = T.text("note_captions_hidden", locale, n=len(boxes))
        note = T.text("note_join", locale).join(filter(None, [note, hidden]))
    xyxy = box_xywh_to_xyxy(np.stack([b[2] for b in boxes]))
    image = draw_boxes_xyxy(base, xyxy, captions, [b[4] for b in boxes], scale=scale, highlight=highlight)
    return image, scale, note


def object_at(browser: EvaluationBrowser, image_id: int, a: Assignment, class_id: int | None, x: float, y: float,
              scale: float) -> tuple[str, int] | None:
    """The drawn box under the display pixel (x, y): the smallest one containing it (then the nearest edge
    within 6 px), as ("det" | "gt", row); None if there is none."""
    boxes = _drawn(browser, image_id, a, class_id)
    if not boxes:
        return None
    px, py = x / scale, y / scale
    xywh = np.stack([b[2] for b in boxes])
    x0, y0 = xywh[:, 0], xywh[:, 1]
    x1, y1 = x0 + xywh[:, 2], y0 + xywh[:, 3]
    slack = 6 / scale
    inside = (px >= x0 - slack) & (px <= x1 + slack) & (py >= y0 - slack) & (py <= y1 + slack)
    if not inside.any():
        return None
    i = int(np.argmin(np.where(inside, xywh[:, 2] * xywh[:, 3], np.inf)))
    return boxes[i][0], boxes[i][1]


def describe_object(browser: EvaluationBrowser, a: Assignment, kind: str, row: int, *,
                    locale: str = DEFAULT_LOCALE) -> str:
    """Markdown in ``locale``: what the clicked box is, its score, IoU and what it matched (or why it did not,
    with its TIDE error type when TIDE was computed at these thresholds)."""
    text = (_describe_detection if kind == "det" else _describe_object)(browser, a, row, locale)
    x, y, w, h = (browser.dt if kind == "det" else browser.gt).boxes_xywh[row]
    return text + T.text("box_line", locale, x=x, y=y, w=w, h=h)


def _describe_detection(browser: EvaluationBrowser, a: Assignment, row: int, locale: str) -> str:
    gt, dt = browser.gt, browser.dt
    det_status, gt_status = status_texts(locale)
    name = browser.names.get(int(dt.category_ids[row]), "")
    text = T.text("det_head", locale, row=row, status=det_status[int(a.det_status[row])], name=name,
                  score=dt.scores[row])
    g = int(a.det_gt[row])
    if g >= 0:
        return text + T.text("det_matched", locale, iou=a.det_iou[row], obj=int(gt.ann_ids[g]),
                             found=gt_status[int(a.gt_status[g])])
    nearest = browser.nearest_of_class("det", row, a)
    if nearest is None:
        text += T.text("det_no_object", locale, name=name)
    else:
        g, iou = nearest
        other = int(a.gt_det[g])
        taken = (T.text("det_taken", locale, other=other, score=dt.scores[other]) if other >= 0 and other != row
                 else "")
        text += T.text("det_no_match", locale, t=a.iou_threshold, name=name, iou=iou, obj=int(gt.ann_ids[g]),
                       taken=taken)
    error = browser.tide_error_of(row, a)
    if error is not None:
        text += T.text("tide_type", locale, error=error, why=T.text(_TIDE_TEXT[error], locale))
    return text


def _describe_object(browser: EvaluationBrowser, a: Assignment, row: int, locale: str) -> str:
    gt, dt = browser.gt, browser.dt
    det_status, gt_status = status_texts(locale)
    name = browser.names.get(int(gt.category_ids[row]), "")
    text = T.text("obj_head", locale, obj=int(gt.ann_ids[row]), status=gt_status[int(a.gt_status[row])], name=name)
    d = int(a.gt_det[row])
    if d >= 0:
        return text + T.text("obj_matched", locale, det=d, score=dt.scores[d], iou=a.det_iou[d])
    if a.gt_status[row] != MISSED:
        return text
    nearest = browser.nearest_of_class("gt", row, a)
    if nearest is None:
        return text + T.text("obj_none", locale, name=name)
    d, iou = nearest
    return text + T.text("obj_best", locale, name=name, iou=iou, det=d, score=dt.scores[d],
                         status=det_status[int(a.det_status[d])])
