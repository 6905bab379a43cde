"""The Detect tab: DETR's boxes, its table of detections, and what each object query attended to.

`/detect` (image, model, threshold) runs the model once and keeps the run in a `gr.State`; the threshold
slider, the choice of detection, layer and head, and clicks on the image then only redraw from that state.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import gradio as gr
import numpy as np

from cvdemo.ui import detection_session as ds
from cvdemo.ui.choices import MEAN, head_choices, layer_choices, parse_head, parse_layer
from cvdemo.ui.detection_figures import class_distribution_figure
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.uploads import image_examples, load_upload
from cvdemo.ui.zerogpu import gpu_task
from cvdemo.visualize import class_color, draw_boxes_xyxy, enlarge_for_display, overlay_heatmap

TABLE_COLUMNS = ["#", "query", "label", "score", "x0", "y0", "x1", "y1"]
STATE_SECONDS = 1800  # a session's run is dropped after 30 minutes without use

INTRO = """DETR predicts a fixed set of **object queries**; each query outputs a class (or *no object*) and a
box. Upload an image or pick an example; move the **score threshold** to keep more or fewer detections (the
model does not run again). Pick a detection (or click a table row) to see where its query looked in the image
(**decoder cross-attention**), and **click on the image** to see where the encoder position under your click
looks (**encoder self-attention**)."""


def _detection_choices(run: ds.DetectionRun, threshold: float) -> list[tuple[str, int]]:
    """Dropdown entries (text, row) for the kept detections; the best 3 queries when none is kept."""
    rows = list(run.kept(threshold)) or list(range(min(3, len(run.scores))))
    return [(f"#{r + 1} {run.label_name(run.labels[r])} {run.scores[r]:.2f} · query {run.query_index[r]}",
             int(r)) for r in rows]


def _table(run: ds.DetectionRun, threshold: float) -> list[list]:
    return ds.detection_rows(run, threshold)  # columns TABLE_COLUMNS


def _summary(run: ds.DetectionRun, threshold: float, total_ms: float | None, notes: list[str],
             device: str) -> str:
    n = len(run.kept(threshold))
    h, w = run.image.shape[:2]
    hint = " — lower the threshold to see more" if n == 0 else ""
    parts = [f"**{n} detection{'s' if n != 1 else ''}** with score above {threshold:.2f} "
             f"(of {len(run.scores)} queries){hint} · model **{run.model_ms:.0f} ms**"]
    if total_ms is not None:
        parts.append(f"total on the server **{total_ms:.0f} ms** (decode, model, drawing)")
    (ih, iw), (fh, fw) = run.input_size, run.feature_size
    parts.append(f"{run.model_name} on {device} · image {w}×{h}, model input {iw}×{ih}, "
                 f"feature map {fw}×{fh}")
    text = " · ".join(parts)
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


def _cross_view(run: ds.DetectionRun, row: int | None, layer: int, head: str | None):
    """The selected detection's query attention over the image, with that detection's box."""
    if row is None or not 0 <= row < len(run.scores):
        return None
    heat = ds.cross_attention_heatmap(run, row, parse_layer(layer, run.num_decoder_layers), parse_head(head))
    base = overlay_heatmap(enlarge_for_display(run.image, run.display_scale), heat)
    label = f"{run.label_name(run.labels[row])} {run.scores[row]:.2f} · query {run.query_index[row]}"
    return draw_boxes_xyxy(base, run.boxes_xyxy[row:row + 1], [label], [class_color(run.labels[row])],
                           scale=run.display_scale)


def _encoder_view(run: ds.DetectionRun, point_xy, layer: int, head: str | None):
    if point_xy is None:
        return None
    layer = parse_layer(layer, run.num_encoder_layers)
    heat = ds.encoder_attention_heatmap(run, point_xy, layer, parse_head(head))
    base = overlay_heatmap(enlarge_for_display(run.image, run.display_scale), heat)
    return ds.mark_point(base, run, point_xy)


def _default_point(run: ds.DetectionRun, threshold: float) -> tuple[float, float]:
    """The centre of the best detection (or of the image): where the encoder map starts."""
    keep = run.kept(threshold)
    if len(keep):
        x0, y0, x1, y1 = run.boxes_xyxy[keep[0]]
        return float((x0 + x1) / 2), float((y0 + y1) / 2)
    h, w = run.image.shape[:2]
    return w / 2, h / 2


def build_detect_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = registry.names("detect")
    gr.Markdown(INTRO)
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    point_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label="Model",
                                elem_id="detect-model")
            note = gr.Markdown(model_note(registry, names[0]) if names else "No detection model configured.")
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=300,
                                label="Image (PNG, JPEG, WebP, GIF, BMP or TIFF)", elem_id="detect-input")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Score threshold",
                                  info="keep detections whose best class probability is above this")
            detect_btn = gr.Button("Detect", variant="primary", elem_id="detect-button")
            image_examples(image_in, examples_dir / "shapes", "Shapes (for detr-shapes)",
                           examples_dir / "photos", "Photos (for facebook/detr-resnet-50)")
        with gr.Column(scale=3, min_width=360):
            annotated = gr.Image(label="Detections (click a point to see the encoder attention there)",
                                 interactive=False, format="jpeg", elem_id="detect-output",
                                 buttons=["fullscreen"])
            summary = gr.Markdown(elem_id="detect-summary")
            table = gr.Dataframe(headers=TABLE_COLUMNS, label="Detections (click a row to see its attention)",
                                 interactive=False, max_height=260, elem_id="detect-table")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("#### Decoder cross-attention: where the selected detection's query looked")
            with gr.Row():
                detection = gr.Dropdown([], label="Detection", scale=3, min_width=220)
                dec_layer = gr.Dropdown(layer_choices(6), value=6, label="Decoder layer", scale=2,
                                        min_width=140)
                dec_head = gr.Dropdown(head_choices(8), value=MEAN, label="Head", scale=2, min_width=140)
            cross_img = gr.Image(label="Cross-attention", interactive=False, format="jpeg", show_label=False,
                                 elem_id="detect-cross")
        with gr.Column():
            gr.Markdown("#### Encoder self-attention: where the position under the ✚ looks")
            with gr.Row():
                enc_layer = gr.Dropdown(layer_choices(6), value=6, label="Encoder layer", scale=2)
                enc_head = gr.Dropdown(head_choices(8), value=MEAN, label="Head", scale=2)
            enc_img = gr.Image(label="Encoder self-attention (click to move the point)", interactive=False,
                               format="jpeg", show_label=False, elem_id="detect-encoder")
    class_plot = gr.Plot(label="Class distribution per query")

    device = registry.device.type.upper()

    @gpu_task
    def infer(name: str, pixels: np.ndarray) -> ds.DetectionRun:
        return ds.run_detr(registry.get(name), pixels, name)

    def detect(image_payload, model_name: str, thr: float,
               progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        start = time.perf_counter()
        if image_payload is None:
            return _blank_outputs()
        loaded = load_upload(image_payload)
        run = call_model(registry, infer, model_name, loaded.pixels, progress)
        thr = float(thr)
        choices = _detection_choices(run, thr)
        row = choices[0][1] if choices else None
        point = _default_point(run, thr)
        last_dec, last_enc = run.num_decoder_layers, run.num_encoder_layers
        enc_heads = head_choices(run.num_heads if run.encoder_per_head else 0)
        annotated_image = ds.draw_detections(run, thr, selected=0 if len(run.kept(thr)) else None)
        total_ms = (time.perf_counter() - start) * 1000
        return (annotated_image, _table(run, thr), _summary(run, thr, total_ms, loaded.notes, device),
                gr.Dropdown(choices=choices, value=row),
                gr.Dropdown(choices=layer_choices(last_dec), value=last_dec),
                gr.Dropdown(choices=head_choices(run.num_heads), value=MEAN),
                gr.Dropdown(choices=layer_choices(last_enc), value=last_enc),
                gr.Dropdown(choices=enc_heads, value=MEAN), run, point)

    def attention_views(run: ds.DetectionRun | None, point, thr: float):
        """After /detect: the attention maps at the defaults it set (best detection, last layers, mean)."""
        if run is None:
            return None, None, None
        choices = _detection_choices(run, float(thr))
        row = choices[0][1] if choices else None
        return (_cross_view(run, row, run.num_decoder_layers, MEAN),
                _encoder_view(run, point, run.num_encoder_layers, MEAN),
                class_distribution_figure(run, float(thr), row))

    def refilter(run: ds.DetectionRun | None, thr: float, dec_l: int, dec_h: str):
        if run is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        thr = float(thr)
        choices = _detection_choices(run, thr)
        row = choices[0][1] if choices else None
        return (ds.draw_detections(run, thr, selected=0 if len(run.kept(thr)) else None), _table(run, thr),
                _summary(run, thr, None, [], device), gr.Dropdown(choices=choices, value=row),
                _cross_view(run, row, dec_l, dec_h), class_distribution_figure(run, thr, row))

    def select_detection(run, thr, row, dec_l, dec_h):
        if run is None or row is None:
            return gr.skip(), gr.skip(), gr.skip()
        thr = float(thr)
        keep = run.kept(thr)
        selected = int(np.flatnonzero(keep == row)[0]) if row in keep else None
        return (_cross_view(run, int(row), dec_l, dec_h), ds.draw_detections(run, thr, selected=selected),
                class_distribution_figure(run, thr, int(row)))

    def table_select(run, thr, dec_l, dec_h, evt: gr.SelectData):
        # the row's "#" column is the detection's rank (1-based), whatever order the table is shown in
        rank = int(evt.row_value[0]) - 1 if evt.row_value else None
        keep = [] if run is None or rank is None else run.kept(float(thr))
        if rank is None or not 0 <= rank < len(keep):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        row = int(keep[rank])
        return (gr.Dropdown(value=row),) + select_detection(run, thr, row, dec_l, dec_h)

    def click_point(run, enc_l, enc_h, evt: gr.SelectData):
        if run is None or evt.index is None:
            return gr.skip(), gr.skip()
        point = (evt.index[0] / run.display_scale, evt.index[1] / run.display_scale)
        return _encoder_view(run, point, int(enc_l), enc_h), point

    def redraw_encoder(run, point, enc_l, enc_h):
        if run is None:
            return gr.skip()
        return _encoder_view(run, point, int(enc_l), enc_h)

    # /detect runs the model and shows the boxes at once; the attention views follow in a second, cheap event
    detect_outputs = [annotated, table, summary, detection, dec_layer, dec_head, enc_layer, enc_head,
                      run_state, point_state]
    gr.on([detect_btn.click, image_in.change, model.change], detect, inputs=[image_in, model, threshold],
          outputs=detect_outputs, api_name="detect", preprocess=False, concurrency_id="gpu",
          concurrency_limit=1, show_progress_on=[annotated], trigger_mode="always_last",
          ).success(attention_views, [run_state, point_state, threshold], [cross_img, enc_img, class_plot],
                    show_progress="hidden", api_name="attention_views", api_visibility="undocumented")
    model.change(lambda name: model_note(registry, name), model, note, queue=False,
                 api_visibility="private")
    threshold.input(refilter, [run_state, threshold, dec_layer, dec_head],
                    [annotated, table, summary, detection, cross_img, class_plot], show_progress="hidden",
                    trigger_mode="always_last", api_visibility="undocumented", api_name="filter")
    # .input (user actions only), not .change: `detect` updating these must not start a second event
    gr.on([detection.input, dec_layer.input, dec_head.input], select_detection,
          [run_state, threshold, detection, dec_layer, dec_head], [cross_img, annotated, class_plot],
          show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    table.select(table_select, [run_state, threshold, dec_layer, dec_head],
                 [detection, cross_img, annotated, class_plot], show_progress="hidden",
                 api_visibility="private")
    for clickable in (annotated, enc_img):
        clickable.select(click_point, [run_state, enc_layer, enc_head], [enc_img, point_state],
                         show_progress="hidden", api_visibility="private")
    gr.on([enc_layer.input, enc_head.input], redraw_encoder, [run_state, point_state, enc_layer, enc_head],
          enc_img, show_progress="hidden", trigger_mode="always_last", api_visibility="private")


def _blank_outputs() -> tuple:
    cleared = gr.Dropdown(choices=[], value=None)
    return None, [], "", cleared, gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, None

