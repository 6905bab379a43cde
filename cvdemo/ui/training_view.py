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
from cvdemo.ui.errors import translate
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.train import T
from cvdemo.visualize import class_color, draw_boxes_xyxy, enlarge_for_display

__all__ = ["RunView", "about_markdown", "curves_payload", "duration_text", "end_note", "metric_name", "word"]

MAIN_TERMS = ("loss_ce", "loss_bbox", "loss_giou")  # DETR's back-propagated terms (last decoder layer)
TERM_COLORS = {"loss_ce": "#1f77b4", "loss_bbox": "#ff7f0e", "loss_giou": "#2ca02c"}
EVAL_KEYS = ("AP", "AP50", "accuracy")
SNAPSHOT_PX = 256  # each snapshot image is drawn at least this large
MAX_POINTS = 500  # points per curve sent to the browser each redraw (longer runs are thinned evenly)
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


class RunView:
    """The curves and state of one run, fed with its events in order; its text in ``locale``."""

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = locale
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.last_step: StepEvent | None = None
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.terms: dict[str, list[float]] = {}
        self.lrs: dict[str, list[float]] = {}
        self.evals: list[EvalEvent] = []
        self.snapshot: SnapshotEvent | None = None

    def consume(self, events: list[TrainingEvent]) -> bool:
        """Take new events; True when something visible changed."""
        for e in events:
            if isinstance(e, StepEvent):
                self.last_step = e
                self.steps.append(e.step)
                self.loss.append(e.loss)
                for name, value in e.losses.items():
                    self.terms.setdefault(name, []).append(value)
                for name, value in e.lrs.items():
                    self.lrs.setdefault(name, []).append(value)
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
        return self.started is not None and self.started.task == "detection"

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

    def figure_dict(self) -> dict:
        """The curves as a plotly figure dict (2x2: total loss, raw and smoothed | each loss term, aux layers
        dotted / learning rates | evaluation). Plain dicts over a cached layout: a redraw costs a few ms
        where building `go.Figure` objects costs ~100 ms, which a live run would pay every second."""
        detection, loc = self.is_detection, self.locale
        layout = _layout(detection, loc)
        keep = _thinned(len(self.steps))
        x = [self.steps[i] for i in keep]

        def thin(values: list[float]) -> list[float | None]:
            return [values[i] if math.isfinite(values[i]) else None for i in keep]  # JSON has no NaN

        def line(subplot: str, y, name: str, **style) -> dict:
            return {"type": "scatter", "mode": "lines", "x": x, "y": thin(y), "name": name,
                    "xaxis": "x" + subplot, "yaxis": "y" + subplot, **style}

        data = [line("", self.loss, T.text("trace_total", loc), line={"color": "#bbbbbb"}, showlegend=False),
                line("", _ema(self.loss), T.text("trace_smoothed", loc), line={"color": "#444444"},
                     showlegend=False)]
        if detection:
            for name in MAIN_TERMS:
                if name in self.terms:
                    data.append(line("2", self.terms[name], name, line={"color": TERM_COLORS[name]},
                                     legendgroup=name))
            for name in sorted(self.terms, key=_aux_order):
                match = _AUX.match(name)
                if match:
                    term, layer = match.groups()
                    data.append(line("2", self.terms[name], T.text("trace_aux", loc, term=term, layer=layer),
                                     opacity=0.55,
                                     legendgroup=term, showlegend=False,
                                     line={"color": TERM_COLORS[term], "dash": "dot", "width": 1}))
        else:
            for name, color, label in (("loss_ce", TERM_COLORS["loss_ce"], T.text("trace_batch", loc, name="loss_ce")),
                                       ("loss_hint", "#9467bd", T.text("trace_batch", loc, name="loss_hint")),
                                       ("accuracy", "#d62728", T.text("trace_batch_accuracy", loc))):
                if name in self.terms:
                    data.append(line("2", self.terms[name], label, line={"color": color}))
        for name, values in self.lrs.items():
            dash = "dash" if name in ("backbone", "no_decay") else "solid"
            data.append(line("3", values, T.text("trace_lr", loc, name=name), showlegend=False,
                             line={"dash": dash}))
        for key in EVAL_KEYS:
            points = [(e.step, e.metrics[key]) for e in self.evals if key in e.metrics]
            if points:
                steps, values = zip(*points)
                data.append({"type": "scatter", "mode": "lines+markers", "x": list(steps), "y": list(values),
                             "name": metric_name(key, loc), "xaxis": "x4", "yaxis": "y4"})
        if not self.evals:
            every = self.started.config.get("eval_every", 0) if self.started else 0
            when = (T.text("evaluated_every", loc, every=every) if every else T.text("evaluated_at_end", loc))
            (x0, x1), (y0, y1) = layout["xaxis4"]["domain"], layout["yaxis4"]["domain"]
            layout["annotations"].append({
                "text": T.text("no_evaluation", loc) if self.finished else when, "xref": "paper",
                "yref": "paper", "x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "xanchor": "center",
                "showarrow": False, "font": {"color": "#888888"}})
        total = self.started.total_steps if self.started else 1
        for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
            layout[axis]["range"] = [0, total]
        return {"data": data, "layout": layout}

    def figure(self) -> go.Figure:
        """`figure_dict` as a `go.Figure`."""
        return go.Figure(self.figure_dict())

    def figure_json(self) -> str:
        """`figure_dict` as plotly JSON (what a browser's plotly.js reads)."""
        return json.dumps(self.figure_dict(), allow_nan=False)

    # --- snapshot -----------------------------------------------------------------------------------

    def snapshot_image(self) -> np.ndarray | None:
        """The latest snapshot's images, 4 per row: DETR's matched predictions and ground truth, or the ViT's
        top class per image."""
        snap = self.snapshot
        if snap is None or not snap.predictions:
            return None
        tiles = [_detection_tile(p, snap.id2label) if isinstance(p, ImagePrediction)
                 else _class_tile(p, snap.id2label) for p in snap.predictions]
        return _grid(tiles, columns=4)

    def snapshot_caption(self) -> str:
        snap = self.snapshot
        if snap is None:
            return T.text("snapshot_none", self.locale)
        if snap.predictions and isinstance(snap.predictions[0], ImagePrediction):
            return T.text("snapshot_detr", self.locale, step=snap.step)
        return T.text("snapshot_vit", self.locale, step=snap.step)


def metric_name(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """An evaluation metric's name: "AP" and "AP50" as they are, "accuracy" translated."""
    return T.text("accuracy", locale) if key == "accuracy" else key


def curves_payload(view: RunView) -> PlotData:
    """The curves as Gradio's plot payload, from plain JSON: ~2 ms a redraw instead of ~100 ms through
    go.Figure, which matters on a shared CPU where every redraw slows the training thread."""
    return PlotData(type="plotly", plot=view.figure_json())


def about_markdown(description: Message | None, notes: list[Message], locale: str = DEFAULT_LOCALE) -> str:
    """What a run is (its setup's description) and its notes (e.g. the steps cut to the cap), as Markdown."""
    text = html.escape(word(description, locale), quote=False)
    return text + "".join(f"  \n⚠️ {html.escape(word(n, locale), quote=False)}" for n in notes)


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


@functools.lru_cache(maxsize=8)
def _layout_template(detection: bool, locale: str) -> str:
    titles = (T.text("title_total_loss", locale),
              T.text("title_loss_terms" if detection else "title_ce_accuracy", locale),
              T.text("title_lr", locale), T.text("title_val_ap" if detection else "title_val_accuracy", locale))
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.08, vertical_spacing=0.16, subplot_titles=titles)
    fig.update_xaxes(title_text=T.text("axis_step", locale), row=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(tickformat="~e", row=2, col=1)
    fig.update_yaxes(range=[0, 1.02], row=2, col=2)
    fig.update_layout(height=560, margin=dict(l=50, r=20, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.12), uirevision="train")
    return fig.to_json()


def _layout(detection: bool, locale: str = DEFAULT_LOCALE) -> dict:
    """A fresh copy of the figure's layout (subplots, titles, axes, template), built once per task and language."""
    layout = json.loads(_layout_template(detection, locale if locale == "zh-CN" else DEFAULT_LOCALE))["layout"]
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


def _ema(values: list[float], alpha: float = 0.1) -> list[float]:
    out, current = [], None
    for v in values:
        current = v if current is None else (1 - alpha) * current + alpha * v
        out.append(current)
    return out


def _aux_order(name: str) -> tuple:
    match = _AUX.match(name)
    return (0, "") if match is None else (int(match.group(2)), match.group(1))


def _scale_for(image: np.ndarray) -> float:
    return max(1.0, SNAPSHOT_PX / min(image.shape[:2]))


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
