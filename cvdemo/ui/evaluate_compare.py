"""The Evaluate tab's "compare two prediction sets" section: `/compare` (data set files; set A's prediction files and
model; set B's; IoU and score thresholds) compares two prediction sets on one data set (`cvdemo.metrics.comparison`).

Read apart, as the tab is: `layout` creates the section's components (an accordion at the foot of the tab), the
handlers below it are plain module-level functions (each wrapped with `answers`), `localized` gives what the tab's
page-load event shows of it in the user's language, and `wire` connects the handlers; `cvdemo.ui.evaluate_tab`
calls the three. What the section shows is composed by `cvdemo.ui.evaluate_compare_views`.

Each set is uploaded predictions or a detection model of any family run on the images (the tab's cap,
`evaluate_inputs.MAX_MODEL_IMAGES`); both are evaluated as `/evaluate` would, with the tab's inputs
(`cvdemo.ui.evaluate_inputs`: thresholds, model checks, staging of uploads). The comparison is kept in `COMPARISONS`
(one per session, bounded for all sessions together, dropped with the session); its folder is made by
`evaluate_inputs.new_workdir` like an evaluation's, deleted when the comparison is evicted and by
`evaluate_inputs.remove_session_folders` when the session ends. The
section's sliders and row clicks then answer from the kept comparison without loading again.
"""

from __future__ import annotations

import html
import shutil
import time
from types import SimpleNamespace

import gradio as gr

from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics.browse import MIN_IOU
from cvdemo.metrics.comparison import SIDES, LoadedComparison, PredictionSetError, load_comparison
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import sessions
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.evaluate_compare_views import (
    compare_class_rows,
    compare_coco_rows,
    compare_counts_markdown,
    compare_images,
    compare_status_markdown,
    disagreement_table,
    set_error_text,
)
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
)
from cvdemo.ui.evaluation_viewer import HEADERS, legend_html, table
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.texts.evaluate import T

# two prediction sets compared (each set a full evaluation): one per session, apart from the evaluations
COMPARISONS = sessions.store("comparison", max_runs=32, max_bytes=768 * 2**20, per_session=1,
                             on_evict=LoadedComparison.close)
COMPARE_TABLES = ("compare_coco", "compare_class", "compare_images")


# --- layout ----------------------------------------------------------------------------------------------------

def layout(model_names: list[str]) -> SimpleNamespace:
    """Compare two prediction sets: the data set, set A and set B (uploaded or a model), thresholds, the button;
    then both sets' COCO numbers, the per-class table, the images where they disagree most, one drawn twice.
    Created in the current Blocks context; returns the components by name."""
    cmp = SimpleNamespace(token=gr.State(None))
    with gr.Accordion(T("compare_heading"), open=False, elem_id="cmp-section"):
        gr.Markdown(T("compare_intro"))
        with gr.Row(equal_height=False):
            cmp.dataset_in = gr.File(file_count="multiple", label=T("dataset_label"), elem_id="cmp-dataset",
                                     height=120)
            labels = {"a": ("compare_preds_a_label", "compare_model_a_label"),
                      "b": ("compare_preds_b_label", "compare_model_b_label")}
            for side, (preds_label, model_label) in labels.items():
                with gr.Column(min_width=260):
                    setattr(cmp, f"preds_{side}", gr.File(file_count="multiple", label=T(preds_label), height=120,
                                                          elem_id=f"cmp-preds-{side}"))
                    setattr(cmp, f"model_{side}", gr.Dropdown(model_choices(model_names, DEFAULT_LOCALE),
                                                              value=UPLOADED, label=T(model_label),
                                                              elem_id=f"cmp-model-{side}"))
        with gr.Row():
            cmp.iou = gr.Slider(MIN_IOU, MAX_IOU, value=0.5, step=0.05, label=T("iou_label"), elem_id="cmp-iou",
                                info=T("iou_info"))
            cmp.score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label=T("score_label"), elem_id="cmp-score",
                                  info=T("score_info"))
            cmp.button = gr.Button(T("compare_button"), variant="primary", elem_id="cmp-button")
        cmp.status = gr.Markdown(elem_id="cmp-status")
        with gr.Row(equal_height=False):
            cmp.coco_table = gr.Dataframe(headers=HEADERS[DEFAULT_LOCALE]["compare_coco"], interactive=False,
                                          label=T("compare_coco_label"), elem_id="cmp-coco")
            cmp.class_table = gr.Dataframe(headers=HEADERS[DEFAULT_LOCALE]["compare_class"], interactive=False,
                                           label=T("compare_classes_label"), max_height=460, elem_id="cmp-classes")
        cmp.counts = gr.Markdown(elem_id="cmp-counts")
        cmp.images_table = gr.Dataframe(headers=HEADERS[DEFAULT_LOCALE]["compare_images"], interactive=False,
                                        label=T("compare_images_label"), max_height=360, elem_id="cmp-images")
        cmp.legend = gr.HTML(legend_html(), elem_id="cmp-legend")
        with gr.Row(equal_height=False):
            cmp.image_a = gr.Image(label=T("compare_image_a_label"), interactive=False, format="jpeg",
                                   elem_id="cmp-image-a", buttons=["fullscreen"])
            cmp.image_b = gr.Image(label=T("compare_image_b_label"), interactive=False, format="jpeg",
                                   elem_id="cmp-image-b", buttons=["fullscreen"])
        cmp.image_line = gr.Markdown(elem_id="cmp-image-line")
    return cmp


def localized(registry: ModelRegistry, session: str, locale: str) -> tuple:
    """The comparison's two model dropdowns, its empty tables' headers and its legend, in ``locale`` (what the
    tab's page-load event `evaluate_tab.localize` shows after its own)."""
    choices = model_choices(detectors(registry, session), locale)
    return (gr.Dropdown(choices=choices), gr.Dropdown(choices=choices),
            *(table(t, [], locale) for t in COMPARE_TABLES), legend_html(locale))


# --- handlers ----------------------------------------------------------------------------------------------------

def _load_comparison(session: str, dataset_payload, payloads: list, predicts: list, locale: str) -> LoadedComparison:
    """`load_comparison` in a new folder of the session; a refused upload leaves nothing behind."""
    workdir = new_workdir(session)
    try:
        return load_comparison(workdir, files_of(dataset_payload), *(files_of(p) for p in payloads),
                               predict_a=predicts[0], predict_b=predicts[1])
    except DatasetError as e:  # the library's text (English) inside the user's language, a title in it too
        shutil.rmtree(workdir, ignore_errors=True)
        text = set_error_text(e, locale) if isinstance(e, PredictionSetError) else translate(e, locale)
        raise gr.Error(html.escape(text, quote=False), title=T.text("cannot_compare_title", locale),
                       print_exception=False) from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _compared(sets: LoadedComparison, iou: float, score: float, locale: str) -> tuple:
    """(COCO table, class table, counts, images table, image A, image B, the line under them) at the thresholds;
    the images show the image where the sets disagree most (none when they agree everywhere)."""
    c = sets.compare(iou, score)
    shown = c.disagreeing[0] if c.disagreeing else None
    return (table("compare_coco", compare_coco_rows(c, locale), locale),
            table("compare_class", compare_class_rows(c, locale), locale), compare_counts_markdown(c, locale),
            disagreement_table(c, locale), *compare_images(sets, c, shown, locale))


@answers
def compare(dataset_payload, preds_a_payload, model_a, preds_b_payload, model_b, iou_v, score_v,
            request: gr.Request, progress=gr.Progress(), *, registry: ModelRegistry):  # noqa: B008 - Gradio's tracker
    """Stage and load a data set and two prediction sets (uploaded, or a model run on its images), evaluate both
    and compare them; keep the comparison in `COMPARISONS`."""
    locale, session = locale_of(request), sessions.session_of(request)
    start = time.perf_counter()
    iou, score = checked_thresholds(iou_v, score_v, locale)
    allowed = detectors(registry, session)
    names = [model_to_run(registry, m, locale, session, allowed) for m in (model_a, model_b)]
    progress(0.05, desc=T.text("compare_progress", locale))
    timings: list[list[float]] = [[], []]
    predicts = [model_predictions(registry, name, session, locale, progress, timing)
                if name != UPLOADED else None for name, timing in zip(names, timings)]
    sets = _load_comparison(session, dataset_payload, [preds_a_payload, preds_b_payload], predicts, locale)
    token = keep(COMPARISONS, session, sets)  # evicts the session's previous comparison
    runs = {side: (name, timing[0], registry.device.type.upper())
            for side, name, timing in zip(SIDES, names, timings) if timing}
    shown = _compared(sets, iou, score, locale)
    return (compare_status_markdown(sets, time.perf_counter() - start, locale, runs), *shown, token)


@answers
def recompare(token, iou_v, score_v, request: gr.Request):
    """The kept comparison at moved thresholds (nothing is loaded or run again)."""
    if token is None:
        return (gr.skip(),) * 7
    locale = locale_of(request)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    return _compared(COMPARISONS.get(token), iou, score, locale)


@answers
def compare_row(token, iou_v, score_v, evt: gr.SelectData, request: gr.Request):
    """A click on a row of the disagreement table (its image id, however the table is sorted): that image, drawn
    with set A's and set B's boxes."""
    if token is None or not evt.row_value:
        return (gr.skip(),) * 3
    locale = locale_of(request)
    sets = COMPARISONS.get(token)
    iou, score = checked_thresholds(iou_v, score_v, locale)
    c = sets.compare(iou, score)
    image_id = int(evt.row_value[1])
    return compare_images(sets, c, next((im for im in c.images if im.image_id == image_id), None), locale)


# --- wiring -------------------------------------------------------------------------------------------------------

def wire(cmp: SimpleNamespace, registry: ModelRegistry) -> None:
    """Connect the comparison of two prediction sets (the components of `layout`): `/compare`, the sliders (they
    re-compare what is kept) and the disagreement table's rows."""
    shown = [cmp.coco_table, cmp.class_table, cmp.counts, cmp.images_table, cmp.image_a, cmp.image_b,
             cmp.image_line]
    cmp.button.click(bind(compare, registry=registry),
                     [cmp.dataset_in, cmp.preds_a, cmp.model_a, cmp.preds_b, cmp.model_b, cmp.iou, cmp.score],
                     [cmp.status, *shown, cmp.token], api_name="compare", preprocess=False, concurrency_limit=2,
                     show_progress_on=[cmp.status, cmp.coco_table])
    gr.on([cmp.iou.input, cmp.score.input], recompare, [cmp.token, cmp.iou, cmp.score], shown,
          trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    cmp.images_table.select(compare_row, [cmp.token, cmp.iou, cmp.score], [cmp.image_a, cmp.image_b, cmp.image_line],
                            show_progress="hidden", api_visibility="private")
