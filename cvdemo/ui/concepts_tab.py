"""The Concepts tab: position encodings, scaled dot-product attention and IoU as small interactive figures.

No models run here; every control redraws a Plotly figure from `cvdemo.ui.concept_figures`, in the language of
the request (`cvdemo.ui.texts.concepts`). The figures drawn at build time are English; a page-load event
redraws them, and writes the IoU verdict, in the user's language.

Read apart: `layout()` creates the components, the handlers below are plain module-level functions (each wrapped
with `answers` when wired), and `wire()` connects them. Every event is private (no API endpoint).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from cvdemo.ui import concept_figures as cf
from cvdemo.ui.errors import answers
from cvdemo.ui.i18n import locale_of
from cvdemo.ui.texts.concepts import T

# the controls' values when the page loads
SINUSOID0 = {"d_model": 64, "length": 64}
GRID0 = {"rows": 12, "cols": 16, "ref_row": 5, "ref_col": 7}
ATTENTION0 = {"seed": 0, "d_k": 8, "scale": True}
BOX_A0, BOX_B0, IOU_THRESHOLD0 = (15, 20, 55, 60), (30, 35, 80, 75), 0.5
_HIDDEN = {"show_progress": "hidden", "api_visibility": "private", "trigger_mode": "always_last"}


def build_concepts_tab() -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    wire(layout())


# ---------------------------------------------------------------- layout

def layout() -> SimpleNamespace:
    """Create the tab's components (English figures at their start values); returns them by name."""
    ui = SimpleNamespace()
    gr.Markdown(T("sinusoid_md"))
    with gr.Row():
        ui.d_model = gr.Slider(8, 256, value=SINUSOID0["d_model"], step=8, label=T("d_model"))
        ui.length = gr.Slider(8, 256, value=SINUSOID0["length"], step=8, label=T("length"))
    ui.sinus_plot = gr.Plot(cf.sinusoidal_figure(**SINUSOID0), show_label=False)

    gr.Markdown(T("grid_md"))
    with gr.Row():
        ui.rows = gr.Slider(2, 32, value=GRID0["rows"], step=1, label=T("grid_rows"))
        ui.cols = gr.Slider(2, 32, value=GRID0["cols"], step=1, label=T("grid_cols"))
        ui.ref_row = gr.Slider(0, 31, value=GRID0["ref_row"], step=1, label=T("marked_row"))
        ui.ref_col = gr.Slider(0, 31, value=GRID0["ref_col"], step=1, label=T("marked_col"))
    ui.grid_plot = gr.Plot(cf.encoding_1d_vs_2d_figure(**GRID0), show_label=False)

    gr.Markdown(T("attention_md"))
    with gr.Row():
        ui.d_k = gr.Slider(2, 256, value=ATTENTION0["d_k"], step=2, label=T("d_k"))
        ui.seed = gr.Slider(0, 99, value=ATTENTION0["seed"], step=1, label=T("seed"))
        ui.scaled = gr.Checkbox(value=ATTENTION0["scale"], label=T("scaled"))
    ui.attention_plot = gr.Plot(cf.attention_figure(**ATTENTION0), show_label=False)

    gr.Markdown(T("iou_md"))
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            ui.box_a = _box_sliders(T("ground_truth_box"), BOX_A0)
            ui.box_b = _box_sliders(T("prediction_box"), BOX_B0)
            ui.iou_threshold = gr.Slider(0.05, 0.95, value=IOU_THRESHOLD0, step=0.05, label=T("iou_threshold"))
        with gr.Column(scale=2):
            ui.iou_plot = gr.Plot(cf.iou_figure(BOX_A0, BOX_B0, IOU_THRESHOLD0)[0], show_label=False)
            ui.iou_verdict = gr.Markdown()  # composed text: written in the user's language by `localize` on load
    return ui


def _box_sliders(title, box: tuple[float, float, float, float]) -> list[gr.Slider]:
    gr.Markdown(title)
    sliders = []
    values = _xywh(box)
    labels = (T("box_x"), T("box_y"), T("box_w"), T("box_h"))
    for pair in ((0, 1), (2, 3)):
        with gr.Row():
            sliders += [gr.Slider(0 if i < 2 else 1, 100, value=values[i], step=1, label=labels[i],
                                  min_width=100) for i in pair]
    return sliders


def _xywh(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return box[0], box[1], box[2] - box[0], box[3] - box[1]


# ---------------------------------------------------------------- handlers (gr.Request must be positional)

def redraw_sinusoid(d, n, request: gr.Request):
    return cf.sinusoidal_figure(int(d), int(n), locale=locale_of(request))


def redraw_grid(r, c, rr, rc, request: gr.Request):
    return cf.encoding_1d_vs_2d_figure(int(r), int(c), int(rr), int(rc), locale=locale_of(request))


def redraw_attention(d, s, sc, request: gr.Request):
    return cf.attention_figure(int(s), int(d), bool(sc), locale=locale_of(request))


def redraw_iou(ax, ay, aw, ah, bx, by, bw, bh, thr, request: gr.Request):
    """Both boxes as x, y, w, h (the sliders), then the IoU threshold -> (figure, verdict)."""
    ax, ay, aw, ah, bx, by, bw, bh, thr = (float(v) for v in (ax, ay, aw, ah, bx, by, bw, bh, thr))
    return cf.iou_figure((ax, ay, ax + aw, ay + ah), (bx, by, bx + bw, by + bh), thr, locale=locale_of(request))


def localize(request: gr.Request):
    """On page load: the four figures (redrawn at their build-time settings) and the IoU verdict in the
    request's language. English figures are already on the page and are left alone."""
    locale = locale_of(request)
    iou_fig, verdict = cf.iou_figure(BOX_A0, BOX_B0, IOU_THRESHOLD0, locale=locale)
    if locale == "en":
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), verdict
    return (cf.sinusoidal_figure(**SINUSOID0, locale=locale), cf.encoding_1d_vs_2d_figure(**GRID0, locale=locale),
            cf.attention_figure(**ATTENTION0, locale=locale), iou_fig, verdict)


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace) -> None:
    """Connect the controls to their handlers (all private events)."""
    gr.on([ui.d_model.input, ui.length.input], answers(redraw_sinusoid), [ui.d_model, ui.length], ui.sinus_plot,
          **_HIDDEN)
    grid_inputs = [ui.rows, ui.cols, ui.ref_row, ui.ref_col]
    gr.on([s.input for s in grid_inputs], answers(redraw_grid), grid_inputs, ui.grid_plot, **_HIDDEN)
    attention_inputs = [ui.d_k, ui.seed, ui.scaled]
    gr.on([c.input for c in attention_inputs], answers(redraw_attention), attention_inputs, ui.attention_plot,
          **_HIDDEN)
    iou_inputs = [*ui.box_a, *ui.box_b, ui.iou_threshold]
    gr.on([s.input for s in iou_inputs], answers(redraw_iou), iou_inputs, [ui.iou_plot, ui.iou_verdict],
          **_HIDDEN)
    # triggers=None: on page load only (no inputs, so no other trigger)
    gr.on(None, answers(localize), inputs=None,
          outputs=[ui.sinus_plot, ui.grid_plot, ui.attention_plot, ui.iou_plot, ui.iou_verdict],
          api_visibility="private", show_progress="hidden", queue=False)
