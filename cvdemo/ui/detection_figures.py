"""Plotly figure of a DETR run: every query's class distribution, "no object" included. No gradio here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cvdemo.ui.detection_session import DetectionRun
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.detect import T

MAX_ROWS = 30  # queries shown (best scores first)
MAX_COLUMNS = 24  # classes shown before the rest are summed into "other classes"


def class_distribution_figure(run: DetectionRun, threshold: float,
                              selected_row: int | None = None, *, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Heatmap: one row per query (best score first, at most MAX_ROWS), one column per class plus "no object".

    Each row is that query's softmax over C+1 classes, so it sums to 1. With many classes (COCO's 91) only the
    classes that some shown query ranks first are kept and the rest are summed into one "other" column.
    Queries above the threshold are marked ✓; `selected_row` (an index into run.scores) is marked ▶.
    Titles and names in ``locale``.
    """
    rows = list(range(min(MAX_ROWS, len(run.scores))))
    queries = run.query_index[rows]
    probs = run.probs[queries]  # (R, C+1)
    num_classes = probs.shape[1] - 1
    names = [run.label_name(c, locale) for c in range(num_classes)]
    if num_classes + 1 > MAX_COLUMNS:
        shown = sorted(set(int(v) for v in run.labels[rows]))[: MAX_COLUMNS - 2]
        rest = np.delete(probs[:, :num_classes], shown, axis=1).sum(axis=1, keepdims=True)
        probs = np.concatenate([probs[:, shown], rest, probs[:, -1:]], axis=1)
        names = [names[c] for c in shown] + [T.text("other_classes", locale)]
    columns = names + [T.text("no_object", locale)]
    row_names = []
    for r, q in zip(rows, queries):
        mark = "▶ " if r == selected_row else ("✓ " if run.scores[r] > threshold else "")
        row_names.append(mark + T.text("query_n", locale, q=int(q)))
    text = np.where(probs >= 0.01, np.char.mod("%.2f", probs), "")
    fig = go.Figure(go.Heatmap(
        z=probs, x=columns, y=row_names, zmin=0, zmax=1, colorscale="Blues", text=text,
        texttemplate="%{text}" if probs.size <= 400 else None, textfont={"size": 10},
        hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>", colorbar={"title": "p", "thickness": 12}))
    fig.update_layout(
        title={"text": T.text("figure_title", locale, shown=len(rows), queries=len(run.scores),
                              threshold=threshold), "font": {"size": 14}},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}}, xaxis={"side": "top", "tickangle": -30},
        height=max(260, 90 + 22 * len(rows)), margin={"l": 10, "r": 10, "t": 90, "b": 10},
        template="plotly_white")
    return fig
