"""The Detect tab: DETR's boxes, its table of detections, and what each object query attended to.

`/detect` (image, model, threshold) runs the model once and keeps the run in a `gr.State`; the threshold
slider, the choice of detection, layer and head, and clicks on the image then only redraw from that state.
Text is in the browser's language (`cvdemo/ui/texts/detect.py`); captions drawn into images stay in English.
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
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.texts import common
from cvdemo.ui.texts.detect import T
from cvdemo.ui.uploads import image_examples, load_upload
from cvdemo.ui.zerogpu import gpu_task
from cvdemo.visualize import class_color, draw_boxes_xyxy, enlarge_for_display, overlay_heatmap

TABLE_COLUMNS = ["#", "query", "label", "score", "x0", "y0", "x1", "y1"]  # the English headers
_COLUMN_KEYS = {"query": "col_query", "label": "col_label", "score": "col_score"}  # the others read the same
STATE_SECONDS = 1800  # a session's run is dropped after 30 minutes without use


def table_headers(locale: str = DEFAULT_LOCALE) -> list[str]:
    """The table's column headers in ``locale`` (TABLE_COLUMNS in English)."""
    return [T.text(_COLUMN_KEYS[c], locale) if c in _COLUMN_KEYS else c for c in TABLE_COLUMNS]


def _detection_choices(run: ds.DetectionRun, threshold: float,
                       locale: str = DEFAULT_LOCALE) -> list[tuple[str, int]]:
    """Dropdown entries (text, row) for the kept detections; the best 3 queries when none is kept."""
    rows = list(run.kept(threshold)) or list(range(min(3, len(run.scores))))
    return [(f"#{r + 1} {run.label_name(run.labels[r], locale)} {run.scores[r]:.2f} · "
             + T.text("query_n", locale, q=int(run.query_index[r])), int(r)) for r in rows]


def _table(run: ds.DetectionRun | None, threshold: float, locale: str = DEFAULT_LOCALE) -> dict:
    """The detections above `threshold` as the table's value, with headers in ``locale`` (none: empty)."""
    rows = [] if run is None else ds.detection_rows(run, threshold, locale)
    return {"headers": table_headers(locale), "data": rows}


def _summary(run: ds.DetectionRun, threshold: float, total_ms: float | None, notes: list[str],
             device: str, locale: str = DEFAULT_LOCALE) -> str:
    n = len(run.kept(threshold))
    h, w = run.image.shape[:2]
    hint = T.text("hint_lower", locale) if n == 0 else ""
    parts = [T.text("summary_kept_one" if n == 1 else "summary_kept", locale, n=n, threshold=threshold,
                    queries=len(run.scores), hint=hint, model_ms=run.model_ms)]
    if total_ms is not None:
        parts.append(T.text("summary_total", locale, total_ms=total_ms))
    (ih, iw), (fh, fw) = run.input_size, run.feature_size
    parts.append(T.text("summary_model", locale, model=run.model_name, device=device, w=w, h=h, iw=iw, ih=ih,
                        fw=fw, fh=fh))
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
    # drawn into the image, so in English: the image font has no Chinese glyphs
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
    gr.Markdown(T("intro"))
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    point_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label=common.T("model"),
                                elem_id="detect-model")
            # the model's note is written in the user's language when the page loads (`localize`)
            note = gr.Markdown("" if names else common.T("no_detection_model"))
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=300,
                                label=T("image_input"), elem_id="detect-input")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=T("threshold"),
                                  info=T("threshold_info"))
            detect_btn = gr.Button(T("detect_button"), variant="primary", elem_id="detect-button")
            image_examples(image_in, examples_dir / "shapes", T("examples_shapes"),
                           examples_dir / "photos", T("examples_photos"))
        with gr.Column(scale=3, min_width=360):
            annotated = gr.Image(label=T("annotated_label"), interactive=False, format="jpeg",
                                 elem_id="detect-output", buttons=["fullscreen"])
            summary = gr.Markdown(elem_id="detect-summary")
            table = gr.Dataframe(headers=TABLE_COLUMNS, label=T("table_label"), interactive=False,
                                 max_height=260, elem_id="detect-table")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("cross_heading"))
            with gr.Row():
                detection = gr.Dropdown([], label=T("detection"), scale=3, min_width=220)
                dec_layer = gr.Dropdown(layer_choices(6), value=6, label=T("decoder_layer"), scale=2,
                                        min_width=140)
                dec_head = gr.Dropdown(head_choices(8), value=MEAN, label=T("head"), scale=2, min_width=140)
            cross_img = gr.Image(label=T("cross_label"), interactive=False, format="jpeg", show_label=False,
                                 elem_id="detect-cross")
        with gr.Column():
            gr.Markdown(T("encoder_heading"))
            with gr.Row():
                enc_layer = gr.Dropdown(layer_choices(6), value=6, label=T("encoder_layer"), scale=2)
                enc_head = gr.Dropdown(head_choices(8), value=MEAN, label=T("head"), scale=2)
            enc_img = gr.Image(label=T("encoder_label"), interactive=False, format="jpeg", show_label=False,
                               elem_id="detect-encoder")
    class_plot = gr.Plot(label=T("class_plot"))

    device = registry.device.type.upper()

    @gpu_task
    def infer(name: str, pixels: np.ndarray) -> ds.DetectionRun:
        return ds.run_detr(registry.get(name), pixels, name)

    def detect(image_payload, model_name: str, thr: float, request: gr.Request,
               progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        start = time.perf_counter()
        locale = locale_of(request)
        if image_payload is None:
            return _blank_outputs(locale)
        loaded = load_upload(image_payload, locale=locale)
        run = call_model(registry, infer, model_name, loaded.pixels, progress, locale=locale)
        thr = float(thr)
        choices = _detection_choices(run, thr, locale)
        row = choices[0][1] if choices else None
        point = _default_point(run, thr)
        last_dec, last_enc = run.num_decoder_layers, run.num_encoder_layers
        enc_heads = head_choices(run.num_heads if run.encoder_per_head else 0, locale)
        annotated_image = ds.draw_detections(run, thr, selected=0 if len(run.kept(thr)) else None)
        total_ms = (time.perf_counter() - start) * 1000
        return (annotated_image, _table(run, thr, locale),
                _summary(run, thr, total_ms, loaded.notes, device, locale),
                gr.Dropdown(choices=choices, value=row),
                gr.Dropdown(choices=layer_choices(last_dec, locale), value=last_dec),
                gr.Dropdown(choices=head_choices(run.num_heads, locale), value=MEAN),
                gr.Dropdown(choices=layer_choices(last_enc, locale), value=last_enc),
                gr.Dropdown(choices=enc_heads, value=MEAN), run, point)

    def attention_views(run: ds.DetectionRun | None, point, thr: float, request: gr.Request):
        """After /detect: the attention maps at the defaults it set (best detection, last layers, mean)."""
        if run is None:
            return None, None, None
        choices = _detection_choices(run, float(thr))
        row = choices[0][1] if choices else None
        return (_cross_view(run, row, run.num_decoder_layers, MEAN),
                _encoder_view(run, point, run.num_encoder_layers, MEAN),
                class_distribution_figure(run, float(thr), row, locale=locale_of(request)))

    def refilter(run: ds.DetectionRun | None, thr: float, dec_l: int, dec_h: str, request: gr.Request):
        if run is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        locale = locale_of(request)
        thr = float(thr)
        choices = _detection_choices(run, thr, locale)
        row = choices[0][1] if choices else None
        return (ds.draw_detections(run, thr, selected=0 if len(run.kept(thr)) else None),
                _table(run, thr, locale), _summary(run, thr, None, [], device, locale),
                gr.Dropdown(choices=choices, value=row), _cross_view(run, row, dec_l, dec_h),
                class_distribution_figure(run, thr, row, locale=locale))

    def select_detection(run, thr, row, dec_l, dec_h, request: gr.Request):
        if run is None or row is None:
            return gr.skip(), gr.skip(), gr.skip()
        thr = float(thr)
        keep = run.kept(thr)
        selected = int(np.flatnonzero(keep == row)[0]) if row in keep else None
        return (_cross_view(run, int(row), dec_l, dec_h), ds.draw_detections(run, thr, selected=selected),
                class_distribution_figure(run, thr, int(row), locale=locale_of(request)))

    def table_select(run, thr, dec_l, dec_h, evt: gr.SelectData, request: gr.Request):
        # the row's "#" column is the detection's rank (1-based), whatever order the table is shown in
        rank = int(evt.row_value[0]) - 1 if evt.row_value else None
        keep = [] if run is None or rank is None else run.kept(float(thr))
        if rank is None or not 0 <= rank < len(keep):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        row = int(keep[rank])
        return (gr.Dropdown(value=row),) + select_detection(run, thr, row, dec_l, dec_h, request)

    def click_point(run, enc_l, enc_h, evt: gr.SelectData):
        if run is None or evt.index is None:
            return gr.skip(), gr.skip()
        point = (evt.index[0] / run.display_scale, evt.index[1] / run.display_scale)
        return _encoder_view(run, point, int(enc_l), enc_h), point

    def redraw_encoder(run, point, enc_l, enc_h):
        if run is None:
            return gr.skip()
        return _encoder_view(run, point, int(enc_l), enc_h)

    def show_note(name: str | None, request: gr.Request) -> str:
        return model_note(registry, name, locale_of(request))

    def localize(request: gr.Request):
        """On page load: what the layout could not write in the user's language (the model note, the layer
        and head entries, the table's headers), the build-time selections kept."""
        locale = locale_of(request)
        return (model_note(registry, names[0], locale) if names else gr.skip(),
                gr.Dropdown(choices=layer_choices(6, locale), value=6),
                gr.Dropdown(choices=head_choices(8, locale), value=MEAN),
                gr.Dropdown(choices=layer_choices(6, locale), value=6),
                gr.Dropdown(choices=head_choices(8, locale), value=MEAN), _table(None, 0.0, locale))

    # /detect runs the model and shows the boxes at once; the attention views follow in a second, cheap event
    detect_outputs = [annotated, table, summary, detection, dec_layer, dec_head, enc_layer, enc_head,
                      run_state, point_state]
    gr.on([detect_btn.click, image_in.change, model.change], detect, inputs=[image_in, model, threshold],
          outputs=detect_outputs, api_name="detect", preprocess=False, concurrency_id="gpu",
          concurrency_limit=1, show_progress_on=[annotated], trigger_mode="always_last",
          ).success(attention_views, [run_state, point_state, threshold], [cross_img, enc_img, class_plot],
                    show_progress="hidden", api_name="attention_views", api_visibility="undocumented")
    model.change(show_note, model, note, queue=False, api_visibility="private")
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
    # triggers=None: on page load only (no inputs, so no other trigger)
    gr.on(None, localize, inputs=None, outputs=[note, dec_layer, dec_head, enc_layer, enc_head, table],
          api_visibility="private", show_progress="hidden", queue=False)


def _blank_outputs(locale: str = DEFAULT_LOCALE) -> tuple:
    cleared = gr.Dropdown(choices=[], value=None)
    return (None, _table(None, 0.0, locale), "", cleared, gr.skip(), gr.skip(), gr.skip(), gr.skip(), None,
            None)
