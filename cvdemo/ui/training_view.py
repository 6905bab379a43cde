"""Everything the Train tab shows of a run, composed here: progress text, curves, snapshot image, notes.

`RunView.consume(events)` keeps the curves (every step's losses, learning rates and throughput, every
evaluation), the latest snapshot and the run's start and end, built from the run's events only
(`cvdemo.training.events`); `figure_dict()` / `curves_payload()`, `progress_markdown()` and `snapshot_image()`
draw them. `end_note` says how a run ended, `about_markdown` what it is; `word` turns the core's messages
(`cvdemo.messages.Message`, whose fields may be messages too) into text. Text (status lines, the curves' titles
and legend names, captions) is in the view's ``locale`` ("en" or "zh-CN").
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from gradio.components.plot import PlotData
from plotly.subplots import make_subplots

from cvdemo.durations import DurationStyle, format_duration
from cvdemo.messages import Message, UserError
from cvdemo.training.events import (
    ClassPrediction,
    EvalEvent,
    ImagePrediction,
    RunFinished,
    RunStarted,
    SnapshotEvent,
    StepEvent,
    TrainingEvent,
)
from cvdemo.training.run_curves import RunCurves
from cvdemo.ui.errors import translate
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.train import T
from cvdemo.visualize import class_color, draw_boxes_xyxy, enlarge_for_display

__all__ = ["CurveOptions", "RunView", "about_markdown", "curves_payload", "duration_text", "end_note", "metric_name",
           "smoothed", "threshold_note", "word"]

MAIN_TERMS = ("loss_ce", "loss_bbox", "loss_giou")  # DETR's back-propagated terms (last decoder layer)
TERM_COLORS = {"loss_ce": "#1f77b4", "loss_bbox": "#ff7f0e", "loss_giou": "#2ca02c"}
EVAL_KEYS = ("AP", "AP50", "accuracy")
SNAPSHOT_PX = 256  # each snapshot image is drawn at least this large
MAX_POINTS = 500  # points per curve sent to the browser each redraw (longer runs are thinned evenly)
FAMILY_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
FAMILY_MIN_SCORE = 0.3  # a non-DETR family's snapshot shows its detections scoring at least this ...
FAMILY_MAX_BOXES = 10  # ... at most this many per image
DEFAULT_SMOOTHING = 0.6  # the curves' smoothing when the tab opens (TensorBoard's default)
OVERLAY_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
LR_COLORS = ("#9467bd", "#8c564b", "#17becf")
_AUX = re.compile(r"^(loss_ce|loss_bbox|loss_giou)_(\d+)$")


def word(item: Message | UserError | str | None, locale: str = DEFAULT_LOCALE) -> str:
    """The text of a core message (its message fields worded first, lists of them joined) or error in
    ``locale``; a plain string as it is; "" for None."""
    if item is None or isinstance(item, str):
        return item or ""
    message = item.message if isinstance(item, UserError) else item
    if message is None:
        return translate(item, locale)
    fields = {k: _field_text(v, locale) for k, v in message.fields.items()}
    if isinstance(item, UserError):
        return translate(UserError(str(item), key=message.key, **fields), locale)
    return translate(Message(message.key, fields), locale)


def _field_text(value: Any, locale: str) -> Any:
    if isinstance(value, Message):
        return word(value, locale)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Message) for v in value):
        return T.text("list_separator", locale).join(word(v, locale) for v in value)
    return value


@functools.lru_cache(maxsize=4)
def _duration_style(locale: str) -> DurationStyle:
    return DurationStyle(seconds=T.text("seconds", locale), minutes=T.text("minutes", locale),
                         minutes_seconds=T.text("minutes_seconds", locale), unknown=T.text("duration_unknown", locale))


def duration_text(seconds: float, locale: str = DEFAULT_LOCALE) -> str:
    """"42 s", "3 min 05 s", "10 min" in ``locale`` (`cvdemo.durations.format_duration` with the catalog's words)."""
    return format_duration(seconds, _duration_style(locale if locale == "zh-CN" else DEFAULT_LOCALE))


@dataclass(frozen=True)
class CurveOptions:
    """How the curves are drawn: ``smoothing`` in [0, 1) (TensorBoard's exponential moving average weight; 0:
    raw), ``log_y`` (the loss axes on a log scale), ``overlays`` (earlier runs drawn beside this one: (name,
    `RunCurves`) pairs, their smoothed total loss and their evaluations, dashed)."""

    smoothing: float = DEFAULT_SMOOTHING
    log_y: bool = True
    overlays: tuple[tuple[str, RunCurves], ...] = ()


class RunView:
    """The curves and state of one run, fed with its events in order; its text in ``locale``."""

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = locale
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.last_step: StepEvent | None = None
        self.curves = RunCurves()
        self.evals: list[EvalEvent] = []
        self.snapshot: SnapshotEvent | None = None

    @classmethod
    def of_curves(cls, curves: RunCurves, snapshot: SnapshotEvent | None = None,
                  locale: str = DEFAULT_LOCALE) -> RunView:
        """A view of a finished run known only by its curves (a recorded run, an earlier run of the session)."""
        view = cls(locale)
        view.curves, view.snapshot = curves, snapshot
        return view

    def consume(self, events: list[TrainingEvent]) -> bool:
        """Take new events; True when something visible changed."""
        for e in events:
            self.curves.add(e)
            if isinstance(e, StepEvent):
                self.last_step = e
            elif isinstance(e, EvalEvent):
                self.evals.append(e)
            elif isinstance(e, SnapshotEvent):
                self.snapshot = e
            elif isinstance(e, RunStarted):
                self.started = e
            elif isinstance(e, RunFinished):
                self.finished = e
        return bool(events)

    @property
    def is_detection(self) -> bool:
        return self.curves.task == "detection"

    # --- text ---------------------------------------------------------------------------------------

    def progress(self) -> float:
        """Fraction of the steps done, in [0, 1]."""
        s = self.last_step
        return 0.0 if s is None else min(1.0, s.step / max(s.total_steps, 1))

    def progress_markdown(self, state: str, note: str = "") -> str:
        """Progress bar, step, ETA, throughput, device, memory; what happened at the end."""
        s, start, loc = self.last_step, self.started, self.locale
        if start is None:
            text = T.text("preparing", loc)
            return text + (f"  \n{note}" if note else "")
        total = s.total_steps if s else start.total_steps
        done = s.step if s else 0
        pct = 100 * self.progress()
        bar = f'<progress value="{done}" max="{total}" style="width:100%;height:14px"></progress>'
        parts = [T.text("progress_step", loc, step=done, total=total, pct=pct)]
        if s is not None:
            parts += [T.text("progress_loss", loc, loss=s.loss), T.text("progress_lr", loc, lr=s.lr),
                      T.text("progress_speed", loc, speed=s.images_per_s),
                      T.text("progress_elapsed", loc, time=duration_text(s.elapsed_s, loc))]
            if state == "running":
                parts.append(T.text("progress_eta", loc, time=duration_text(s.eta_s, loc)))
        device = T.text("progress_device", loc, device=start.device, params=start.num_parameters / 1e6,
                        batch=start.batch_size)
        if s is not None:
            device = T.text("progress_memory", loc, line=device, mib=s.memory_mib)
        lines = [bar, " · ".join(parts), device]
        if self.evals:
            e = self.evals[-1]
            shown = [f"{metric_name(k, loc)} **{e.metrics[k]:.3f}**" for k in EVAL_KEYS if k in e.metrics]
            lines.append(T.text("progress_eval", loc, step=e.step, images=e.num_images,
                                metrics=T.text("list_separator", loc).join(shown)))
        if note:
            lines.append(note)
        return "  \n".join(lines)

    # --- curves -------------------------------------------------------------------------------------

    def figure_dict(self, options: CurveOptions | None = None) -> dict:
        """The curves as a plotly figure dict (2x2: total loss, raw and smoothed | each loss term, aux layers
        dotted / learning rates | evaluation), drawn as ``options`` say. Plain dicts over a cached layout: a
        redraw costs a few ms where building `go.Figure` objects costs ~100 ms, which a live run would pay every
        second."""
        options = options or CurveOptions()
        loc, curves = self.locale, self.curves
        terms_title = ("title_ce_accuracy" if curves.task == "classification" else
                       "title_loss_terms" if _is_detr(curves) or not curves.terms else "title_loss_terms_family")
        layout = _layout(terms_title, loc)
        data = _loss_lines(curves, options, loc) + _term_lines(curves, options, loc) + _lr_lines(curves, loc)
        data += _eval_lines(curves.evals, loc)
        for k, (name, other) in enumerate(options.overlays):
            data += _overlay_lines(name, other, options, OVERLAY_COLORS[k % len(OVERLAY_COLORS)], loc)
        if not curves.evals:
            self._no_evaluation_note(layout)
        total = max([curves.total_steps or 1] + [c.total_steps for _, c in options.overlays])
        for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
            layout[axis]["range"] = [0, total]
        for axis in ("yaxis", "yaxis2"):
            layout[axis]["type"] = "log" if options.log_y else "linear"
        return {"data": data, "layout": layout}

    def _no_evaluation_note(self, layout: dict) -> None:
        loc = self.locale
        every = self.started.config.get("eval_every", 0) if self.started else 0
        when = T.text("evaluated_every", loc, every=every) if every else T.text("evaluated_at_end", loc)
        text = T.text("no_evaluation", loc) if self.finished or self.curves.elapsed_s is not None else when
        (x0, x1), (y0, y1) = layout["xaxis4"]["domain"], layout["yaxis4"]["domain"]
        layout["annotations"].append({"text": text, "xref": "paper", "yref": "paper", "x": (x0 + x1) / 2,
                                      "y": (y0 + y1) / 2, "xanchor": "center", "showarrow": False,
                                      "font": {"color": "#888888"}})

    def figure(self) -> go.Figure:
        """`figure_dict` as a `go.Figure`."""
        return go.Figure(self.figure_dict())

    def figure_json(self, options: CurveOptions | None = None) -> str:
        """`figure_dict` as plotly JSON (what a browser's plotly.js reads)."""
        return json.dumps(self.figure_dict(options), allow_nan=False)

    # --- snapshot -----------------------------------------------------------------------------------

    def snapshot_image(self) -> np.ndarray | None:
        """The latest snapshot's images, 4 per row: DETR's matched predictions and ground truth, or the ViT's
        top class per image."""
        snap = self.snapshot
        if snap is None or not snap.predictions:
            return None
        detector = _detection_tile if _matched(snap.predictions) else _family_tile
        tiles = [detector(p, snap.id2label) if isinstance(p, ImagePrediction)
                 else _class_tile(p, snap.id2label) for p in snap.predictions]
        return _grid(tiles, columns=4)

    def snapshot_caption(self) -> str:
        snap = self.snapshot
        if snap is None:
            return T.text("snapshot_none", self.locale)
        n = len(snap.predictions)
        if snap.predictions and isinstance(snap.predictions[0], ImagePrediction):
            right = sum(p.top_box_right() for p in snap.predictions)
            text = (T.text("snapshot_detr", self.locale, step=snap.step) if _matched(snap.predictions)
                    else T.text("snapshot_family", self.locale, step=snap.step, min_score=FAMILY_MIN_SCORE,
                                max_boxes=FAMILY_MAX_BOXES))
            return text + "  \n" + T.text("snapshot_top_boxes", self.locale, right=right, n=n)
        right = sum(p.top_class_right() for p in snap.predictions)
        return (T.text("snapshot_vit", self.locale, step=snap.step) + "  \n"
                + T.text("snapshot_top_classes", self.locale, right=right, n=n))


def metric_name(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """An evaluation metric's name: "AP" and "AP50" as they are, "accuracy" translated."""
    return T.text("accuracy", locale) if key == "accuracy" else key


def curves_payload(view: RunView, options: CurveOptions | None = None) -> PlotData:
    """The curves as Gradio's plot payload, from plain JSON: ~2 ms a redraw instead of ~100 ms through
    go.Figure, which matters on a shared CPU where every redraw slows the training thread."""
    return PlotData(type="plotly", plot=view.figure_json(options))


def recorded_status(run, locale: str = DEFAULT_LOCALE) -> str:
    """What the first view shows: a recorded run (`cvdemo.training.recorded_runs.RecordedRun`), how it was
    made, how it ended, and what to do next, in ``locale``."""
    metrics = run.curves.evals[-1][1] if run.curves.evals else {}
    final = T.text("list_separator", locale).join(
        f"{metric_name(k, locale)} {metrics[k]:.3f}" for k in EVAL_KEYS if k in metrics)
    elapsed = duration_text(run.curves.elapsed_s, locale) if run.curves.elapsed_s else "?"
    return T.text("recorded_status", locale, kind=T.text("kind_" + run.kind, locale), preset=run.preset,
                  steps=run.curves.last_step, elapsed=elapsed, hardware=html.escape(run.hardware),
                  date=run.recorded, final=final or "-")


def about_markdown(description: Message | None, notes: list[Message], locale: str = DEFAULT_LOCALE) -> str:
    """What a run is (its setup's description) and its notes (e.g. the steps cut to the cap), as Markdown."""
    text = html.escape(word(description, locale), quote=False)
    return text + "".join(f"  \n⚠️ {html.escape(word(n, locale), quote=False)}" for n in notes)


def threshold_note(best, default, locale: str = DEFAULT_LOCALE) -> str:
    """Which score threshold shows a saved detector's detections (`cvdemo.training.trained_models.suggested_threshold`:
    two `ThresholdCounts`, the best and the Detect tab's default), in ``locale``."""
    fields = dict(threshold=best.threshold, tp=best.tp, fp=best.fp, objects=best.num_objects,
                  images=best.num_images, default=default.threshold, default_tp=default.tp, default_fp=default.fp)
    if best.tp == 0:
        return T.text("threshold_nothing_right", locale, **fields)
    if best.threshold >= default.threshold:
        return T.text("threshold_default_fits", locale, **fields)
    return T.text("threshold_suggested", locale, **fields)


def _stop_reason(job, locale: str) -> str:
    if job.stop_reason == "time limit":
        return T.text("why_time_limit", locale, time=duration_text(job.limits.max_seconds, locale))
    if job.stop_reason == "stop pressed":
        return T.text("why_stop_pressed", locale)
    return T.text("why_stopped", locale)


def end_note(state: str, view: RunView, job, locale: str = DEFAULT_LOCALE) -> str:
    """How the run ended ("finished" | "stopped" | "failed"), in ``locale``. ``job``: its ``error`` (a message,
    when it failed), ``stop_reason`` and ``limits``."""
    done = view.last_step.step if view.last_step else 0
    elapsed = duration_text(view.finished.elapsed_s, locale) if view.finished else ""
    if state == "failed":
        error = word(job.error, locale) or T.text("unknown_error", locale)
        return T.text("failed", locale, step=done, error=html.escape(error))
    if state == "stopped":
        why = _stop_reason(job, locale)
        if done == 0:
            return T.text("stopped_before_start", locale, why=why)
        return T.text("stopped_at", locale, step=done, elapsed=elapsed, why=why)
    metrics = view.finished.final_metrics if view.finished else {}
    final = T.text("list_separator", locale).join(
        f"{metric_name(k, locale)} {metrics[k]:.3f}" for k in EVAL_KEYS if k in metrics)
    if final:
        return T.text("done_metrics", locale, steps=done, elapsed=elapsed, metrics=final)
    return T.text("done", locale, steps=done, elapsed=elapsed)


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]  # JSON has no NaN


def _line(curves: RunCurves, subplot: str, values: list[float], name: str, **style) -> dict:
    """A scatter line over the curves' steps (at most MAX_POINTS of them) on subplot ``subplot`` ("", "2"...)."""
    keep = _thinned(len(curves.steps))
    return {"type": "scatter", "mode": "lines", "x": [curves.steps[i] for i in keep],
            "y": _finite([values[i] for i in keep]), "name": name, "xaxis": "x" + subplot, "yaxis": "y" + subplot,
            **style}


def _loss_lines(curves: RunCurves, options: CurveOptions, loc: str) -> list[dict]:
    """The weighted total: raw (light) and smoothed (dark); raw only (dark) without smoothing."""
    if options.smoothing <= 0:
        return [_line(curves, "", curves.loss, T.text("trace_total", loc), line={"color": "#444444"})]
    return [_line(curves, "", curves.loss, T.text("trace_total", loc), line={"color": "#bbbbbb"}),
            _line(curves, "", smoothed(curves.loss, options.smoothing), T.text("trace_smoothed", loc),
                  line={"color": "#444444"})]


def _term_lines(curves: RunCurves, options: CurveOptions, loc: str) -> list[dict]:
    """DETR: each loss term (smoothed as the options say), its auxiliary layers dotted (a legend entry each:
    "loss_ce layer 0"...); a classifier: the batch's loss terms and accuracy."""
    def shown(values: list[float]) -> list[float]:
        return smoothed(values, options.smoothing)

    data = []
    if curves.task == "classification":
        for name, color, label in (("loss_ce", TERM_COLORS["loss_ce"], T.text("trace_batch", loc, name="loss_ce")),
                                   ("loss_hint", "#9467bd", T.text("trace_batch", loc, name="loss_hint")),
                                   ("accuracy", "#d62728", T.text("trace_batch_accuracy", loc))):
            if name in curves.terms:
                data.append(_line(curves, "2", shown(curves.terms[name]), label, line={"color": color}))
        return data
    if not _is_detr(curves):  # another family: each of its own terms (torchvision's or YOLO's names)
        return [_line(curves, "2", shown(values), name, line={"color": FAMILY_COLORS[k % len(FAMILY_COLORS)]})
                for k, (name, values) in enumerate(sorted(curves.terms.items()))]
    for name in MAIN_TERMS:
        if name in curves.terms:
            data.append(_line(curves, "2", shown(curves.terms[name]), name, line={"color": TERM_COLORS[name]},
                              legendgroup=name))
    for name in sorted(curves.terms, key=_aux_order):
        match = _AUX.match(name)
        if match:
            term, layer = match.groups()
            data.append(_line(curves, "2", shown(curves.terms[name]), T.text("trace_aux", loc, term=term, layer=layer),
                              opacity=0.55, legendgroup="aux-" + term,
                              line={"color": TERM_COLORS[term], "dash": "dot", "width": 1}))
    return data


def _is_detr(curves: RunCurves) -> bool:
    return any(name in curves.terms for name in MAIN_TERMS)


def _lr_lines(curves: RunCurves, loc: str) -> list[dict]:
    return [_line(curves, "3", values, T.text("trace_lr", loc, name=name),
                  line={"dash": "dash" if name in ("backbone", "no_decay") else "solid",
                        "color": LR_COLORS[k % len(LR_COLORS)]})
            for k, (name, values) in enumerate(curves.lrs.items())]


def _eval_lines(evals: list[tuple[int, dict[str, float]]], loc: str, prefix: str = "", **style) -> list[dict]:
    data = []
    for key in EVAL_KEYS:
        points = [(step, metrics[key]) for step, metrics in evals if key in metrics]
        if points:
            steps, values = zip(*points)
            data.append({"type": "scatter", "mode": "lines+markers", "x": list(steps), "y": list(values),
                         "name": prefix + metric_name(key, loc), "xaxis": "x4", "yaxis": "y4", **style})
    return data


def _overlay_lines(name: str, curves: RunCurves, options: CurveOptions, color: str, loc: str) -> list[dict]:
    """An earlier run beside this one: its smoothed total loss and its evaluations, dashed, one legend group."""
    style = {"legendgroup": "overlay-" + name, "line": {"color": color, "dash": "dash"}}
    loss = smoothed(curves.loss, options.smoothing)
    lines = [_line(curves, "", loss, T.text("trace_overlay_loss", loc, run=name), **style)]
    return lines + _eval_lines(curves.evals, loc, prefix=name + ": ", **style)


def smoothed(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average with ``weight`` in [0, 1) (0: the values as they
    are), debiased so that the first points are not pulled towards zero; non-finite values are skipped."""
    if weight <= 0:
        return list(values)
    out, average, count = [], 0.0, 0
    for v in values:
        if math.isfinite(v):
            average, count = weight * average + (1 - weight) * v, count + 1
        out.append(average / (1 - weight ** count) if count else math.nan)
    return out


@functools.lru_cache(maxsize=8)
def _layout_template(terms_title: str, locale: str) -> str:
    titles = (T.text("title_total_loss", locale),
              T.text(terms_title, locale),
              T.text("title_lr", locale),
              T.text("title_val_accuracy" if terms_title == "title_ce_accuracy" else "title_val_ap", locale))
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.08, vertical_spacing=0.16, subplot_titles=titles)
    fig.update_xaxes(title_text=T.text("axis_step", locale), row=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(tickformat="~e", row=2, col=1)
    fig.update_yaxes(range=[0, 1.02], row=2, col=2)
    fig.update_layout(height=560, margin=dict(l=50, r=20, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.12), uirevision="train")
    return fig.to_json()


def _layout(terms_title: str, locale: str = DEFAULT_LOCALE) -> dict:
    """A fresh copy of the figure's layout (subplots, titles, axes, template), built once per task and language."""
    layout = json.loads(_layout_template(terms_title, locale if locale == "zh-CN" else DEFAULT_LOCALE))["layout"]
    layout.setdefault("annotations", [])
    return layout


def _thinned(n: int, max_points: int = MAX_POINTS) -> list[int]:
    """Indices of at most ~max_points evenly spread items of n, the last one included."""
    if n <= max_points:
        return list(range(n))
    stride = math.ceil(n / max_points)
    return list(range(0, n - 1, stride)) + [n - 1]


def _grid(tiles: list[np.ndarray], columns: int, gap: int = 8) -> np.ndarray:
    """RGB tiles in rows of ``columns`` on white, each padded to the largest tile."""
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    rows = -(-len(tiles) // columns)
    cols = min(columns, len(tiles))
    canvas = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = r * (h + gap), c * (w + gap)
        canvas[y:y + t.shape[0], x:x + t.shape[1]] = t
    return canvas


def _aux_order(name: str) -> tuple:
    match = _AUX.match(name)
    return (0, "") if match is None else (int(match.group(2)), match.group(1))


def _scale_for(image: np.ndarray) -> float:
    return max(1.0, SNAPSHOT_PX / min(image.shape[:2]))


def _matched(predictions) -> bool:
    """True for a DETR's snapshot (the Hungarian matcher assigned queries), False for another family's."""
    return any(isinstance(p, ImagePrediction) and len(p.matched_gt) and int(np.max(p.matched_gt)) >= 0
               for p in predictions)


def _family_tile(p: ImagePrediction, id2label: dict[int, str]) -> np.ndarray:
    """A detector family's snapshot tile: the objects (white) and its best detections scoring >= FAMILY_MIN_SCORE."""
    scale = _scale_for(p.image)
    image = enlarge_for_display(p.image, scale)
    shown = [r for r in np.argsort(-p.scores, kind="stable")[:FAMILY_MAX_BOXES] if p.scores[r] >= FAMILY_MIN_SCORE]
    boxes = [*p.gt_boxes_xyxy, *(p.boxes_xyxy[r] for r in shown)]
    captions = [""] * len(p.gt_boxes_xyxy) + [f"{id2label.get(int(p.labels[r]), p.labels[r])} {p.scores[r]:.2f}"
                                              for r in shown]
    colors = [(255, 255, 255)] * len(p.gt_boxes_xyxy) + [class_color(int(p.labels[r])) for r in shown]
    return draw_boxes_xyxy(image, np.asarray(boxes, np.float64).reshape(-1, 4), captions, colors, scale=scale)


def _detection_tile(p: ImagePrediction, id2label: dict[int, str]) -> np.ndarray:
    scale = _scale_for(p.image)
    image = enlarge_for_display(p.image, scale)
    boxes, captions, colors = [], [], []
    for box in p.gt_boxes_xyxy:  # white, no caption: the matched prediction names the class
        boxes.append(box)
        captions.append("")
        colors.append((255, 255, 255))
    row_of = {int(q): r for r, q in enumerate(p.query_index)}
    for query in np.flatnonzero(p.matched_gt >= 0):
        r = row_of.get(int(query))
        if r is None:
            continue
        gt_label = int(p.gt_labels[p.matched_gt[query]])
        boxes.append(p.boxes_xyxy[r])
        captions.append(f"q{int(query)} {id2label.get(int(p.labels[r]), p.labels[r])} {p.scores[r]:.2f}")
        colors.append(class_color(gt_label))
    return draw_boxes_xyxy(image, np.asarray(boxes, np.float64).reshape(-1, 4), captions, colors, scale=scale)


def _class_tile(p: ClassPrediction, id2label: dict[int, str]) -> np.ndarray:
    scale = _scale_for(p.image)
    image = enlarge_for_display(p.image, scale)
    best = int(np.argmax(p.probs)) if len(p.probs) else -1
    caption = f"{id2label.get(best, best)} {p.probs[best]:.2f}" if best >= 0 else "?"
    if best != p.label:
        caption += f" (is {id2label.get(p.label, p.label)})"
    h, w = image.shape[:2]
    color = (40, 160, 60) if best == p.label else (200, 40, 40)
    return draw_boxes_xyxy(image, np.array([[1, 1, w - 2, h - 2]], np.float64), [caption], [color])
