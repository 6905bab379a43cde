"""Plotly figures of an evaluation: PR curves from the COCO arrays, the confusion matrix. No gradio here.

Both only draw what `cvdemo.metrics` computed: the PR curve is `CocoEvaluation.precision` at its 101 recall
points, with `CocoEvaluation.scores` (the score of the detection where that recall is reached) on hover.
Titles, axes and hover labels come in ``locale`` ("en" or "zh-CN"); class names are the data set's.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cvdemo.metrics import CocoEvaluation, ConfusionMatrix
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.evaluate import T

__all__ = ["pr_curves_figure", "confusion_figure"]

MAX_CURVES = 8  # classes drawn at once when no class is chosen (the ones with most objects)
MAX_CONFUSION_CLASSES = 25


def pr_curves_figure(coco: CocoEvaluation, class_id: int | None = None, *,
                     locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Precision against recall (area "all", maxDets 100). One class: its curves at IoU 0.50, 0.75 and
    0.95; no class: the MAX_CURVES classes with the most objects at IoU 0.50. Hover: the score threshold."""
    p = coco.params
    recall = np.asarray(p.recall_thresholds)
    ious = np.asarray(p.iou_thresholds)
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
        prec = coco.precision[t, :, k, 0, -1]
        scores = coco.scores[t, :, k, 0, -1]
        reached = recall <= max(coco.recall[t, k, 0, -1], 0) + 1e-12  # past the highest recall COCO puts 0
        fig.add_trace(go.Scatter(
            x=recall[reached], y=prec[reached], mode="lines+markers", marker={"size": 4}, name=name,
            customdata=scores[reached],
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
    m = cm.matrix
    labels = cm.labels
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
        textfont={"size": 10},
        hovertemplate=T.text("cm_hover", locale)))  # a Plotly template: no format fields
    fig.update_layout(
        title={"text": T.text("cm_title", locale, busiest=busiest, iou=cm.iou_threshold, score=cm.score_threshold),
               "font": {"size": 14}},
        xaxis={"title": T.text("predicted", locale), "tickangle": -45, "tickfont": {"size": 10}},
        yaxis={"title": T.text("true", locale), "autorange": "reversed", "tickfont": {"size": 10}},
        template="plotly_white", height=max(360, 140 + 18 * len(idx)), margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
