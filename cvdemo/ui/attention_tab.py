"""The Attention tab: a ViT's top-5 classes, attention rollout, raw CLS attention, patches and positions.

`/rollout` (image, model, head fusion, discard ratio, start layer) runs the model once and keeps the
attention maps in a `gr.State`; changing the rollout settings, layer or head only recomputes from them.
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
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.uploads import image_examples, load_upload
from cvdemo.ui.zerogpu import gpu_task
from cvdemo.visualize import overlay_heatmap

STATE_SECONDS = 1800

INTRO = """A Vision Transformer cuts the image into patches, turns each into a token (often adding a **CLS**
token) and lets every token attend to every other, layer after layer; the class is read from the CLS token, or
from the average of the patch tokens. **Attention rollout** (Abnar & Zuidema, 2020) multiplies the layers'
attention maps (each averaged with the identity, for the residual path) to estimate how much that readout
draws on each patch."""

POS_CAPTION = ("Tile (row, column) shows the cosine similarity of that patch's position embedding to every "
               "patch's (yellow = similar; scale −1…1). A learned embedding that has discovered the 2-D "
               "layout shows a bright spot at the tile's own place, and its row and column.")


def _rollout_view(run: vs.ClassificationRun, fusion: str, discard: float, start_layer: int) -> np.ndarray:
    grid = vs.rollout_heatmap(run, fusion, float(discard), parse_layer(start_layer, run.num_layers))
    return overlay_heatmap(vs.display_image(run), vs.upsample_to_display(run, grid))


def _cls_view(run: vs.ClassificationRun, layer: int, head: str | None) -> np.ndarray:
    grid = vs.layer_attention_heatmap(run, parse_layer(layer, run.num_layers), parse_head(head))
    return overlay_heatmap(vs.display_image(run), vs.upsample_to_display(run, grid))


def build_attention_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events."""
    names = registry.names("classify")
    gr.Markdown(INTRO)
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label="Model", elem_id="vit-model")
            note = gr.Markdown(model_note(registry, names[0]) if names else "No ViT model configured.")
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=260,
                                label="Image (PNG, JPEG, WebP, GIF, BMP or TIFF)", elem_id="vit-input")
            run_btn = gr.Button("Classify", variant="primary")
            image_examples(image_in, examples_dir / "shapes-classify", "Shapes (for vit-shapes)",
                           examples_dir / "photos", "Photos (for the ImageNet ViTs)")
        with gr.Column(scale=3, min_width=360):
            top5 = gr.Label(num_top_classes=5, label="Top-5 classes")
            summary = gr.Markdown()
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("#### Attention rollout: what the classification draws on")
            with gr.Row():
                fusion = gr.Radio(list(HEAD_FUSIONS), value="mean", label="Head fusion", min_width=200)
                start_layer = gr.Dropdown(layer_choices(12), value=1, label="Start layer", min_width=200,
                                          info="multiply the layers from this one to the last")
            discard = gr.Slider(0.0, 0.99, value=0.0, step=0.01, label="Discard ratio",
                                info="zero this share of the weakest patch-to-patch weights in every layer")
            rollout_img = gr.Image(interactive=False, format="jpeg", show_label=False)
        with gr.Column():
            gr.Markdown("#### Raw attention in one layer (from the CLS token, or the patch average)")
            with gr.Row():
                layer = gr.Dropdown(layer_choices(12), value=12, label="Layer")
                head = gr.Dropdown(head_choices(12), value=MEAN, label="Head")
            cls_img = gr.Image(interactive=False, format="jpeg", show_label=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("#### Patches: how the image becomes tokens")
            grid_text = gr.Markdown()
            grid_img = gr.Image(interactive=False, format="jpeg", show_label=False)
        with gr.Column():
            gr.Markdown("#### Position-embedding similarity (as in the ViT paper)")
            gr.Markdown(POS_CAPTION)
            pos_img = gr.Image(interactive=False, format="jpeg", show_label=False)

    device = registry.device.type.upper()

    @gpu_task
    def infer(name: str, pixels: np.ndarray) -> vs.ClassificationRun:
        return vs.run_vit(registry.get(name), pixels, name)

    def classify(image_payload, model_name: str, fusion_v: str, discard_v: float, start_v: int,
                 progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        start = time.perf_counter()
        if image_payload is None:
            return None, "", None, gr.skip(), gr.skip(), gr.skip(), None
        loaded = load_upload(image_payload)
        run = call_model(registry, infer, model_name, loaded.pixels, progress)
        start_v = min(max(int(start_v), 1), run.num_layers)
        rollout = _rollout_view(run, fusion_v, discard_v, start_v)
        total_ms = (time.perf_counter() - start) * 1000
        gh, gw = run.grid_size
        text = (f"model **{run.model_ms:.0f} ms** · total on the server **{total_ms:.0f} ms** · "
                f"{model_name} on {device} · {run.num_layers} layers × {run.num_heads} heads, "
                f"{gh}×{gw} patches, classified from {run.readout}")
        if loaded.notes:
            text += "  \n*" + html.escape("; ".join(loaded.notes)) + "*"
        return (vs.top_classes(run), text, rollout,
                gr.Dropdown(choices=layer_choices(run.num_layers), value=start_v),
                gr.Dropdown(choices=layer_choices(run.num_layers), value=run.num_layers),
                gr.Dropdown(choices=head_choices(run.num_heads), value=MEAN), run)

    def other_views(run: vs.ClassificationRun | None):
        """After /rollout: the last layer's CLS attention (mean of heads), the patches, the positions."""
        if run is None:
            return None, "", None, None
        grid_view, grid_caption = vs.patch_grid_view(run)
        return _cls_view(run, run.num_layers, MEAN), grid_caption, grid_view, vs.position_similarity_view(run)

    def redraw_rollout(run, fusion_v, discard_v, start_v):
        return gr.skip() if run is None else _rollout_view(run, fusion_v, discard_v, start_v)

    def redraw_cls(run, layer_v, head_v):
        return gr.skip() if run is None else _cls_view(run, layer_v, head_v)

    # /rollout runs the model and shows the classes and the rollout; the other views follow, without the model
    gr.on([run_btn.click, image_in.change, model.change], classify,
          inputs=[image_in, model, fusion, discard, start_layer],
          outputs=[top5, summary, rollout_img, start_layer, layer, head, run_state],
          api_name="rollout", preprocess=False, concurrency_id="gpu", concurrency_limit=1,
          show_progress_on=[top5], trigger_mode="always_last",
          ).success(other_views, run_state, [cls_img, grid_text, grid_img, pos_img], show_progress="hidden",
                    api_name="vit_views", api_visibility="undocumented")
    model.change(lambda name: model_note(registry, name), model, note, queue=False,
                 api_visibility="private")
    gr.on([fusion.input, discard.input, start_layer.input], redraw_rollout,
          [run_state, fusion, discard, start_layer], rollout_img, show_progress="hidden",
          trigger_mode="always_last", api_visibility="private")
    gr.on([layer.input, head.input], redraw_cls, [run_state, layer, head], cls_img, show_progress="hidden",
          trigger_mode="always_last", api_visibility="private")

