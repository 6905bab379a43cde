"""Pictures of a matching: cost heatmaps, one Hungarian step, and the assignment drawn on the image.

Plotly figures and RGB uint8 images of what `cvdemo.matching_run` computed (numpy arrays); nothing is computed
again here. Indices are 0-based, as in the Hungarian steps' text: rows are queries ("q3"), columns
ground-truth objects ("GT 0"). No gradio here. Figure text is in the ``locale`` argument's language; captions
drawn into the images use the app's one caption style (`cvdemo.visualize.draw_captions`: placed clear of each
other, with a CJK font when one is installed). `cvdemo.ui.matching_views` composes these with the tab's tables
and text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from cvdemo.hungarian import HungarianStep
from cvdemo.matching_run import Matching, MatchRun, OneToMany
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.match import T
from cvdemo.visualize import draw_captions, enlarge_for_display

MAX_TEXT_CELLS = 400  # cells above which heatmaps drop their numbers
MAX_UNMATCHED_DRAWN = 20  # "no object" queries drawn (best scores first)
NO_OBJECT_COLOR = (150, 150, 150)
# Bright colours that stay visible on the shapes' textured backgrounds (each drawn over a dark outline).
GT_COLORS = ((255, 214, 0), (255, 64, 160), (0, 230, 118), (0, 229, 255), (255, 145, 0), (190, 120, 255),
             (255, 255, 255), (160, 255, 60))


def gt_color(k: int) -> tuple[int, int, int]:
    """The colour of ground-truth object k, and of whatever is matched to it."""
    return GT_COLORS[int(k) % len(GT_COLORS)]


def label_name(run: MatchRun, label: int, locale: str = DEFAULT_LOCALE) -> str:
    """The model's name of class ``label``; "no object" for the no-object class, "class k" for a class without
    a name (in ``locale``)."""
    if int(label) == run.num_classes:
        return T.text("no_object", locale)
    name = run.class_name(label)
    return T.text("class_n", locale, k=int(label)) if name is None else name


def gt_name(run: MatchRun, k: int, locale: str = DEFAULT_LOCALE) -> str:
    """"GT k · class" for ground-truth object ``k``."""
    return f"GT {k} · {label_name(run, run.gt_labels[k], locale)}"


def query_names(run: MatchRun) -> list[str]:
    return [f"q{q}" for q in range(run.num_queries)]


def _height(rows: int) -> int:
    return int(min(900, max(320, 26 * rows + 120)))


def cost_figure(run: MatchRun, matching: Matching, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """Four heatmaps [queries × GT]: the class, L1 and GIoU terms (unweighted) and the weighted total, each
    with the matched cells outlined. Titles and hover labels in ``locale``."""
    w_cls, w_l1, w_giou = matching.weights
    terms = matching.costs
    titles = [T.text("term_class_title", locale), T.text("term_l1_title", locale), "−GIoU",
              T.text("term_total_title", locale, w_cls=w_cls, w_l1=w_l1, w_giou=w_giou)]
    hover = {"class": T.text("hover_class", locale), "bbox": T.text("hover_bbox", locale),
             "giou": T.text("hover_giou", locale), "total": T.text("hover_total", locale)}
    fig = make_subplots(rows=1, cols=4, shared_yaxes=True, horizontal_spacing=0.03, subplot_titles=titles)
    rows, cols = query_names(run), [f"GT {k}" for k in range(len(run.gt_labels))]
    show_text = terms["total"].size <= MAX_TEXT_CELLS
    for c, key in enumerate(("class", "bbox", "giou", "total"), start=1):
        z = terms[key]
        fig.add_trace(go.Heatmap(
            z=z, x=cols, y=rows, colorscale="Viridis", reversescale=True, showscale=False,
            text=np.char.mod("%.2f", z), texttemplate="%{text}" if show_text else None, textfont={"size": 10},
            hovertemplate=f"%{{y}} ↔ %{{x}}<br>{hover[key]}: %{{z:.3f}}<extra></extra>"), row=1, col=c)
        for q, k in zip(matching.pred_idx, matching.tgt_idx):
            fig.add_shape(type="rect", x0=k - 0.5, x1=k + 0.5, y0=q - 0.5, y1=q + 0.5, row=1, col=c,
                          line={"color": "#d62728", "width": 3})
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_layout(height=_height(len(rows)), margin={"l": 40, "r": 10, "t": 60, "b": 30},
                      title={"text": T.text("cost_title", locale), "font": {"size": 14}})
    return fig


def step_figure(run: MatchRun | None, step: HungarianStep, locale: str = DEFAULT_LOCALE) -> go.Figure:
    """The reduced matrix of one Hungarian step: ★ starred zeros, ′ primed zeros, covered rows and columns
    shaded, the augmenting path drawn; the title in ``locale``. Rows are the run's queries ("q3") and columns
    its ground truth ("GT 0"); with ``run`` None (a matrix of its own: the hard example, a random one) they are
    "r0", "c0"."""
    m = step.matrix
    rows = query_names(run) if run is not None else [f"r{r}" for r in range(m.shape[0])]
    cols = [f"{'GT ' if run is not None else 'c'}{k}" for k in range(m.shape[1])]
    text = np.char.mod("%.3g", m).astype(object)
    text[step.starred] = "0 ★"
    text[step.primed] = "0 ′"
    fig = go.Figure(go.Heatmap(
        z=m, x=cols, y=rows, showscale=False,
        colorscale=[[0.0, "#ffffff"], [1.0, "#6baed6"]], zmin=0, text=text,
        texttemplate="%{text}" if m.size <= MAX_TEXT_CELLS else None, textfont={"size": 11},
        hovertemplate="%{y} ↔ %{x}: %{z:.4g}<extra></extra>"))
    shade = {"type": "rect", "fillcolor": "rgba(255, 165, 0, 0.28)", "line": {"width": 0}, "layer": "above"}
    for r in np.flatnonzero(step.covered_rows):
        fig.add_shape(**shade, x0=-0.5, x1=m.shape[1] - 0.5, y0=r - 0.5, y1=r + 0.5)
    for c in np.flatnonzero(step.covered_cols):
        fig.add_shape(**shade, x0=c - 0.5, x1=c + 0.5, y0=-0.5, y1=m.shape[0] - 0.5)
    for r, c in zip(*np.nonzero(step.starred)):
        fig.add_shape(type="rect", x0=c - 0.45, x1=c + 0.45, y0=r - 0.45, y1=r + 0.45,
                      line={"color": "#d62728", "width": 2.5})
    if step.path:
        fig.add_trace(go.Scatter(x=[c for _, c in step.path], y=[r for r, _ in step.path], mode="lines+markers",
                                 line={"color": "#d62728", "width": 3, "dash": "dot"}, hoverinfo="skip",
                                 showlegend=False, xaxis="x", yaxis="y"))
        fig.update_xaxes(type="category")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=_height(m.shape[0]), margin={"l": 40, "r": 10, "t": 40, "b": 30},
                      title={"text": T.text("step_title", locale), "font": {"size": 13}}, plot_bgcolor="white")
    return fig


# --- images -----------------------------------------------------------------------------------------


def _center(box: Sequence[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _rect(draw: ImageDraw.ImageDraw, box, color, width: int) -> None:
    x0, y0, x1, y1 = (float(v) for v in box)
    draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=color, width=width)


class _Canvas:
    """The enlarged image; boxes are drawn at once, captions last (`finish`), where they overlap no other."""

    def __init__(self, run: MatchRun):
        self.scale = run.display_scale
        self.image = Image.fromarray(enlarge_for_display(run.image, self.scale))
        w, h = self.image.size
        self.line = max(2, round(min(h, w) / 200))
        self.captions: list[tuple[np.ndarray, str, tuple[int, int, int], bool]] = []

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.image)

    def caption(self, box: np.ndarray, text: str, color, below: bool = False) -> None:
        self.captions.append((box, text, color, below))

    def finish(self) -> np.ndarray:
        """The image with every caption, in the app's one caption style and placement (`draw_captions`)."""
        if not self.captions:
            return np.asarray(self.image)
        boxes, texts, colors, below = zip(*self.captions)
        return draw_captions(np.asarray(self.image), np.stack(boxes), texts, colors, below_first=below).image


def _draw_gt(canvas: _Canvas, run: MatchRun) -> None:
    draw, line = canvas.draw, canvas.line
    for k, box in enumerate(run.gt_boxes_xyxy * canvas.scale):
        _rect(draw, box, (0, 0, 0), line * 2 + 2)
        _rect(draw, box, gt_color(k), line * 2)
        canvas.caption(box, f"GT {k} {label_name(run, run.gt_labels[k])}", gt_color(k))


def matching_image(run: MatchRun, matching: Matching, show_unmatched: bool = True) -> np.ndarray:
    """The image with the ground truth (thick, "GT k"), each matched query's box in its GT's colour with a
    line to that GT, and the unmatched queries dimmed (thin grey: "no object")."""
    canvas = _Canvas(run)
    boxes = run.pred_boxes_xyxy(matching.layer) * canvas.scale
    scores, labels = run.scores(matching.layer)
    if show_unmatched:
        unmatched = [q for q in np.argsort(-scores, kind="stable") if matching.matched_gt[q] < 0]
        faint = Image.new("RGBA", canvas.image.size, (0, 0, 0, 0))
        fdraw = ImageDraw.Draw(faint)
        for q in unmatched[:MAX_UNMATCHED_DRAWN]:
            _rect(fdraw, boxes[q], (*NO_OBJECT_COLOR, 140), max(1, canvas.line // 2))
        canvas.image = Image.alpha_composite(canvas.image.convert("RGBA"), faint).convert("RGB")
    _draw_gt(canvas, run)
    draw, line = canvas.draw, canvas.line
    for q, k in zip(matching.pred_idx, matching.tgt_idx):
        color = gt_color(k)
        ends = (*_center(boxes[q]), *_center(run.gt_boxes_xyxy[k] * canvas.scale))
        draw.line(ends, fill=(0, 0, 0), width=line + 2)
        draw.line(ends, fill=color, width=line)
        _rect(draw, boxes[q], (0, 0, 0), line + 2)
        _rect(draw, boxes[q], color, line)
        canvas.caption(boxes[q], f"q{q} {label_name(run, labels[q])} {scores[q]:.2f}", color, below=True)
    return canvas.finish()


def one_to_many_image(run: MatchRun, layer: int, otm: OneToMany) -> np.ndarray:
    """Every query that the one-to-many IoU assignment makes positive, in its GT's colour: kept by NMS
    drawn thick and captioned "q3", the ones NMS removes drawn thin and without a caption (many of them pile
    up on one object; the tab's table lists them), under the kept ones."""
    canvas = _Canvas(run)
    boxes = run.pred_boxes_xyxy(layer) * canvas.scale
    _draw_gt(canvas, run)
    draw, line = canvas.draw, canvas.line
    positive = np.flatnonzero(otm.assignment.positive)
    for q in positive[~otm.nms_kept[positive]]:
        _rect(draw, boxes[q], gt_color(otm.assignment.gt_index[q]), max(1, line // 2))
    for q in positive[otm.nms_kept[positive]]:
        color = gt_color(otm.assignment.gt_index[q])
        _rect(draw, boxes[q], (0, 0, 0), line + 2)
        _rect(draw, boxes[q], color, line)
        canvas.caption(boxes[q], f"q{q}", color, below=True)
    return canvas.finish()
