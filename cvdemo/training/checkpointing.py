"""Resumable training checkpoints: the model in cvdemo's format plus the optimizer and trainer state.

A checkpoint directory holds

    config.json + model.safetensors   the model, written by `cvdemo.models.save` (loadable by
                                      `cvdemo.models.load` like any shipped checkpoint)
    trainer_state.safetensors         tensors: optimizer moments ("optimizer.state.<param>.<name>") and the
                                      random-number generator states ("rng.torch", "rng.cuda.<device>")
    trainer_state.json                everything else: step, epoch, the optimizer's parameter groups and
                                      non-tensor state, the TrainConfig, the format version

Nothing is pickled. A checkpoint is written to ``<dir>.tmp`` and then renamed over ``<dir>``, so an
interrupted save never leaves a half-written checkpoint where the last good one was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

import cvdemo.models
from cvdemo.models.loading import CheckpointError

__all__ = ["STATE_JSON", "STATE_TENSORS", "TrainingState", "load_training_checkpoint",
           "save_training_checkpoint"]

STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
FORMAT_VERSION = 1


@dataclass
class TrainingState:
    """What a checkpoint says about the run: updates done, the epoch, the TrainConfig it ran with."""

    step: int
    epoch: int
    train_config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def save_training_checkpoint(directory: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, *,
                             step: int, epoch: int, train_config: dict[str, Any] | None = None,
                             extra: dict[str, Any] | None = None) -> Path:
    """Write a resumable checkpoint of ``model`` and ``optimizer`` to ``directory`` (replaced atomically)."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    cvdemo.models.save(_unwrap(model), tmp)

    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.state.{pid}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    meta = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "epoch": epoch,
        "train_config": train_config or {},
        "extra": extra or {},
        "optimizer": {"class": type(optimizer).__name__, "param_groups": state["param_groups"],
                      "scalar_state": scalars},
    }
    save_file(tensors, tmp / STATE_TENSORS, metadata={"format": "pt"})
    (tmp / STATE_JSON).write_text(json.dumps(meta, indent=2) + "\n")

    old = directory.with_name(directory.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    if old.exists():
        shutil.rmtree(old)
    return directory


def _config_differences(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [f"{k}: checkpoint {a.get(k)!r} vs model {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def load_training_checkpoint(directory: str | Path, model: nn.Module,
                             optimizer: torch.optim.Optimizer | None = None) -> TrainingState:
    """Restore ``model`` (and ``optimizer``, and the random-number generators) from ``directory`` in place.

    Raises:
        CheckpointError: no trainer state there, a model config that differs from ``model``'s, or an
            optimizer whose parameter groups do not fit.
    """
    directory = Path(directory)
    meta_path, tensor_path = directory / STATE_JSON, directory / STATE_TENSORS
    if not meta_path.is_file() or not tensor_path.is_file():
        raise CheckpointError(f"{directory} is not a resumable training checkpoint (it lacks {STATE_JSON} "
                              f"and {STATE_TENSORS}); a plain model folder can only start a new run (--init)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{meta_path}: format_version {meta.get('format_version')!r}, expected "
                              f"{FORMAT_VERSION}")
    target = _unwrap(model)
    loaded = cvdemo.models.load(directory)
    differences = _config_differences(loaded.config.to_dict(), target.config.to_dict())
    if differences:
        raise CheckpointError(f"{directory}: the checkpoint's model config differs from this run's model: "
                              + "; ".join(differences))
    target.load_state_dict(loaded.state_dict(), strict=True)

    tensors = load_file(tensor_path)
    if optimizer is not None:
        opt = meta["optimizer"]
        if opt["class"] != type(optimizer).__name__:
            raise CheckpointError(f"{directory}: saved with optimizer {opt['class']}, resuming with "
                                  f"{type(optimizer).__name__}")
        groups = opt["param_groups"]
        for group in groups:
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
        state: dict[int, dict[str, Any]] = {}
        prefix = "optimizer.state."
        for key, value in tensors.items():
            if key.startswith(prefix):
                pid, name = key[len(prefix):].split(".", 1)
                state.setdefault(int(pid), {})[name] = value
        for pid, entries in opt["scalar_state"].items():
            state.setdefault(int(pid), {}).update(entries)
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{directory}: the optimizer state does not fit this model's parameter "
                                  f"groups: {e}") from e
    torch.set_rng_state(tensors["rng.torch"])
    cuda_keys = sorted((k for k in tensors if k.startswith("rng.cuda.")),
                       key=lambda k: int(k.rsplit(".", 1)[1]))
    cuda_states = [tensors[k] for k in cuda_keys]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[:torch.cuda.device_count()])
    return TrainingState(step=int(meta["step"]), epoch=int(meta["epoch"]),
                         train_config=meta.get("train_config", {}), extra=meta.get("extra", {}))
