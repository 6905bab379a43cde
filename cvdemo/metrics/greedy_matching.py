"""COCO's greedy matching of detections to ground truth, for many groups at once.

pycocotools matches one (image, category) group at a time in Python loops. Here all groups
are matched together: the IoUs of every detection with the ground truth of its group are
computed once into a `PairTable`, and `greedy_match` walks the detections by *rank*
(0 = highest score in its group), with array operations over all groups, area ranges and
IoU thresholds at once. The only Python loops are over GT-count buckets and ranks.

The rule, exactly as pycocotools' ``evaluateImg`` (for one detection, at one threshold t):

1. among non-ignored ground truth not yet matched, with IoU >= t, take the one with the
   highest IoU (ties: the last in file order);
2. if there is none, the same among ignored ground truth, where a crowd region may be
   matched any number of times (other ignored objects, e.g. out of the area range, once);
3. else the detection is unmatched.

t is capped at ``1 - 1e-10`` as pycocotools does. A group is whatever integer key the caller
gives (COCO: image and category; a class-agnostic confusion matrix: the image).

`PairTable` layout, per bucket of groups padded to the same number of GT slots ``Gb``
(a power of two, so padding at most doubles the work): groups are sorted by their number
of detections, descending, and rows are *rank-major*, so the rows of rank r are one
contiguous block that belongs to the first ``k_r`` groups, in order.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["PairTable", "build_pair_table", "greedy_match", "greedy_order", "index_in", "iou_xywh_coco"]

#: ``(dets [..., 4], gts [..., 4], crowd [...]) -> iou [...]``, x,y,w,h boxes.
IouFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: pycocotools' cap on the IoU threshold (``min([t, 1 - 1e-10])``).
MAX_THRESHOLD = 1 - 1e-10


def index_in(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each of ``ids`` in the sorted unique ``sorted_ids``, and whether it is there."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


def greedy_order(candidates: np.ndarray, group: np.ndarray,
                 scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Detections in the order the greedy matching visits them, and their rank in their group.

    Args:
        candidates: ``int64[D]`` detection indices to order (file order).
        group, scores: ``[M]`` group key and score of *every* detection.

    Returns:
        ``order int64[D]``: ``candidates`` sorted by group, then score descending, ties in
        file order (pycocotools' stable mergesort); ``rank int64[D]``: 0, 1, ... within each
        group, aligned with ``order``.
    """
    order = candidates[np.lexsort((candidates, -scores[candidates], group[candidates]))]
    keys = group[order]
    if len(order) == 0:
        return order, np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return order, rank


def iou_xywh_coco(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of x,y,w,h boxes exactly as pycocotools' C ``bbIou``, same float operations.

    ``dets [..., 4]`` and ``gts [..., 4]`` broadcast against each other, ``crowd`` against
    the result. For a crowd ground truth the union is the detection's own area
    (inter / area(det)). Boxes that do not overlap (or touch) get 0.
    """
    dx, dy, dw, dh = (dets[..., i] for i in range(4))
    gx, gy, gw, gh = (gts[..., i] for i in range(4))
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    det_area = dw * dh
    union = np.where(crowd, det_area, det_area + gw * gh - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


@dataclass
class _Bucket:
    """Groups whose ground truth fits ``Gb`` slots (nb groups, L detection rows)."""

    gt_slots: np.ndarray  # int64[nb, Gb] GT index per slot, -1 = padding
    crowd: np.ndarray  # bool[nb, Gb] crowd flag per slot
    rank_offsets: np.ndarray  # int64[R + 1] rows of rank r: rank_offsets[r]:rank_offsets[r + 1]
    det_index: np.ndarray  # int64[L] detection index per row (rank-major)
    ious: np.ndarray  # float64[L, Gb] IoU per row and slot, -1 for padding


@dataclass
class PairTable:
    """IoUs between detections and the ground truth of their group, laid out for `greedy_match`.

    Only detections that share a group with some ground truth, and whose best IoU there is
    at least ``min_iou``, have rows: every other detection can never be matched.
    """

    num_dets: int  # M, the length of greedy_match's last axis
    min_iou: float
    buckets: list[_Bucket]

    def rows(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per bucket: ``det_index int64[L]``, ``gt_index int64[L, Gb]`` (-1 = padding) and
        ``ious float64[L, Gb]`` (-1 for padding), for code that needs more than the greedy pass."""
        for b in self.buckets:
            rank = np.repeat(np.arange(len(b.rank_offsets) - 1), np.diff(b.rank_offsets))
            group = np.arange(len(b.det_index)) - b.rank_offsets[rank]
            yield b.det_index, b.gt_slots[group], b.ious


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for every (s, c), vectorised."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total)


def build_pair_table(det_index: np.ndarray, det_group: np.ndarray, det_boxes_xywh: np.ndarray,
                     gt_index: np.ndarray, gt_group: np.ndarray, gt_boxes_xywh: np.ndarray,
                     gt_crowd: np.ndarray, *, min_iou: float, iou_fn: IouFn | None = None) -> PairTable:
    """Group detections with ground truth and compute their IoUs once.

    Args:
        det_index: ``int64[D]`` detections to match (indices into ``det_boxes_xywh``), in
            greedy order (highest score first, ties in file order) *within* each group.
        det_group: ``int64[D]`` group key of each of them.
        det_boxes_xywh: ``float64[M, 4]`` all detection boxes.
        gt_index: ``int64[G]`` ground truth to match against, in file order within groups.
        gt_group: ``int64[G]`` group key of each of them.
        gt_boxes_xywh: ``float64[N, 4]`` and ``gt_crowd: bool[N]``: all ground truth.
        min_iou: rows whose best IoU is below this are dropped; `greedy_match` then refuses
            thresholds below it. Must be > 0 (with threshold 0 every pair would match).
        iou_fn: ``(dets [L, 1, 4], gts [L, Gb, 4], crowd [L, Gb]) -> [L, Gb]``; default
            `iou_xywh_coco`.
    """
    if not min_iou > 0:
        raise ValueError(f"min_iou must be > 0, got {min_iou}")
    d_order = np.argsort(det_group, kind="stable")
    det_index, det_group = det_index[d_order], det_group[d_order]
    g_order = np.argsort(gt_group, kind="stable")
    gt_index, gt_group = gt_index[g_order], gt_group[g_order]
    d_keys, d_start, d_count = np.unique(det_group, return_index=True, return_counts=True)
    g_keys, g_start, g_count = np.unique(gt_group, return_index=True, return_counts=True)
    _, in_d, in_g = np.intersect1d(d_keys, g_keys, assume_unique=True, return_indices=True)
    d_start, d_count, g_start, g_count = d_start[in_d], d_count[in_d], g_start[in_g], g_count[in_g]

    # bucket b holds groups with 2**(b-1) < n_gt <= 2**b
    bucket_of = np.ceil(np.log2(np.maximum(g_count, 1))).astype(np.int64)
    buckets = []
    for b in np.unique(bucket_of):
        sel = np.flatnonzero(bucket_of == b)
        slots = 1 << int(b)
        slot_ar = np.arange(slots)
        gt_slots = np.where(slot_ar < g_count[sel, None], g_start[sel, None] + slot_ar, -1)
        gt_slots = np.where(gt_slots >= 0, gt_index[np.maximum(gt_slots, 0)], -1)
        # group-major rows: every detection of every group of the bucket
        rows = _ranges(d_start[sel], d_count[sel])
        row_group = np.repeat(np.arange(len(sel)), d_count[sel])
        row_det = det_index[rows]
        slot_gt = gt_slots[row_group]  # [L, Gb]
        pad = slot_gt < 0
        ious = (iou_fn or iou_xywh_coco)(det_boxes_xywh[row_det][:, None, :], gt_boxes_xywh[slot_gt],
                                         gt_crowd[slot_gt])
        ious[pad] = -1.0
        keep = ious.max(axis=1) >= min_iou
        row_det, row_group, ious = row_det[keep], row_group[keep], ious[keep]
        if len(row_det) == 0:
            continue
        # rank within group among kept rows (rows are group-major, in greedy order)
        counts = np.bincount(row_group, minlength=len(sel))
        first = np.cumsum(counts) - counts
        rank = np.arange(len(row_group)) - first[row_group]
        # groups by detection count, descending; rows rank-major
        by_count = np.argsort(-counts, kind="stable")
        position = np.empty_like(by_count)
        position[by_count] = np.arange(len(by_count))
        row_order = np.lexsort((position[row_group], rank))
        n_groups = int(np.count_nonzero(counts))
        gt_slots = gt_slots[by_count[:n_groups]]
        buckets.append(_Bucket(
            gt_slots=gt_slots,
            crowd=np.where(gt_slots >= 0, gt_crowd[np.maximum(gt_slots, 0)], False),
            rank_offsets=np.concatenate([[0], np.cumsum(np.bincount(rank))]),
            det_index=row_det[row_order],
            ious=np.ascontiguousarray(ious[row_order]),
        ))
    return PairTable(num_dets=len(det_boxes_xywh), min_iou=min_iou, buckets=buckets)


def _last_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the maximum along the last axis; ties go to the *last* index (pycocotools)."""
    n = values.shape[-1]
    return n - 1 - np.argmax(values[..., ::-1], axis=-1)


def greedy_match(table: PairTable, iou_thresholds: np.ndarray, gt_ignore: np.ndarray,
                 det_active: np.ndarray | None = None) -> np.ndarray:
    """Match every detection of ``table`` greedily, for several GT-ignore sets and thresholds.

    Args:
        table: from `build_pair_table`.
        iou_thresholds: ``float64[T]`` (capped at ``1 - 1e-10`` here, as pycocotools does).
        gt_ignore: ``bool[A, N]`` per ignore set (e.g. per COCO area range) and ground truth:
            ignored objects are matched only by detections that match nothing else, and such
            a match makes the detection neither TP nor FP. Crowd regions must be ignored.
        det_active: optional ``bool[M]``; inactive detections are skipped (e.g. below a score
            threshold) as if they were not there.

    Returns:
        ``int32[A, T, M]``: the index of the ground truth each detection matched, or -1.
    """
    thresholds = np.minimum(np.asarray(iou_thresholds, dtype=np.float64), MAX_THRESHOLD)
    if thresholds.size and thresholds.min() < table.min_iou:
        raise ValueError(f"IoU threshold {thresholds.min()} is below the table's min_iou {table.min_iou}; "
                         "rebuild the PairTable with a lower min_iou")
    gt_ignore = np.asarray(gt_ignore, dtype=bool)
    n_sets, n_thr = gt_ignore.shape[0], len(thresholds)
    out = np.full((n_sets, n_thr, table.num_dets), -1, dtype=np.int32)
    thr = thresholds[:, None, None]  # [T, 1, 1]
    for b in table.buckets:
        n_groups, slots = b.gt_slots.shape
        ignored = gt_ignore[:, np.maximum(b.gt_slots, 0)][:, None]  # [A, 1, nb, Gb]
        matched = np.zeros((n_sets, n_thr, n_groups, slots), dtype=bool)
        for r in range(len(b.rank_offsets) - 1):
            lo, hi = int(b.rank_offsets[r]), int(b.rank_offsets[r + 1])
            k = hi - lo
            iou = b.ious[lo:hi]  # [k, Gb]
            hit = iou >= thr  # [T, k, Gb]
            if det_active is not None:
                hit &= det_active[b.det_index[lo:hi]][:, None]
            cand = hit & (~matched[:, :, :k] | b.crowd[:k])  # [A, T, k, Gb]
            ign = ignored[:, :, :k]
            c_reg = cand & ~ign
            c_ign = cand & ign
            m_reg = _last_argmax(np.where(c_reg, iou, -1.0))
            m_ign = _last_argmax(np.where(c_ign, iou, -1.0))
            m = np.where(c_reg.any(-1), m_reg, np.where(c_ign.any(-1), m_ign, -1))  # [A, T, k]
            a_i, t_i, j_i = np.nonzero(m >= 0)
            s_i = m[a_i, t_i, j_i]
            matched[a_i, t_i, j_i, s_i] = True
            out[a_i, t_i, b.det_index[lo + j_i]] = b.gt_slots[j_i, s_i]
    return out
