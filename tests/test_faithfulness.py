"""cvdemo.explain.faithfulness: curves computed by hand, orderings against random and reversed maps, tilings,
the pointing game, and the ViT / DETR score functions against direct computations on tiny random models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from cvdemo.attention import upsample_heatmap
from cvdemo.explain import (
    PerturbationCurve,
    deletion_curve,
    detr_detection_score,
    insertion_curve,
    pointing_game_hit,
    random_curve,
    vit_class_score,
)
from cvdemo.explain.faithfulness import baseline_image, cell_index_map, cell_order, step_counts
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.vit import ViT, ViTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def left_half_mean(images: torch.Tensor) -> torch.Tensor:
    """[N, C, 2, 8] -> [N]: the mean over the two left cells of a 1 x 4 grid (columns 0..3)."""
    return images[:, :, :, :4].mean(dim=(1, 2, 3))


def striped_image() -> torch.Tensor:
    """[3, 2, 8]: four 2x2 cells (1 x 4 grid) of values 4, 0, 2, 6 in every channel; channel mean 3."""
    return torch.tensor([4.0, 0.0, 2.0, 6.0]).repeat_interleave(2).expand(3, 2, 8).clone()


HEATMAP = torch.tensor([[0.1, 0.9, 0.5, 0.3]])  # order: cell 1, 2, 3, 0


# ---------------------------------------------------------------------------------------------------------------
# Curves by hand


def test_deletion_curve_by_hand():
    curve = deletion_curve(left_half_mean, striped_image(), HEATMAP, steps=4, baseline="mean")
    # cells replaced by 3 in the order 1, 2, 3, 0; left half = cells 0 and 1
    assert isinstance(curve, PerturbationCurve) and curve.kind == "deletion"
    assert curve.fractions.dtype == np.float64 and curve.scores.dtype == np.float64
    np.testing.assert_allclose(curve.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curve.scores, [2.0, 3.5, 3.5, 3.5, 3.0])
    assert curve.auc == pytest.approx(0.25 * ((2 + 3.5) / 2 + 3.5 + 3.5 + (3.5 + 3) / 2))  # 3.25


def test_insertion_curve_by_hand():
    curve = insertion_curve(left_half_mean, striped_image(), HEATMAP, steps=4, baseline="mean")
    assert curve.kind == "insertion"
    np.testing.assert_allclose(curve.scores, [3.0, 1.5, 1.5, 1.5, 2.0])
    assert curve.auc == pytest.approx(1.75)


def test_steps_that_do_not_divide_the_cells():
    curve = deletion_curve(left_half_mean, striped_image(), HEATMAP, steps=3, baseline="mean")
    np.testing.assert_allclose(curve.fractions, [0, 0.25, 0.75, 1])  # round(4/3) = 1, round(8/3) = 3
    np.testing.assert_allclose(curve.scores, [2.0, 3.5, 3.5, 3.0])
    np.testing.assert_array_equal(step_counts(10, 4), [0, 3, 5, 8, 10])  # halves round up: 2.5 -> 3, 7.5 -> 8
    np.testing.assert_array_equal(step_counts(4, 8), [0, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(step_counts(7, 1), [0, 7])


def test_blur_baseline_ends_and_starts_the_curves():
    torch.manual_seed(0)
    image = torch.randn(3, 40, 56)

    def score(x):
        return x[:, 0, 10:30, 5:20].mean(dim=(1, 2)) + x[:, 2].std(dim=(1, 2))

    heatmap = torch.rand(5, 7)
    blurred = TF.gaussian_blur(image, kernel_size=[11, 11], sigma=[2.5, 2.5])  # short side 40: k = 11, sigma = 2.5
    torch.testing.assert_close(baseline_image(image, "blur"), blurred)
    torch.testing.assert_close(baseline_image(image, "mean"), image.mean(dim=(1, 2), keepdim=True).expand_as(image))
    d = deletion_curve(score, image, heatmap, steps=5)
    i = insertion_curve(score, image, heatmap, steps=5)
    both = score(torch.stack([image, blurred])).double().numpy()
    np.testing.assert_allclose([d.scores[0], d.scores[-1]], both, rtol=1e-6)
    np.testing.assert_allclose([i.scores[0], i.scores[-1]], both[::-1], rtol=1e-6)
    assert len(d.scores) == len(i.scores) == 6


def test_images_are_scored_in_batches_without_gradients():
    sizes = []

    def score(x):
        sizes.append(len(x))
        assert not torch.is_grad_enabled()
        return x.mean(dim=(1, 2, 3))

    image, heatmap = torch.randn(3, 16, 16, requires_grad=True), torch.rand(4, 4)
    curve = deletion_curve(score, image, heatmap, steps=7, batch_size=3)
    assert sizes == [3, 3, 2]
    np.testing.assert_array_equal(curve.scores, deletion_curve(score, image, heatmap, steps=7).scores)
    assert sizes[3:] == [8]


# ---------------------------------------------------------------------------------------------------------------
# A map on the right region beats random orders, which beat the reversed map


def object_scene() -> tuple[torch.Tensor, torch.Tensor]:
    """[3, 32, 32] image bright on rows 8..15, columns 8..23 (the object), and the 8x8 map of how much of each cell
    the object covers (with a little noise so no two cells tie)."""
    g = torch.Generator().manual_seed(3)
    image = torch.randn(3, 32, 32, generator=g) * 0.1
    image[:, 8:16, 8:24] += 1.0
    cover = torch.zeros(8, 8)
    cover[2:4, 2:6] = 1.0
    return image, cover + torch.rand(8, 8, generator=g) * 0.01


def object_score(x: torch.Tensor) -> torch.Tensor:
    return x[:, :, 8:16, 8:24].mean(dim=(1, 2, 3))


@pytest.mark.parametrize("baseline", ["mean", "blur"])
def test_right_map_beats_random_beats_reversed(baseline):
    image, heatmap = object_scene()
    right = deletion_curve(object_score, image, heatmap, baseline=baseline)
    rand = random_curve(object_score, image, heatmap.shape, baseline=baseline, seeds=range(5))
    wrong = deletion_curve(object_score, image, -heatmap, baseline=baseline)
    assert right.auc < rand.auc < wrong.auc
    # the object's 8 cells of 64 go first: after 1/8 of the run the score is already the all-baseline score
    assert right.fractions[2] == 0.125 and right.scores[2] == pytest.approx(right.scores[-1])
    right_in = insertion_curve(object_score, image, heatmap, baseline=baseline)
    rand_in = random_curve(object_score, image, heatmap.shape, kind="insertion", baseline=baseline, seeds=range(5))
    wrong_in = insertion_curve(object_score, image, -heatmap, baseline=baseline)
    assert right_in.auc > rand_in.auc > wrong_in.auc
    assert rand.kind == "deletion" and rand_in.kind == "insertion"


def test_random_curve_is_deterministic_and_is_the_mean_of_its_orders():
    image, _ = object_scene()
    a = random_curve(object_score, image, (8, 8), seeds=(4, 9), steps=8)
    b = random_curve(object_score, image, (8, 8), seeds=(4, 9), steps=8)
    np.testing.assert_array_equal(a.scores, b.scores)
    singles = []
    for seed in (4, 9):
        order = torch.randperm(64, generator=torch.Generator().manual_seed(seed))
        heatmap = torch.empty(64)
        heatmap[order] = torch.arange(64, 0, -1).float()  # the map whose order is this permutation
        singles.append(deletion_curve(object_score, image, heatmap.reshape(8, 8), steps=8))
        np.testing.assert_allclose(random_curve(object_score, image, (8, 8), seeds=(seed,), steps=8).scores,
                                   singles[-1].scores)
    np.testing.assert_allclose(a.scores, (singles[0].scores + singles[1].scores) / 2)
    assert a.auc == pytest.approx((singles[0].auc + singles[1].auc) / 2)
    assert not np.array_equal(singles[0].scores, singles[1].scores)


# ---------------------------------------------------------------------------------------------------------------
# Cells and tilings


@pytest.mark.parametrize("grid,size", [((3, 3), (7, 8)), ((5, 7), (64, 83)), ((4, 4), (64, 64)), ((1, 1), (5, 3)),
                                       ((6, 2), (6, 9))])
def test_cells_tile_any_image(grid, size):
    (h, w), (H, W) = grid, size
    cells = cell_index_map(grid, size)
    expected = torch.empty(H, W, dtype=torch.int64)
    for i in range(h):
        for j in range(w):
            expected[i * H // h:(i + 1) * H // h, j * W // w:(j + 1) * W // w] = i * w + j
    torch.testing.assert_close(cells, expected)


def test_non_multiple_tiling_curve_by_hand():
    """A 2 x 3 grid over 5 x 7 pixels: cell rows 0..1 / 2..4, columns 0..1 / 2..3 / 4..6 (cells of 4 to 9 pixels);
    the score counts the pixels that still hold their own value, so each step removes exactly its cells' areas."""
    image = torch.ones(1, 5, 7)
    image[0, 0, 0] = 0.0  # the channel mean is 34/35, a replaced pixel differs from a kept one

    def kept(x):  # how many pixels still hold their image value
        return (x == image[None]).flatten(1).sum(dim=1).double()

    heatmap = torch.tensor([[0.0, 5.0, 1.0], [4.0, 2.0, 3.0]])  # order: cells 1, 3, 5, 4, 2, 0
    areas = torch.tensor([2 * 2, 2 * 2, 2 * 3, 3 * 2, 3 * 2, 3 * 3])  # pixels of cells 0..5
    curve = deletion_curve(kept, image, heatmap, steps=6, baseline="mean")
    removed = torch.cumsum(areas[[1, 3, 5, 4, 2, 0]], 0)
    np.testing.assert_allclose(curve.scores, [35] + (35 - removed).tolist())
    np.testing.assert_array_equal(cell_order(heatmap), [1, 3, 5, 4, 2, 0])


def test_cell_order_breaks_ties_by_index():
    np.testing.assert_array_equal(cell_order(torch.tensor([[1.0, 2.0], [2.0, 1.0]])), [1, 2, 0, 3])
    np.testing.assert_array_equal(cell_order(np.zeros((2, 3))), [0, 1, 2, 3, 4, 5])


# ---------------------------------------------------------------------------------------------------------------
# Pointing game


def test_pointing_game_hits_misses_and_tolerance():
    heatmap = torch.zeros(4, 4)
    heatmap[1, 2] = 1.0  # on a 64 x 64 image: rows 16..31, columns 32..47, centre (x, y) = (40, 24)
    size = (64, 64)
    assert pointing_game_hit(heatmap, size, [[30, 10, 50, 30]])
    assert pointing_game_hit(heatmap, size, [[40, 24, 41, 25]])  # the centre on a box corner counts
    assert not pointing_game_hit(heatmap, size, [[0, 0, 20, 20]])
    assert pointing_game_hit(heatmap, size, [[0, 0, 20, 20], [35, 20, 45, 28]])  # any of the boxes
    assert not pointing_game_hit(heatmap, size, [[45, 24, 60, 40]])  # 5 px to the left of this box
    assert not pointing_game_hit(heatmap, size, [[45, 24, 60, 40]], tolerance_px=4.9)
    assert pointing_game_hit(heatmap, size, [[45, 24, 60, 40]], tolerance_px=5)
    assert pointing_game_hit(heatmap.numpy(), size, np.array([[30.0, 10, 50, 30]]))
    assert not pointing_game_hit(heatmap, size, np.zeros((0, 4)))
    assert not pointing_game_hit(torch.full((4, 4), 0.3), size, [[0, 0, 64, 64]])  # a constant map points nowhere
    tied = torch.zeros(4, 4)
    tied[3, 0] = tied[0, 3] = 1.0  # ties: the first in row-major order, cell (0, 3), centre (56, 8)
    assert pointing_game_hit(tied, size, [[50, 0, 64, 16]]) and not pointing_game_hit(tied, size, [[0, 48, 16, 64]])


@pytest.mark.parametrize("grid,size", [((4, 4), (64, 64)), ((5, 7), (64, 83)), ((3, 6), (40, 40))])
def test_pointing_game_points_where_the_upsampled_map_peaks(grid, size):
    g = torch.Generator().manual_seed(sum(size))
    cells = cell_index_map(grid, size)
    for _ in range(10):
        heatmap = torch.rand(grid, generator=g) * 0.2
        peak = int(torch.randint(grid[0] * grid[1], (1,), generator=g))
        heatmap.view(-1)[peak] = 1.0
        up = upsample_heatmap(heatmap, size)
        r, c = np.unravel_index(int(np.argmax(up)), up.shape)
        assert int(cells[r, c]) == peak
        ys, xs = torch.nonzero(cells == peak, as_tuple=True)
        box = [[float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1]]  # the peak cell
        assert pointing_game_hit(heatmap, size, box)
        assert pointing_game_hit(heatmap, size, [[c, r, c + 1, r + 1]], tolerance_px=max(size) / min(grid) / 2 + 1)


# ---------------------------------------------------------------------------------------------------------------
# Errors a user can act on


def test_bad_inputs_say_what_to_fix():
    image, heatmap = torch.randn(3, 16, 16), torch.rand(4, 4)
    score = object_score
    cases = [
        (lambda: deletion_curve(score, image[None], heatmap), "index the batch"),
        (lambda: deletion_curve(score, image, heatmap[None]), "index the batch"),
        (lambda: deletion_curve(score, image, torch.rand(17, 4)), "cannot tile"),
        (lambda: deletion_curve(score, image, heatmap, steps=0), "steps must be an integer >= 1"),
        (lambda: insertion_curve(score, image, heatmap, steps=2.5), "steps must be an integer >= 1"),
        (lambda: deletion_curve(score, image, heatmap, baseline="zero"), "baseline must be one of"),
        (lambda: deletion_curve(score, image, heatmap, batch_size=0), "batch_size"),
        (lambda: deletion_curve(score, image, heatmap * float("nan")), "NaN"),
        (lambda: deletion_curve(score, image.long(), heatmap), "float"),
        (lambda: deletion_curve(lambda x: x.mean(dim=(1, 2)), image, heatmap), "one score per image"),
        (lambda: random_curve(score, image, (4, 4), kind="removal"), "kind must be one of"),
        (lambda: random_curve(score, image, (4, 4), seeds=()), "at least one seed"),
        (lambda: random_curve(score, image, (4,)), "grid_size"),
        (lambda: pointing_game_hit(heatmap, (16, 16), [0, 0, 4, 4]), "[K, 4]"),
        (lambda: pointing_game_hit(heatmap, (16, 16), [[0, 0, 4, 4]], tolerance_px=-1), "tolerance_px"),
        (lambda: pointing_game_hit(heatmap, (2, 16), [[0, 0, 4, 4]]), "cannot tile"),
        (lambda: detr_detection_score(None, [0.5, 0.5, 0.2], 0), "4 numbers"),
        (lambda: detr_detection_score(None, [0.5, 0.5, 0.2, 0.2], 0, iou_threshold=1.5), "iou_threshold"),
    ]
    for call, words in cases:
        with pytest.raises(ValueError, match=None) as info:
            call()
        assert words in str(info.value), (words, str(info.value))


# ---------------------------------------------------------------------------------------------------------------
# Score functions on tiny random models


def tiny_vit() -> ViT:
    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape) * 0.3)
    return model.eval()


def test_vit_class_score_is_the_softmax_probability():
    model = tiny_vit()
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        got = vit_class_score(model, 3)(images)
        expected = torch.stack([model(x[None])["logits"][0].softmax(-1)[3] for x in images])
    assert got.shape == (4,) and bool(((got >= 0) & (got <= 1)).all())
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="out of range"), torch.no_grad():
        vit_class_score(model, 5)(images)
    curve = deletion_curve(vit_class_score(model, 3), images[0], torch.rand(4, 4), steps=4)
    assert curve.scores[0] == pytest.approx(float(expected[0]), rel=1e-5)


def tiny_detr() -> DETR:
    torch.manual_seed(0)
    return DETR(DETRConfig(**{**DETR_PRESETS["detr-tiny"], "num_classes": 3})).eval()


def naive_detection_score(model, images, box_cxcywh, target_class, thr):
    """The detection score written out query by query with a hand-made IoU."""
    def xyxy(b):
        cx, cy, w, h = (float(v) for v in b)
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
        return iw * ih / union

    ref = xyxy(box_cxcywh)
    scores = []
    for x in images:
        out = model(x[None])
        best = 0.0
        for logits, box in zip(out["pred_logits"][0], out["pred_boxes"][0]):
            if iou(xyxy(box), ref) >= thr:
                best = max(best, float(logits.softmax(-1)[target_class]))
        scores.append(best)
    return torch.tensor(scores)


def test_detr_detection_score_matches_a_direct_computation():
    model = tiny_detr()
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        out = model(images)
        box = out["pred_boxes"][0, 2]  # query 2's own box on image 0: IoU 1 there
        for thr in (0.5, 0.0, 0.9):
            got = detr_detection_score(model, box, 1, iou_threshold=thr)(images)
            assert got.shape == (3,) and bool(((got >= 0) & (got <= 1)).all())
            torch.testing.assert_close(got, naive_detection_score(model, images, box, 1, thr).float(),
                                       rtol=1e-5, atol=1e-6)
        probs = out["pred_logits"].softmax(-1)[..., 1]  # (3, Q)
        assert float(detr_detection_score(model, box, 1)(images[:1])[0]) >= float(probs[0, 2]) - 1e-6
        torch.testing.assert_close(detr_detection_score(model, box, 1, iou_threshold=0.0)(images), probs.amax(1))
        nowhere = detr_detection_score(model, [0.02, 0.02, 0.001, 0.001], 1)(images)
        torch.testing.assert_close(nowhere, torch.zeros(3))
        with pytest.raises(ValueError, match="no-object"):
            detr_detection_score(model, box, 3)(images)
