"""Box geometry: conversions, normalisation, IoU/GIoU parity with torchvision, degenerate boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.ops as tvops

from cvdemo import boxes as B

CONVERSION_PAIRS = [
    (B.box_xyxy_to_cxcywh, B.box_cxcywh_to_xyxy),
    (B.box_xyxy_to_xywh, B.box_xywh_to_xyxy),
    (B.box_cxcywh_to_xywh, B.box_xywh_to_cxcywh),
]


def random_xyxy(
    n: int, generator: torch.Generator, dtype=torch.float64, scale: float = 100.0
) -> torch.Tensor:
    """Valid xyxy boxes: positive width and height."""
    xy = torch.rand(n, 2, generator=generator, dtype=dtype) * scale
    wh = torch.rand(n, 2, generator=generator, dtype=dtype) * scale * 0.5 + scale * 1e-3
    return torch.cat([xy, xy + wh], dim=-1)


def test_conversions_match_independent_formulas_and_torchvision():
    g = torch.Generator().manual_seed(0)
    xyxy = random_xyxy(50, g)
    x0, y0, x1, y1 = xyxy.unbind(-1)
    cxcywh = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)
    xywh = torch.stack([x0, y0, x1 - x0, y1 - y0], -1)
    torch.testing.assert_close(B.box_xyxy_to_cxcywh(xyxy), cxcywh)
    torch.testing.assert_close(B.box_xyxy_to_xywh(xyxy), xywh)
    torch.testing.assert_close(B.box_cxcywh_to_xyxy(cxcywh), xyxy)
    torch.testing.assert_close(B.box_xywh_to_xyxy(xywh), xyxy)
    torch.testing.assert_close(B.box_cxcywh_to_xywh(cxcywh), xywh)
    torch.testing.assert_close(B.box_xywh_to_cxcywh(xywh), cxcywh)
    torch.testing.assert_close(B.box_cxcywh_to_xyxy(cxcywh), tvops.box_convert(cxcywh, "cxcywh", "xyxy"))
    torch.testing.assert_close(B.box_xyxy_to_cxcywh(xyxy), tvops.box_convert(xyxy, "xyxy", "cxcywh"))


@pytest.mark.parametrize("forward, backward", CONVERSION_PAIRS)
@pytest.mark.parametrize("shape", [(4,), (7, 4), (2, 3, 4), (0, 4)])
def test_conversions_round_trip_keep_type_shape_dtype(forward, backward, shape):
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        arr = rng.uniform(0, 50, size=shape).astype(dtype)
        for boxes in (arr, torch.from_numpy(arr.copy())):
            out = forward(boxes)
            assert type(out) is type(boxes)
            assert out.shape == boxes.shape and out.dtype == boxes.dtype
            back = backward(out)
            np.testing.assert_allclose(np.asarray(back), arr, rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(np.asarray(backward(forward(boxes))), np.asarray(back))
        # torch and numpy give the same numbers
        np.testing.assert_allclose(forward(arr), forward(torch.from_numpy(arr)).numpy(), rtol=1e-6)


def test_conversion_integer_inputs_and_lists():
    xyxy = torch.tensor([[0, 0, 10, 20]])
    assert B.box_xyxy_to_xywh(xyxy).dtype == torch.int64  # exact: stays integer
    assert B.box_xyxy_to_cxcywh(xyxy).dtype == torch.get_default_dtype()
    assert B.box_xyxy_to_cxcywh(np.array([[1, 1, 2, 2]])).dtype == np.float64
    np.testing.assert_allclose(B.box_xyxy_to_cxcywh([[1, 1, 3, 5]]), [[2, 3, 2, 4]])
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        B.box_xyxy_to_cxcywh(torch.zeros(3, 5))


def test_normalize_denormalize():
    g = torch.Generator().manual_seed(2)
    pix = random_xyxy(6, g, scale=300.0)
    height, width = 480.0, 640.0
    expected = pix / torch.tensor([width, height, width, height], dtype=pix.dtype)
    for fmt_boxes in (pix, B.box_xyxy_to_cxcywh(pix), B.box_xyxy_to_xywh(pix)):
        norm = B.normalize_boxes(fmt_boxes, (height, width))
        torch.testing.assert_close(B.denormalize_boxes(norm, (height, width)), fmt_boxes)
        np.testing.assert_allclose(B.normalize_boxes(fmt_boxes.numpy(), (height, width)), norm.numpy())
    torch.testing.assert_close(B.normalize_boxes(pix, (height, width)), expected)
    # Format independence: normalising commutes with the conversions.
    torch.testing.assert_close(
        B.box_xyxy_to_cxcywh(B.normalize_boxes(pix, (height, width))),
        B.normalize_boxes(B.box_xyxy_to_cxcywh(pix), (height, width)),
    )


def test_normalize_per_box_and_per_image_sizes():
    g = torch.Generator().manual_seed(3)
    boxes = torch.rand(3, 5, 4, generator=g)  # [B, Q, 4] normalised
    sizes = torch.tensor([[100.0, 200.0], [50.0, 60.0], [7.0, 9.0]])  # [B, 2] (h, w)
    out = B.denormalize_boxes(boxes, sizes)
    for i, (h, w) in enumerate(sizes.tolist()):
        torch.testing.assert_close(out[i], B.denormalize_boxes(boxes[i], (h, w)))
    # per-box sizes [N, 2] for boxes [N, 4], numpy boxes with a torch size too
    flat = boxes[0].numpy()
    per_box = np.array([[10.0, 20.0]] * 5)
    np.testing.assert_allclose(B.denormalize_boxes(flat, per_box), flat * [20, 10, 20, 10], rtol=1e-6)
    np.testing.assert_allclose(B.denormalize_boxes(flat, torch.from_numpy(per_box)), flat * [20, 10, 20, 10])
    with pytest.raises(ValueError, match="positive"):
        B.normalize_boxes(boxes, (0, 10))
    with pytest.raises(ValueError, match="height, width"):
        B.normalize_boxes(boxes, (1, 2, 3))
    # integer pixel boxes become floating
    assert B.normalize_boxes(torch.tensor([[0, 0, 5, 5]]), (10, 10)).is_floating_point()


def test_area_clamps_negative_extents():
    boxes = np.array([[0, 0, 2, 3], [2, 2, 1, 5], [0, 0, 0, 0], [1, 1, 3, 0]], dtype=np.float32)
    np.testing.assert_array_equal(B.box_area_xyxy(boxes), [6, 0, 0, 0])
    torch.testing.assert_close(B.box_area_xyxy(torch.from_numpy(boxes)), torch.tensor([6.0, 0, 0, 0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_iou_giou_parity_with_torchvision(dtype):
    g = torch.Generator().manual_seed(4)
    for scale in (1.0, 1000.0):
        a = random_xyxy(40, g, dtype=dtype, scale=scale)
        b = random_xyxy(30, g, dtype=dtype, scale=scale)
        b[:5] = a[:5]  # identical pairs too
        tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
        torch.testing.assert_close(B.box_iou_xyxy(a, b), tvops.box_iou(a, b), **tol)
        torch.testing.assert_close(B.generalized_box_iou_xyxy(a, b), tvops.generalized_box_iou(a, b), **tol)
        # numpy path equals torch path
        np.testing.assert_allclose(B.box_iou_xyxy(a.numpy(), b.numpy()), B.box_iou_xyxy(a, b).numpy(), **tol)
        np.testing.assert_allclose(
            B.generalized_box_iou_xyxy(a.numpy(), b.numpy()), B.generalized_box_iou_xyxy(a, b).numpy(), **tol
        )
        # elementwise == diagonal of pairwise
        n = 30
        torch.testing.assert_close(
            B.box_iou_xyxy_elementwise(a[:n], b), tvops.box_iou(a[:n], b).diagonal(), **tol
        )
        torch.testing.assert_close(
            B.generalized_box_iou_xyxy_elementwise(a[:n], b),
            tvops.generalized_box_iou(a[:n], b).diagonal(),
            **tol,
        )
        assert B.box_iou_xyxy(a, b).dtype == dtype


def test_iou_against_direct_scalar_formula():
    """An independent per-pair loop (the DETR paper's formulas) on a few hand-made boxes."""

    def direct(p, q):
        iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        inter = iw * ih
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
        enclose = (max(p[2], q[2]) - min(p[0], q[0])) * (max(p[3], q[3]) - min(p[1], q[1]))
        return inter / union, inter / union - (enclose - union) / enclose

    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 7], [0, 0, 4, 4], [0.5, 0.5, 1, 1]])
    iou, giou = B.box_iou_xyxy(boxes, boxes), B.generalized_box_iou_xyxy(boxes, boxes)
    for i, p in enumerate(boxes):
        for j, q in enumerate(boxes):
            ref_iou, ref_giou = direct(p, q)
            assert iou[i, j] == pytest.approx(ref_iou, abs=1e-12)
            assert giou[i, j] == pytest.approx(ref_giou, abs=1e-12)


def test_batched_pairwise():
    g = torch.Generator().manual_seed(5)
    a = random_xyxy(2 * 6, g).reshape(2, 6, 4)
    b = random_xyxy(2 * 4, g).reshape(2, 4, 4)
    out = B.generalized_box_iou_xyxy(a, b)
    assert out.shape == (2, 6, 4)
    for i in range(2):
        torch.testing.assert_close(out[i], tvops.generalized_box_iou(a[i], b[i]))


DEGENERATE = [
    [0.0, 0.0, 0.0, 0.0],  # point at the origin
    [0.0, 0.0, 0.0, 0.0],  # identical point
    [0.3, 0.3, 0.3, 0.3],  # another point
    [0.2, 0.1, 0.2, 0.9],  # vertical segment (zero width)
    [0.1, 0.5, 0.9, 0.5],  # horizontal segment (zero height)
    [0.8, 0.8, 0.2, 0.2],  # inverted (x1 < x0, y1 < y0)
    [0.5, 0.1, 0.4, 0.6],  # inverted in x only
    [0.1, 0.1, 0.6, 0.6],  # a valid box
    [0.1, 0.1, 0.6, 0.6],  # the same valid box
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_degenerate_boxes_finite_and_in_range(dtype):
    boxes = torch.tensor(DEGENERATE, dtype=dtype)
    for fn in (B.box_iou_xyxy, B.generalized_box_iou_xyxy):
        for arr in (boxes, boxes.numpy()):
            out = np.asarray(fn(arr, arr), dtype=np.float64)
            assert np.isfinite(out).all()
    iou = B.box_iou_xyxy(boxes, boxes)
    giou = B.generalized_box_iou_xyxy(boxes, boxes)
    assert ((iou >= 0) & (iou <= 1 + 1e-6)).all()
    assert ((giou >= -1 - 1e-6) & (giou <= 1 + 1e-6)).all()
    assert giou.dtype == (torch.float32 if dtype == torch.float16 else dtype)
    # Documented values: IoU with a zero-area box is 0 (identical points too) ...
    assert (iou[:7] == 0).all() and (iou[:, :7] == 0).all()
    assert iou[7, 8] == 1 and giou[7, 8] == 1
    # ... GIoU of identical points is 0, of two distinct points whose enclosing box has an area ~ -1.
    assert giou[0, 1] == 0
    assert giou[0, 2] == pytest.approx(-1.0, abs=1e-6)
    # elementwise variants agree with the pairwise diagonal on degenerate input
    torch.testing.assert_close(B.generalized_box_iou_xyxy_elementwise(boxes, boxes), giou.diagonal())
    torch.testing.assert_close(B.box_iou_xyxy_elementwise(boxes, boxes), iou.diagonal())


def test_giou_gradients_finite_on_degenerate_boxes():
    g = torch.Generator().manual_seed(6)
    deg = torch.tensor(DEGENERATE, dtype=torch.float32)
    # DETR-like: predictions in cxcywh from a sigmoid that may saturate to w = h = 0
    cxcywh = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.2, 0.2, 1e-30, 0.3], [0.0, 0.0, 0.0, 0.0]])
    pred = torch.cat([deg, B.box_cxcywh_to_xyxy(cxcywh), random_xyxy(4, g, torch.float32, 1.0)])
    pred.requires_grad_(True)
    target = torch.cat([deg, random_xyxy(3, g, torch.float32, 1.0)])
    loss = (1 - B.generalized_box_iou_xyxy(pred, target)).sum()
    loss = loss + (1 - B.generalized_box_iou_xyxy_elementwise(pred, pred.detach().flip(0))).sum()
    loss = loss + B.box_iou_xyxy(pred, target).sum()
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all()


def test_mixed_backends_rejected():
    with pytest.raises(TypeError, match="both"):
        B.box_iou_xyxy(torch.zeros(1, 4), np.zeros((1, 4)))
