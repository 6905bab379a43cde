"""Everything the Attention tab shows of a `cvdemo.vit_run.ClassificationRun`, composed in this one module.

The top-5 classes, the summary line with the image's notes, the attention rollout and one layer's raw attention
over the image, the model's input cut into its patches, and the position-embedding similarity tiles. The run hands
numpy arrays and plain data; this module draws and words them (`cvdemo/ui/texts/attention.py`). No gradio here.
"""

from __future__ import annotations

import html

import numpy as np

from cvdemo.messages import Message
from cvdemo.ui import uploads
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.attention import T
from cvdemo.visualize import draw_grid, enlarge_for_display, label_cells, overlay_heatmap, tile_maps
from cvdemo.vit_run import ClassificationRun, display_heatmap, layer_attention_heatmap, rollout_heatmap
from cvdemo.vit_run import top_classes as top_class_indices

# ---------------------------------------------------------------- words

def top_classes(run: ClassificationRun, k: int = 5, locale: str = DEFAULT_LOCALE) -> dict[str, float]:
    """{label: probability} of the k most likely classes (for gr.Label); the model's class names, or
    "class i" in ``locale`` for a class it does not name."""
    named = ((run.class_name(i), i, p) for i, p in top_class_indices(run, k))
    return {T.text("class_n", locale, k=i) if name is None else name: p for name, i, p in named}


def readout_text(run: ClassificationRun, locale: str = DEFAULT_LOCALE) -> str:
    """Where the classifier reads the tokens, in words ("classified from the CLS token"), in ``locale``."""
    return T.text("readout_cls" if run.global_pool == "token" else "readout_avg", locale)


def image_notes(loaded_notes: list[Message], run: ClassificationRun, locale: str = DEFAULT_LOCALE) -> list[str]:
    """What was done to the image: the loader's notes, and the model's input size when it has another aspect
    ratio than the image (the ViT's input is square)."""
    resized_to = None if run.aspect_ratio_kept else run.input_size
    return uploads.image_notes(loaded_notes, locale, resized_to=resized_to, square=True)


def summary(run: ClassificationRun, total_ms: float, notes: list[str], locale: str = DEFAULT_LOCALE) -> str:
    """The Markdown line beside the classes: timings, model, sizes, where it reads out, then the image's notes."""
    gh, gw = run.grid_size
    text = T.text("summary", locale, model_ms=run.model_ms, total_ms=total_ms, model=run.model_name,
                  device=run.device.upper(), layers=run.num_layers, heads=run.num_heads, gh=gh, gw=gw,
                  readout=readout_text(run, locale))
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


# ---------------------------------------------------------------- pictures

def display_image(run: ClassificationRun) -> np.ndarray:
    """The image as it is drawn (small images enlarged): uint8 [H', W', 3] at `run.display_size`."""
    return enlarge_for_display(run.image, run.display_scale)


def rollout_view(run: ClassificationRun, fusion: str, discard: float, start_layer: int) -> np.ndarray:
    """Attention rollout from ``start_layer`` (0-based) over the image."""
    grid = rollout_heatmap(run, fusion, discard, start_layer)
    return overlay_heatmap(display_image(run), display_heatmap(run, grid))


def layer_view(run: ClassificationRun, layer: int, head: int | None) -> np.ndarray:
    """One layer's raw attention (0-based layer; head or None for the mean of heads) over the image."""
    grid = layer_attention_heatmap(run, layer, head)
    return overlay_heatmap(display_image(run), display_heatmap(run, grid))


def patch_grid_view(run: ClassificationRun, side: int = 448,
                    locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray, str]:
    """The model's input cut into its patches, with token numbers, and a sentence (in ``locale``) saying how
    many tokens."""
    gh, gw = run.grid_size
    h, w = run.model_input.shape[:2]
    scale = max(1, side // max(h, w))
    big = np.repeat(np.repeat(run.model_input, scale, axis=0), scale, axis=1)  # nearest: the pixels it saw
    big = draw_grid(big, gh, gw, color=(255, 255, 255))
    labels = [str(k + run.num_prefix_tokens) if gh * gw <= 256 else "" for k in range(gh * gw)]
    big = label_cells(big, gh, gw, labels)
    prefix = (T.text("prefix_cls", locale) if run.num_prefix_tokens == 1 else
              T.text("prefix_tokens", locale, n=run.num_prefix_tokens) if run.num_prefix_tokens else "")
    text = T.text("grid_caption", locale, h=h, w=w, gh=gh, gw=gw, patches=gh * gw, p=run.patch_size,
                  prefix=prefix, tokens=gh * gw + run.num_prefix_tokens)
    return big, text


def position_similarity_view(run: ClassificationRun, max_side: int = 560) -> np.ndarray | None:
    """Tiles: tile (r, c) shows how similar patch (r, c)'s position embedding is to every patch's."""
    if run.pos_similarity is None:
        return None
    gh, gw = run.pos_similarity.shape[:2]
    cells = run.pos_similarity.shape[2]
    tile = cells * max(1, (max_side // max(gh, gw) - 2) // cells)  # whole pixels per embedding entry
    return tile_maps(run.pos_similarity, tile_px=tile, gap_px=2, vmin=-1.0, vmax=1.0, colormap="viridis")
