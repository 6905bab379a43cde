"""One image of an evaluation drawn with its boxes coloured by the assignment, and what a click hits.

Colours: a true positive detection green, a false positive red, a missed object (false negative) orange,
an object that was found blue (thin, uncaptioned: its detection carries the caption), ignored ones (crowd
regions, detections on them) grey. Detections below the score threshold are not drawn. An image that was
not uploaded is a blank canvas of its size. No gradio here.
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cvdemo.boxes import box_xywh_to_xyxy
from cvdemo.images import ImageLoadError, load_image
from cvdemo.metrics import Assignment
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, TP
from cvdemo.metrics.greedy_matching import iou_xywh_coco
from cvdemo.metrics.tide import ERROR_NAMES
from cvdemo.ui.evaluation_session import DET_STATUS, GT_STATUS, EvaluationSession
from cvdemo.visualize import draw_boxes_xyxy

__all__ = ["COLORS", "DISPLAY_SIDE", "render_image", "object_at", "describe_object", "legend_html"]

DISPLAY_SIDE = 800  # the longer side of the drawn image, in pixels
MAX_CAPTIONS = 40  # more boxes than this are drawn without captions
COLORS = {"TP": (0, 170, 60), "FP": (230, 40, 40), "FN": (255, 140, 0), "found": (40, 110, 230),
          "ignored": (150, 150, 150)}
_TIDE_TEXT = {"loc": "badly localised (right class, IoU between 0.1 and the threshold)",
              "cls": "wrong class (an object of another class overlaps it enough)",
              "dupe": "a duplicate (its object was already found by a higher-scoring detection)",
              "bkg": "on background (no object overlaps it above IoU 0.1)",
              "both": "wrong class and badly localised"}


def _image_size(session: EvaluationSession, image_id: int, pixels: np.ndarray | None) -> tuple[int, int]:
    """(width, height): the annotation's, else the file's, else the extent of the boxes."""
    info, _ = session.image_info(image_id)
    if info.width > 0 and info.height > 0:
        return info.width, info.height
    if pixels is not None:
        return pixels.shape[1], pixels.shape[0]
    det_rows, gt_rows = session.assigner.rows_of_image(image_id)
    boxes = np.concatenate([session.dt.boxes_xywh[det_rows], session.gt.boxes_xywh[gt_rows], [[0, 0, 100, 100]]])
    return int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())), int(np.ceil((boxes[:, 1] + boxes[:, 3]).max()))


def _base_image(session: EvaluationSession, image_id: int) -> tuple[np.ndarray, float, str]:
    """(display pixels, scale from image to display coordinates, a note)."""
    _, path = session.image_info(image_id)
    pixels, note = None, ""
    if path is not None:
        try:
            pixels = load_image(path, max_side=2 * DISPLAY_SIDE).pixels
        except ImageLoadError as e:
            note = f"the image file cannot be read ({e}); drawn on a blank canvas"
    w, h = _image_size(session, image_id, pixels)
    scale = DISPLAY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if pixels is None:
        canvas = Image.new("RGB", size, (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(170, 170, 180), width=2)  # the image's extent
        draw.text((8, size[1] - 24), f"no image uploaded: blank {w} x {h} canvas", fill=(120, 120, 130),
                  font=ImageFont.load_default(size=15))
        return np.asarray(canvas), scale, note or "no image uploaded: blank canvas of the annotated size"
    interpolation = cv2.INTER_AREA if size[0] < pixels.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(pixels, size, interpolation=interpolation), scale, note


def _drawn(session: EvaluationSession, image_id: int, a: Assignment, class_id: int | None):
    """The boxes drawn, in drawing order: [(kind, row, xywh, caption, colour)]."""
    det_rows, gt_rows = session.image_objects(image_id, a, class_id)
    names, out = session.names, []
    for r in gt_rows.tolist():
        status = a.gt_status[r]
        name = names.get(int(session.gt.category_ids[r]), "")
        caption, color = {MISSED: (f"FN {name}", COLORS["FN"]), FOUND: ("", COLORS["found"]),
                          IGNORED: ("crowd" if session.gt.iscrowd[r] else "ignored", COLORS["ignored"])}[status]
        out.append(("gt", r, session.gt.boxes_xywh[r], caption, color))
    for r in det_rows[np.argsort(session.dt.scores[det_rows], kind="stable")].tolist():  # best on top
        status = a.det_status[r]
        name = names.get(int(session.dt.category_ids[r]), "")
        key = {TP: "TP", FP: "FP"}.get(status, "ignored")
        caption = f"{key} {name} {session.dt.scores[r]:.2f}" if key != "ignored" else ""
        out.append(("det", r, session.dt.boxes_xywh[r], caption, COLORS[key]))
    return out


def render_image(session: EvaluationSession, image_id: int, a: Assignment, class_id: int | None = None,
                 selected: tuple[str, int] | None = None) -> tuple[np.ndarray, float, str]:
    """(RGB uint8 image with the boxes, display scale, note). ``selected`` = ("det" | "gt", row) is drawn
    thicker, on top."""
    base, scale, note = _base_image(session, image_id)
    boxes = _drawn(session, image_id, a, class_id)
    if not boxes:
        return base, scale, note
    highlight = next((i for i, (k, r, *_) in enumerate(boxes) if (k, r) == selected), None)
    captions = [b[3] for b in boxes]
    if len(boxes) > MAX_CAPTIONS:  # captions would hide the image: keep the selected box's only
        captions = [c if i == highlight else "" for i, c in enumerate(captions)]
        note = "; ".join(filter(None, [note, f"{len(boxes)} boxes: captions hidden, click a box to see it"]))
    xyxy = box_xywh_to_xyxy(np.stack([b[2] for b in boxes]))
    image = draw_boxes_xyxy(base, xyxy, captions, [b[4] for b in boxes], scale=scale, highlight=highlight)
    return image, scale, note


def object_at(session: EvaluationSession, image_id: int, a: Assignment, class_id: int | None, x: float, y: float,
              scale: float) -> tuple[str, int] | None:
    """The drawn box under the display pixel (x, y): the smallest one containing it (then the nearest edge
    within 6 px), as ("det" | "gt", row); None if there is none."""
    boxes = _drawn(session, image_id, a, class_id)
    if not boxes:
        return None
    px, py = x / scale, y / scale
    xywh = np.stack([b[2] for b in boxes])
    x0, y0 = xywh[:, 0], xywh[:, 1]
    x1, y1 = x0 + xywh[:, 2], y0 + xywh[:, 3]
    slack = 6 / scale
    inside = (px >= x0 - slack) & (px <= x1 + slack) & (py >= y0 - slack) & (py <= y1 + slack)
    if not inside.any():
        return None
    area = np.where(inside, xywh[:, 2] * xywh[:, 3], np.inf)
    i = int(np.argmin(area))
    return boxes[i][0], boxes[i][1]


def describe_object(session: EvaluationSession, a: Assignment, kind: str, row: int,
                    tide_error: np.ndarray | None = None) -> str:
    """Markdown: what the clicked box is, its score, IoU and what it matched (or why it did not)."""
    gt, dt, names = session.gt, session.dt, session.names
    t = a.iou_threshold
    if kind == "det":
        name = names.get(int(dt.category_ids[row]), "")
        status = DET_STATUS[int(a.det_status[row])]
        text = f"**Detection {row}** · **{status}** · {name} · score **{dt.scores[row]:.3f}**"
        g = int(a.det_gt[row])
        if g >= 0:
            found = GT_STATUS[int(a.gt_status[g])]
            text += f" · IoU **{a.det_iou[row]:.3f}** with object {int(gt.ann_ids[g])} ({found})"
        else:
            _, gt_rows = session.assigner.rows_of_image(int(dt.image_ids[row]))
            same = gt_rows[gt.category_ids[gt_rows] == dt.category_ids[row]]
            if len(same):
                ious = iou_xywh_coco(dt.boxes_xywh[row][None], gt.boxes_xywh[same], gt.iscrowd[same])
                j = int(np.argmax(ious))
                other = int(a.gt_det[same[j]])
                taken = (f", already matched by detection {other} (score {dt.scores[other]:.3f})" if other >= 0
                         and other != row else "")
                text += (f" · no match at IoU ≥ {t:.2f}: best IoU with a {name} object is **{ious[j]:.3f}** "
                         f"(object {int(gt.ann_ids[same[j]])}{taken})")
            else:
                text += f" · no {name} object in this image"
            if tide_error is not None and tide_error[row] >= 0:
                error = ERROR_NAMES[tide_error[row]]
                text += f"  \nTIDE error type: **{error}**, {_TIDE_TEXT[error]}"
        x, y, w, h = dt.boxes_xywh[row]
    else:
        name = names.get(int(gt.category_ids[row]), "")
        text = f"**Object {int(gt.ann_ids[row])}** · **{GT_STATUS[int(a.gt_status[row])]}** · {name}"
        d = int(a.gt_det[row])
        if d >= 0:
            text += f" · matched by detection {d}, score **{dt.scores[d]:.3f}**, IoU **{a.det_iou[d]:.3f}**"
        elif a.gt_status[row] == MISSED:
            det_rows, _ = session.image_objects(int(gt.image_ids[row]), a)
            same = det_rows[dt.category_ids[det_rows] == gt.category_ids[row]]
            if len(same):
                ious = iou_xywh_coco(dt.boxes_xywh[same], gt.boxes_xywh[row][None], gt.iscrowd[row])
                j = int(np.argmax(ious))
                text += (f" · best {name} detection above the score threshold: IoU **{ious[j]:.3f}** "
                         f"(detection {int(same[j])}, score {dt.scores[same[j]]:.3f}, "
                         f"{DET_STATUS[int(a.det_status[same[j]])]})")
            else:
                text += f" · no {name} detection above the score threshold in this image"
        x, y, w, h = gt.boxes_xywh[row]
    return text + f"  \nbox x={x:.1f} y={y:.1f} w={w:.1f} h={h:.1f} (pixels, top-left corner)"


def legend_html() -> str:
    """A one-line colour legend."""
    items = [("TP", "true positive"), ("FP", "false positive"), ("FN", "missed object (FN)"),
             ("found", "object found"), ("ignored", "ignored (crowd)")]
    return " ".join(f'<span style="border:3px solid rgb{COLORS[k]};padding:0 6px;margin-right:6px">{text}</span>'
                    for k, text in items)
