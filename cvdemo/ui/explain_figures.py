"""Small Plotly figures of an explanation's faithfulness and of how far a ViT's heads look (no gradio, no tensors).

- `faithfulness_figure`: deletion and insertion curves of a map (score of the target vs the share of patches
  removed or inserted, most relevant first), with the random order's curves dashed in the same colours; the
  legend gives each curve's AUC. A faithful map's deletion curve falls faster (lower AUC) than the random one.
- `attention_distance_figure`: mean attention distance per layer and head, one point per head (x = layer,
  y = pixels), as the ViT paper's Figure 7, with the mean of heads as a line.

Shared by the Attention tab and the Detect tab (read-only for the Detect tab). Every figure takes ``locale``
("en" or "zh-CN") for its titles, axis titles, legend and hover labels (the "explain_figures" catalog, `FIGURES` in
`cvdemo.ui.texts.attention`); the numbers do not depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.attention import FIGURES as T

# curve name -> (catalog key of its legend text, colour, dashed)
CURVES = {
    "deletion": ("fig_deletion", "rgb(214,39,40)", False),
    "insertion": ("fig_insertion", "rgb(31,119,180)", False),
    "random_deletion": ("fig_random_deletion", "rgb(214,39,40)", True),
    "random_insertion": ("fig_random_insertion", "rgb(31,119,180)", True),
}


def curve_points(curve: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """(fractions [S+1], scores [S+1], AUC) of a curve given as a `cvdemo.explain.faithfulness.PerturbationCurve`
    (attributes ``fractions``, ``scores``, ``auc``), a mapping with those keys (``auc`` optional), or a pair
    (fractions, scores). A missing AUC is the trapezoid over the fractions."""
    if isinstance(curve, Mapping):
        fractions, scores, auc = curve["fractions"], curve["scores"], curve.get("auc")
    elif hasattr(curve, "fractions") and hasattr(curve, "scores"):
        fractions, scores, auc = curve.fractions, curve.scores, getattr(curve, "auc", None)
    else:
        fractions, scores = curve
        auc = None
    x = np.asarray(fractions, dtype=np.float64).reshape(-1)
    y = np.asarray(scores, dtype=np.float64).reshape(-1)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"a curve needs as many fractions as scores (>= 2), got {x.size} and {y.size}")
    if auc is None:
        auc = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)
    return x, y, float(auc)


def faithfulness_figure(curves: Mapping[str, Any], locale: str = DEFAULT_LOCALE, *,
                        height: int = 300) -> go.Figure:
    """Deletion / insertion curves of a map and of a random order.

    curves: {"deletion", "insertion", "random_deletion", "random_insertion"} -> a curve (`curve_points`); any
    subset, drawn in that order (other keys raise ValueError). Scores on y (0..1 for probabilities), the share of
    patches removed or inserted on x (0..1)."""
    unknown = set(curves) - set(CURVES)
    if unknown:
        raise ValueError(f"unknown curves {sorted(unknown)}: expected some of {list(CURVES)}")
    fig = go.Figure()
    for name, (key, colour, dashed) in CURVES.items():
        if name not in curves:
            continue
        x, y, auc = curve_points(curves[name])
        label = T.text(key, locale, auc=auc)
        hover = T.text("fig_curve_hover", locale, name=label, x="%{x:.2f}", y="%{y:.3f}")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines" if dashed else "lines+markers", name=label,
                                 line={"color": colour, "dash": "dash" if dashed else "solid",
                                       "width": 1.5 if dashed else 2.5},
                                 marker={"size": 4}, hovertemplate=hover + "<extra></extra>"))
    fig.update_xaxes(range=[0, 1], title_text=T.text("fig_fraction_axis", locale))
    fig.update_yaxes(rangemode="tozero", title_text=T.text("fig_score_axis", locale))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white",
                      title={"text": T.text("fig_faithfulness_title", locale), "font": {"size": 12}},
                      legend={"orientation": "h", "y": -0.3, "font": {"size": 11}})
    return fig


def attention_distance_figure(distances: Any, locale: str = DEFAULT_LOCALE, *, height: int = 320) -> go.Figure:
    """Mean attention distance (`cvdemo.explain.mean_attention_distance`): distances [layers, heads] in pixels ->
    one point per head at x = layer (1-based), y = pixels, and the mean of heads per layer as a line."""
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"distances must be [layers, heads], got shape {d.shape}")
    layers, heads = d.shape
    layer_no = np.repeat(np.arange(1, layers + 1), heads)  # (layers * heads,)
    head_no = np.tile(np.arange(1, heads + 1), layers)
    hover = T.text("fig_distance_hover", locale, layer="%{x}", head="%{customdata}", px="%{y:.1f}")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=layer_no, y=d.reshape(-1), customdata=head_no, mode="markers", showlegend=False,
                             marker={"size": 7, "color": head_no, "colorscale": "Viridis", "opacity": 0.85},
                             hovertemplate=hover + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=np.arange(1, layers + 1), y=d.mean(axis=1), mode="lines",
                             name=T.text("fig_distance_mean", locale), line={"color": "gray", "dash": "dot"},
                             hovertemplate="%{y:.1f} px<extra></extra>"))
    fig.update_xaxes(title_text=T.text("fig_layer_axis", locale), tickmode="linear", dtick=1 if layers <= 24 else 4)
    fig.update_yaxes(rangemode="tozero", title_text=T.text("fig_distance_axis", locale))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white",
                      title={"text": T.text("fig_distance_title", locale), "font": {"size": 12}},
                      legend={"orientation": "h", "y": -0.25})
    return fig
