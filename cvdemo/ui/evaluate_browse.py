"""Browsing an evaluation in the Evaluate tab: the kept evaluations, and the handlers of the sliders, filters,
paging, clicks, error views and export (`cvdemo.ui.evaluate_tab` lays out the tab, evaluates and wires).

The tab keeps each session's `EvaluationBrowser` in `EVALUATIONS` (an upload's: one per session,
`EVALUATIONS_MAX_BYTES` for all sessions together, least recently used evicted first) or `EXAMPLE_EVALUATIONS`
(the first view's example: bounded like it, apart so that page loads never evict anyone's upload); the session's
`gr.State` holds only its token (`evaluation_of`). The handlers here only re-assign and redraw: every number is the
core's (`cvdemo.metrics.browse`), every view `cvdemo.ui.evaluation_viewer`'s. Values that only the API can send
(a class, a filter, an order, a page) are checked and refused with a readable message.
"""

from __future__ import annotations

import html
import time
from typing import Any

import gradio as gr

from cvdemo.metrics.browse import ERROR_FILTERS, SORTS, EvaluationBrowser
from cvdemo.ui import sessions, validate
from cvdemo.ui.errors import answers
from cvdemo.ui.evaluate_inputs import checked_thresholds
from cvdemo.ui.evaluation_viewer import (
    confusion_figure,
    counts_markdown,
    describe_object,
    object_at,
    object_table,
    page_info,
    page_table,
    pr_curves_figure,
    render_image,
    table,
    tide_markdown,
)
from cvdemo.ui.i18n import locale_of
from cvdemo.ui.texts.evaluate import T

ALL = -1  # the "all classes" entry of the class dropdown
MAX_PAGE = 100_000  # pages of 20 images: 2 million images
# evaluations kept in memory for all sessions together (a COCO-val-sized one holds ~300 MB); one per session
EVALUATIONS_MAX_BYTES = 1024 * 2**20  # CVDEMO_EVALUATION_STORE_MB overrides it (`sessions.store`)
EVALUATIONS = sessions.store("evaluation", max_runs=64, max_bytes=EVALUATIONS_MAX_BYTES, per_session=1,
                             on_evict=EvaluationBrowser.close)
# the first view's example evaluations (~1 MB and a 0.4 MB folder each): one per session, until it evaluates its own
EXAMPLE_EVALUATIONS = sessions.store("evaluation-example", max_runs=128, max_bytes=192 * 2**20, per_session=1,
                                     on_evict=EvaluationBrowser.close)


def class_choices(browser: EvaluationBrowser | None, locale: str) -> list[tuple[str, int]]:
    """The class dropdown's entries: all classes, then the data set's classes (their own names)."""
    choices = [(T.text("all_classes", locale), ALL)]
    if browser is not None:
        choices += [(browser.names.get(c, str(c)), int(c)) for c in browser.coco.category_ids]
    return choices


def evaluation_of(token: str) -> EvaluationBrowser:
    """The evaluation of a token: an upload's (`EVALUATIONS`) or the first view's example
    (`EXAMPLE_EVALUATIONS`, whose tokens start with its name); StateDroppedError when it is no longer kept."""
    example = isinstance(token, str) and token.startswith(EXAMPLE_EVALUATIONS.name + ":")
    return (EXAMPLE_EVALUATIONS if example else EVALUATIONS).get(token)


# --- handlers: checks of the values only the API can send --------------------------------------------------------

def _class_id(browser: EvaluationBrowser, class_v: Any, locale: str) -> int | None:
    """None for all classes, else one of the evaluation's category ids."""
    if class_v is None or class_v == ALL:
        return None
    ids = [int(c) for c in browser.coco.category_ids]
    return int(validate.choice(class_v, ids, name=T.text("class_label", locale), locale=locale))


def _filters(error_v: Any, sort_v: Any, locale: str) -> tuple[str, str]:
    error = validate.choice(error_v, ERROR_FILTERS, name=T.text("error_label", locale), locale=locale)
    return error, validate.choice(sort_v, SORTS, name=T.text("sort_label", locale), locale=locale)


def _page(page_v: Any, locale: str) -> int:
    value = 1 if page_v is None else page_v
    return validate.number(value, name=T.text("page_label", locale), low=1, high=MAX_PAGE, integer=True,
                           locale=locale)


# --- handlers: browsing the evaluation ---------------------------------------------------------------------------

@answers
def refresh(token, iou_v, score_v, class_v, error_v, sort_v, page_v, view, request: gr.Request):
    """Counts, the page of images, and the image on show (kept if it is still on the page)."""
    if token is None:
        return (gr.skip(),) * 8
    locale = locale_of(request)
    browser = evaluation_of(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    class_id = _class_id(browser, class_v, locale)
    error, sort = _filters(error_v, sort_v, locale)
    v = browser.browse(iou, score, class_id, error, sort)
    pages = browser.num_pages(v)
    page = min(_page(page_v, locale), pages)
    rows = browser.page_rows(v, page - 1)
    shown = [r.image_id for r in rows]
    image_id = view["image_id"] if view and view.get("image_id") in shown else (shown[0] if shown else None)
    selected = view.get("selected") if view and view.get("image_id") == image_id else None
    return (counts_markdown(v, browser.names.get(class_id), locale),
            page_info(v, page, pages, len(rows), error, sort, locale), page_table(rows, locale), page,
            *_show(browser, v.assignment, image_id, class_id, selected, locale))


def _show(browser: EvaluationBrowser, a, image_id: int | None, class_id: int | None, selected, locale: str):
    """(the image drawn, the line under it, its objects table, the view state) of one image."""
    if image_id is None:
        return None, "", table("objects", [], locale), None
    img, scale, note = render_image(browser, image_id, a, class_id, selected, locale=locale)
    if selected:
        text = describe_object(browser, a, *selected, locale=locale)
    else:
        info, _ = browser.image_info(image_id)
        text = T.text("image_line", locale, image_id=image_id, file=html.escape(info.file_name),
                      note=note + " · " if note else "")
    return (img, text, object_table(browser.object_rows(image_id, a, class_id), locale),
            {"image_id": image_id, "scale": scale, "selected": selected})


@answers
def view_row(token, iou_v, score_v, class_v, error_v, sort_v, evt: gr.SelectData, request: gr.Request):
    """A click on a row of the image table: show that image."""
    if token is None or not evt.row_value:
        return (gr.skip(),) * 4
    locale = locale_of(request)
    browser = evaluation_of(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    class_id = _class_id(browser, class_v, locale)
    return _show(browser, browser.assignment(iou, score), int(evt.row_value[1]), class_id, None, locale)


@answers
def click(token, iou_v, score_v, class_v, view, evt: gr.SelectData, request: gr.Request):
    """A click on the image: select the box under it and describe it."""
    if token is None or not view or evt.index is None:
        return (gr.skip(),) * 4
    locale = locale_of(request)
    browser = evaluation_of(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    class_id = _class_id(browser, class_v, locale)
    a = browser.assignment(iou, score)
    x, y = (float(v) for v in evt.index[:2])
    hit = object_at(browser, view["image_id"], a, class_id, x, y, view["scale"])
    return _show(browser, a, view["image_id"], class_id, hit, locale)


def _error_views(token, iou_v, score_v, locale: str, delay: float):
    if token is None:
        return gr.skip(), gr.skip()
    browser = evaluation_of(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    time.sleep(delay)  # after a slider move: let the counts and the image (same trigger) have the CPU first
    return confusion_figure(browser.confusion(iou, score), locale=locale), tide_markdown(browser, iou, score, locale)


@answers
def errors_view(token, iou_v, score_v, request: gr.Request):
    """The confusion matrix and the TIDE breakdown at the thresholds."""
    return _error_views(token, iou_v, score_v, locale_of(request), delay=0.0)


@answers
def errors_after_move(token, iou_v, score_v, request: gr.Request):
    """`errors_view` after a slider move, a moment later."""
    return _error_views(token, iou_v, score_v, locale_of(request), delay=0.3)


@answers
def pr_view(token, class_v, request: gr.Request):
    """The PR curves of the chosen class (or of the largest classes)."""
    if token is None:
        return gr.skip()
    locale = locale_of(request)
    browser = evaluation_of(token)
    return pr_curves_figure(browser.coco, _class_id(browser, class_v, locale), locale=locale)


@answers
def export(token, iou_v, score_v, request: gr.Request):
    """The per-object CSV and the metrics JSON at the thresholds."""
    locale = locale_of(request)
    if token is None:
        raise gr.Error(T.text("nothing_to_export", locale), title=T.text("nothing_to_export_title", locale),
                       print_exception=False)
    browser = evaluation_of(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    return [str(browser.write_objects_csv(iou, score)), str(browser.write_metrics_json(iou, score))]


@answers
def first_page(request: gr.Request) -> int:
    """A new filter or order starts again at page 1."""
    return 1


@answers
def previous_page(page_v, request: gr.Request) -> int:
    return max(1, _page(page_v, locale_of(request)) - 1)


@answers
def next_page(page_v, request: gr.Request) -> int:
    return _page(page_v, locale_of(request)) + 1
