"""How far a heatmap can be trusted: deletion / insertion curves, their AUC, a random-order baseline, the pointing game.

Deletion and insertion follow Petsiuk et al., *RISE: Randomized Input Sampling for Explanation of Black-box
Models* (BMVC 2018), with cells ordered "most relevant first" as pytorch-grad-cam's perturbation metrics do:

    deletion   start from the image and replace its most relevant cells by a baseline, step by step, until all
               are replaced; a faithful map makes the score fall fast (LOW area under the curve).
    insertion  start from the baseline and put the image's most relevant cells back first; a faithful map makes
               the score rise fast (HIGH area under the curve).

Compare a map's AUC with `random_curve` (the same curve for random cell orders): a map no better than random
says little about what the model uses. The pointing game (Zhang et al., *Top-down Neural Attention by Excitation
Backprop*, ECCV 2016 / IJCV 2018) asks only whether the map's maximum falls on the right object.

Contracts:
    image       [C, H, W] float, normalised exactly as fed to the model (C = 3 for RGB); on the model's device.
    heatmap     [h, w] float over a grid that tiles the image, larger = more relevant (h <= H, w <= W).
    cell (i, j) covers rows floor(i*H/h) .. floor((i+1)*H/h) - 1 and columns floor(j*W/w) .. floor((j+1)*W/w) - 1,
                so any grid tiles any image (for a ViT it is exactly its patches; for DETR its feature map).
    ScoreFn     images [N, C, H, W] -> scores [N] (float), e.g. `vit_class_score` or `detr_detection_score`.
    boxes_xyxy  [K, 4] pixel (x0, y0, x1, y1), x right and y down, pixel (r, c) covering [c, c+1) x [r, r+1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.ops import box_convert, box_iou

__all__ = ["BASELINES", "PerturbationCurve", "ScoreFn", "baseline_image", "cell_index_map", "cell_order",
           "deletion_curve", "detr_detection_score", "insertion_curve", "pointing_game_hit", "random_curve",
           "step_counts", "vit_class_score"]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]  # normalised images [N, C, H, W] -> [N] float scores
BASELINES = ("blur", "mean")
KINDS = ("deletion", "insertion")


@dataclass
class PerturbationCurve:
    """One deletion or insertion curve: S + 1 points, from no cell changed to every cell changed.

    fractions  np.float64 [S+1], 0 .. 1: share of the cells removed (deletion) or inserted (insertion)
    scores     np.float64 [S+1]: the score function on each perturbed image (for `random_curve`, the mean over seeds)
    auc        trapezoid area under scores over fractions (lower = more faithful for deletion, higher for insertion)
    kind       "deletion" or "insertion"
    """

    fractions: np.ndarray
    scores: np.ndarray
    auc: float
    kind: str


# ---------------------------------------------------------------------------------------------------------------
# Score functions


def vit_class_score(model: torch.nn.Module, target_class: int) -> ScoreFn:
    """Score of a `cvdemo.models.vit.ViT` (or any model returning {"logits": [N, classes]}): the softmax probability
    of `target_class`, [N] in [0, 1]. The model's train/eval mode is the caller's: put it in eval mode first."""
    target = int(target_class)

    def score(images: torch.Tensor) -> torch.Tensor:
        logits = model(images)["logits"]  # (N, classes)
        if not 0 <= target < logits.shape[-1]:
            raise ValueError(f"target_class {target} is out of range: the model has {logits.shape[-1]} classes")
        return logits.float().softmax(dim=-1)[:, target]

    return score


def detr_detection_score(model: torch.nn.Module, box_cxcywh: torch.Tensor | Sequence[float], target_class: int,
                         iou_threshold: float = 0.5) -> ScoreFn:
    """Score of one DETR detection on perturbed images, [N] in [0, 1].

    box_cxcywh: the detection's box, normalised (cx, cy, w, h) in [0, 1] as DETR's `pred_boxes`; target_class:
    its class index (not the no-object index C). For each image: softmax over the C+1 logits of every query, then
    the largest p(target_class) among the queries whose predicted box has IoU >= iou_threshold with the given box;
    0 when no query qualifies.

    Why not follow the original query: DETR's queries are a set, and the Hungarian-trained decoder may hand an
    object to another query when the image changes (a query that "owned" the object can drift to another one as
    cells are removed while a neighbour takes over). Scoring "is this object, of this class, still detected at
    roughly this place, by any query" measures the detection, not one query slot; the IoU gate keeps a detection of
    another object of the same class from counting. The model's mode is the caller's: put it in eval mode first.
    """
    ref = torch.as_tensor(box_cxcywh, dtype=torch.float32).detach().cpu().reshape(-1)
    if ref.numel() != 4:
        raise ValueError(f"box_cxcywh must hold 4 numbers (cx, cy, w, h), got {ref.numel()}")
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    ref_xyxy = box_convert(ref[None], "cxcywh", "xyxy")  # (1, 4)
    target, thr = int(target_class), float(iou_threshold)

    def score(images: torch.Tensor) -> torch.Tensor:
        out = model(images)
        logits, boxes = out["pred_logits"].float(), out["pred_boxes"].float()  # (N, Q, C+1), (N, Q, 4)
        if not 0 <= target < logits.shape[-1] - 1:
            raise ValueError(f"target_class {target} is out of range: the model has {logits.shape[-1] - 1} classes "
                             f"(index {logits.shape[-1] - 1} is no-object)")
        n, q = logits.shape[:2]
        prob = logits.softmax(dim=-1)[..., target]  # (N, Q)
        pred_xyxy = box_convert(boxes.reshape(-1, 4), "cxcywh", "xyxy")  # (N*Q, 4)
        iou = box_iou(pred_xyxy, ref_xyxy.to(pred_xyxy.device)).reshape(n, q)  # (N, Q)
        # p >= 0, so a 0 for every query below the threshold gives 0 when none qualifies
        return torch.where(iou >= thr, prob, torch.zeros_like(prob)).amax(dim=1)

    return score


# ---------------------------------------------------------------------------------------------------------------
# Cells, orders and baselines


def _grid_size(grid: Sequence[int] | torch.Size) -> tuple[int, int]:
    if len(grid) != 2:
        raise ValueError(f"grid_size must be (h, w), got {tuple(grid)}")
    h, w = int(grid[0]), int(grid[1])
    if h < 1 or w < 1:
        raise ValueError(f"grid_size must be positive, got {(h, w)}")
    return h, w


def cell_index_map(grid_size: Sequence[int], image_size: Sequence[int]) -> torch.Tensor:
    """[H, W] int64: the row-major index i * w + j of the cell (i, j) that covers each pixel.

    Cell (i, j) covers rows floor(i*H/h) .. floor((i+1)*H/h) - 1 (and the same for columns), so every pixel belongs
    to exactly one cell and any (h, w) <= (H, W) tiles the image, multiple or not."""
    h, w = _grid_size(grid_size)
    H, W = int(image_size[0]), int(image_size[1])
    if h > H or w > W:
        raise ValueError(f"a {h}x{w} grid cannot tile a {H}x{W} image: every cell needs at least one pixel "
                         f"(use a coarser heatmap or a larger image)")
    # the cell row of pixel row r is the largest i with floor(i*H/h) <= r, i.e. i*H < (r+1)*h: ((r+1)*h - 1) // H
    rows = ((torch.arange(H) + 1) * h - 1) // H
    cols = ((torch.arange(W) + 1) * w - 1) // W
    return rows[:, None] * w + cols[None, :]


def cell_order(heatmap: torch.Tensor | np.ndarray) -> torch.Tensor:
    """[h*w] int64 row-major cell indices, most relevant first; ties keep index order (a stable sort), so results
    are deterministic."""
    m = _heatmap(heatmap)
    flat = m.reshape(-1).double().numpy()
    return torch.from_numpy(np.argsort(-flat, kind="stable").astype(np.int64))


def step_counts(num_cells: int, steps: int) -> np.ndarray:
    """[S+1] int64: how many cells are changed at each point, round(k * N / S) for k = 0 .. S (halves round up,
    computed in integers so it is exact); starts at 0 and ends at N."""
    n, s = int(num_cells), _steps(steps)
    k = np.arange(s + 1, dtype=np.int64)
    return (2 * k * n + s) // (2 * s)


def baseline_image(image: torch.Tensor, baseline: str = "blur") -> torch.Tensor:
    """[C, H, W] what a removed cell shows, same dtype and device as the image.

    "blur": a Gaussian blur of the whole (normalised) image, as RISE's insertion baseline: kernel k = 2 *
            floor(min(H, W) / 8) + 1 (odd, about a quarter of the short side: 17 at 64 px, 33 at 128, 57 at 224),
            sigma = (k - 1) / 4 (the kernel spans +-2 sigma: 4 px at 64, 8 at 128, 14 at 224). Images under 8 px
            get k = 1 (no blur). A blur keeps large flat shapes recognisable: measured on vit-shapes (64 px, 50
            fresh images), the predicted class keeps p > 0.5 on 42% of fully blurred images (74% with sigma =
            (k - 1) / 6), against a mean p of 0.17 for the "mean" baseline: a blurred deletion curve ends high.
    "mean": each channel's mean over the image (a flat image of the average colour).
    """
    _image(image)
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if baseline == "mean":
        return image.mean(dim=(1, 2), keepdim=True).expand_as(image).clone()
    k = 2 * (min(image.shape[-2:]) // 8) + 1
    if k == 1:
        return image.clone()
    sigma = (k - 1) / 4.0
    return TF.gaussian_blur(image, kernel_size=[k, k], sigma=[sigma, sigma])


# ---------------------------------------------------------------------------------------------------------------
# Curves


def deletion_curve(score_fn: ScoreFn, image: torch.Tensor, heatmap: torch.Tensor | np.ndarray, steps: int = 16,
                   baseline: str = "blur", batch_size: int = 16) -> PerturbationCurve:
    """Deletion curve of a heatmap (RISE): replace the most relevant cells by the baseline first.

    image [C, H, W] normalised; heatmap [h, w] tiling it (see the module docstring); `steps` evaluations after the
    unperturbed image (S + 1 points), step k having round(k * N / S) of the N cells replaced. Images go through
    `score_fn` in batches of `batch_size` under torch.no_grad(). Lower AUC = more faithful."""
    _image(image)
    m = _heatmap(heatmap)
    return _curve(score_fn, image, tuple(m.shape), cell_order(m), "deletion", steps, baseline, batch_size)


def insertion_curve(score_fn: ScoreFn, image: torch.Tensor, heatmap: torch.Tensor | np.ndarray, steps: int = 16,
                    baseline: str = "blur", batch_size: int = 16) -> PerturbationCurve:
    """Insertion curve of a heatmap (RISE): start from the baseline and put the most relevant cells back first.

    Same arguments and points as `deletion_curve`. Higher AUC = more faithful."""
    _image(image)
    m = _heatmap(heatmap)
    return _curve(score_fn, image, tuple(m.shape), cell_order(m), "insertion", steps, baseline, batch_size)


def random_curve(score_fn: ScoreFn, image: torch.Tensor, grid_size: Sequence[int], kind: str = "deletion",
                 steps: int = 16, baseline: str = "blur", seeds: Sequence[int] = (0, 1, 2),
                 batch_size: int = 16) -> PerturbationCurve:
    """The same curve for random cell orders over a (h, w) grid: one order per seed (`torch.randperm` with a
    `torch.Generator` seeded by it, so the result is deterministic per seed), scores averaged over the seeds
    (the AUC of the mean curve is the mean of the AUCs). The reference a map's AUC must beat."""
    _image(image)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("random_curve needs at least one seed")
    h, w = _grid_size(grid_size)
    curves = [_curve(score_fn, image, (h, w), torch.randperm(h * w, generator=torch.Generator().manual_seed(s)),
                     kind, steps, baseline, batch_size) for s in seeds]
    fractions = curves[0].fractions
    scores = np.mean([c.scores for c in curves], axis=0)
    return PerturbationCurve(fractions, scores, float(np.trapezoid(scores, fractions)), kind)


def _curve(score_fn: ScoreFn, image: torch.Tensor, grid_size: tuple[int, int], order: torch.Tensor, kind: str,
           steps: int, baseline: str, batch_size: int) -> PerturbationCurve:
    """Score the S + 1 images where the first counts[k] cells of `order` are replaced (deletion) or kept (insertion)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    h, w = grid_size
    counts = step_counts(h * w, steps)  # (S+1,)
    cells = cell_index_map((h, w), image.shape[-2:])  # (H, W) cell index of each pixel
    rank = torch.empty(h * w, dtype=torch.int64)
    rank[order] = torch.arange(h * w)  # rank[cell] = its place in the order, 0 = first changed
    pixel_rank = rank[cells].to(image.device)  # (H, W)
    scores = []
    with torch.no_grad():
        base = baseline_image(image, baseline)
        first, second = (base, image) if kind == "deletion" else (image, base)  # changed cells show `first`
        for start in range(0, len(counts), int(batch_size)):
            chunk = torch.as_tensor(counts[start:start + int(batch_size)], device=image.device)  # (n,)
            changed = pixel_rank[None] < chunk[:, None, None]  # (n, H, W)
            batch = torch.where(changed[:, None], first[None], second[None])  # (n, C, H, W)
            s = score_fn(batch)
            if not isinstance(s, torch.Tensor) or s.shape != (len(chunk),):
                shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ValueError(f"score_fn must return one score per image, shape ({len(chunk)},); got {shape}")
            scores.append(s.detach().double().cpu())
    scores_np = torch.cat(scores).numpy()
    fractions = counts.astype(np.float64) / (h * w)
    return PerturbationCurve(fractions, scores_np, float(np.trapezoid(scores_np, fractions)), kind)


# ---------------------------------------------------------------------------------------------------------------
# Pointing game


def pointing_game_hit(heatmap: torch.Tensor | np.ndarray, image_size: Sequence[int],
                      boxes_xyxy: torch.Tensor | np.ndarray | Sequence[Sequence[float]],
                      tolerance_px: float = 0.0) -> bool:
    """Pointing game (Zhang et al. 2016): does the map's maximum fall inside any box grown by tolerance_px?

    heatmap [h, w] tiling an image of image_size (H, W); boxes_xyxy [K, 4] pixel (x0, y0, x1, y1) (K = 0: a miss).
    The maximum is the centre of the cell with the largest value (ties: the first in row-major order), in pixel
    coordinates ((c0 + c1) / 2, (r0 + r1) / 2) from the cell's pixel bounds. That is where the map upsampled with
    `cvdemo.attention.upsample_heatmap` (bilinear) peaks too, without interpolation round-off or ties between the
    pixels around the centre, and it works for any tiling. A point on a box edge counts as inside. A constant map
    has no maximum to point with: it is a miss (so a zero relevance map never scores by luck).
    Zhang et al. use tolerance_px = 15 at their image sizes.
    """
    m = _heatmap(heatmap)
    h, w = m.shape
    H, W = int(image_size[0]), int(image_size[1])
    cell_index_map((h, w), (H, W))  # validates the tiling
    if float(tolerance_px) < 0:
        raise ValueError(f"tolerance_px must be >= 0, got {tolerance_px}")
    boxes = torch.as_tensor(np.asarray(boxes_xyxy, dtype=np.float64)) if not isinstance(boxes_xyxy, torch.Tensor) \
        else boxes_xyxy.detach().double().cpu()
    if boxes.numel() == 0:
        return False
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes_xyxy must be [K, 4] pixel (x0, y0, x1, y1), got shape {tuple(boxes.shape)}")
    flat = m.reshape(-1)
    if bool((flat == flat[0]).all()):
        return False
    i, j = divmod(int(cell_order(m)[0]), w)
    y = (i * H // h + (i + 1) * H // h) / 2.0
    x = (j * W // w + (j + 1) * W // w) / 2.0
    t = float(tolerance_px)
    inside = (boxes[:, 0] - t <= x) & (x <= boxes[:, 2] + t) & (boxes[:, 1] - t <= y) & (y <= boxes[:, 3] + t)
    return bool(inside.any())


# ---------------------------------------------------------------------------------------------------------------
# Validation


def _image(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        shape = tuple(image.shape) if hasattr(image, "shape") else type(image).__name__
        raise ValueError(f"image must be one normalised [C, H, W] tensor (index the batch first), got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"image must be float (normalised as fed to the model), got {image.dtype}")


def _heatmap(heatmap: torch.Tensor | np.ndarray) -> torch.Tensor:
    m = heatmap if isinstance(heatmap, torch.Tensor) else torch.as_tensor(np.asarray(heatmap))
    m = m.detach().cpu()
    if m.ndim != 2:
        raise ValueError(f"heatmap must be one [h, w] map (index the batch first), got shape {tuple(m.shape)}")
    if m.numel() == 0:
        raise ValueError("heatmap is empty")
    m = m.double()
    if not torch.isfinite(m).all():
        raise ValueError("heatmap holds NaN or inf values")
    return m


def _steps(steps: int) -> int:
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return int(steps)
