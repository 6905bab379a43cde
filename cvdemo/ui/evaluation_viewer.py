"""One image of an evaluation drawn with its boxes coloured by the assignment, and what a click hits.

Colours: a true positive detection green, a false positive red, a missed object (false negative) orange,
an object that was found blue (thin, uncaptioned: its detection carries the caption), ignored ones (crowd
regions, detections on them) grey. Detections below the score threshold are not drawn. An image that was
not uploaded is a blank canvas of its size. No gradio here.

The notes, descriptions and legend come in ``locale`` ("en" or "zh-CN"). What is drawn into the image (box
captions, the blank canvas's label) stays English: the font Pillow ships has no CJK glyphs.
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
from cvdemo.ui.evaluation_session import EvaluationSession, status_texts
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.evaluate import T
from cvdemo.visualize import draw_boxes_xyxy

__all__ = ["COLORS", "DISPLAY_SIDE", "render_image", "object_at", "describe_object", "legend_html"]

DISPLAY_SIDE = 800  # the longer side of the drawn image, in pixels
MAX_CAPTIONS = 40  # more boxes than this are drawn without captions
COLORS = {"TP": (0, 170, 60), "FP": (230, 40, 40), "FN": (255, 140, 0), "found": (40, 110, 230),
          "ignored": (150, 150, 150)}
# the catalog key of the explanation of each TIDE error type
_TIDE_TEXT = {"loc": "why_loc", "cls": "why_cls", "dupe": "why_dupe", "bkg": "why_bkg", "both": "why_both"}


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


def _base_image(session: EvaluationSession, image_id: int, locale: str = DEFAULT_LOCALE
                ) -> tuple[np.ndarray, float, str]:
    """(display pixels, scale from image to display coordinates, a note in ``locale``)."""
    _, path = session.image_info(image_id)
    pixels, note = None, ""
    if path is not None:
        try:
            pixels = load_image(path, max_side=2 * DISPLAY_SIDE).pixels
        except ImageLoadError as e:
            note = T.text("note_unreadable", locale, error=e)
    w, h = _image_size(session, image_id, pixels)
    scale = DISPLAY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if pixels is None:
        canvas = Image.new("RGB", size, (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(170, 170, 180), width=2)  # the image's extent
        draw.text((8, size[1] - 24), f"no image uploaded: blank {w} x {h} canvas", fill=(120, 120, 130),
                  font=ImageFont.load_default(size=15))
        return np.asarray(canvas), scale, note or T.text("note_blank", locale)
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
                 selected: tuple[str, int] | None = None, *, locale: str = DEFAULT_LOCALE
                 ) -> tuple[np.ndarray, float, str]:
    """(RGB uint8 image with the boxes, display scale, note in ``locale``). ``selected`` = ("det" | "gt", row)
    is drawn thicker, on top."""
    base, scale, note = _base_image(session, image_id, locale)
    boxes = _drawn(session, image_id, a, class_id)
    if not boxes:
        return base, scale, note
    highlight = next((i for i, (k, r, *_) in enumerate(boxes) if (k, r) == selected), None)
    captions = [b[3] for b in boxes]
    if len(boxes) > MAX_CAPTIONS:  # captions would hide the image: keep the selected box's only
        captions = [c if i == highlight else "" for i, c in enumerate(captions)]
        note = T.text("note_join", locale).join(filter(None, [note, T.text("note_captions_hidden", locale,
                                                                              n=len(boxes))]))
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
                    tide_error: np.ndarray | None = None, *, locale: str = DEFAULT_LOCALE) -> str:
    """Markdown in ``locale``: what the clicked box is, its score, IoU and what it matched (or why it did not)."""
    gt, dt, names = session.gt, session.dt, session.names
    det_status, gt_status = status_texts(locale)
    t = a.iou_threshold
    if kind == "det":
        name = names.get(int(dt.category_ids[row]), "")
        status = det_status[int(a.det_status[row])]
        text = T.text("det_head", locale, row=row, status=status, name=name, score=dt.scores[row])
        g = int(a.det_gt[row])
        if g >= 0:
            text += T.text("det_matched", locale, iou=a.det_iou[row], obj=int(gt.ann_ids[g]),
                           found=gt_status[int(a.gt_status[g])])
        else:
            _, gt_rows = session.assigner.rows_of_image(int(dt.image_ids[row]))
            same = gt_rows[gt.category_ids[gt_rows] == dt.category_ids[row]]
            if len(same):
                ious = iou_xywh_coco(dt.boxes_xywh[row][None], gt.boxes_xywh[same], gt.iscrowd[same])
                j = int(np.argmax(ious))
                other = int(a.gt_det[same[j]])
                taken = (T.text("det_taken", locale, other=other, score=dt.scores[other]) if other >= 0
                         and other != row else "")
                text += T.text("det_no_match", locale, t=t, name=name, iou=ious[j], obj=int(gt.ann_ids[same[j]]),
                               taken=taken)
            else:
                text += T.text("det_no_object", locale, name=name)
            if tide_error is not None and tide_error[row] >= 0:
                error = ERROR_NAMES[tide_error[row]]
                text += T.text("tide_type", locale, error=error, why=T.text(_TIDE_TEXT[error], locale))
        x, y, w, h = dt.boxes_xywh[row]
    else:
        name = names.get(int(gt.category_ids[row]), "")
        text = T.text("obj_head", locale, obj=int(gt.ann_ids[row]), status=gt_status[int(a.gt_status[row])], name=name)
        d = int(a.gt_det[row])
        if d >= 0:
            text += T.text("obj_matched", locale, det=d, score=dt.scores[d], iou=a.det_iou[d])
        elif a.gt_status[row] == MISSED:
            det_rows, _ = session.image_objects(int(gt.image_ids[row]), a)
            same = det_rows[dt.category_ids[det_rows] == gt.category_ids[row]]
            if len(same):
                ious = iou_xywh_coco(dt.boxes_xywh[same], gt.boxes_xywh[row][None], gt.iscrowd[row])
                j = int(np.argmax(ious))
                text += T.text("obj_best", locale, name=name, iou=ious[j], det=int(same[j]),
                               score=dt.scores[same[j]], status=det_status[int(a.det_status[same[j]])])
            else:
                text += T.text("obj_none", locale, name=name)
        x, y, w, h = gt.boxes_xywh[row]
    return text + T.text("box_line", locale, x=x, y=y, w=w, h=h)


def legend_html(locale: str = DEFAULT_LOCALE) -> str:
    """A one-line colour legend in ``locale``."""
    items = [("TP", "legend_tp"), ("FP", "legend_fp"), ("FN", "legend_fn"), ("found", "legend_found"),
             ("ignored", "legend_ignored")]
    return " ".join(f'<span style="border:3px solid rgb{COLORS[k]};padding:0 6px;margin-right:6px">'
                    f'{T.text(key, locale)}</span>' for k, key in items)
