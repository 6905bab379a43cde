"""COCO bbox evaluation, number for number the same as pycocotools' ``COCOeval``.

    result = evaluate_coco(ground_truth, detections)
    result.stats_dict()["AP"]; print("\\n".join(result.summary_lines()))

Everything pycocotools does, and in the same floating-point operations where it matters:

- IoU thresholds 0.50:0.05:0.95, 101 recall points, maxDets 1/10/100 per (image, category);
  matching (`cvdemo.metrics.greedy_matching`) runs once with the top ``max(max_dets)``
  detections of each (image, category) by score (stable sort: ties keep file order), and
  smaller maxDets take a prefix of them.
- Ground truth is binned into area ranges by its ``area`` field, detections by ``w * h``;
  ranges are inclusive at both ends. Crowd regions are ignored, with IoU = inter / area(det);
  ground truth outside the range is ignored; unmatched detections outside it are ignored.
- Accumulation per (category, area, maxDets): detections of all images sorted by score
  (stable: ties in image-id order), cumulative TP/FP, precision ``tp / (tp + fp + eps)``
  made monotone from the right, sampled at the recall points with
  ``searchsorted(recall, recThrs, side="left")`` (0 past the highest recall).
- A category with no non-ignored ground truth in an area range gets -1 there and is left
  out of the means. ``summarize`` takes maxDets=100 for stats 0 and ``max_dets[2]`` for 1-5.

Array contracts of `CocoEvaluation` (T IoU thresholds, R recall points, K categories,
A area ranges, M maxDets): ``precision [T, R, K, A, M]``, ``recall [T, K, A, M]``,
``scores [T, R, K, A, M]`` (the score at each recall point, for PR curves), all float64,
-1 where undefined.

Differences from pycocotools, all where it fails: an empty detection list evaluates to 0
instead of crashing; inputs are validated by the loaders (`cvdemo.datasets.coco`). Only
``useCats=1`` bbox evaluation is implemented. With ``use_ignore_flag=True`` objects whose
`GroundTruth.ignore` is set (VOC ``difficult``) are ignored like crowd regions but with the
ordinary IoU; pycocotools never reads that flag.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.greedy_matching import (
    MAX_THRESHOLD,
    build_pair_table,
    greedy_match,
    greedy_order,
    index_in,
)

__all__ = ["STAT_NAMES", "CocoEvalParams", "CocoEvaluation", "evaluate_coco"]

#: The 12 numbers of pycocotools' ``summarize()``, in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _linspace(start: float, stop: float, step: float) -> tuple[float, ...]:
    # pycocotools' own construction (np.arange drifts); the exact same floats
    return tuple(np.linspace(start, stop, int(np.round((stop - start) / step)) + 1, endpoint=True).tolist())


@dataclass(frozen=True)
class CocoEvalParams:
    """Evaluation settings; the defaults are pycocotools' ``Params(iouType="bbox")``."""

    iou_thresholds: tuple[float, ...] = field(default_factory=lambda: _linspace(0.5, 0.95, 0.05))
    recall_thresholds: tuple[float, ...] = field(default_factory=lambda: _linspace(0.0, 1.0, 0.01))
    max_dets: tuple[int, ...] = (1, 10, 100)  # per (image, category)
    area_ranges: tuple[tuple[float, float], ...] = ((0, 1e5**2), (0, 32**2), (32**2, 96**2), (96**2, 1e5**2))
    area_labels: tuple[str, ...] = ("all", "small", "medium", "large")
    image_ids: tuple[int, ...] | None = None  # None: every image of the ground truth
    category_ids: tuple[int, ...] | None = None  # None: every category of the ground truth
    use_ignore_flag: bool = False  # also ignore GroundTruth.ignore (VOC difficult); not pycocotools

    def __post_init__(self) -> None:
        if len(self.area_ranges) != len(self.area_labels):
            raise ValueError("area_ranges and area_labels must have the same length")
        if not self.iou_thresholds or min(self.iou_thresholds) <= 0 or max(self.iou_thresholds) > 1:
            raise ValueError(f"IoU thresholds must be in (0, 1], got {self.iou_thresholds}")
        if not self.max_dets or min(self.max_dets) < 1:
            raise ValueError(f"max_dets must be positive integers, got {self.max_dets}")


@dataclass
class CocoEvaluation:
    """What `evaluate_coco` computed. Arrays: see the module docstring."""

    params: CocoEvalParams
    image_ids: np.ndarray  # int64[I] evaluated images (sorted)
    category_ids: np.ndarray  # int64[K] evaluated categories (sorted), the K axis
    category_names: dict[int, str]
    max_dets: tuple[int, ...]  # sorted, the M axis
    precision: np.ndarray  # float64[T, R, K, A, M]
    recall: np.ndarray  # float64[T, K, A, M]
    scores: np.ndarray  # float64[T, R, K, A, M]
    num_gt: np.ndarray  # int64[K, A] non-ignored ground truth per category and area range
    stats: np.ndarray = field(init=False)  # float64[12] pycocotools' summarize(), STAT_NAMES order

    def __post_init__(self) -> None:
        self.stats = np.array([self._summarize(*spec)[0] for spec in self._summary_specs()])

    def _summary_specs(self) -> list[tuple[bool, float | None, str, int]]:
        m = self.max_dets
        m0, m1, m2 = m[0], m[min(1, len(m) - 1)], m[min(2, len(m) - 1)]
        return [(True, None, "all", 100), (True, 0.5, "all", m2), (True, 0.75, "all", m2),
                (True, None, "small", m2), (True, None, "medium", m2), (True, None, "large", m2),
                (False, None, "all", m0), (False, None, "all", m1), (False, None, "all", m2),
                (False, None, "small", m2), (False, None, "medium", m2), (False, None, "large", m2)]

    def _summarize(self, ap: bool, iou_thr: float | None, area: str, max_dets: int) -> tuple[float, str]:
        """pycocotools' ``_summarize``: the mean over defined entries and its printed line."""
        p = self.params
        thresholds = np.asarray(p.iou_thresholds)
        aind = [i for i, label in enumerate(p.area_labels) if label == area]
        mind = [i for i, md in enumerate(self.max_dets) if md == max_dets]
        s = self.precision if ap else self.recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == thresholds)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        mean_s = _mean_defined(s)
        iou_str = f"{thresholds[0]:0.2f}:{thresholds[-1]:0.2f}" if iou_thr is None else f"{iou_thr:0.2f}"
        title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
        line = (f" {title:<18} {kind} @[ IoU={iou_str:<9} | area={area:>6s} | maxDets={max_dets:>3d} ]"
                f" = {mean_s:0.3f}")
        return mean_s, line

    def summary_lines(self) -> list[str]:
        """The 12 lines pycocotools' ``summarize()`` prints, character for character."""
        return [self._summarize(*spec)[1] for spec in self._summary_specs()]

    def stats_dict(self) -> dict[str, float]:
        """``{"AP": ..., "AP50": ..., ..., "ARl": ...}`` (full floats; -1 where undefined)."""
        return dict(zip(STAT_NAMES, (float(s) for s in self.stats)))

    def per_class(self, area: str = "all") -> dict[int, dict[str, float]]:
        """Per category id: ``AP`` (IoU .50:.95), ``AP50``, ``AP75`` and ``AR`` at the largest maxDets.

        -1 for a category without (non-ignored) ground truth, as in the COCO arrays.
        """
        a = list(self.params.area_labels).index(area)
        thresholds = np.asarray(self.params.iou_thresholds)
        out = {}
        for k, cat in enumerate(self.category_ids.tolist()):
            prec = self.precision[:, :, k, a, -1]
            out[cat] = {"AP": _mean_defined(prec), "AP50": _mean_defined(prec[thresholds == 0.5]),
                        "AP75": _mean_defined(prec[thresholds == 0.75]),
                        "AR": _mean_defined(self.recall[:, k, a, -1])}
        return out


def _mean_defined(s: np.ndarray) -> float:
    """pycocotools' mean over the entries > -1, or -1 if there are none."""
    return float(np.mean(s[s > -1])) if len(s[s > -1]) else -1.0


def _tp_counts_needed(num_gt: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """``int64[K, R]``: the least TP count c with ``c / npig >= r`` in float64, per category.

    pycocotools compares ``rc = tp / npig`` with the recall points; division by a positive
    constant is monotone, so searching the float table ``arange(npig + 1) / npig`` gives the
    same answer as its ``searchsorted(rc, recThrs, side="left")`` (npig + 1 if unreachable).
    """
    out = np.zeros((len(num_gt), len(rec_thrs)), np.int64)
    for k, npig in enumerate(num_gt.tolist()):
        if npig:
            out[k] = np.searchsorted(np.arange(npig + 1, dtype=np.float64) / npig, rec_thrs, side="left")
    return out


def _accumulate_one(seq_cats: np.ndarray, seq_scores: np.ndarray, seq_inside: np.ndarray, hit_t: np.ndarray,
                    hit_pos: np.ndarray, hit_is_tp: np.ndarray, num_gt: np.ndarray, counts_needed: np.ndarray,
                    num_thresholds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pycocotools' ``accumulate`` for one area range and maxDets, from the TPs alone.

    The sequence (n detections) is sorted by category, then as pycocotools sorts it. Each
    entry is a TP (matched, to non-ignored GT), ignored (matched to ignored GT, or unmatched
    and outside the area range) or a FP (unmatched, inside). pycocotools builds precision
    and recall at every entry; only TPs matter, because

    - recall point r > 0 is first reached at a TP (recall only grows there): the c_r-th;
    - the precision envelope (max to the right) is attained at TPs: precision only drops
      at FPs and stays at ignored entries; r <= 0 (c_r = 0) reads entry 0, whose envelope
      is the max over all TPs, and whose score is the category's first entry.

    So per (threshold, category) we need, at each TP, its ordinal i and the FP count before
    it (inside entries minus matched inside entries), and ``pr = i / (fp + i + eps)`` in the
    same float operations as pycocotools.

    Args:
        seq_cats, seq_scores, seq_inside: ``[n]`` category index, score, inside the range.
        hit_t, hit_pos, hit_is_tp: ``[h]`` every matched (threshold, position), sorted by
            threshold then position, and whether the match is a TP.
        num_gt: ``int64[K]`` non-ignored GT; counts_needed: ``int64[K, R]``.

    Returns:
        precision ``[T, R, K]``, recall ``[T, K]``, scores ``[T, R, K]`` (-1 where num_gt is 0).
    """
    T, (K, R) = num_thresholds, counts_needed.shape
    S = T * K
    cat_start = np.searchsorted(seq_cats, np.arange(K + 1))  # [K + 1] sequence bounds per category
    inside_cum = np.concatenate([[0], np.cumsum(seq_inside)])  # inside entries among the first j
    hit_k = seq_cats[hit_pos]
    seg = hit_t * K + hit_k  # (threshold, category) segment, nondecreasing
    seg_first = np.searchsorted(seg, np.arange(S + 1))
    # TP ordinal, and matched-inside entries up to each hit, within its segment
    tp_cum = np.cumsum(hit_is_tp)
    mi_cum = np.cumsum(seq_inside[hit_pos])
    before_tp = np.concatenate([[0], tp_cum])[seg_first[seg]]
    before_mi = np.concatenate([[0], mi_cum])[seg_first[seg]]
    tp_ord = tp_cum - before_tp
    fp = inside_cum[hit_pos + 1] - inside_cum[cat_start[hit_k]] - (mi_cum - before_mi)
    tps = np.flatnonzero(hit_is_tp)
    seg, tp_ord, fp, pos = seg[tps], tp_ord[tps].astype(np.float64), fp[tps].astype(np.float64), hit_pos[tps]
    pr = tp_ord / (fp + tp_ord + np.spacing(1))
    n_tp = np.bincount(seg, minlength=S)  # [S]
    tp_first = np.concatenate([[0], np.cumsum(n_tp)])

    # query: the max(c_r, 1)-th TP of each segment, if there is one
    want = np.maximum(np.broadcast_to(counts_needed[None], (T, K, R)).reshape(S, R), 1)
    valid = want <= n_tp[:, None]
    q = np.where(valid, tp_first[:-1, None] + want - 1, 0)  # [S, R] index into the TP arrays
    # envelope max(pr[q:segment end]): maxima of blocks between query points, then a suffix max
    bounds = np.unique(np.concatenate([tp_first[:-1][n_tp > 0], q[valid]]))
    env = np.zeros((S, R))
    score = np.zeros((S, R))
    if len(bounds):
        block_max = np.maximum.reduceat(pr, bounds)
        block_seg = seg[bounds]
        block_local = np.arange(len(bounds)) - np.searchsorted(block_seg, block_seg)
        grid = np.zeros((S, int(block_local.max()) + 1))
        grid[block_seg, block_local] = block_max
        grid = np.maximum.accumulate(grid[:, ::-1], axis=1)[:, ::-1]
        block = np.minimum(np.searchsorted(bounds, q), len(bounds) - 1)
        env = np.where(valid, grid[np.arange(S)[:, None], block_local[block]], 0.0)
        score = np.where(valid, seq_scores[pos[np.minimum(q, len(pos) - 1)]], 0.0)
    # c_r = 0 reads entry 0 of the category's sequence, TP or not
    nonempty = cat_start[1:] > cat_start[:-1]
    first_score = np.zeros(K)
    first_score[nonempty] = seq_scores[cat_start[:-1][nonempty]]
    zero = np.broadcast_to(counts_needed[None] == 0, (T, K, R)).reshape(S, R)
    score = np.where(zero, np.tile(first_score, T)[:, None], score)

    undefined = np.tile(num_gt == 0, T)  # [S]
    env[undefined] = -1
    score[undefined] = -1
    rec = np.where(undefined, -1.0, n_tp / np.maximum(np.tile(num_gt, T), 1)).reshape(T, K)
    return env.reshape(T, K, R).transpose(0, 2, 1), rec, score.reshape(T, K, R).transpose(0, 2, 1)


def evaluate_coco(gt: GroundTruth, dt: Detections, params: CocoEvalParams | None = None) -> CocoEvaluation:
    """COCO bbox evaluation of ``dt`` against ``gt``; the same numbers as pycocotools."""
    p = params or CocoEvalParams()
    img_ids = np.unique(np.asarray(p.image_ids if p.image_ids is not None else gt.image_id_array, np.int64))
    cat_ids = np.unique(np.asarray(p.category_ids if p.category_ids is not None else gt.category_id_array,
                                   np.int64))
    max_dets = tuple(sorted(int(m) for m in p.max_dets))
    thresholds = np.asarray(p.iou_thresholds, np.float64)
    rec_thrs = np.asarray(p.recall_thresholds, np.float64)
    n_img, n_cat = len(img_ids), len(cat_ids)
    T, R, K, A, M = len(thresholds), len(rec_thrs), n_cat, len(p.area_ranges), len(max_dets)

    # ground truth of the evaluated images and categories, grouped by (category, image)
    g_k, k_ok = index_in(cat_ids, gt.category_ids)
    g_i, i_ok = index_in(img_ids, gt.image_ids)
    gt_sel = np.flatnonzero(k_ok & i_ok)
    lo = np.array([r[0] for r in p.area_ranges], np.float64)[:, None]
    hi = np.array([r[1] for r in p.area_ranges], np.float64)[:, None]
    base_ignore = gt.iscrowd | (gt.ignore if p.use_ignore_flag else False)
    gt_ignore = base_ignore[None] | (gt.areas[None] < lo) | (gt.areas[None] > hi)  # [A, N]
    counted = ~gt_ignore[:, gt_sel]  # [A, G]
    num_gt = np.stack([np.bincount(g_k[gt_sel], weights=counted[a], minlength=K) for a in range(A)],
                      axis=1).astype(np.int64) if K else np.zeros((0, A), np.int64)

    # detections: greedy order within (category, image), the top max_dets[-1] of each
    d_k, dk_ok = index_in(cat_ids, dt.category_ids)
    d_i, di_ok = index_in(img_ids, dt.image_ids)
    group = d_k * n_img + d_i
    det_sel, det_rank = greedy_order(np.flatnonzero(dk_ok & di_ok), group, dt.scores)
    rank = np.full(len(dt), np.iinfo(np.int64).max, np.int64)
    rank[det_sel] = det_rank
    det_sel = det_sel[det_rank < max_dets[-1]]

    table = build_pair_table(det_sel, group[det_sel], dt.boxes_xywh, gt_sel,
                             g_k[gt_sel] * n_img + g_i[gt_sel], gt.boxes_xywh, gt.iscrowd,
                             min_iou=min(float(thresholds.min()), MAX_THRESHOLD))
    match = greedy_match(table, thresholds, gt_ignore)  # int32[A, T, M]

    det_area = dt.boxes_xywh[:, 2] * dt.boxes_xywh[:, 3]
    det_outside = (det_area[None] < lo) | (det_area[None] > hi)  # [A, M]
    # accumulation order: category, then score desc (stable), ties by image then rank in image
    acc = det_sel[np.lexsort((det_sel, d_i[det_sel], -dt.scores[det_sel], d_k[det_sel]))]
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    # per maxDets: which entries of acc are kept, their new positions, the kept sequence
    prefixes = [(in_m, np.cumsum(in_m) - 1, acc[in_m]) for in_m in (rank[acc] < md for md in max_dets)]
    for a in range(A):
        # recall point r is reached at the first entry with tp / npig >= r, i.e. at the c_r-th TP
        counts_needed = _tp_counts_needed(num_gt[:, a], rec_thrs)  # [K, R]
        mt = match[a][:, acc]  # [T, n] matched GT or -1, accumulation order
        t_hit, p_hit = np.nonzero(mt >= 0)  # sorted by (t, position)
        g_hit = mt[t_hit, p_hit]
        for m, (in_m, new_pos, seq) in enumerate(prefixes):
            keep = in_m[p_hit]
            prec, rec, sc = _accumulate_one(
                seq_cats=d_k[seq], seq_scores=dt.scores[seq], seq_inside=~det_outside[a][seq],
                hit_t=t_hit[keep], hit_pos=new_pos[p_hit[keep]], hit_is_tp=~gt_ignore[a][g_hit[keep]],
                num_gt=num_gt[:, a], counts_needed=counts_needed, num_thresholds=T)
            precision[:, :, :, a, m], recall[:, :, a, m], scores[:, :, :, a, m] = prec, rec, sc
    return CocoEvaluation(params=p, image_ids=img_ids, category_ids=cat_ids,
                          category_names={c.id: c.name for c in gt.categories}, max_dets=max_dets,
                          precision=precision, recall=recall, scores=scores, num_gt=num_gt)
