"""Ground truth typed as text: one `label x0 y0 x1 y1` line per object, read and written.

`parse_ground_truth(text, id2label, (height, width))` reads the lines a user types for an image (pixels of that
image; the label is a class name of the model or its index; `#` starts a comment; commas or spaces separate
values) and returns (boxes_xyxy float32 [n, 4], labels int64 [n]); `format_ground_truth` writes the same
format. A line that cannot be used raises `GroundTruthError`, a `UserError` whose catalog key
(``"match.<name>"``) and fields name the line and what is wrong; its English text is `GROUND_TRUTH_TEXTS`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cvdemo.images import LoadedImage
from cvdemo.messages import UserError

__all__ = ["GROUND_TRUTH_TEXTS", "GroundTruthError", "format_ground_truth", "ground_truth_for_image",
           "parse_ground_truth"]

MAX_LABELS_NAMED = 12  # labels listed in the "unknown label" message
MAX_LINE_SHOWN = 60  # characters of a bad line repeated in its message

# English text of each error, by its name in the UI catalog "match" (which words it in every language).
GROUND_TRUTH_TEXTS = {
    "gt_count": "line {line} ('{text}'): expected 5 values 'label x0 y0 x1 y1', got {count}",
    "gt_numbers": "line {line} ('{text}'): x0 y0 x1 y1 must be numbers (pixels)",
    "gt_finite": "line {line}: the corners must be finite numbers",
    "gt_inverted": "line {line}: the box {box} is empty or inverted; need x0 < x1 and y0 < y1 (top-left corner first)",
    "gt_outside": "line {line}: the box {box} lies outside the image, which is {w}×{h} pixels (x in [0, {w}], "
    "y in [0, {h}])",
    "gt_empty": "no ground-truth boxes: write one 'label x0 y0 x1 y1' line per object",
    "gt_too_many": "{count} ground-truth boxes but the model has only {queries} queries: DETR matches one query "
    "per object, so give at most that many",
    "gt_unknown_label": "line {line}: unknown label '{token}'; this model knows {known} (or their indices 0-{last})",
    "gt_not_text": "the ground truth must be text: one 'label x0 y0 x1 y1' line per object (got {kind})",
    "model_lacks_shapes": "this model does not know the shapes ({missing}): its classes are different. Choose a "
    "model trained on the shapes, or upload an image and type boxes with this model's labels.",
}


class GroundTruthError(UserError, ValueError):
    """Ground truth that cannot be used; the message names the line and what is wrong."""

    def __init__(self, name: str, **fields: Any) -> None:
        super().__init__(GROUND_TRUTH_TEXTS[name].format(**fields), key=f"match.{name}", **fields)


def format_ground_truth(boxes_xyxy: np.ndarray, labels: np.ndarray, id2label: dict[int, str]) -> str:
    """`label x0 y0 x1 y1` lines, the format `parse_ground_truth` reads."""
    lines = []
    for (x0, y0, x1, y1), label in zip(np.asarray(boxes_xyxy).reshape(-1, 4), labels):
        name = id2label.get(int(label), str(int(label))).replace(" ", "_")
        lines.append(f"{name} {x0:g} {y0:g} {x1:g} {y1:g}")
    return "\n".join(lines)


def parse_ground_truth(text: str, id2label: dict[int, str], image_size: tuple[int, int],
                       max_objects: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read `label x0 y0 x1 y1` lines (see the module docstring) for an image of (height, width) pixels.

    Returns (boxes_xyxy float32 [n, 4] pixels, labels int64 [n] indices of ``id2label``). Raises
    GroundTruthError naming the line and the problem: wrong number of values, unknown label, non-numbers, an
    empty or inverted box, a box outside the image, no box at all, more boxes than ``max_objects`` (DETR
    matches one query per object), or ``text`` that is not a string."""
    if not isinstance(text, str):
        raise GroundTruthError("gt_not_text", kind=type(text).__name__)
    h, w = image_size
    by_name = {name.lower().replace(" ", "_"): k for k, name in id2label.items()}
    boxes, labels = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if len(parts) != 5:
            raise GroundTruthError("gt_count", line=number, text=_shown(raw), count=len(parts))
        label = _parse_label(parts[0], by_name, id2label, number)
        try:
            x0, y0, x1, y1 = (float(p) for p in parts[1:])
        except ValueError:
            raise GroundTruthError("gt_numbers", line=number, text=_shown(raw)) from None
        if not all(np.isfinite((x0, y0, x1, y1))):
            raise GroundTruthError("gt_finite", line=number)
        box = f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        if x1 <= x0 or y1 <= y0:
            raise GroundTruthError("gt_inverted", line=number, box=box)
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise GroundTruthError("gt_outside", line=number, box=box, w=w, h=h)
        boxes.append((x0, y0, x1, y1))
        labels.append(label)
    if not boxes:
        raise GroundTruthError("gt_empty")
    if max_objects is not None and len(boxes) > max_objects:
        raise GroundTruthError("gt_too_many", count=len(boxes), queries=max_objects)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


def ground_truth_for_image(text: str, id2label: dict[int, str], image: LoadedImage,
                           max_objects: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`parse_ground_truth` for a loaded upload: the user types pixels of the image at its full size (as stored,
    oriented upright), the boxes come back in pixels of ``image.pixels`` (smaller when the loader downsized it).

    Returns (boxes_xyxy float32 [n, 4], labels int64 [n])."""
    height, width = image.size
    shrink = max(height, width) / max(image.original_size)  # < 1 when the image was downsized
    full_size = (round(height / shrink), round(width / shrink))
    boxes, labels = parse_ground_truth(text, id2label, full_size, max_objects)
    return (boxes * shrink).astype(np.float32), labels


def _shown(line: str) -> str:
    """A line as its message repeats it: stripped, at most MAX_LINE_SHOWN characters."""
    line = line.strip()
    return line if len(line) <= MAX_LINE_SHOWN else line[:MAX_LINE_SHOWN - 1] + "…"


def _parse_label(token: str, by_name: dict[str, int], id2label: dict[int, str], number: int) -> int:
    if token.lower() in by_name:
        return by_name[token.lower()]
    if re.fullmatch(r"\d+", token) and int(token) in id2label:
        return int(token)
    ordered = sorted(id2label)
    known = ", ".join(id2label[k] for k in ordered[:MAX_LABELS_NAMED]) + (
        " …" if len(id2label) > MAX_LABELS_NAMED else "")
    raise GroundTruthError("gt_unknown_label", line=number, token=token, known=known, last=max(id2label, default=0))
