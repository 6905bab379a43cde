"""cvdemo.explain.detr: Chefer's encoder-decoder relevance for DETR, against a naive second implementation."""

from __future__ import annotations

import copy

import pytest
import torch

from cvdemo.explain import detr_relevance
from cvdemo.explain.detr import normalize_residual
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(seed: int = 0, **overrides) -> DETR:
    torch.manual_seed(seed)
    cfg = {**DETR_PRESETS["detr-tiny"], "num_classes": 5, "encoder_layers": 2, "decoder_layers": 3,
           "num_queries": 6, **overrides}
    model = DETR(DETRConfig(**cfg)).double().eval()
    with torch.no_grad():  # a random model's attention is near uniform: sharpen it so the rules are exercised
        for p in model.transformer.parameters():
            p.mul_(3.0)
    return model


def _naive_maps_and_grads(model: DETR, x: torch.Tensor, query: int, target: str = "class", cls=None, coord=0):
    """One image: the attention maps with `retain_grad` and a plain `.backward()` on a copy of the model."""
    model = copy.deepcopy(model)
    out = model(x, return_attention=True)
    maps = list(out["encoder_attentions"]) + list(out["decoder_attentions"]) + list(out["cross_attentions"])
    for a in maps:
        a.retain_grad()
    logits = out["pred_logits"][0, query]
    if target == "class":
        cls = int(logits[:-1].argmax()) if cls is None else cls
        logits[cls].backward()
    else:
        out["pred_boxes"][0, query, coord].backward()
    E, L = len(out["encoder_attentions"]), len(out["decoder_attentions"])
    pairs = [(a.detach()[0], a.grad[0]) for a in maps]  # each (heads, N, M), one image
    return pairs[:E], pairs[E:E + L], pairs[E + L:], out["feature_size"], cls


def _naive_cam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    heads, n, m = a.shape
    cam = torch.zeros(n, m, dtype=a.dtype)
    for h in range(heads):
        for i in range(n):
            for j in range(m):
                cam[i, j] += max(0.0, float(g[h, i, j] * a[h, i, j])) / heads
    return cam


def _naive_norm(r: torch.Tensor) -> torch.Tensor:
    n = r.shape[0]
    out = r.clone()
    for i in range(n):
        row = [float(r[i, j]) - (1.0 if i == j else 0.0) for j in range(n)]
        total = sum(row)
        for j in range(n):
            out[i, j] = (row[j] / total if total != 0 else 0.0) + (1.0 if i == j else 0.0)
    return out


def _naive_relevance(model, x, query, **kw):
    enc, dec, cross, (h, w), cls = _naive_maps_and_grads(model, x, query, **kw)
    hw, q = h * w, cross[0][0].shape[1]
    r_ii = torch.eye(hw, dtype=x.dtype)
    for a, g in enc:
        r_ii = r_ii + _naive_cam(a, g) @ r_ii
    r_qq, r_qi = torch.eye(q, dtype=x.dtype), torch.zeros(q, hw, dtype=x.dtype)
    for (a_qq, g_qq), (a_qi, g_qi) in zip(dec, cross):
        cam = _naive_cam(a_qq, g_qq)
        r_qq = r_qq + cam @ r_qq
        r_qi = r_qi + cam @ r_qi
        r_qi = r_qi + _naive_norm(r_qq).T @ _naive_cam(a_qi, g_qi) @ _naive_norm(r_ii)
    return r_qi[query].reshape(h, w), r_qq[query], cls


@pytest.mark.parametrize("query", [0, 4])
def test_detr_relevance_matches_a_naive_implementation_of_the_rules(query):
    model = _model()
    torch.manual_seed(1)
    x = torch.randn(1, 3, 32, 48, dtype=torch.float64)  # a 4x6 feature map: not square
    got = detr_relevance(model, x, query)
    image, queries, cls = _naive_relevance(model, x, query)
    assert got["image"].shape == (1, 4, 6) and got["feature_size"] == (4, 6)
    assert int(got["target_class"][0]) == cls
    torch.testing.assert_close(got["image"][0], image, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(got["queries"][0], queries, rtol=1e-5, atol=1e-8)
    assert got["image"].min() >= 0 and got["image"].max() > 0


def test_box_target_and_a_chosen_class_follow_the_naive_rules_too():
    model = _model(seed=2)
    torch.manual_seed(3)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    got = detr_relevance(model, x, 2, target="box", box_coordinate="w")
    image, _, _ = _naive_relevance(model, x, 2, target="box", coord=2)
    torch.testing.assert_close(got["image"][0], image, rtol=1e-5, atol=1e-8)
    got = detr_relevance(model, x, 2, target_class=3)
    image, _, _ = _naive_relevance(model, x, 2, cls=3)
    torch.testing.assert_close(got["image"][0], image, rtol=1e-5, atol=1e-8)
    assert int(got["target_class"][0]) == 3


def test_images_of_a_batch_do_not_mix_and_padding_gets_nothing():
    model = _model(seed=4)
    torch.manual_seed(5)
    a = torch.randn(1, 3, 32, 48, dtype=torch.float64)
    b = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    batch = torch.zeros(2, 3, 32, 48, dtype=torch.float64)
    batch[0], batch[1, :, :, :32] = a[0], b[0]
    mask = torch.zeros(2, 32, 48, dtype=torch.int64)
    mask[0], mask[1, :, :32] = 1, 1
    got = detr_relevance(model, batch, [1, 3], pixel_mask=mask)
    alone = detr_relevance(model, a, 1)
    torch.testing.assert_close(got["image"][0], alone["image"][0], rtol=1e-5, atol=1e-8)
    assert torch.all(got["image"][1, :, 4:] == 0)  # the padded columns of the second image
    assert got["image"][1, :, :4].sum() > 0


def test_normalize_residual_rows_sum_to_two_and_empty_rows_stay_identity():
    r = torch.eye(3, dtype=torch.float64)[None].clone()
    r[0, 0, 1], r[0, 0, 2] = 1.0, 3.0  # row 0 gathered relevance, rows 1 and 2 did not
    n = normalize_residual(r)[0]
    torch.testing.assert_close(n[0], torch.tensor([1.0, 0.25, 0.75], dtype=torch.float64))
    torch.testing.assert_close(n[1:], torch.eye(3, dtype=torch.float64)[1:])


def test_model_left_unchanged_and_bad_arguments_raise():
    model = _model(seed=6).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    detr_relevance(model, x, 0)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="query_index"):
        detr_relevance(model, x, 6)
    with pytest.raises(ValueError, match="box_coordinate"):
        detr_relevance(model, x, 0, target="box")
    with pytest.raises(ValueError, match="target must be"):
        detr_relevance(model, x, 0, target="mask")
    with torch.inference_mode(), pytest.raises(RuntimeError, match="gradients"):
        detr_relevance(model, x, 0)


def test_a_frozen_model_gives_the_same_map():
    """The registry loads models frozen: the first decoder self-attention then reads only frozen tensors."""
    model = _model(seed=7)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    trainable = detr_relevance(model, x, 2)
    for p in model.parameters():
        p.requires_grad_(False)
    frozen = detr_relevance(model, x, 2)
    torch.testing.assert_close(frozen["image"], trainable["image"])
    torch.testing.assert_close(frozen["queries"], trainable["queries"])
    assert not any(p.requires_grad for p in model.parameters())
