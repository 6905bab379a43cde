"""cvdemo.explain against naive second implementations on tiny random ViTs (CLS, average pooling, 32x48, DeiT
with a distillation token, register tokens)."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

from cvdemo.attention import attention_rollout
from cvdemo.explain import (
    attention_gradients,
    gradient_rollout,
    mean_attention_distance,
    read_patch_map,
    vit_relevance,
)
from cvdemo.models.vit import ViT, ViTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIGS = {
    "cls": dict(image_size=32, class_token=True, global_pool="token"),
    "gap": dict(image_size=32, class_token=False, global_pool="avg"),
    "nonsquare": dict(image_size=(32, 48), class_token=True, global_pool="token"),
    "deit": dict(image_size=32, class_token=True, global_pool="token", distilled=True),
    "deit_nonsquare": dict(image_size=(48, 32), class_token=True, global_pool="token", distilled=True),
    "registers": dict(image_size=(32, 48), class_token=True, global_pool="token", reg_tokens=2,
                      no_embed_class=True),
    "registers_gap": dict(image_size=32, class_token=False, global_pool="avg", reg_tokens=1, no_embed_class=True),
}


def _model(kind: str, seed: int = 0) -> ViT:
    """Tiny random ViT (8 px patches, 3 blocks), weights moved off init so attention is far from uniform."""
    torch.manual_seed(seed)
    model = ViT(ViTConfig(patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=4, **CONFIGS[kind]))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
    return model.eval()


def _images(model: ViT, batch: int = 2, seed: int = 3) -> torch.Tensor:
    h, w = model.config.image_hw
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _naive_attention_and_grads(model: ViT, x: torch.Tensor, target: list[int]):
    """Attention maps and their gradients by another mechanism: retain_grad + backward on a copy."""
    clone = copy.deepcopy(model)
    out = clone(x, return_attention=True)
    for a in out["attentions"]:
        a.retain_grad()
    score = sum(out["logits"][b, t] for b, t in enumerate(target))
    score.backward()
    attn = [a.detach().double() for a in out["attentions"]]
    grads = [a.grad.double() for a in out["attentions"]]
    return attn, grads, out["grid_size"]


def _naive_read(R: torch.Tensor, cfg: ViTConfig, grid: tuple[int, int]) -> torch.Tensor:
    """One image's [T, T] -> [gh, gw]: class-token row (a distilled DeiT: the average of the class and the
    distillation token's rows, token 1), or the plain average of the patch rows; registers are never read."""
    T = R.shape[0]
    P = int(cfg.class_token) + int(cfg.distilled) + cfg.reg_tokens
    if cfg.global_pool == "token" and cfg.distilled:
        row = (R[0, P:] + R[1, P:]) / 2
    elif cfg.global_pool == "token":
        row = R[0, P:]
    else:
        row = torch.zeros(T - P, dtype=R.dtype)
        for i in range(P, T):
            row = row + R[i, P:]
        row = row / (T - P)
    return row.reshape(grid)


def _naive_relevance(model: ViT, x: torch.Tensor, target: list[int]) -> torch.Tensor:
    """Chefer's generic rule, per image and per head: R = I; R += mean_h (grad_h * A_h)^+ @ R."""
    attn, grads, grid = _naive_attention_and_grads(model, x, target)
    maps = []
    for b in range(x.shape[0]):
        T = attn[0].shape[-1]
        R = torch.eye(T, dtype=torch.float64)
        for a, g in zip(attn, grads):
            heads = a.shape[1]
            cam = torch.zeros(T, T, dtype=torch.float64)
            for h in range(heads):
                cam = cam + torch.clamp(g[b, h] * a[b, h], min=0.0)
            cam = cam / heads
            R = R + torch.mm(cam, R)
        maps.append(_naive_read(R, model.config, grid))
    return torch.stack(maps)


def _naive_gradient_rollout(model: ViT, x: torch.Tensor, target: list[int]) -> torch.Tensor:
    """vit-explain's gradient rollout without discard: mean_h(A*grad), clamp, (F + I)/2, row-normalise, chain."""
    attn, grads, grid = _naive_attention_and_grads(model, x, target)
    maps = []
    for b in range(x.shape[0]):
        T = attn[0].shape[-1]
        roll = torch.eye(T, dtype=torch.float64)
        for a, g in zip(attn, grads):
            heads = a.shape[1]
            fused = sum(a[b, h] * g[b, h] for h in range(heads)) / heads
            fused = torch.clamp(fused, min=0.0)
            m = (fused + torch.eye(T, dtype=torch.float64)) / 2
            for i in range(T):
                m[i] = m[i] / m[i].sum()
            roll = torch.mm(m, roll)
        maps.append(_naive_read(roll, model.config, grid))
    return torch.stack(maps)


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_vit_relevance_matches_naive_chefer_rule(kind):
    model = _model(kind)
    x = _images(model)
    target = [1, 3]
    got = vit_relevance(model, x, target_class=target)
    gh, gw = model.config.grid_size
    assert got.shape == (2, gh, gw)
    want = _naive_relevance(model, x, target)
    assert want.abs().max() > 1e-3  # the gradient terms are not vanishing on this random model
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=0)
    # None -> each image's predicted class
    predicted = model(x)["logits"].argmax(dim=1).tolist()
    torch.testing.assert_close(vit_relevance(model, x), vit_relevance(model, x, target_class=predicted))


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_gradient_rollout_matches_naive_vit_explain(kind):
    model = _model(kind)
    x = _images(model)
    target = [2, 0]
    got = gradient_rollout(model, x, target_class=target)
    gh, gw = model.config.grid_size
    assert got.shape == (2, gh, gw)
    torch.testing.assert_close(got.double(), _naive_gradient_rollout(model, x, target), atol=1e-5, rtol=0)


def test_nonsquare_grid_is_rows_by_columns():
    model = _model("nonsquare")
    assert model.config.grid_size == (4, 6)
    assert vit_relevance(model, _images(model, batch=1)).shape == (1, 4, 6)
    # a row-major read: token P + r * gw + c lands at [r, c]
    R = torch.zeros(1, 2 + 24, 2 + 24)
    R[0, 0, 2 + 1 * 6 + 5] = 1.0
    m = read_patch_map(R, (4, 6), num_prefix_tokens=2, global_pool="token")
    assert m[0, 1, 5] == 1.0 and m.sum() == 1.0


def test_distilled_deit_is_read_on_both_tokens_and_registers_never():
    """A distilled DeiT's map is the mean of rows 0 and 1, differing from row 0 alone; register rows are not read."""
    model = _model("deit")
    x = _images(model, batch=1)
    R = torch.rand(1, 18, 18, generator=torch.Generator().manual_seed(5))
    both = read_patch_map(R, (4, 4), 2, "token", readout_rows=(0, 1))
    torch.testing.assert_close(both, ((R[:, 0, 2:] + R[:, 1, 2:]) / 2).reshape(1, 4, 4))
    cls_only = read_patch_map(R, (4, 4), 2, "token")  # the default stays the class token's row
    torch.testing.assert_close(cls_only, R[:, 0, 2:].reshape(1, 4, 4))
    with pytest.raises(ValueError, match="readout_rows"):
        read_patch_map(R, (4, 4), 2, "token", readout_rows=(2,))  # a patch row is no readout row
    g = attention_gradients(model, x, 1)
    rows = [read_patch_map(attention_rollout(g["attentions"]), (4, 4), 2, "token", readout_rows=(r,))
            for r in (0, 1)]
    assert (rows[0] - rows[1]).abs().max() > 1e-4  # the two tokens look at different patches
    reg = _model("registers")
    assert reg.config.num_prefix_tokens == 3 and reg.config.readout_rows == (0,)
    R = torch.zeros(1, 3 + 24, 3 + 24)
    R[0, 1:3, 3:] = 1.0  # what only the registers' rows hold is never read
    R[0, 0, 3 + 7] = 2.0
    m = read_patch_map(R, (4, 6), 3, "token", readout_rows=reg.config.readout_rows)
    assert m[0, 1, 1] == 2.0 and m.sum() == 2.0


def test_vit_run_reads_a_distilled_deit_on_both_tokens():
    """cvdemo.vit_run's read_out (the app's rollout and raw attention) agrees with read_patch_map."""
    from cvdemo.vit_run import layer_attention_heatmap, rollout_heatmap, run_vit

    model = _model("deit_nonsquare")
    image = torch.randint(0, 256, (48, 32, 3), generator=torch.Generator().manual_seed(6)).numpy().astype("uint8")
    run = run_vit(model, image)
    assert run.readout_rows == (0, 1) and run.num_prefix_tokens == 2 and run.grid_size == (6, 4)
    att = torch.from_numpy(run.attentions)[:, None]  # (L, 1, heads, T, T)
    want = read_patch_map(attention_rollout(list(att)), (6, 4), 2, "token", readout_rows=(0, 1))[0]
    torch.testing.assert_close(torch.from_numpy(rollout_heatmap(run)), want)
    want = read_patch_map(att[1, :, 0], (6, 4), 2, "token", readout_rows=(0, 1))[0]
    torch.testing.assert_close(torch.from_numpy(layer_attention_heatmap(run, 1, 0)), want)
    reg = run_vit(_model("registers"), image)  # no_embed_class: pos_embed has the patch rows only
    assert reg.readout_rows == (0,) and reg.num_prefix_tokens == 3 and reg.pos_similarity.shape == (4, 6, 4, 6)
    assert rollout_heatmap(reg).shape == (4, 6)


def test_relevance_depends_on_the_class_and_rollout_does_not():
    model = _model("cls")
    x = _images(model, batch=1)
    r0, r1 = vit_relevance(model, x, 0), vit_relevance(model, x, 1)
    assert (r0 - r1).abs().max() > 1e-3 * r0.abs().max()
    g0, g1 = gradient_rollout(model, x, 0), gradient_rollout(model, x, 1)
    assert not torch.allclose(g0, g1)
    rollouts = [attention_rollout(attention_gradients(model, x, c)["attentions"]) for c in (0, 1)]
    torch.testing.assert_close(rollouts[0], rollouts[1], atol=0, rtol=0)


@pytest.mark.parametrize("fn", [vit_relevance, gradient_rollout])
def test_model_left_unchanged(fn):
    model = _model("gap").train()  # a training-mode caller gets its flag back
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fn(model, _images(model))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    model.eval()
    with torch.no_grad():  # works from a no_grad caller too, and from a frozen model
        for p in model.parameters():
            p.requires_grad_(False)
        frozen = fn(model, _images(model))
    assert not model.training and all(p.grad is None for p in model.parameters())
    for p in model.parameters():
        p.requires_grad_(True)
    torch.testing.assert_close(frozen, fn(model, _images(model)))


def test_inference_mode_and_bad_targets_raise():
    model = _model("cls")
    x = _images(model)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        vit_relevance(model, x)
    with pytest.raises(ValueError, match="target_class"):
        vit_relevance(model, x, target_class=4)
    with pytest.raises(ValueError, match="one per image"):
        vit_relevance(model, x, target_class=[0, 1, 2])


def _grid_positions(gh: int, gw: int, patch: int) -> list[tuple[float, float]]:
    return [(r * patch, c * patch) for r in range(gh) for c in range(gw)]


def test_mean_attention_distance_self_attention_is_zero():
    gh, gw, P, heads = 4, 6, 2, 3
    T = P + gh * gw
    eye = torch.eye(T).expand(2, heads, T, T)
    mad = mean_attention_distance([eye, eye], (gh, gw), patch_size=8, num_prefix_tokens=P)
    assert mad.shape == (2, heads)
    assert torch.equal(mad, torch.zeros(2, heads))


def test_mean_attention_distance_uniform_is_mean_pairwise_distance():
    gh, gw, P, patch = 4, 6, 2, 8
    N, T = gh * gw, P + gh * gw
    pos = _grid_positions(gh, gw, patch)
    brute = sum(math.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.product(pos, pos)) / N**2
    uniform = torch.zeros(1, 2, T, T)
    uniform[..., :P] = 0.15  # mass on the prefix keys is dropped and the rows renormalised
    uniform[..., P:] = 0.7 / N
    local = torch.eye(T).expand(1, 2, T, T)
    mixed = torch.stack([uniform[:, 0], local[:, 0]], dim=1)  # head 0 global, head 1 local
    mad = mean_attention_distance([uniform, mixed], (gh, gw), patch_size=patch, num_prefix_tokens=P)
    assert mad.shape == (2, 2)
    torch.testing.assert_close(mad, torch.tensor([[brute, brute], [brute, 0.0]]), atol=1e-5, rtol=0)


def test_mean_attention_distance_on_a_model_and_its_batch_mean():
    model = _model("nonsquare")
    x = _images(model, batch=2)
    atts = model(x, return_attention=True)["attentions"]
    both = mean_attention_distance(atts, (4, 6), 8, model.config.num_prefix_tokens)
    one = [mean_attention_distance([a[i:i + 1] for a in atts], (4, 6), 8, 1) for i in range(2)]
    torch.testing.assert_close(both, (one[0] + one[1]) / 2)
    assert both.shape == (3, 2) and (both >= 0).all()
    with pytest.raises(ValueError, match="T = 1"):
        mean_attention_distance(atts, (4, 4), 8, 1)


def _two_region_vit() -> ViT:
    """A hand-set ViT whose class 0 reads the left half of the image and class 1 the right half.

    1 block, 1 head, width 8, 4 px patches on an 8x16 input (a 2x4 grid). The class token attends to every
    patch alike (q = k = 0); a patch's value is its position embedding, 3 * e0 on the left two columns and
    3 * e1 on the right two (patch pixels are ignored: zero patch projection); the MLP is off; the head reads
    channel 0 for class 0 and channel 1 for class 1. So logit c grows with the attention to region c's patches.
    """
    model = ViT(ViTConfig(image_size=(8, 16), patch_size=4, num_classes=2, embed_dim=8, depth=1, num_heads=1)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for norm in (model.blocks[0].norm1, model.blocks[0].norm2, model.norm):
            norm.weight.fill_(1.0)
        v = model.blocks[0].attn.qkv.weight[16:24]  # rows of v (q, k stay 0: uniform attention)
        v.copy_(torch.eye(8))
        model.blocks[0].attn.proj.weight.copy_(torch.eye(8))
        grid = model.pos_embed[0, 1:].view(2, 4, 8)
        grid[:, :2, 0] = 3.0  # left columns
        grid[:, 2:, 1] = 3.0  # right columns
        model.head.weight[0, 0] = 1.0
        model.head.weight[1, 1] = 1.0
    return model


def test_relevance_concentrates_on_each_class_region_where_rollout_cannot_tell():
    model = _two_region_vit()
    x = torch.randn(1, 3, 8, 16, generator=torch.Generator().manual_seed(0))
    out = model(x, return_attention=True)
    torch.testing.assert_close(out["attentions"][0][0, 0, 0], torch.full((9,), 1 / 9))  # uniform from the CLS
    for cls, region in ((0, slice(0, 2)), (1, slice(2, 4))):
        r = vit_relevance(model, x, cls)[0]  # (2, 4)
        assert r.min() >= 0
        share = float(r[:, region].sum() / r.sum())
        assert share > 0.99, (cls, r)
    rollouts = [read_patch_map(attention_rollout(attention_gradients(model, x, c)["attentions"]), (2, 4), 1, "token")
                for c in (0, 1)]
    torch.testing.assert_close(rollouts[0], rollouts[1], atol=0, rtol=0)
    flat = rollouts[0][0]
    assert float(flat.max() - flat.min()) < 1e-6  # rollout: the same weight on every patch, whatever the class
