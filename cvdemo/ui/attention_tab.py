"""The Attention tab: a ViT's top-5 classes, attention rollout, raw CLS attention, patches and positions.

`/rollout` (image, model, head fusion, discard ratio, start layer) runs the model once and keeps the
attention maps in a `gr.State`; changing the rollout settings, layer or head only recomputes from them.
Text is in the browser's language (`cvdemo/ui/texts/attention.py`).
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import gradio as gr
import numpy as np

from cvdemo.attention import HEAD_FUSIONS
from cvdemo.ui import vit_session as vs
from cvdemo.ui.choices import MEAN, head_choices, layer_choices, parse_head, parse_layer
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.texts import common
from cvdemo.ui.texts.attention import T
from cvdemo.ui.uploads import image_examples, load_upload
from cvdemo.ui.zerogpu import gpu_task
from cvdemo.visualize import overlay_heatmap

STATE_SECONDS = 1800
FUSION_KEYS = {"mean": "fusion_mean", "max": "fusion_max", "min": "fusion_min"}  # HEAD_FUSIONS -> catalog key


def fusion_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] for the head-fusion radio: the values are `HEAD_FUSIONS` in every language."""
    return [(T.text(FUSION_KEYS[f], locale), f) for f in HEAD_FUSIONS]


def _rollout_view(run: vs.ClassificationRun, fusion: str, discard: float, start_layer: int) -> np.ndarray:
    grid = vs.rollout_heatmap(run, fusion, float(discard), parse_layer(start_layer, run.num_layers))
    return overlay_heatmap(vs.display_image(run), vs.upsample_to_display(run, grid))


def _cls_view(run: vs.ClassificationRun, layer: int, head: str | None) -> np.ndarray:
    grid = vs.layer_attention_heatmap(run, parse_layer(layer, run.num_layers), parse_head(head))
    return overlay_heatmap(vs.display_image(run), vs.upsample_to_display(run, grid))


def build_attention_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = registry.names("classify")
    gr.Markdown(T("intro"))
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label=common.T("model"),
                                elem_id="vit-model")
            # the model's note is written in the user's language when the page loads (`localize`)
            note = gr.Markdown("" if names else common.T("no_vit_model"))
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=260,
                                label=T("image_input"), elem_id="vit-input")
            run_btn = gr.Button(T("classify_button"), variant="primary")
            image_examples(image_in, examples_dir / "shapes-classify", T("examples_shapes"),
                           examples_dir / "photos", T("examples_photos"))
        with gr.Column(scale=3, min_width=360):
            top5 = gr.Label(num_top_classes=5, label=T("top5"))
            summary = gr.Markdown(elem_id="vit-summary")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("rollout_heading"))
            with gr.Row():
                fusion = gr.Radio(fusion_choices(), value="mean", label=T("head_fusion"), min_width=200)
                start_layer = gr.Dropdown(layer_choices(12), value=1, label=T("start_layer"), min_width=200,
                                          info=T("start_layer_info"))
            discard = gr.Slider(0.0, 0.99, value=0.0, step=0.01, label=T("discard_ratio"),
                                info=T("discard_info"))
            rollout_img = gr.Image(interactive=False, format="jpeg", show_label=False, elem_id="vit-rollout")
        with gr.Column():
            gr.Markdown(T("raw_heading"))
            with gr.Row():
                layer = gr.Dropdown(layer_choices(12), value=12, label=T("layer"))
                head = gr.Dropdown(head_choices(12), value=MEAN, label=T("head"))
            cls_img = gr.Image(interactive=False, format="jpeg", show_label=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(T("patches_heading"))
            grid_text = gr.Markdown()
            grid_img = gr.Image(interactive=False, format="jpeg", show_label=False)
        with gr.Column():
            gr.Markdown(T("positions_heading"))
            gr.Markdown(T("positions_caption"))
            pos_img = gr.Image(interactive=False, format="jpeg", show_label=False)

    device = registry.device.type.upper()

    @gpu_task
    def infer(name: str, pixels: np.ndarray) -> vs.ClassificationRun:
        return vs.run_vit(registry.get(name), pixels, name)

    def classify(image_payload, model_name: str, fusion_v: str, discard_v: float, start_v: int,
                 request: gr.Request, progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        start = time.perf_counter()
        if image_payload is None:
            return None, "", None, gr.skip(), gr.skip(), gr.skip(), None
        locale = locale_of(request)
        loaded = load_upload(image_payload, locale=locale)
        run = call_model(registry, infer, model_name, loaded.pixels, progress, locale=locale)
        start_v = min(max(int(start_v), 1), run.num_layers)
        rollout = _rollout_view(run, fusion_v, discard_v, start_v)
        total_ms = (time.perf_counter() - start) * 1000
        gh, gw = run.grid_size
        text = T.text("summary", locale, model_ms=run.model_ms, total_ms=total_ms, model=model_name,
                      device=device, layers=run.num_layers, heads=run.num_heads, gh=gh, gw=gw,
                      readout=run.readout(locale))
        if loaded.notes:
            text += "  \n*" + html.escape("; ".join(loaded.notes)) + "*"
        return (vs.top_classes(run, locale=locale), text, rollout,
                gr.Dropdown(choices=layer_choices(run.num_layers, locale), value=start_v),
                gr.Dropdown(choices=layer_choices(run.num_layers, locale), value=run.num_layers),
                gr.Dropdown(choices=head_choices(run.num_heads, locale), value=MEAN), run)

    def other_views(run: vs.ClassificationRun | None, request: gr.Request):
        """After /rollout: the last layer's CLS attention (mean of heads), the patches, the positions."""
        if run is None:
            return None, "", None, None
        grid_view, grid_caption = vs.patch_grid_view(run, locale=locale_of(request))
        return _cls_view(run, run.num_layers, MEAN), grid_caption, grid_view, vs.position_similarity_view(run)

    def redraw_rollout(run, fusion_v, discard_v, start_v):
        return gr.skip() if run is None else _rollout_view(run, fusion_v, discard_v, start_v)

    def redraw_cls(run, layer_v, head_v):
        return gr.skip() if run is None else _cls_view(run, layer_v, head_v)

    def show_note(name: str | None, request: gr.Request) -> str:
        return model_note(registry, name, locale_of(request))

    def localize(request: gr.Request):
        """On page load: what the layout could not write in the user's language (the model note, the fusion,
        layer and head entries), the build-time selections kept."""
        locale = locale_of(request)
        return (model_note(registry, names[0], locale) if names else gr.skip(),
                gr.Radio(choices=fusion_choices(locale), value="mean"),
                gr.Dropdown(choices=layer_choices(12, locale), value=1),
                gr.Dropdown(choices=layer_choices(12, locale), value=12),
                gr.Dropdown(choices=head_choices(12, locale), value=MEAN))

    # /rollout runs the model and shows the classes and the rollout; the other views follow, without the model
    gr.on([run_btn.click, image_in.change, model.change], classify,
          inputs=[image_in, model, fusion, discard, start_layer],
          outputs=[top5, summary, rollout_img, start_layer, layer, head, run_state],
          api_name="rollout", preprocess=False, concurrency_id="gpu", concurrency_limit=1,
          show_progress_on=[top5], trigger_mode="always_last",
          ).success(other_views, run_state, [cls_img, grid_text, grid_img, pos_img], show_progress="hidden",
                    api_name="vit_views", api_visibility="undocumented")
    model.change(show_note, model, note, queue=False, api_visibility="private")
    gr.on([fusion.input, discard.input, start_layer.input], redraw_rollout,
          [run_state, fusion, discard, start_layer], rollout_img, show_progress="hidden",
          trigger_mode="always_last", api_visibility="private")
    gr.on([layer.input, head.input], redraw_cls, [run_state, layer, head], cls_img, show_progress="hidden",
          trigger_mode="always_last", api_visibility="private")
    # triggers=None: on page load only (no inputs, so no other trigger)
    gr.on(None, localize, inputs=None, outputs=[note, fusion, start_layer, layer, head],
          api_visibility="private", show_progress="hidden", queue=False)
