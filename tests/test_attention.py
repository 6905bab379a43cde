"""Attention rollout against a direct loop implementation of Abnar & Zuidema, and the heatmap helpers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from cvdemo.attention import (
    attention_rollout,
    cls_attention_map,
    encoder_attention_at,
    fuse_heads,
    point_to_grid_index,
    query_attention_map,
    upsample_heatmap,
)
from cvdemo.models.vit import ViT, ViTConfig


def _random_attentions(layers: int, batch: int, heads: int, tokens: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (batch, heads, tokens, tokens)
    return [torch.softmax(torch.randn(shape, generator=g, dtype=torch.float64) * 2, dim=-1)
            for _ in range(layers)]


def _direct_rollout(attentions, head_fusion, discard_ratio, start_layer=0, prefix=1) -> np.ndarray:
    """Abnar & Zuidema written out with loops, one image at a time, in float64 numpy."""
    batch, heads, tokens, _ = attentions[0].shape
    result = np.zeros((batch, tokens, tokens))
    for b in range(batch):
        rollout = np.eye(tokens)
        for layer in attentions[start_layer:]:
            a = layer[b].numpy()
            fused = np.empty((tokens, tokens))
            for i in range(tokens):
                for j in range(tokens):
                    values = [a[h, i, j] for h in range(heads)]
                    fusions = {"mean": sum(values) / heads, "max": max(values), "min": min(values)}
                    fused[i, j] = fusions[head_fusion]
            # candidates: entries outside the CLS rows/columns; zero the lowest int(ratio * count)
            patches = range(prefix, tokens)
            candidates = sorted((fused[i, j], i, j) for i in patches for j in patches)
            for _, i, j in candidates[: int(discard_ratio * len(candidates))]:
                fused[i, j] = 0.0
            step = np.empty((tokens, tokens))
            for i in range(tokens):
                row = [(fused[i, j] + (1.0 if i == j else 0.0)) / 2 for j in range(tokens)]
                total = sum(row)
                step[i] = [v / total for v in row]
            rollout = step @ rollout
        result[b] = rollout
    return result


@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.4])
def test_rollout_matches_direct_implementation(head_fusion, discard_ratio):
    attentions = _random_attentions(layers=4, batch=3, heads=3, tokens=1 + 3 * 4, seed=0)
    ours = attention_rollout(attentions, head_fusion=head_fusion, discard_ratio=discard_ratio)
    expected = _direct_rollout(attentions, head_fusion, discard_ratio)
    assert ours.shape == (3, 13, 13)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(ours.sum(-1).numpy(), 1.0, atol=1e-12)
    assert not np.allclose(expected[0], expected[1])  # the images differ, so per-image handling is tested


def test_rollout_start_layer_and_no_prefix():
    attentions = _random_attentions(layers=3, batch=2, heads=2, tokens=9, seed=1)
    ours = attention_rollout(attentions, head_fusion="max", discard_ratio=0.5, start_layer=1,
                             num_prefix_tokens=0)
    np.testing.assert_allclose(ours.numpy(), _direct_rollout(attentions, "max", 0.5, 1, prefix=0), atol=1e-12)


def test_rollout_discards_per_image_and_keeps_cls():
    """Each image's result equals rolling it out alone (the reference code discards only for image 0)."""
    attentions = _random_attentions(layers=2, batch=3, heads=2, tokens=10, seed=2)
    batch = attention_rollout(attentions, discard_ratio=0.7)
    for b in range(3):
        alone = attention_rollout([a[b : b + 1] for a in attentions], discard_ratio=0.7)
        torch.testing.assert_close(batch[b : b + 1], alone, atol=1e-12, rtol=0)
    # One layer: the CLS row and column keep every weight, only patch-to-patch entries are dropped.
    one = attention_rollout(attentions[:1], discard_ratio=0.9)
    fused = attentions[0].mean(1)
    step = (fused + torch.eye(10, dtype=torch.float64)) / 2
    torch.testing.assert_close(one[:, 0], step[:, 0] / step[:, 0].sum(-1, keepdim=True), atol=1e-12, rtol=0)
    assert (one[:, 1:, 0] > 0).all()
    for b in range(3):  # int(0.9 * 9 * 9) = 72 dropped; only the 9 diagonal ones come back (+ I)
        assert (one[b, 1:, 1:] == 0).sum() >= 72 - 9


def test_rollout_rows_sum_to_one_on_a_vit_and_bf16():
    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=3)
    model = ViT(cfg).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 32, 48), return_attention=True)
    for fusion in ("mean", "max", "min"):
        r = attention_rollout(out["attentions"], head_fusion=fusion, discard_ratio=0.2)
        assert r.shape == (2, 25, 25) and r.dtype == torch.float32
        torch.testing.assert_close(r.sum(-1), torch.ones(2, 25), atol=1e-5, rtol=0)
        heat = cls_attention_map(r, out["grid_size"])
        assert heat.shape == (2, 4, 6)
    r16 = attention_rollout([a.bfloat16() for a in out["attentions"]])
    assert r16.dtype == torch.float32
    torch.testing.assert_close(r16.sum(-1), torch.ones(2, 25), atol=1e-5, rtol=0)


def test_rollout_rejects_bad_arguments():
    attentions = _random_attentions(layers=2, batch=1, heads=2, tokens=5, seed=3)
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(attentions, head_fusion="median")
    with pytest.raises(ValueError, match="discard_ratio"):
        attention_rollout(attentions, discard_ratio=1.0)
    with pytest.raises(ValueError, match="start_layer"):
        attention_rollout(attentions, start_layer=2)
    with pytest.raises(ValueError, match="at least one"):
        attention_rollout([])
    with pytest.raises(ValueError, match="one shape"):
        attention_rollout([attentions[0], attentions[1][:, :, :4, :4]])


def test_fuse_heads():
    a = _random_attentions(layers=1, batch=2, heads=3, tokens=4, seed=4)[0]
    torch.testing.assert_close(fuse_heads(a, "max"), torch.maximum(torch.maximum(a[:, 0], a[:, 1]), a[:, 2]))
    torch.testing.assert_close(fuse_heads(a, "min"), torch.minimum(torch.minimum(a[:, 0], a[:, 1]), a[:, 2]))
    torch.testing.assert_close(fuse_heads(a, "mean"), (a[:, 0] + a[:, 1] + a[:, 2]) / 3)


def test_cls_attention_map_places_each_patch_in_its_cell():
    gh, gw = 3, 4
    tokens = 1 + gh * gw
    for row in range(gh):
        for col in range(gw):
            att = torch.zeros(2, tokens, tokens)
            att[:, 0, 1 + row * gw + col] = 1.0  # CLS looks only at patch (row, col)
            heat = cls_attention_map(att, (gh, gw))
            assert heat.shape == (2, gh, gw)
            assert heat[0, row, col] == 1 and heat.sum() == 2
    with pytest.raises(ValueError, match="grid"):
        cls_attention_map(torch.zeros(1, tokens, tokens), (4, 4))
    with pytest.raises(ValueError, match="fuse heads"):
        cls_attention_map(torch.zeros(1, 2, tokens, tokens), (gh, gw))


def _indexed_attention(batch, heads, queries, keys):
    """att[b, h, q, k] = a distinct value per index, so a wrong selection cannot go unnoticed."""
    ranges = (torch.arange(n, dtype=torch.float64) for n in (batch, heads, queries, keys))
    b, h, q, k = torch.meshgrid(*ranges, indexing="ij")
    return b * 1e6 + h * 1e4 + q * 1e2 + k


def test_encoder_attention_at_point():
    h, w = 3, 5
    att = _indexed_attention(2, 4, h * w, h * w)
    assert point_to_grid_index((0.0, 0.0), (h, w)) == (0, 0)
    assert point_to_grid_index((1.0, 1.0), (h, w)) == (h - 1, w - 1)
    assert point_to_grid_index((0.5, 0.45), (h, w)) == (1, 2)
    heat = encoder_attention_at(att, (h, w), (0.5, 0.45), head=2)
    expected = torch.stack([att[b, 2, 1 * w + 2].reshape(h, w) for b in range(2)])
    torch.testing.assert_close(heat, expected, atol=0, rtol=0)
    mean = encoder_attention_at(att, (h, w), (0.99, 0.0))
    torch.testing.assert_close(mean, att[:, :, 2 * w + 0].mean(1).reshape(2, h, w))
    fused = encoder_attention_at(att.mean(1), (h, w), (0.99, 0.0))
    torch.testing.assert_close(fused, mean)
    with pytest.raises(ValueError, match="normalised"):
        encoder_attention_at(att, (h, w), (1.5, 0.2))
    with pytest.raises(ValueError, match="grid"):
        encoder_attention_at(att, (4, 4), (0.5, 0.5))


def test_query_attention_map():
    h, w, queries = 4, 3, 7
    att = _indexed_attention(2, 3, queries, h * w)
    torch.testing.assert_close(query_attention_map(att, (h, w), 5, head=1), att[:, 1, 5].reshape(2, h, w))
    torch.testing.assert_close(query_attention_map(att, (h, w), 5), att[:, :, 5].mean(1).reshape(2, h, w))
    with pytest.raises(ValueError, match="query_index"):
        query_attention_map(att, (h, w), queries)
    with pytest.raises(ValueError, match="head"):
        query_attention_map(att, (h, w), 0, head=3)


def test_upsample_heatmap_matches_opencv():
    rng = np.random.default_rng(5)
    small = rng.random((4, 6)).astype(np.float32)
    ours = upsample_heatmap(torch.from_numpy(small), (40, 90))
    ref = cv2.resize(small, (90, 40), interpolation=cv2.INTER_LINEAR)  # half-pixel centres, like ours
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    assert ours.shape == (40, 90) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ours.min() == 0.0 and ours.max() == 1.0
    constant = upsample_heatmap(np.full((3, 3), 0.2), (5, 5))
    np.testing.assert_array_equal(constant, np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        upsample_heatmap(np.array([[np.nan, 1.0], [0.0, 1.0]]), (4, 4))
    with pytest.raises(ValueError, match=r"\[h, w\]"):
        upsample_heatmap(np.zeros((1, 3, 3)), (4, 4))
