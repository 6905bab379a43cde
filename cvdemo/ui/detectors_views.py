"""Everything the Detectors tab shows of a list of `cvdemo.detectors_run.DetectorOutput`, composed in this module.

Per model, three pictures for a gallery (what it looks at, its raw detections, its final detections at the
sliders' NMS IoU and score), a table of counts per model and the summary line. The run hands numpy arrays; this
module draws and words them (`cvdemo/ui/texts/detectors.py`). No gradio here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvdemo.detector_comparison import COCO_KEYS, TIDE_KEYS, ClaimCheck, DetectorComparison, DetectorRow
from cvdemo.detectors_run import Detections, DetectorOutput, final_detections, nms_would_remove
from cvdemo.ui.errors import translate
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.detectors import T
from cvdemo.visualize import (
    class_color,
    colorize,
    display_scale,
    draw_boxes_xyxy,
    draw_cell_grid_px,
    enlarge_for_display,
)

TABLE_COLUMNS = ["model", "family", "candidates", "raw", "removed", "final", "ms", "params"]
_COLUMN_KEYS = {"model": "col_model", "family": "col_family", "candidates": "col_candidates", "raw": "col_raw",
                "removed": "col_removed", "final": "col_final", "ms": "col_ms", "params": "col_params"}
SHOWN_CANDIDATES = {"queries": None, "proposals": 40, "default_boxes": 40, "anchors": 40, "grid": 30,
                    "regions": 40}  # None: all
MAX_RAW_DRAWN = 200  # raw boxes drawn at most (best first); the captions say how many there are


def table_headers(locale: str = DEFAULT_LOCALE) -> list[str]:
    return [T.text(_COLUMN_KEYS[c], locale) for c in TABLE_COLUMNS]


def family_name(family: str, locale: str = DEFAULT_LOCALE) -> str:
    key = f"family_long_{family}"
    return T.text(key, locale) if key in T.texts else family


def _label(output: DetectorOutput, label: int, locale: str) -> str:
    name = output.id2label.get(int(label))
    return T.text("class_n", locale, k=int(label)) if name is None else name


def _canvas(image: np.ndarray) -> tuple[np.ndarray, float]:
    scale = display_scale(*image.shape[:2])
    return enlarge_for_display(image, scale), scale


def _score_colors(scores: np.ndarray) -> list[tuple[int, int, int]]:
    """turbo colour of each score (blue: low, red: high)."""
    if not len(scores):
        return []
    return [tuple(int(v) for v in c) for c in colorize(np.asarray(scores, np.float32)[None, :])[0]]


def _fmt(value: float) -> str:
    return f"{value:g}"


def candidates_view(output: DetectorOutput, image: np.ndarray, locale: str = DEFAULT_LOCALE
                    ) -> tuple[np.ndarray, str]:
    """The family's candidates on the image and their caption."""
    c = output.candidates
    canvas, scale = _canvas(image)
    limit = SHOWN_CANDIDATES.get(c.kind)
    index = c.top(c.total if limit is None else limit)[::-1]  # the best drawn last, on top
    if c.kind in ("default_boxes", "anchors"):
        colors = [class_color(int(g)) for g in c.group[index]]
    else:
        colors = _score_colors(c.scores[index])
    if c.kind == "grid":
        canvas = draw_cell_grid_px(canvas, c.details["cell_size"], scale, color=(230, 230, 230))
    drawn = draw_boxes_xyxy(canvas, c.boxes_xyxy[index], [""] * len(index), colors, scale=scale, label_band=0)
    fields = dict(model=output.model_name, total=c.total, shown=len(index))
    if c.kind == "proposals":
        fields["before"] = c.details["before_nms"]
    elif c.kind in ("default_boxes", "anchors"):
        maps = c.details["maps"]
        fields.update(maps=len(maps), sizes=", ".join(f"{h}×{w}×{n}" for h, w, n in maps))
    elif c.kind == "grid":
        fields.update(grid=c.details["grid_size"], per_cell=c.details["boxes_per_cell"])
    elif c.kind == "regions":
        fields["passes"] = c.details["classifier_passes"]
    return drawn, T.text(f"stage_{c.kind}", locale, **fields)


def _detections_picture(output: DetectorOutput, image: np.ndarray, d: Detections, captions: bool,
                        locale: str) -> np.ndarray:
    canvas, scale = _canvas(image)
    index = np.arange(min(len(d), MAX_RAW_DRAWN))[::-1]
    texts = [f"{_label(output, d.labels[i], locale)} {d.scores[i]:.2f}" if captions else "" for i in index]
    return draw_boxes_xyxy(canvas, d.boxes_xyxy[index], texts, [class_color(int(d.labels[i])) for i in index],
                           scale=scale, label_band=0)


def raw_view(output: DetectorOutput, image: np.ndarray, score: float, locale: str = DEFAULT_LOCALE
             ) -> tuple[np.ndarray, str]:
    """The detections above ``score`` before NMS (DETR: its queries above it)."""
    raw = output.raw.take(np.flatnonzero(output.raw.scores > score))
    key = "stage_raw" if output.uses_nms else "stage_raw_detr"
    return (_detections_picture(output, image, raw, False, locale),
            T.text(key, locale, model=output.model_name, count=len(raw), score=_fmt(score)))


def final_view(output: DetectorOutput, image: np.ndarray, nms_iou: float, score: float,
               locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray, str]:
    """The final detections at the sliders' values, captioned."""
    final = final_detections(output, nms_iou, score)
    key = "stage_final" if output.uses_nms else "stage_final_detr"
    removed = nms_would_remove(output, nms_iou, score)
    return (_detections_picture(output, image, final, True, locale),
            T.text(key, locale, model=output.model_name, count=len(final), iou=_fmt(nms_iou), removed=removed))


def gallery(outputs: Sequence[DetectorOutput], image: np.ndarray, nms_iou: float, score: float,
            locale: str = DEFAULT_LOCALE) -> list[tuple[np.ndarray, str]]:
    """Three (picture, caption) per model, model by model: candidates, raw, final."""
    items = []
    for output in outputs:
        items += [candidates_view(output, image, locale), raw_view(output, image, score, locale),
                  final_view(output, image, nms_iou, score, locale)]
    return items


def counts_rows(outputs: Sequence[DetectorOutput], nms_iou: float, score: float,
                locale: str = DEFAULT_LOCALE) -> list[list]:
    """One row per model: name, family, candidates, raw above score, removed by NMS (DETR: what an NMS would
    remove), final, model ms, parameters in millions."""
    rows = []
    for o in outputs:
        raw = int((o.raw.scores > score).sum())
        final = len(final_detections(o, nms_iou, score))
        rows.append([o.model_name, family_name(o.family, locale), o.candidates.total, raw,
                     nms_would_remove(o, nms_iou, score), final, round(o.model_ms, 1),
                     round(o.num_parameters / 1e6, 2)])
    return rows


def summary(outputs: Sequence[DetectorOutput], image_size: tuple[int, int], nms_iou: float, score: float,
            total_ms: float | None, skipped: Sequence[tuple[str, str]] = (), locale: str = DEFAULT_LOCALE) -> str:
    """Markdown: the time of the run (when given), each DETR's duplicates, the models skipped and why."""
    lines = []
    if total_ms is not None:
        lines.append(T.text("summary", locale, models=len(outputs), width=image_size[1], height=image_size[0],
                            total_ms=total_ms, models_ms=sum(o.model_ms for o in outputs)))
    for o in outputs:
        if o.uses_nms:
            continue
        count = int((o.raw.scores > score).sum())
        removed = nms_would_remove(o, nms_iou, score)
        verdict = T.text("detr_no_duplicates" if removed == 0 else "detr_duplicates", locale)
        lines.append(T.text("summary_detr", locale, model=o.model_name, iou=_fmt(nms_iou), removed=removed,
                            count=count, score=_fmt(score), verdict=verdict))
    lines += [T.text("skipped", locale, model=name, reason=reason) for name, reason in skipped]
    return "  \n".join(lines)


# ---------------------------------------------------------------- the comparison on one evaluation set

VERDICT_MARKS = {"agrees": "✅", "disagrees": "❌", "cannot_tell": "❔"}


def _cell(value: float | None, digits: int = 3) -> str:
    return "−" if value is None else f"{value:.{digits}f}"


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    escape = [str(h).replace("|", "/") for h in headers]
    return ["| " + " | ".join(escape) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def _coco_table(comparison: DetectorComparison, locale: str) -> list[str]:
    rows = [[r.name, T.text(f"family_{r.family}", locale), *(f"{r.metrics[k]:.3f}" for k in COCO_KEYS)]
            for r in comparison.rows]
    return _markdown_table([T.text("col_model", locale), T.text("col_family", locale), *COCO_KEYS], rows)


def _minutes(row: DetectorRow, locale: str) -> str:
    if row.minutes_to_AP50 is not None:
        return f"{row.minutes_to_AP50:.0f}"
    return T.text("not_reached" if row.train_minutes is not None else "unknown", locale)


def _dupes(row: DetectorRow) -> str:
    after = row.duplicates_after_nms_per_object
    before = row.duplicates_before_nms_per_object
    if before is not None:  # a family: its NMS is inside the model
        return f"{before:.2f} → {row.duplicates_per_object:.3f}"
    return f"{row.duplicates_per_object:.3f} → {_cell(after)}"


def _errors_table(comparison: DetectorComparison, locale: str) -> list[str]:
    headers = [T.text(k, locale) for k in ("col_model", "col_tide", "col_dupes", "col_images_per_s", "col_params",
                                           "col_minutes_to_ap50")]
    rows = [[r.name, " / ".join(str(r.tide.get(k, "−")) for k in TIDE_KEYS), _dupes(r), f"{r.images_per_s:.1f}",
             f"{r.num_parameters / 1e6:.2f}", _minutes(r, locale)] for r in comparison.rows]
    return _markdown_table(headers, rows)


def claim_line(check: ClaimCheck, locale: str = DEFAULT_LOCALE) -> str:
    """One Markdown line: the verdict's mark and words, the claim, the numbers (or why they cannot tell)."""
    evidence = [translate(m, locale) for m in (check.evidence, check.reason) if m is not None]
    verdict = translate(check.verdict_message, locale)
    return (f"{VERDICT_MARKS[check.verdict]} **{verdict}**{T.text('colon', locale)}{translate(check.claim, locale)}"
            f"  \n  {' '.join(evidence)}")


def comparison_markdown(comparison: DetectorComparison, claims: Sequence[ClaimCheck],
                        locale: str = DEFAULT_LOCALE) -> str:
    """The comparison section: how it was measured, the 12 COCO numbers, errors / speed / training time, and each
    claim of the notes with its verdict."""
    e, m = comparison.eval, comparison.machine
    lines = [T.text("comparison_intro", locale, images=e.get("images", "?"), seed=e.get("seed", "?"),
                    objects=e.get("objects", "?"), threads=comparison.speed.get("threads", 1),
                    cpu=m.get("cpu", "?"), command=comparison.command), "",
             T.text("coco_heading", locale), "", *_coco_table(comparison, locale), "",
             T.text("errors_heading", locale), "", *_errors_table(comparison, locale), "",
             T.text("claims_heading", locale), ""]
    lines += [f"- {claim_line(check, locale)}" for check in claims]
    return "\n".join([*lines, "", T.text("fairness", locale)])
