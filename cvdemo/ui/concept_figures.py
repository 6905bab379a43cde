"""Small interactive figures of the ideas behind DETR and ViT (Plotly; no gradio, no models, no tensors).

- `sinusoidal_encoding_1d` / `sinusoidal_figure`: "Attention is all you need" position encoding
  PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)), and PE·PEᵀ.
- `encoding_1d_vs_2d_figure`: one position's similarity to the others on an image grid, when the grid is
  flattened and numbered (1-D) versus DETR's 2-D sine encoding (`cvdemo.models.position_encoding`).
- `scaled_dot_product_attention_explicit` / `attention_figure`: softmax(Q Kᵀ / √d_k) V on a toy sentence.
- `iou_figure`: two boxes, their intersection and union, and what IoU means for precision and recall.

Every figure takes ``locale`` ("en" or "zh-CN") for its titles, axis titles, legend and hover labels
(`cvdemo.ui.texts.concepts`); the numbers do not depend on it.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvdemo.boxes import box_area_xyxy, box_iou_xyxy
from cvdemo.models.position_encoding import sine_position_encoding_2d
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.concepts import T

TOY_TOKENS = ("the", "cat", "sat", "on", "the", "mat")


def toy_tokens(locale: str = DEFAULT_LOCALE) -> tuple[str, ...]:
    """The toy sentence's tokens in ``locale`` (as many as `TOY_TOKENS`; only their labels change)."""
    tokens = tuple(T.text("toy_sentence", locale).split())
    if len(tokens) != len(TOY_TOKENS):
        raise ValueError(f"the {locale} toy sentence has {len(tokens)} tokens, not {len(TOY_TOKENS)}")
    return tokens


def sinusoidal_encoding_1d(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """[length, d_model] float64: even channels sin(pos / base^(2i/d)), odd channels cos of the same angle."""
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need length >= 1 and an even d_model >= 2, got {length}, {d_model}")
    pos = np.arange(length, dtype=np.float64)[:, None]  # (length, 1)
    freq = base ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)  # (d/2,)
    pe = np.empty((length, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq)
    return pe


def sinusoidal_figure(d_model: int = 64, length: int = 64, *, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Left: the encoding (position x channel). Right: PE·PEᵀ, the dot product between positions."""
    pe = sinusoidal_encoding_1d(length, d_model)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1,
                        subplot_titles=(T.text("pe_title", locale, d_model=d_model),
                                        T.text("pe_gram_title", locale)))
    hover = T.text("pe_hover", locale, pos="%{y}", channel="%{x}", value="%{z:.3f}")
    fig.add_trace(go.Heatmap(z=pe, colorscale="RdBu", zmid=0, colorbar={"x": 0.5, "thickness": 10},
                             hovertemplate=hover + "<extra></extra>"), 1, 1)
    fig.add_trace(go.Heatmap(z=pe @ pe.T, colorscale="Viridis", colorbar={"thickness": 10},
                             hovertemplate="p=%{y}, q=%{x}: %{z:.2f}<extra></extra>"), 1, 2)
    fig.update_yaxes(autorange="reversed", title_text=T.text("position", locale), row=1, col=1)
    fig.update_yaxes(autorange="reversed", title_text="p", row=1, col=2)
    fig.update_xaxes(title_text=T.text("channel_axis", locale), row=1, col=1)
    fig.update_xaxes(title_text="q", row=1, col=2)
    fig.update_layout(height=430, margin={"l": 10, "r": 10, "t": 50, "b": 10}, template="plotly_white")
    return fig


def _cosine_to(table: np.ndarray, index: int) -> np.ndarray:
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    return unit @ unit[index]


def encoding_1d_vs_2d_figure(rows: int = 12, cols: int = 16, ref_row: int = 5, ref_col: int = 7,
                             d_model: int = 64, *, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Cosine similarity of the position (ref_row, ref_col) to every position of a rows x cols grid."""
    ref_row, ref_col = min(ref_row, rows - 1), min(ref_col, cols - 1)
    flat = sinusoidal_encoding_1d(rows * cols, d_model)  # position = row * cols + col (raster order)
    sim_1d = _cosine_to(flat, ref_row * cols + ref_col).reshape(rows, cols)
    pe2d = sine_position_encoding_2d(rows, cols, d_model)  # (d_model, rows, cols), DETR's
    sim_2d = _cosine_to(pe2d.reshape(d_model, -1).T, ref_row * cols + ref_col).reshape(rows, cols)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=(
        T.text("grid_1d_title", locale), T.text("grid_2d_title", locale)))
    hover = T.text("grid_hover", locale, row="%{y}", col="%{x}", value="%{z:.2f}")
    low = float(min(sim_1d.min(), sim_2d.min()))  # one shared scale, from the least similar position to 1
    for k, sim in enumerate((sim_1d, sim_2d), start=1):
        fig.add_trace(go.Heatmap(z=sim, zmin=low, zmax=1, colorscale="Viridis",
                                 showscale=k == 2, colorbar={"thickness": 10, "title": "cos"},
                                 hovertemplate=hover + "<extra></extra>"), 1, k)
        fig.add_trace(go.Scatter(x=[ref_col], y=[ref_row], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker={"symbol": "x", "size": 12, "color": "red"}), 1, k)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{k if k > 1 else ''}", row=1, col=k)
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10}, template="plotly_white",
                      title={"text": T.text("grid_title", locale), "font": {"size": 14}})
    return fig


def toy_qkv(seed: int = 0, d_k: int = 8, d_model: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V [n, d_k] for TOY_TOKENS: random token embeddings [n, d_model] times random projections."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(TOY_TOKENS), d_model))
    w_q, w_k, w_v = (rng.normal(size=(d_model, d_k)) / np.sqrt(d_model) for _ in range(3))
    return x @ w_q, x @ w_k, x @ w_v


def scaled_dot_product_attention_explicit(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                          scale: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores [n, m], weights [n, m], output [n, d_v]): scores = Q Kᵀ (/ √d_k), weights = row softmax."""
    scores = q @ k.T
    if scale:
        scores = scores / np.sqrt(q.shape[-1])
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = shifted / shifted.sum(axis=-1, keepdims=True)
    return scores, weights, weights @ v


def attention_figure(seed: int = 0, d_k: int = 8, scale: bool = True, *,
                     locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Q, K, V, the scores, the softmax weights (rows sum to 1) and the output, on a six-token sentence."""
    q, k, v = toy_qkv(seed, d_k)
    scores, weights, out = scaled_dot_product_attention_explicit(q, k, v, scale)
    toks = [f"{i}:{t}" for i, t in enumerate(toy_tokens(locale))]
    dims = [f"d{j}" for j in range(d_k)]
    titles = ("Q = X·W_q", "K = X·W_k", "V = X·W_v",
              T.text("scores_scaled", locale, d_k=d_k) if scale else T.text("scores_unscaled", locale),
              T.text("weights_title", locale), T.text("output_title", locale))
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles, horizontal_spacing=0.07, vertical_spacing=0.17)
    panels = ((q, dims, 1, 1, "RdBu"), (k, dims, 1, 2, "RdBu"), (v, dims, 1, 3, "RdBu"),
              (scores, toks, 2, 1, "RdBu"), (weights, toks, 2, 2, "Blues"), (out, dims, 2, 3, "RdBu"))
    for z, xs, r, c, scale_name in panels:
        is_weights = z is weights
        fig.add_trace(go.Heatmap(
            z=z, x=xs, y=toks, colorscale=scale_name, showscale=False, zmin=0 if is_weights else None,
            zmax=1 if is_weights else None, zmid=None if is_weights else 0,
            text=np.char.mod("%.2f", z) if is_weights else None,
            texttemplate="%{text}" if is_weights else None,
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>"), r, c)
        fig.update_yaxes(autorange="reversed", row=r, col=c)
    entropy = float(-(weights * np.log(weights + 1e-12)).sum(axis=1).mean())
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 80, "b": 10}, template="plotly_white",
                      title={"text": T.text("attention_title", locale, d_k=d_k, entropy=entropy,
                                            uniform=float(np.log(len(TOY_TOKENS)))),
                             "font": {"size": 14}})
    return fig


def iou_xyxy(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two pixel (x0, y0, x1, y1) boxes, by `cvdemo.boxes.box_iou_xyxy`."""
    return float(box_iou_xyxy(np.asarray([a], dtype=np.float64), np.asarray([b], dtype=np.float64))[0, 0])


def iou_figure(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
               threshold: float = 0.5, *, locale: str = DEFAULT_LOCALE) -> tuple[go.Figure, str]:
    """Draw ground truth `a` and prediction `b` (pixel xyxy) with their intersection; return the figure and a
    Markdown verdict (IoU, and whether the prediction counts as a true positive at `threshold`)."""
    iou = iou_xyxy(a, b)
    area_a, area_b = (float(box_area_xyxy(np.asarray([box], dtype=np.float64))[0]) for box in (a, b))
    ix0, iy0, ix1, iy1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix1 - ix0) * max(0.0, iy1 - iy0)
    fig = go.Figure()
    for box, name, rgb in ((a, T.text("ground_truth", locale), "44,160,44"),
                           (b, T.text("prediction", locale), "31,119,180")):
        xs, ys = [box[0], box[2], box[2], box[0], box[0]], [box[1], box[1], box[3], box[3], box[1]]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, fill="toself",
                                 line={"color": f"rgb({rgb})", "width": 3}, fillcolor=f"rgba({rgb},0.12)"))
    if inter > 0:
        fig.add_shape(type="rect", x0=ix0, y0=iy0, x1=ix1, y1=iy1, fillcolor="rgba(255,127,14,0.45)",
                      line={"width": 0})
        fig.add_trace(go.Scatter(x=[(ix0 + ix1) / 2], y=[(iy0 + iy1) / 2], mode="text", text=["∩"],
                                 textfont={"size": 22}, showlegend=False, hoverinfo="skip"))
    fig.update_xaxes(range=[0, 100], constrain="domain", title_text="x")
    fig.update_yaxes(range=[100, 0], scaleanchor="x", title_text="y")
    title = f"IoU = {inter:.0f} / ({area_a:.0f} + {area_b:.0f} − {inter:.0f}) = {iou:.3f}"
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10}, template="plotly_white",
                      title={"font": {"size": 15}, "text": title},
                      legend={"orientation": "h", "y": -0.12})
    verdict = T.text("true_positive" if iou >= threshold else "false_positive", locale, iou=iou, threshold=threshold)
    return fig, verdict
