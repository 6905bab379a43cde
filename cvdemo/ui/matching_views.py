"""Everything the Matching tab shows for a run, composed in one place, in the user's language.

`views(run, layer, weights, notes, locale)` asks the library (`cvdemo.matching_run`) for one decoder layer's
matching at some cost weights, its Hungarian steps, its loss, the matches of every layer and the one-to-many
comparison, and returns the tab's outputs: the images and figures (drawn by `cvdemo.ui.matching_figures`), the
tables (Gradio's ``{"headers", "data"}``) and the Markdown lines. `step_view` shows one Hungarian step, worded
from its structured messages (`HungarianStep.messages`) with the catalog `cvdemo/ui/texts/match.py`.
No gradio and no tensors here: the run's arrays are numpy.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvdemo import matching_run as mr
from cvdemo.hungarian import HungarianStep
from cvdemo.matching_run import Matching, MatchingLoss, MatchRun
from cvdemo.messages import Message
from cvdemo.ui import matching_figures as figures
from cvdemo.ui import uploads
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.matching_figures import gt_name, label_name
from cvdemo.ui.texts.match import T

LOSS_COLUMN_KEYS = ["col_query", "col_matched_to", "col_target_class", "col_p_target", "col_neg_p", "col_neg_log_p",
                    "col_ce_weight", "col_l1", "col_giou", "col_share"]
COMPARE_COLUMN_KEYS = ["col_gt", "col_positives", "col_kept", "col_hungarian"]
LOSS_COLUMNS = [T.text(key) for key in LOSS_COLUMN_KEYS]  # in English
COMPARE_COLUMNS = [T.text(key) for key in COMPARE_COLUMN_KEYS]


def columns(keys: list[str], locale: str = DEFAULT_LOCALE) -> list[str]:
    return [T.text(key, locale) for key in keys]


def empty_table(keys: list[str], locale: str = DEFAULT_LOCALE) -> dict:
    return {"headers": columns(keys, locale), "data": []}


def layer_choices(num_layers: int, locale: str = DEFAULT_LOCALE) -> list[tuple[str, int]]:
    """Decoder layers, 1-based; the last is the model's output, the others its aux outputs."""
    return [(T.text("layer_last", locale, i=i) if i == num_layers else T.text("layer_aux", locale, i=i), i)
            for i in range(1, num_layers + 1)]


def _say(message: Message, locale: str) -> str:
    """A message of this tab's catalog ("match.<name>") in ``locale``."""
    return T.text(message.key.removeprefix(T.namespace + "."), locale, **message.fields)


def image_notes(loaded_notes: list[Message], run: MatchRun, locale: str = DEFAULT_LOCALE) -> list[str]:
    """What was done to the image: the loader's notes, and the model's input size when pre-processing could not
    keep the aspect ratio (a side clamped to 1 pixel)."""
    return uploads.image_notes(loaded_notes, locale, resized_to=None if run.aspect_ratio_kept else run.input_size)


def summary(run: MatchRun, m: Matching, notes: list[str], locale: str = DEFAULT_LOCALE) -> str:
    """Objects, queries, matched, the assignment's cost, the layer; then the run (source, size, model, time)."""
    n, q = run.num_objects, run.num_queries
    h, w = run.image.shape[:2]
    objects = T.text("objects_one" if n == 1 else "objects_many", locale, n=n)
    source = (T.text("source_yours", locale) if run.validation_index is None
              else T.text("source_validation", locale, i=run.validation_index))
    text = (T.text("summary", locale, objects=objects, q=q, matched=len(m.pred_idx),
                   unmatched=q - len(m.pred_idx), cost=m.total_cost, layer=m.layer + 1, layers=run.num_layers)
            + "  \n" + T.text("summary_run", locale, source=html.escape(source), w=w, h=h,
                              model=html.escape(run.model_name), ms=run.model_ms))
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


def loss_rows(run: MatchRun, m: Matching, loss: MatchingLoss, locale: str = DEFAULT_LOCALE) -> dict:
    """The per-query loss table: matched queries first (in ground-truth order), then the no-object ones."""
    b = loss.breakdown
    probs = run.probs(m.layer)
    cls_cost = m.costs["class"]
    order = list(m.pred_idx[np.argsort(m.tgt_idx)]) + [q for q in range(run.num_queries) if b.matched_gt[q] < 0]
    rows = []
    for q in order:
        k, target = int(b.matched_gt[q]), int(b.target_class[q])
        matched = k >= 0
        rows.append([f"q{q}", gt_name(run, k, locale) if matched else "—",
                     label_name(run, target, locale), round(float(probs[q, target]), 3),
                     round(float(cls_cost[q, k]), 3) if matched else "",
                     round(float(b.ce[q]), 3), round(float(b.ce_weight[q]), 3),
                     round(float(b.l1[q]), 3) if matched else "", round(1 - float(b.giou[q]), 3) if matched else "",
                     round(float(b.total[q]), 4)])
    return {"headers": columns(LOSS_COLUMN_KEYS, locale), "data": rows}


def loss_totals(loss: MatchingLoss, locale: str = DEFAULT_LOCALE) -> str:
    lo, w = loss.losses, mr.LOSS_WEIGHTS
    return T.text("loss_totals", locale, ce=lo["loss_ce"], bbox=lo["loss_bbox"], giou=lo["loss_giou"],
                  w_ce=w["loss_ce"], w_bbox=w["loss_bbox"], w_giou=w["loss_giou"], total=loss.total)


def layers_table(run: MatchRun, weights: tuple[float, float, float], locale: str = DEFAULT_LOCALE
                 ) -> tuple[dict, str]:
    """Which query each object gets in every decoder layer, and how many differ from the last layer's."""
    per_layer = mr.matches_per_layer(run, weights)  # [L, n]
    last = per_layer[-1]
    headers = [T.text("col_gt", locale)] + [text for text, _ in layer_choices(run.num_layers, locale)]
    differs = " " + T.text("differs_from_last", locale)
    rows = [[gt_name(run, k, locale)]
            + [f"q{per_layer[layer, k]}" + ("" if per_layer[layer, k] == last[k] else differs)
               for layer in range(run.num_layers)] for k in range(run.num_objects)]
    changed = int((per_layer[:-1] != last).sum())
    return {"headers": headers, "data": rows}, T.text("layers_note", locale, changed=changed,
                                                      total=per_layer[:-1].size)


def comparison(run: MatchRun, m: Matching, locale: str = DEFAULT_LOCALE
               ) -> tuple[np.ndarray, np.ndarray, dict, str]:
    """One-to-many (max IoU + NMS) beside one-to-one: (one-to-many image, one-to-one image, table, text)."""
    otm = mr.one_to_many(run, m.layer)
    none = T.text("none", locale)

    def queries(qs) -> str:
        return " ".join(f"q{q}" for q in qs)

    rows = []
    for k in range(run.num_objects):
        positives = otm.positives_of(k)
        rows.append([gt_name(run, k, locale), queries(positives) or none,
                     queries(q for q in positives if otm.nms_kept[q]) or none, queries(m.pred_idx[m.tgt_idx == k])])

    def duplicates(count: int) -> str:
        return T.text("duplicates_one" if count == 1 else "duplicates_many", locale, n=count)

    text = T.text("comparison", locale, iou=otm.iou_threshold, positives=int(otm.assignment.positive.sum()),
                  n=run.num_objects, duplicates=duplicates(otm.duplicates), kept=int(otm.nms_kept.sum()),
                  duplicates_after=duplicates(otm.duplicates_after_nms), matched=len(m.pred_idx))
    table = {"headers": columns(COMPARE_COLUMN_KEYS, locale), "data": rows}
    one_to_one = figures.matching_image(run, m, show_unmatched=False)
    return figures.one_to_many_image(run, m.layer, otm), one_to_one, table, text


def step_kind(step: HungarianStep, locale: str = DEFAULT_LOCALE) -> str:
    """The name of a Hungarian step's kind ("cover", "row reduction", ...) in ``locale``."""
    return T.text(f"kind_{step.kind}", locale)


def step_text(step: HungarianStep, locale: str = DEFAULT_LOCALE) -> str:
    """What the step did, in ``locale``: its messages worded by the catalog (English: `step.explanation`)."""
    return " ".join(_say(message, locale) for message in step.messages())


def step_index(steps: list[HungarianStep], index: Any) -> int:
    """A step number from the slider or a button (any int-like value) clamped to the steps."""
    try:
        i = int(index or 0)
    except (TypeError, ValueError, OverflowError):
        i = 0
    return min(max(i, 0), len(steps) - 1)


def step_view(run: MatchRun | None, steps: list[HungarianStep], index: Any, locale: str = DEFAULT_LOCALE
              ) -> tuple[int, Any, str]:
    """(step index, figure, Markdown) of step ``index`` (clamped). ``run`` None: the steps of a matrix of its
    own (the hard example, a random matrix), whose rows and columns are not queries and objects."""
    i = step_index(steps, index)
    step = steps[i]
    text = (T.text("step_header", locale, i=i + 1, n=len(steps), kind=step_kind(step, locale)) + "  \n"
            + html.escape(step_text(step, locale)) + "  \n"
            + T.text("step_indices" if run is not None else "step_indices_plain", locale))
    return i, figures.step_figure(run, step, locale), text


@dataclass
class MatchingViews:
    """The tab's outputs for one layer and cost weights (in the order of `outputs`), and the Hungarian steps."""

    matching_image: np.ndarray
    summary: str
    cost_figure: Any
    step_index: int
    step_count: int
    step_figure: Any
    step_text: str
    loss_table: dict
    loss_totals: str
    layers_table: dict
    layers_note: str
    one_to_many_image: np.ndarray
    one_to_one_image: np.ndarray
    compare_table: dict
    compare_text: str
    steps: list[HungarianStep]


def views(run: MatchRun, layer: int, weights: tuple[float, float, float], notes: list[str],
          locale: str = DEFAULT_LOCALE) -> MatchingViews:
    """Everything derived from a run for one decoder ``layer`` (0-based) and cost ``weights``."""
    m = mr.match(run, layer, weights)
    steps = mr.solve_steps(m)
    i, step_fig, step_md = step_view(run, steps, 0, locale)
    loss = mr.matching_loss(run, m)
    layers, layers_note = layers_table(run, weights, locale)
    otm_img, oto_img, compare_rows, compare_text = comparison(run, m, locale)
    return MatchingViews(figures.matching_image(run, m), summary(run, m, notes, locale),
                         figures.cost_figure(run, m, locale), i, len(steps), step_fig, step_md,
                         loss_rows(run, m, loss, locale), loss_totals(loss, locale), layers, layers_note, otm_img,
                         oto_img, compare_rows, compare_text, steps)
