"""What the Evaluate tab shows of two prediction sets compared (`cvdemo.metrics.comparison`), composed in the user's
language: both sets' COCO numbers and per-class AP with B − A, their counts, the images where they disagree most,
and one image drawn twice (set A's boxes, set B's) as `cvdemo.ui.evaluation_viewer.render_image` draws one
evaluation's. No gradio here; the section's layout and handlers are `cvdemo.ui.evaluate_compare`.

Text comes in ``locale`` ("en" or "zh-CN"), from the "evaluate" catalog; the tables' headers are
`evaluation_viewer.HEADERS`' ("compare_coco", "compare_class", "compare_images").
"""
from __future__ import annotations

import html

import numpy as np

from cvdemo.messages import Message
from cvdemo.metrics.comparison import Comparison, ImageDisagreement, LoadedComparison, PredictionSetError
from cvdemo.ui.evaluation_viewer import COCO_LABELS, _note, _number, render_image, table
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.evaluate import T

__all__ = ["compare_class_rows", "compare_coco_rows", "compare_counts_markdown", "compare_images",
           "compare_status_markdown", "disagreement_table", "set_error_text"]

MAX_DISAGREEMENT_ROWS = 50  # the images where two prediction sets disagree most, shown in the comparison's table
MAX_LISTED_OBJECTS = 12  # object ids listed in a comparison's table cell or image line


def _signed(value: float | None, locale: str = DEFAULT_LOCALE) -> str:
    """A difference B − A for a table: "+0.123", "−0.050", "0.000"; "n/a" where either side is undefined."""
    if value is None or not np.isfinite(value):
        return T.text("not_applicable", locale)
    text = f"{value:+.3f}".replace("-", "−")
    return "0.000" if text in ("+0.000", "−0.000") else text


def compare_coco_rows(c: Comparison, locale: str = DEFAULT_LOCALE) -> list[list]:
    """pycocotools' 12 numbers of A and B and B − A, one row per number."""
    return [[T.text(label, locale), _number(a, locale), _number(b, locale), _signed(d, locale)]
            for label, a, b, d in zip(COCO_LABELS, c.stats_a, c.stats_b, c.stats_delta)]


def compare_class_rows(c: Comparison, locale: str = DEFAULT_LOCALE) -> list[list]:
    """Per class: name, #GT, AP of A, of B, B − A, then the same at IoU 0.5."""
    return [[k.name, k.num_gt, _number(k.ap_a, locale), _number(k.ap_b, locale), _signed(k.ap_delta, locale),
             _number(k.ap50_a, locale), _number(k.ap50_b, locale), _signed(k.ap50_delta, locale)]
            for k in c.classes]


def _ids(ids: tuple[int, ...], locale: str) -> str:
    """Object ids as a short list ("3, 7, 12 …"), or "none"."""
    if not ids:
        return T.text("none", locale)
    shown = ", ".join(str(i) for i in ids[:MAX_LISTED_OBJECTS])
    return shown + (" …" if len(ids) > MAX_LISTED_OBJECTS else "")


def disagreement_table(c: Comparison, locale: str = DEFAULT_LOCALE) -> dict:
    """The images where A and B disagree, most first (at most MAX_DISAGREEMENT_ROWS): rank, image id,
    disagreement, the objects found by one set only, each set's TP/FP/FN, the file (widest, last)."""
    data = [[rank, im.image_id, im.disagreement, _ids(im.only_a, locale), _ids(im.only_b, locale), im.tp_a, im.fp_a,
             im.fn_a, im.tp_b, im.fp_b, im.fn_b, im.file_name]
            for rank, im in enumerate(c.disagreeing[:MAX_DISAGREEMENT_ROWS], 1)]
    return table("compare_images", data, locale)


def _set_text(sets: LoadedComparison, side: str, run: tuple[str, float, str] | None, locale: str) -> str:
    predictions = len((sets.a if side == "A" else sets.b).dt)
    if run is None:
        return T.text("compare_set_upload", locale, predictions=predictions)
    model, seconds, device = run
    return T.text("compare_set_model", locale, predictions=predictions, model=html.escape(model),
                  model_seconds=seconds, device=device)


def compare_status_markdown(sets: LoadedComparison, seconds: float, locale: str = DEFAULT_LOCALE,
                            runs: dict[str, tuple[str, float, str]] | None = None) -> str:
    """The data set, where each set came from (uploaded, or a model: name, seconds, device) and the time."""
    gt, ds, runs = sets.gt, sets.dataset, runs or {}
    text = T.text("compare_status", locale, format=ds.format, images=len(gt.images), objects=len(gt),
                  classes=len(gt.categories), set_a=_set_text(sets, "A", runs.get("A"), locale),
                  set_b=_set_text(sets, "B", runs.get("B"), locale), seconds=seconds)
    if ds.notes:
        text += "  \n*" + html.escape(T.text("note_join", locale).join(_note(n, locale) for n in ds.notes)) + "*"
    return text


def compare_counts_markdown(c: Comparison, locale: str = DEFAULT_LOCALE) -> str:
    """Each set's TP/FP/FN at the thresholds, and on how many images (and objects) they disagree."""
    a, b = c.counts_a, c.counts_b
    text = T.text("compare_counts", locale, iou=c.iou_threshold, score=c.score_threshold, tp_a=a["tp"],
                  fp_a=a["fp"], fn_a=a["fn"], tp_b=b["tp"], fp_b=b["fp"], fn_b=b["fn"],
                  disagreeing=len(c.disagreeing), images=len(c.images),
                  only_a=sum(len(im.only_a) for im in c.images), only_b=sum(len(im.only_b) for im in c.images))
    return text if c.disagreeing else text + "  \n" + T.text("compare_agree", locale)


def compare_images(sets: LoadedComparison, c: Comparison, image: ImageDisagreement | None,
                   locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(set A's boxes on the image, set B's, the line under them) as `render_image` draws one evaluation's, at
    the comparison's thresholds; (None, None, "") without an image."""
    if image is None:
        return None, None, ""
    drawn = [render_image(browser, image.image_id, browser.assignment(c.iou_threshold, c.score_threshold),
                          locale=locale) for browser in (sets.a, sets.b)]
    note = drawn[0][2]
    line = T.text("compare_image_line", locale, image_id=image.image_id, file=html.escape(image.file_name),
                  disagreement=image.disagreement, only_a=_ids(image.only_a, locale), only_b=_ids(image.only_b, locale),
                  fp_a=image.fp_a, fp_b=image.fp_b)
    return drawn[0][0], drawn[1][0], line + (f"  \n*{html.escape(note)}*" if note else "")


def set_error_text(error: PredictionSetError, locale: str = DEFAULT_LOCALE) -> str:
    """A prediction set's refusal in ``locale``: which set, and why (a catalog message of this tab, or the
    library's English text)."""
    inner = error.fields.get("error")
    reason = _note(inner, locale) if isinstance(inner, Message) else str(inner)
    return T.text("compare_in_set", locale, side=error.side, error=reason)
