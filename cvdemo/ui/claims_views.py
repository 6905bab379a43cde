"""Everything the Claims tab shows of a `cvdemo.claim_reports.ClaimReport`, composed in this module: the dropdown's
entry, the notes' sentence, the learning-curve figure (plotly: a mean line and a shaded band per variant), the
Markdown table of final metrics and differences, the verdict, the paragraph on why the result may differ, and what
made the numbers. Words come from `cvdemo/ui/texts/claims.py`. No gradio here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from cvdemo.claim_reports import ClaimReport
from cvdemo.experiments.statistics import CONTRADICTED, SUPPORTED, UNCLEAR
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.claims import T

_VERDICT_KEYS = {SUPPORTED: "verdict_supported", CONTRADICTED: "verdict_contradicted", UNCLEAR: "verdict_unclear"}
_VERDICT_MARKS = {SUPPORTED: "✔", CONTRADICTED: "✘", UNCLEAR: "≈"}
COLORS = qualitative.Plotly


def verdict_word(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    """The verdict in ``locale``, or why there is none ("not yet run", "waits for a model option")."""
    if report.verdict is not None:
        return T.text(_VERDICT_KEYS[report.verdict], locale)
    return T.text("status_needs" if report.status == "needs" else "status_not_run", locale)


def choice(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> tuple[str, str]:
    """The dropdown's (label, value) of a claim."""
    return T.text("choice", locale, name=report.name, verdict=verdict_word(report, locale)), report.name


def metric_name(metric: str, locale: str = DEFAULT_LOCALE) -> str:
    key = f"metric_{metric}"
    return T.text(key, locale) if key in T.texts else metric


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def _zh(locale: str) -> bool:
    return locale == "zh-CN"


def sentence(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    claim = report.claim_zh if _zh(locale) else report.claim_en
    return T.text("sentence", locale, section=report.section, claim=claim, varied=report.varied)


def figure(report: ClaimReport, locale: str = DEFAULT_LOCALE,
           live: Mapping[str, Sequence[tuple[int, float]]] | None = None, live_seed: int = 0) -> go.Figure:
    """The learning curves: per variant a shaded band (min to max over seeds) and its mean line; x = update,
    y = the metric. ``live``: a live rerun's points per variant (step, value), drawn dashed in the variant's
    colour. An empty figure, titled, for a claim not run yet and no live points."""
    fig = go.Figure()
    for band in report.curves:
        color = _color(report, band.variant)
        steps = list(band.steps)
        fig.add_trace(go.Scatter(x=steps + steps[::-1], y=list(band.high) + list(band.low)[::-1], mode="lines",
                                 fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0}, hoverinfo="skip",
                                 legendgroup=band.variant, name=T.text("band", locale, variant=band.variant),
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=steps, y=list(band.mean), mode="lines+markers", line={"color": color, "width": 2},
                                 name=band.variant, legendgroup=band.variant,
                                 customdata=[[lo, hi, n] for lo, hi, n in zip(band.low, band.high, band.n)],
                                 hovertemplate="%{y:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}], "
                                               "n=%{customdata[2]}<extra>" + band.variant + "</extra>"))
    for variant, points in (live or {}).items():
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                 line={"color": _color(report, variant), "width": 2, "dash": "dash"},
                                 marker={"symbol": "diamond"}, legendgroup=variant,
                                 name=T.text("live_trace", locale, variant=variant, seed=live_seed)))
    metric = metric_name(report.metric, locale)
    fig.update_layout(title={"text": T.text("figure_title", locale, metric=metric), "font": {"size": 14}},
                      xaxis_title=T.text("axis_update", locale), yaxis_title=metric, height=420,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.18})
    return fig


def _color(report: ClaimReport, variant: str) -> str:
    names = list(report.variant_names)
    return COLORS[(names.index(variant) if variant in names else len(names)) % len(COLORS)]


def live_status(state: str, locale: str = DEFAULT_LOCALE, **fields) -> str:
    """The live rerun's status line: state "running" | "finished" | "stopped" | "failed" (see the catalog's
    ``live_<state>`` for the fields)."""
    return T.text(f"live_{state}", locale, **fields)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def table(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    """The final metric per variant (mean ± std over n seeds, weights) and each comparison with its interval."""
    if not report.variants:
        return T.text("no_numbers", locale)
    metric = metric_name(report.metric, locale)
    head = [T.text("col_variant", locale), T.text("col_final", locale, metric=metric, steps=report.steps),
            T.text("col_seeds", locale), T.text("col_weights", locale)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report.variants:
        weights = "—" if row.num_parameters is None else f"{row.num_parameters:,}"
        lines.append(f"| {row.variant} | {_number(row.mean)} ± {_number(row.std)} | {row.n} | {weights} |")
    if report.comparisons:
        head = [T.text(k, locale) for k in ("col_comparison", "col_difference", "col_interval", "col_judged")]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in report.comparisons:
            word = T.text(_VERDICT_KEYS[c.verdict], locale)
            lines.append(f"| {c.a} − {c.b} | {_signed(c.difference)} | [{_signed(c.low)}, {_signed(c.high)}] | "
                         f"{_VERDICT_MARKS[c.verdict]} {word} |")
    return "\n".join(lines)


def verdict(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    """The verdict's heading, what the rule expects, and a warning when the results are incomplete."""
    mark = _VERDICT_MARKS.get(report.verdict, "…") if report.verdict else "…"
    parts = [T.text("verdict_line", locale, verdict=f"{mark} {verdict_word(report, locale)}")]
    metric = metric_name(report.metric, locale)
    for a, b in report.pairs:
        if report.relation == "better":
            parts.append(T.text("expect_better", locale, a=a, b=b, metric=metric,
                                direction=T.text(report.direction, locale)))
        else:
            parts.append(T.text("expect_equal", locale, a=a, b=b, metric=metric, margin=f"{report.margin:g}"))
    if report.shipped and not report.complete:
        parts.append(T.text("incomplete", locale))
    return "\n\n".join(parts)


def why(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    text = report.why_zh if _zh(locale) else report.why_en
    return T.text("why", locale, text=text) if text else ""


def provenance(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> str:
    """The commands that made the numbers (or would), the hardware and the runs' wall time; for a claim that waits
    for model options, what it waits for."""
    commands = "\n".join(report.commands)
    if report.status == "needs":
        needs = "\n".join(f"- {n}" for n in report.needs)
        return f"{T.text('needs', locale)}\n\n{needs}"
    if report.status == "not_run":
        return f"{T.text('not_run', locale)}\n\n```\n{commands}\n```"
    parts = [T.text("made_by", locale), f"```\n{commands}\n```",
             T.text("hardware", locale, machines="; ".join(_machine(h, locale) for h in report.hardware))]
    if report.wall_seconds is not None:
        parts.append(T.text("wall", locale, minutes=f"{report.wall_seconds / 60:.0f}"))
    return "\n\n".join(parts)


def _machine(h: Mapping[str, Any], locale: str) -> str:
    device = h.get("device", "?") if not h.get("gpu") else f"{h.get('device', '?')} ({h['gpu']})"
    return T.text("machine", locale, cpu=h.get("cpu", "?"), cores=h.get("cpu_count", "?"),
                  threads=h.get("torch_threads", "?"), device=device, torch=h.get("torch", "?"))


def views(report: ClaimReport, locale: str = DEFAULT_LOCALE) -> tuple[str, str, go.Figure, str, str, str]:
    """Everything the tab shows of a claim: sentence, verdict, figure, table, why, provenance."""
    return (sentence(report, locale), verdict(report, locale), figure(report, locale), table(report, locale),
            why(report, locale), provenance(report, locale))
