"""DETR post-processing: normalised (cx, cy, w, h) predictions -> pixel xyxy detections.

As in DETR's official evaluation: softmax over the C+1 logits, drop the no-object column, take each query's
best class and its probability, and keep *every* query (thresholding lowers AP; it is optional here).
"""

from __future__ import annotations

import torch

from cvdemo.boxes import box_cxcywh_to_xyxy, denormalize_boxes


@torch.no_grad()
def post_process_object_detection(outputs: dict, target_sizes: torch.Tensor | list[tuple[int, int]],
                                  threshold: float | None = None) -> list[dict[str, torch.Tensor]]:
    """outputs: DETR's dict (`pred_logits [B,Q,C+1]`, `pred_boxes [B,Q,4]` normalised cxcywh);
    target_sizes: [B, 2] (height, width) of the original images.

    Returns one dict per image, sorted by descending score:
        scores [N] float, labels [N] int64 (class index), boxes [N, 4] pixel xyxy (x0, y0, x1, y1),
        query_index [N] int64 (which object query produced each detection; N = Q without a threshold)
    """
    logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
    sizes = torch.as_tensor(target_sizes, dtype=torch.float32, device=boxes.device)
    if sizes.shape != (logits.shape[0], 2):
        raise ValueError(f"target_sizes must be [B, 2] (height, width) for B={logits.shape[0]}, "
                         f"got {tuple(sizes.shape)}")
    probs = logits.float().softmax(-1)[..., :-1]
    scores, labels = probs.max(-1)
    boxes_xyxy = denormalize_boxes(box_cxcywh_to_xyxy(boxes.float()), sizes[:, None, :])
    results = []
    for s, lb, bx in zip(scores, labels, boxes_xyxy):
        order = s.argsort(descending=True, stable=True)
        if threshold is not None:
            order = order[s[order] > threshold]
        results.append({"scores": s[order], "labels": lb[order], "boxes": bx[order], "query_index": order})
    return results
