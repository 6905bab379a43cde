"""The Concepts tab: position encodings, scaled dot-product attention and IoU as small interactive figures.

No models run here; every control redraws a Plotly figure from `cvdemo.ui.concept_figures`.
"""

from __future__ import annotations

import gradio as gr

from cvdemo.ui import concept_figures as cf

SINUSOID_TEXT = """### Sinusoidal position encoding
Attention by itself ignores order: shuffle the tokens and each output is the same. Transformers therefore
add a **position encoding** to every token. The original one is a set of sines and cosines with
geometrically falling frequencies: each position gets a unique pattern, and the dot product of two
encodings depends only on how far apart they are (right)."""

GRID_TEXT = """### 1-D versus 2-D encodings on an image grid
A ViT or DETR sees a grid of patches. Number the grid in reading order and encode that index (left), and
the cell right below the marked one is *W* steps away, as far as a distant cell in the same row. DETR's 2-D
sine encoding spends half the channels on *y* and half on *x* (right): similarity falls off in both
directions."""

ATTENTION_TEXT = r"""### Scaled dot-product attention
Each token emits a **query** q, a **key** k and a **value** v (learned projections of its embedding).
Token i's output is a weighted mean of all values, weighted by softmax(qᵢ·kⱼ / √d_k) over j.
Without the 1/√d_k the dot products grow with d_k and the softmax turns one-hot: raise d_k with scaling
off and watch the weights (bottom middle) collapse."""

IOU_TEXT = """### IoU, precision and recall
**IoU** (intersection over union) = area(A ∩ B) / area(A ∪ B), from 0 (disjoint) to 1 (identical).
A prediction is a **true positive** (TP) when its IoU with an unmatched ground-truth box of its class reaches
the threshold, otherwise a **false positive** (FP); a ground-truth box no prediction matches is a
**false negative** (FN).
**Precision** = TP / (TP + FP), the share of predictions that are right;
**recall** = TP / (TP + FN), the share of objects found. COCO's AP averages precision over recall levels
and over IoU thresholds 0.50, 0.55, …, 0.95."""


def build_concepts_tab() -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    hidden = {"show_progress": "hidden", "api_visibility": "private", "trigger_mode": "always_last"}
    gr.Markdown(SINUSOID_TEXT)
    with gr.Row():
        d_model = gr.Slider(8, 256, value=64, step=8, label="d_model (channels)")
        length = gr.Slider(8, 256, value=64, step=8, label="sequence length")
    sinus_plot = gr.Plot(cf.sinusoidal_figure(64, 64), show_label=False)
    gr.on([d_model.input, length.input], lambda d, n: cf.sinusoidal_figure(int(d), int(n)), [d_model, length],
          sinus_plot, **hidden)

    gr.Markdown(GRID_TEXT)
    with gr.Row():
        rows = gr.Slider(2, 32, value=12, step=1, label="grid rows (H)")
        cols = gr.Slider(2, 32, value=16, step=1, label="grid columns (W)")
        ref_row = gr.Slider(0, 31, value=5, step=1, label="marked row")
        ref_col = gr.Slider(0, 31, value=7, step=1, label="marked column")
    grid_plot = gr.Plot(cf.encoding_1d_vs_2d_figure(12, 16, 5, 7), show_label=False)
    gr.on([rows.input, cols.input, ref_row.input, ref_col.input],
          lambda r, c, rr, rc: cf.encoding_1d_vs_2d_figure(int(r), int(c), int(rr), int(rc)),
          [rows, cols, ref_row, ref_col], grid_plot, **hidden)

    gr.Markdown(ATTENTION_TEXT)
    with gr.Row():
        d_k = gr.Slider(2, 256, value=8, step=2, label="d_k (query/key size)")
        seed = gr.Slider(0, 99, value=0, step=1, label="random seed (embeddings and projections)")
        scaled = gr.Checkbox(value=True, label="divide by √d_k")
    attention_plot = gr.Plot(cf.attention_figure(0, 8, True), show_label=False)
    gr.on([d_k.input, seed.input, scaled.input],
          lambda d, s, sc: cf.attention_figure(int(s), int(d), bool(sc)), [d_k, seed, scaled], attention_plot,
          **hidden)

    gr.Markdown(IOU_TEXT)
    a0, b0 = (15, 20, 55, 60), (30, 35, 80, 75)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            a = _box_sliders("**Ground truth** (green): top-left corner x, y; width w, height h", a0)
            b = _box_sliders("**Prediction** (blue)", b0)
            iou_threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="IoU threshold")
        with gr.Column(scale=2):
            fig, verdict = cf.iou_figure(a0, b0, 0.5)
            iou_plot = gr.Plot(fig, show_label=False)
            iou_verdict = gr.Markdown(verdict)

    def redraw_iou(*values):
        ax, ay, aw, ah, bx, by, bw, bh, thr = (float(v) for v in values)
        return cf.iou_figure((ax, ay, ax + aw, ay + ah), (bx, by, bx + bw, by + bh), thr)

    gr.on([s.input for s in (*a, *b, iou_threshold)], redraw_iou, [*a, *b, iou_threshold],
          [iou_plot, iou_verdict], **hidden)


def _box_sliders(title: str, box: tuple[float, float, float, float]) -> list[gr.Slider]:
    gr.Markdown(title)
    sliders = []
    values = _xywh(box)
    for pair in ((0, 1), (2, 3)):
        with gr.Row():
            sliders += [gr.Slider(0 if i < 2 else 1, 100, value=values[i], step=1, label="xywh"[i],
                                  min_width=100) for i in pair]
    return sliders


def _xywh(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return box[0], box[1], box[2] - box[0], box[3] - box[1]
