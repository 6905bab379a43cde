"""Everything the Detect tab shows of a `cvdemo.detection_run.DetectionRun`, composed in this one module.

The image with its boxes, the attention overlays (decoder cross-attention of a detection, encoder self-attention
at a point), the table of detections, the dropdown of detections, the summary line with the image's notes, and the
class-distribution figure (Plotly). The run hands numpy arrays and plain data; this module draws and words them
(`cvdemo/ui/texts/detect.py`), captions drawn into images included (`cvdemo.captions` picks a CJK font for them).
The boxes' captions may be turned off; a caption with no free place is left out (`cvdemo.captions.place_captions`),
and the table says of each detection whether its caption is on the picture (`boxes_and_table`). The "Explain"
section shows a `cvdemo.detr_explanation.DetectionExplanation`: its map over the image, a line of its AUCs beside
the random map's with an honest verdict, and its curves (`cvdemo.ui.explain_figures`). No gradio here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from cvdemo.detection_run import DetectionRun, cross_attention_heatmap, encoder_attention_heatmap
from cvdemo.detr_explanation import DetectionExplanation, faithfulness_model_runs, faithfulness_seconds
from cvdemo.messages import Message
from cvdemo.ui import uploads
from cvdemo.ui.choices import MEAN, head_choices
from cvdemo.ui.explain_figures import faithfulness_figure
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.detect import T
from cvdemo.visualize import (
    class_color,
    draw_boxes_xyxy,
    draw_marker_xy,
    enlarge_for_display,
    overlay_heatmap,
    render_boxes_xyxy,
)

# the English headers; "caption" comes last so that an API caller's column indices of the box stay as they were
TABLE_COLUMNS = ["#", "query", "label", "score", "x0", "y0", "x1", "y1", "caption"]
_COLUMN_KEYS = {"query": "col_query", "label": "col_label", "score": "col_score",
                "caption": "col_caption"}  # the others read the same
# where a kept detection's caption is (the table's "caption" column): the catalog's keys
ON_PICTURE, NO_ROOM, CAPTIONS_OFF = "caption_on_picture", "caption_no_room", "captions_off"
MAX_ROWS = 30  # queries shown in the class-distribution figure (best scores first)
MAX_COLUMNS = 24  # classes shown before the rest are summed into "other classes"
# the "Explain" section's choices: value -> catalog key of its text
EXPLAIN_METHODS = {"cross_attention": "method_cross", "relevance": "method_relevance"}
EXPLAIN_TARGETS = {"class": "target_class", "cx": "target_cx", "cy": "target_cy", "w": "target_w", "h": "target_h"}


# ---------------------------------------------------------------- words

def label_text(run: DetectionRun, label: int, locale: str = DEFAULT_LOCALE) -> str:
    """The model's name of class ``label``, or "class k" in ``locale`` when the model names none."""
    name = run.class_name(label)
    return T.text("class_n", locale, k=int(label)) if name is None else name


def table_headers(locale: str = DEFAULT_LOCALE) -> list[str]:
    """The table's column headers in ``locale`` (TABLE_COLUMNS in English)."""
    return [T.text(_COLUMN_KEYS[c], locale) if c in _COLUMN_KEYS else c for c in TABLE_COLUMNS]


def detection_rows(run: DetectionRun, threshold: float, locale: str = DEFAULT_LOCALE,
                   caption_states: Sequence[str] | None = None) -> list[list]:
    """Table rows [rank, query, label, score, x0, y0, x1, y1, caption] of the detections above `threshold`.

    caption_states: per kept detection, ON_PICTURE, NO_ROOM or CAPTIONS_OFF (`annotated`'s), worded in
    ``locale`` in the caption column; None leaves that column empty."""
    rows = []
    for rank, i in enumerate(run.kept(threshold), start=1):
        x0, y0, x1, y1 = (round(float(v), 1) for v in run.boxes_xyxy[i])
        caption = "" if caption_states is None else T.text(caption_states[rank - 1], locale)
        rows.append([rank, int(run.query_index[i]), label_text(run, run.labels[i], locale),
                     round(float(run.scores[i]), 3), x0, y0, x1, y1, caption])
    return rows


def table(run: DetectionRun | None, threshold: float, locale: str = DEFAULT_LOCALE,
          caption_states: Sequence[str] | None = None) -> dict:
    """The detections above `threshold` as the table's value, with headers in ``locale`` (no run: empty);
    caption_states: see `detection_rows`."""
    rows = [] if run is None else detection_rows(run, threshold, locale, caption_states)
    return {"headers": table_headers(locale), "data": rows}


def detection_text(run: DetectionRun, row: int, locale: str = DEFAULT_LOCALE) -> str:
    """"#<row+1> <class> <score> · query <q>" in ``locale``."""
    return (f"#{row + 1} {label_text(run, run.labels[row], locale)} {run.scores[row]:.2f} · "
            + T.text("query_n", locale, q=int(run.query_index[row])))


def detection_choices(run: DetectionRun, threshold: float, locale: str = DEFAULT_LOCALE) -> list[tuple[str, int]]:
    """Dropdown entries (text, row) for the kept detections; the best 3 queries when none is kept."""
    rows = list(run.kept(threshold)) or list(range(min(3, len(run.scores))))
    return [(detection_text(run, r, locale), int(r)) for r in rows]


def explain_method_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """The "Explain with" entries (text, method of `cvdemo.detr_explanation.METHODS`)."""
    return [(T.text(key, locale), value) for value, key in EXPLAIN_METHODS.items()]


def explain_target_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """The relevance target's entries (text, "class" or a box coordinate "cx" | "cy" | "w" | "h")."""
    return [(T.text(key, locale), value) for value, key in EXPLAIN_TARGETS.items()]


def image_notes(loaded_notes: list[Message], run: DetectionRun, locale: str = DEFAULT_LOCALE) -> list[str]:
    """What was done to the image: the loader's notes, and the model's input size when pre-processing could
    not keep the aspect ratio (a side clamped to 1 pixel)."""
    return uploads.image_notes(loaded_notes, locale, resized_to=None if run.aspect_ratio_kept else run.input_size)


def summary(run: DetectionRun, threshold: float, total_ms: float | None, notes: list[str],
            locale: str = DEFAULT_LOCALE) -> str:
    """The Markdown line under the image: detections kept, timings, model, sizes, then the image's notes."""
    n = len(run.kept(threshold))
    h, w = run.image.shape[:2]
    hint = T.text("hint_lower", locale) if n == 0 else ""
    parts = [T.text("summary_kept_one" if n == 1 else "summary_kept", locale, n=n, threshold=threshold,
                    queries=len(run.scores), hint=hint, model_ms=run.model_ms)]
    if total_ms is not None:
        parts.append(T.text("summary_total", locale, total_ms=total_ms))
    (ih, iw), (fh, fw) = run.input_size, run.feature_size
    parts.append(T.text("summary_model", locale, model=run.model_name, device=run.device.upper(), w=w, h=h,
                        iw=iw, ih=ih, fw=fw, fh=fh))
    text = " · ".join(parts)
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


# ---------------------------------------------------------------- pictures

def default_point(run: DetectionRun, threshold: float) -> tuple[float, float]:
    """The centre of the best detection (or of the image), pixel (x, y): where the encoder map starts."""
    keep = run.kept(threshold)
    if len(keep):
        x0, y0, x1, y1 = run.boxes_xyxy[keep[0]]
        return float((x0 + x1) / 2), float((y0 + y1) / 2)
    h, w = run.image.shape[:2]
    return w / 2, h / 2


def selected_rank(run: DetectionRun, threshold: float, row: int | None) -> int | None:
    """The rank (0-based, among the kept detections) of detection ``row``, or None when it is not kept."""
    keep = run.kept(threshold)
    return None if row is None or row not in keep else int(np.flatnonzero(keep == row)[0])


@dataclass(frozen=True)
class Annotated:
    """The picture of the kept detections and, per kept detection (rank order), where its caption is:
    ON_PICTURE, NO_ROOM (no free place: its score is read in the table) or CAPTIONS_OFF."""

    image: np.ndarray  # RGB uint8 [H, W, 3], the display size
    caption_states: tuple[str, ...]


def annotated(run: DetectionRun, threshold: float, selected: int | None = None, *, captions: bool = True,
              locale: str = DEFAULT_LOCALE) -> Annotated:
    """The image (enlarged for display) with every detection above `threshold` boxed, captioned
    "<class> <score>" in ``locale`` unless ``captions`` is False.

    selected: rank (0-based, among the kept detections) to highlight (its caption is placed first)."""
    scale = run.display_scale
    kept = run.kept(threshold)
    texts = [f"{label_text(run, run.labels[i], locale)} {run.scores[i]:.2f}" if captions else "" for i in kept]
    colors = [class_color(run.labels[i]) for i in kept]
    highlight = selected if selected is not None and 0 <= selected < len(kept) else None
    drawing = render_boxes_xyxy(enlarge_for_display(run.image, scale), run.boxes_xyxy[kept], texts, colors,
                                scale=scale, highlight=highlight)
    if not captions:
        return Annotated(drawing.image, (CAPTIONS_OFF,) * len(kept))
    return Annotated(drawing.image, tuple(NO_ROOM if r is None else ON_PICTURE for r in drawing.caption_rects))


def annotated_image(run: DetectionRun, threshold: float, selected: int | None = None, *, captions: bool = True,
                    locale: str = DEFAULT_LOCALE) -> np.ndarray:
    """`annotated`'s picture alone."""
    return annotated(run, threshold, selected, captions=captions, locale=locale).image


def boxes_and_table(run: DetectionRun, threshold: float, selected: int | None, captions: bool,
                    locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray, dict]:
    """The annotated picture and the table that says which captions it shows (they must agree)."""
    drawing = annotated(run, threshold, selected, captions=captions, locale=locale)
    return drawing.image, table(run, threshold, locale, drawing.caption_states)


def cross_view(run: DetectionRun, row: int | None, layer: int, head: int | None,
               locale: str = DEFAULT_LOCALE) -> np.ndarray | None:
    """Detection ``row``'s query attention in decoder ``layer`` (0-based; head or None for the mean) over the
    image, with that detection's box captioned in ``locale``; None without a detection."""
    if row is None or not 0 <= row < len(run.scores):
        return None
    return _map_with_box(run, row, cross_attention_heatmap(run, row, layer, head), locale)


def _map_with_box(run: DetectionRun, row: int, heat: np.ndarray, locale: str) -> np.ndarray:
    """A [H', W'] map (display size) over the image, with detection ``row``'s box captioned in ``locale``."""
    base = overlay_heatmap(enlarge_for_display(run.image, run.display_scale), heat)
    label = (f"{label_text(run, run.labels[row], locale)} {run.scores[row]:.2f} · "
             + T.text("query_n", locale, q=int(run.query_index[row])))
    return draw_boxes_xyxy(base, run.boxes_xyxy[row:row + 1], [label], [class_color(run.labels[row])],
                           scale=run.display_scale)


def explanation_view(run: DetectionRun, explanation: DetectionExplanation,
                     locale: str = DEFAULT_LOCALE) -> np.ndarray:
    """The explanation's map over the image, with its detection's box."""
    return _map_with_box(run, explanation.row, explanation.heatmap, locale)


def explanation_text(run: DetectionRun, explanation: DetectionExplanation, locale: str = DEFAULT_LOCALE) -> str:
    """Markdown: what the map is, then its AUCs beside the random map's and the verdict (deletion AUC below the
    random map's or not), or, when not measured, what measuring would cost."""
    e = explanation
    if e.method == "cross_attention":
        heads = dict((value, text) for text, value in head_choices(run.num_heads, locale))
        head = heads[MEAN if e.head is None else f"head {e.head + 1}"]
        what = T.text("explained_cross", locale, layer=int(e.layer) + 1, head=head)
    else:
        what = T.text("explained_relevance", locale,
                      target=T.text(EXPLAIN_TARGETS[e.box_coordinate if e.target == "box" else "class"], locale))
    lines = [T.text("explain_map_line", locale, what=what, detection=html.escape(detection_text(run, e.row, locale)),
                    seconds=e.map_seconds)]
    if e.curves is None:
        lines.append(T.text("measure_pending", locale, runs=faithfulness_model_runs(),
                            seconds=faithfulness_seconds(run)))
    else:
        c = e.curves
        lines.append(T.text("auc_line", locale, deletion=c["deletion"].auc, insertion=c["insertion"].auc,
                            random_deletion=c["random_deletion"].auc, random_insertion=c["random_insertion"].auc,
                            runs=e.model_runs, seconds=e.curve_seconds))
        lines.append(T.text("beats_random" if e.beats_random else "not_faithful", locale))
    return "  \n".join(lines)


def explanation_figure(explanation: DetectionExplanation, locale: str = DEFAULT_LOCALE) -> go.Figure | None:
    """The deletion and insertion curves beside the random map's (None when not measured)."""
    if explanation.curves is None:
        return None
    return faithfulness_figure(explanation.curves, locale, height=360)


def encoder_view(run: DetectionRun, point_xy: tuple[float, float] | None, layer: int,
                 head: int | None) -> np.ndarray | None:
    """Where the encoder position under pixel ``point_xy`` of the image looks in encoder ``layer`` (0-based),
    over the image, with the point marked; None without a point."""
    if point_xy is None:
        return None
    heat = encoder_attention_heatmap(run, point_xy, layer, head)
    base = overlay_heatmap(enlarge_for_display(run.image, run.display_scale), heat)
    s = run.display_scale
    return draw_marker_xy(base, (point_xy[0] * s, point_xy[1] * s))


def class_distribution_figure(run: DetectionRun, threshold: float, selected_row: int | None = None, *,
                              locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Heatmap: one row per query (best score first, at most MAX_ROWS), one column per class plus "no object".

    Each row is that query's softmax over C+1 classes, so it sums to 1. With many classes (COCO's 91) only the
    classes that some shown query ranks first are kept and the rest are summed into one "other" column.
    Queries above the threshold are marked ✓; `selected_row` (an index into run.scores) is marked ▶.
    Titles and names in ``locale``.
    """
    rows = list(range(min(MAX_ROWS, len(run.scores))))
    queries = run.query_index[rows]
    probs = run.probs[queries]  # (R, C+1)
    num_classes = run.num_classes
    names = [label_text(run, c, locale) for c in range(num_classes)]
    if num_classes + 1 > MAX_COLUMNS:
        shown = sorted(set(int(v) for v in run.labels[rows]))[: MAX_COLUMNS - 2]
        rest = np.delete(probs[:, :num_classes], shown, axis=1).sum(axis=1, keepdims=True)
        probs = np.concatenate([probs[:, shown], rest, probs[:, -1:]], axis=1)
        names = [names[c] for c in shown] + [T.text("other_classes", locale)]
    columns = names + [T.text("no_object", locale)]
    row_names = []
    for r, q in zip(rows, queries):
        mark = "▶ " if r == selected_row else ("✓ " if run.scores[r] > threshold else "")
        row_names.append(mark + T.text("query_n", locale, q=int(q)))
    text = np.where(probs >= 0.01, np.char.mod("%.2f", probs), "")
    fig = go.Figure(go.Heatmap(
        z=probs, x=columns, y=row_names, zmin=0, zmax=1, colorscale="Blues", text=text,
        texttemplate="%{text}" if probs.size <= 400 else None, textfont={"size": 10},
        hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>", colorbar={"title": "p", "thickness": 12}))
    fig.update_layout(
        title={"text": T.text("figure_title", locale, shown=len(rows), queries=len(run.scores),
                              threshold=threshold), "font": {"size": 14}},
        yaxis={"autorange": "reversed", "tickfont": {"size": 11}}, xaxis={"side": "top", "tickangle": -30},
        height=max(260, 90 + 22 * len(rows)), margin={"l": 10, "r": 10, "t": 90, "b": 10},
        template="plotly_white")
    return fig
