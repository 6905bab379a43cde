"""Everything the Attention tab shows of a `cvdemo.vit_run.ClassificationRun`, composed in this one module.

The top-5 classes, the summary line with the image's notes, the attention rollout and one layer's raw attention
over the image, the model's input cut into its patches, the position-embedding similarity tiles, and the Explain
section (a method's map for a class, its faithfulness table, verdict and curves, the mean attention distance). The
run hands numpy arrays and plain data; this module draws and words them (`cvdemo/ui/texts/attention.py`). No gradio
here.
"""

from __future__ import annotations

import html

import numpy as np

from cvdemo.messages import Message
from cvdemo.ui import uploads
from cvdemo.ui.explain_figures import attention_distance_figure, faithfulness_figure
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.attention import T
from cvdemo.visualize import draw_grid, enlarge_for_display, label_cells, overlay_heatmap, tile_maps
from cvdemo.vit_explanation import CLASS_SPECIFIC, CURVE_NAMES, METHODS, ViTExplanation, attention_distance
from cvdemo.vit_run import ClassificationRun, display_heatmap, layer_attention_heatmap, rollout_heatmap
from cvdemo.vit_run import top_classes as top_class_indices

PREDICTED = "predicted"  # the class dropdown's value for "the run's most likely class"
METHOD_KEYS = {"attention": "method_attention", "rollout": "method_rollout",  # METHODS -> catalog key
               "gradient_rollout": "method_gradient_rollout", "relevance": "method_relevance"}
VERDICT_KEYS = {"beats_random": "verdict_beats_random", "not_better": "verdict_not_better",  # ViTExplanation.verdict
                "inconclusive": "verdict_inconclusive"}

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


# ---------------------------------------------------------------- the Explain section

def method_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] for the Explain method radio: the values are `cvdemo.vit_explanation.METHODS`."""
    return [(T.text(METHOD_KEYS[m], locale), m) for m in METHODS]


def class_text(run: ClassificationRun, index: int, locale: str = DEFAULT_LOCALE) -> str:
    """The model's name of class ``index``, or "class k" in ``locale``."""
    name = run.class_name(index)
    return T.text("class_n", locale, k=index) if name is None else name


def target_choices(run: ClassificationRun, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str | int]]:
    """[(text, value)] for the class dropdown: `PREDICTED` ("predicted: <name>") first, then every class of the
    model by name, its index as the value."""
    predicted = class_text(run, int(np.argmax(run.probs)), locale)
    return [(T.text("target_predicted", locale, name=predicted), PREDICTED)] + [
        (class_text(run, i, locale), i) for i in range(int(run.probs.shape[0]))]


def explanation_view(run: ClassificationRun, explanation: ViTExplanation) -> np.ndarray:
    """The explanation's map over the image, in the same overlay style as the rollout."""
    return overlay_heatmap(display_image(run), explanation.heatmap)


def explanation_text(run: ClassificationRun, explanation: ViTExplanation, locale: str = DEFAULT_LOCALE) -> str:
    """Markdown beside the map: method, class, time; a note for class-agnostic maps; the AUC table (the map's and
    the random order's) and the verdict of the deletion test, or, when not measured, what measuring costs."""
    e = explanation
    lines = [T.text("explain_summary", locale, method=T.text(METHOD_KEYS[e.method], locale),
                    target=html.escape(class_text(run, e.target_class, locale)),
                    predicted=T.text("predicted_mark", locale) if e.predicted else "", map_ms=e.map_seconds * 1000)]
    if e.method not in CLASS_SPECIFIC:
        lines.append(T.text("class_agnostic_note", locale))
    if not e.measured:
        lines.append(T.text("not_measured", locale, runs=e.curve_runs, seconds=e.estimated_seconds))
        return "\n\n".join(lines)
    steps = len(e.curves["deletion"].fractions) - 1
    lines.append(T.text("auc_table", locale, steps=steps, runs=e.curve_runs, seconds=e.curve_seconds,
                        **{name: e.auc(name) for name in CURVE_NAMES}))
    lines.append(T.text(VERDICT_KEYS[e.verdict], locale))
    return "\n\n".join(lines)


def faithfulness_plot(explanation: ViTExplanation, locale: str = DEFAULT_LOCALE):
    """The deletion / insertion curves with the random order's dashed (`explain_figures.faithfulness_figure`), or
    None when not measured."""
    return faithfulness_figure(explanation.curves, locale) if explanation.measured else None


def distance_plot(run: ClassificationRun, locale: str = DEFAULT_LOCALE):
    """Mean attention distance per layer and head (`cvdemo.vit_explanation.attention_distance`), as a figure."""
    return attention_distance_figure(attention_distance(run), locale)
