"""Relevance of one DETR detection through the whole model (Chefer, Gur, Wolf, ICCV 2021).

"Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers",
section 3, the encoder-decoder case (the rules of their DETR code, `Transformer-MM-Explainability`):

    tokens: i = the HW image tokens of the encoder (the flattened feature map, row-major),
            q = the Q object queries of the decoder.
    start:  R_ii = I [HW, HW],  R_qq = I [Q, Q],  R_qi = 0 [Q, HW]
    for each encoder layer (self-attention A_ii):
            R_ii += Abar_ii @ R_ii                                       (eq. 6)
    for each decoder layer, first its self-attention A_qq:
            R_qq += Abar_qq @ R_qq;   R_qi += Abar_qq @ R_qi             (eqs. 6-7)
    then its cross-attention A_qi (queries attend to image tokens):
            R_qi += norm(R_qq)^T @ Abar_qi @ norm(R_ii)                  (eq. 10, normalised by eqs. 8-9)
    where Abar = mean over heads of (grad A ⊙ A)^+ (negatives clamped to 0 before the mean), grad A the
    gradient of the target with respect to the attention probabilities A, and
    norm(R) = Rhat / (row sums of Rhat) + I with Rhat = R - I (a row of Rhat summing to 0 stays 0).
    The detection's map is R_qi's row for its query, reshaped to the (h, w) feature map.

Target: the query's class logit (pre-softmax `pred_logits`, by default the query's most likely real class),
or, with target="box", one coordinate of its predicted box (cx, cy, w or h of `pred_boxes`, after the sigmoid).

Tensor contract (B images, Q queries, (h, w) the backbone feature map, HW = h * w, row-major):
    pixel_values [B, 3, H, W] normalised (`cvdemo.models.image_processing.prepare_detr_inputs`),
    pixel_mask [B, H, W] (1 = real pixel) or None, query_index: one int or B ints.
    Returns {"image": [B, h, w] (>= 0; 0 on padded cells), "queries": [B, Q] (R_qq's row: how much the
    detection draws on each query), "target_class": [B] int64, "feature_size": (h, w),
    "pred_logits": [B, Q, C+1], "pred_boxes": [B, Q, 4] (detached)}, in the attentions' dtype.
The model's parameters get no `.grad` and its training flag is restored (the map is computed in eval mode).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

logger = logging.getLogger(__name__)

BOX_COORDINATES = ("cx", "cy", "w", "h")
TARGETS = ("class", "box")


def head_mean_positive(attention: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """Abar: [B, heads, N, M] attention and its gradient -> [B, N, M], mean over heads of (grad ⊙ A)^+."""
    return (gradient * attention).clamp(min=0).mean(dim=1)


def normalize_residual(relevance: torch.Tensor) -> torch.Tensor:
    """Chefer's eqs. 8-9 on a square [B, N, N] self-relevance: (R - I) with each row divided by its sum, plus I.

    Rows of R - I that sum to 0 (no relevance gathered yet) stay 0 instead of dividing by zero.
    """
    eye = torch.eye(relevance.shape[-1], dtype=relevance.dtype, device=relevance.device)
    hat = relevance - eye
    sums = hat.sum(dim=-1, keepdim=True)
    hat = torch.where(sums != 0, hat / torch.where(sums != 0, sums, torch.ones_like(sums)), torch.zeros_like(hat))
    return hat + eye


def _query_indices(query_index: int | Sequence[int] | torch.Tensor, batch: int, num_queries: int,
                   device: torch.device) -> torch.Tensor:
    q = torch.as_tensor(query_index, dtype=torch.int64, device=device).reshape(-1)
    if q.numel() == 1:
        q = q.expand(batch)
    if q.numel() != batch:
        raise ValueError(f"query_index needs one query or {batch} (one per image), got {q.numel()}")
    if ((q < 0) | (q >= num_queries)).any():
        raise ValueError(f"query_index must be in [0, {num_queries}), got {q.tolist()}")
    return q.clone()


def _target_classes(target_class, logits: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """[B] class per image: the query's most likely real class (not "no object") unless given."""
    B, _, C1 = logits.shape
    rows = logits[torch.arange(B, device=logits.device), queries]  # (B, C+1)
    if target_class is None:
        return rows[:, :-1].argmax(dim=1)
    t = torch.as_tensor(target_class, dtype=torch.int64, device=logits.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(B)
    if t.numel() != B:
        raise ValueError(f"target_class needs one class or {B} (one per image), got {t.numel()}")
    if ((t < 0) | (t >= C1)).any():
        raise ValueError(f"target_class must be in [0, {C1}) (the last is no-object), got {t.tolist()}")
    return t.clone()


def detr_attention_gradients(model: torch.nn.Module, pixel_values: torch.Tensor,
                             query_index: int | Sequence[int] | torch.Tensor,
                             pixel_mask: torch.Tensor | None = None, target: str = "class",
                             target_class: int | Sequence[int] | torch.Tensor | None = None,
                             box_coordinate: str | None = None) -> dict:
    """One forward with attention and one backward of the target to every attention map of a `DETR`.

    Returns {"encoder": (attentions, gradients), "decoder": (...), "cross": (...)}, each a pair of tuples of
    per-layer [B, heads, N, M] tensors (encoder [HW, HW], decoder [Q, Q], cross [Q, HW]), plus "query_index"
    [B], "target_class" [B], "feature_size", "feature_mask" [B, h, w], "pred_logits", "pred_boxes"; all detached.
    The target of image b is its own query's logit (or box coordinate), so images in a batch do not mix.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("explanations need gradients: call them outside torch.inference_mode()")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if target == "box" and box_coordinate not in BOX_COORDINATES:
        raise ValueError(f"target='box' needs box_coordinate in {BOX_COORDINATES}, got {box_coordinate!r}")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            # a leaf input that needs a gradient keeps the maps in the graph even with frozen parameters
            x = pixel_values.detach().requires_grad_(True)
            out = model(x, pixel_mask=pixel_mask, return_attention=True)
            logits, boxes = out["pred_logits"], out["pred_boxes"]
            B, Q, _ = logits.shape
            queries = _query_indices(query_index, B, Q, logits.device)
            classes = _target_classes(target_class, logits.detach(), queries)
            batch = torch.arange(B, device=logits.device)
            if target == "class":
                score = logits[batch, queries, classes].sum()
            else:
                score = boxes[batch, queries, BOX_COORDINATES.index(box_coordinate)].sum()
            groups = {"encoder": out["encoder_attentions"], "decoder": out["decoder_attentions"],
                      "cross": out["cross_attentions"]}
            flat = [a for maps in groups.values() for a in maps]
            grads = torch.autograd.grad(score, flat)  # only w.r.t. the maps: parameters get no .grad
    finally:
        model.train(was_training)
    result, start = {}, 0
    for name, maps in groups.items():
        n = len(maps)
        result[name] = (tuple(a.detach() for a in maps), tuple(grads[start:start + n]))
        start += n
    result.update(query_index=queries, target_class=classes, feature_size=tuple(out["feature_size"]),
                  feature_mask=out["feature_mask"], pred_logits=logits.detach(), pred_boxes=boxes.detach())
    return result


def detr_relevance(model: torch.nn.Module, pixel_values: torch.Tensor,
                   query_index: int | Sequence[int] | torch.Tensor, pixel_mask: torch.Tensor | None = None,
                   target: str = "class", target_class: int | Sequence[int] | torch.Tensor | None = None,
                   box_coordinate: str | None = None) -> dict:
    """Relevance map of one detection per image (see the module docstring for the rules and the contract).

    model: a `cvdemo.models.detr.DETR`; query_index: the detection's query (one int, or one per image);
    target: "class" (the query's class logit; target_class None = its most likely real class) or "box"
    (box_coordinate "cx" | "cy" | "w" | "h").
    """
    g = detr_attention_gradients(model, pixel_values, query_index, pixel_mask, target, target_class,
                                 box_coordinate)
    enc_a, enc_g = g["encoder"]
    dec_a, dec_g = g["decoder"]
    cross_a, cross_g = g["cross"]
    B, _, Q, HW = cross_a[0].shape
    dtype, device = cross_a[0].dtype, cross_a[0].device
    r_ii = torch.eye(HW, dtype=dtype, device=device).expand(B, HW, HW)
    for a, grad in zip(enc_a, enc_g):
        r_ii = r_ii + head_mean_positive(a, grad) @ r_ii
    r_qq = torch.eye(Q, dtype=dtype, device=device).expand(B, Q, Q)
    r_qi = torch.zeros(B, Q, HW, dtype=dtype, device=device)
    norm_ii = normalize_residual(r_ii)  # the encoder's relevance is final before the decoder starts
    for a_qq, g_qq, a_qi, g_qi in zip(dec_a, dec_g, cross_a, cross_g):
        cam_qq = head_mean_positive(a_qq, g_qq)
        r_qq = r_qq + cam_qq @ r_qq
        r_qi = r_qi + cam_qq @ r_qi
        cam_qi = head_mean_positive(a_qi, g_qi)
        r_qi = r_qi + normalize_residual(r_qq).transpose(1, 2) @ cam_qi @ norm_ii
    batch = torch.arange(B, device=device)
    queries = g["query_index"]
    h, w = g["feature_size"]
    image = r_qi[batch, queries].reshape(B, h, w) * g["feature_mask"].to(dtype)
    return {"image": image, "queries": r_qq[batch, queries], "target_class": g["target_class"],
            "feature_size": (h, w), "pred_logits": g["pred_logits"], "pred_boxes": g["pred_boxes"]}
