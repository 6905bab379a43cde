"""Training FLOPs and MFU (`cvdemo.training.flops`, the trainer's step events, the model card's figures)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.training import ClassificationTask, StepEvent, TrainConfig, Trainer
from cvdemo.training.flops import count_flops, model_flops_utilization, peak_flops


def test_counts_a_training_step_of_two_linear_layers_exactly():
    B, n_in, H, n_out = 8, 32, 64, 16
    model = nn.Sequential(nn.Linear(n_in, H), nn.ReLU(), nn.Linear(H, n_out))
    x = torch.randn(B, n_in)

    def step():
        model(x).square().sum().backward()

    _, flops = count_flops(step)
    # forward 2*B*n_in*H + 2*B*H*n_out; backward: both weight gradients, and the input gradient of the second layer
    # only (the input needs none)
    assert flops == 2 * B * n_in * H + 2 * B * H * n_out + 2 * B * n_in * H + 2 * (2 * B * H * n_out)


def _vit() -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, num_classes=6))


def test_cpu_attention_is_counted_as_the_explicit_matmuls():
    model, x = _vit().eval(), torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        _, fused = count_flops(lambda: model(x))  # F.scaled_dot_product_attention (CPU flash kernel)
        _, explicit = count_flops(lambda: model(x, return_attention=True))  # q @ k^T and attn @ v
    T, D, layers = 16, 64, 2
    assert fused == explicit
    assert fused > 2 * layers * (2 * 2 * T * T * D)  # attention's two matmuls are in it, and more

    model.train()
    _, train = count_flops(lambda: model(x)["logits"].sum().backward())
    assert 2.5 * fused < train <= 3 * fused  # backward ~ twice the forward (no input gradient for pixels)


def test_peak_flops_known_gpus_override_and_cpu(monkeypatch):
    monkeypatch.delenv("CVDEMO_PEAK_TFLOPS", raising=False)
    assert peak_flops("cpu", bf16=False) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert peak_flops("cuda", bf16=True) == 989e12 and peak_flops("cuda", bf16=False) == 67e12
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    assert peak_flops("cuda:0", bf16=True) == 756e12
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some Future GPU")
    assert peak_flops("cuda", bf16=True) is None
    monkeypatch.setenv("CVDEMO_PEAK_TFLOPS", "2.5")
    assert peak_flops("cpu", bf16=False) == 2.5e12
    monkeypatch.setenv("CVDEMO_PEAK_TFLOPS", "fast")
    with pytest.raises(ValueError, match="CVDEMO_PEAK_TFLOPS must be a number"):
        peak_flops("cpu", bf16=False)
    assert model_flops_utilization(1e12, 0.5, 4e12) == 0.5
    assert model_flops_utilization(1e12, 0.5, None) is None


def _train(steps: int = 3) -> tuple[Trainer, list[StepEvent]]:
    model = _vit()
    data = ShapesDataset(24, 3, ShapesConfig(image_size=32, task="classify", min_size=0.4, max_size=0.9))
    trainer = Trainer(model, ClassificationTask(model.config), data,
                      config=TrainConfig(total_steps=steps, batch_size=8, lr=1e-3, hflip=0.0))
    return trainer, [e for e in trainer.run() if isinstance(e, StepEvent)]


def test_step_events_report_achieved_flops_and_mfu_against_a_given_peak(monkeypatch):
    monkeypatch.delenv("CVDEMO_PEAK_TFLOPS", raising=False)
    trainer, steps = _train()
    model, batch = _vit().train(), trainer.task.collate([trainer.train_data[i] for i in range(8)])
    _, expected = count_flops(lambda: trainer.task.loss(model, batch, 1)[0].backward())
    assert trainer.flops_per_step == expected  # counted once, on the first update
    for event in steps:
        assert event.mfu is None  # a CPU has no known peak
        assert event.tflops_per_s == pytest.approx(expected / 1e12 * event.images_per_s / 8)
        assert event.to_dict()["tflops_per_s"] == event.tflops_per_s

    monkeypatch.setenv("CVDEMO_PEAK_TFLOPS", "0.5")
    _, steps = _train()
    assert all(e.mfu == pytest.approx(e.tflops_per_s / 0.5) for e in steps)
