"""Feature hints (FitNets-style distillation) for a ViT trained from scratch: an auxiliary loss that asks the
patch tokens after one block to predict, through a linear head used only in training, the feature map of a
frozen convolutional teacher at the same grid positions.

Why: on cvdemo's shapes (random colours over textured backgrounds) a ViT from scratch sits at chance for
thousands of steps, because it must first find features that ignore the colours; with a colour-free input
(|pixel - median colour|) the same ViT learns at once. A CNN backbone that already knows these shapes (the
shipped ``detr-shapes``: ResNet-18 to layer2, stride 8 -> an 8x8 map at 64 px, the ViT's patch grid) gives
that signal per token. The student stays a plain ViT: the head is dropped, and inference never sees the
teacher.

Contract: ``FeatureHint.loss(model, pixel_values)`` with the student's normalised ``pixel_values``
[B, 3, H, W] (the teacher's input is rebuilt from them with each model's mean/std) runs the student's forward
pass once and returns (its output dict, MSE between head(tokens after ``block``) [B, T, C] and the teacher's
features [B, T, C] standardised per channel over the batch; under DistributedDataParallel over the global
batch, so N processes train as one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeatureHint"]


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _global_mean_std(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of ``tokens`` [B, T, C] over every process's batch, so that N
    processes standardise as one process with the whole global batch would: each [1, 1, C]."""
    flat = tokens.reshape(-1, tokens.shape[-1]).double()
    packed = torch.cat([flat.new_tensor([flat.shape[0]]), flat.sum(0), flat.square().sum(0)])
    torch.distributed.all_reduce(packed)
    count, total, squares = packed[0], packed[1:1 + flat.shape[1]], packed[1 + flat.shape[1]:]
    mean = total / count
    var = (squares - count * mean.square()) / (count - 1)
    shape = (1, 1, -1)
    return mean.view(shape).to(tokens.dtype), var.clamp_min(0).sqrt().view(shape).to(tokens.dtype)


class FeatureHint(nn.Module):
    """A frozen teacher backbone and the trainable linear head of the hint loss.

    Args:
        teacher: a module mapping normalised images [B, 3, H, W] to features [B, C, H / s, W / s]
            with ``num_channels`` = C and ``stride`` = s (a `cvdemo.models.backbone.ResNetBackbone`).
        teacher_mean, teacher_std: the teacher's input normalisation (per RGB channel, on [0, 1] pixels).
        student_mean, student_std: the student's (to undo it).
        student_dim: width of the student's tokens.
        patch_size: the student's patch size; must equal the teacher's stride (same grid).
        block: index of the student block whose output is hinted.
        weight: factor of the hint loss in the total.
    """

    def __init__(self, teacher: nn.Module, teacher_mean, teacher_std, student_mean, student_std,
                 student_dim: int, patch_size: int, block: int = 1, weight: float = 1.0) -> None:
        super().__init__()
        stride = int(getattr(teacher, "stride", 0))
        if stride != patch_size:
            raise ValueError(f"the hint teacher's output stride ({stride}) must equal the ViT's patch size "
                             f"({patch_size}) so that both grids line up")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.head = nn.Linear(student_dim, int(teacher.num_channels))
        self.block = block
        self.weight = weight
        for name, value in (("teacher_mean", teacher_mean), ("teacher_std", teacher_std),
                            ("student_mean", student_mean), ("student_std", student_std)):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> FeatureHint:
        super().train(mode)
        self.teacher.eval()  # its BatchNorm statistics stay as they are
        return self

    @torch.no_grad()
    def teacher_tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Student-normalised pixels [B, 3, H, W] -> teacher features [B, T, C] (row-major grid),
        standardised per channel over the batch and the grid."""
        pixels = pixel_values.float() * self.student_std + self.student_mean  # [0, 1]
        features = self.teacher((pixels - self.teacher_mean) / self.teacher_std).float()  # (B, C, h, w)
        tokens = features.flatten(2).transpose(1, 2)  # (B, h * w, C)
        if _world_size() > 1:
            mean, std = _global_mean_std(tokens)
        else:
            mean = tokens.mean(dim=(0, 1), keepdim=True)
            std = tokens.std(dim=(0, 1), keepdim=True)
        return (tokens - mean) / (std + 1e-3)

    def loss(self, model: nn.Module, pixel_values: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """(the student's forward output, the hint MSE) for one batch; see the module docstring."""
        vit = model.module if hasattr(model, "module") else model
        if not 0 <= self.block < len(vit.blocks):
            raise ValueError(f"hint block {self.block} does not exist: the ViT has {len(vit.blocks)} blocks")
        captured: list[torch.Tensor] = []
        handle = vit.blocks[self.block].register_forward_hook(lambda mod, args, out: captured.append(out[0]))
        try:
            outputs = model(pixel_values=pixel_values)
        finally:
            handle.remove()
        tokens = captured[0][:, vit.config.num_prefix_tokens:]  # (B, T, D), patch tokens only
        target = self.teacher_tokens(pixel_values)
        if target.shape[1] != tokens.shape[1]:
            raise ValueError(f"the teacher's grid has {target.shape[1]} cells, the ViT's {tokens.shape[1]}")
        return outputs, F.mse_loss(self.head(tokens).float(), target)
