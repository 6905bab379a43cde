"""torchvision's COCO-trained detectors, by torchvision's own weights enums, as cvdemo models.

    model = load_torchvision_weights("FasterRCNN_ResNet50_FPN_Weights.COCO_V1")            # fetch (or hub cache)
    model = load_torchvision_weights("SSD300_VGG16_Weights.COCO_V1", "ssd300_vgg16_coco-b556d3b4.pth")  # local

The enum name is resolved with `torchvision.models.get_weight`; the state dict is fetched as torchvision's
`weights.get_state_dict` fetches it (`torch.hub.load_state_dict_from_url(weights.url, check_hash=True)`, cached
under `torch.hub.get_dir()/checkpoints`), but always with `weights_only=True`; or it is read from a local file the
caller gives (a `.pth` state dict, read with `weights_only=True`, or a `.safetensors` file). The matching cvdemo
model (`cvdemo.models.faster_rcnn` "r50-fpn", `cvdemo.models.retinanet` "r50-fpn", `cvdemo.models.ssd`
"ssd300-vgg16": torchvision's architectures and parameter names) is built and loaded strictly; anything that does
not fit raises `CheckpointError`.

Labels. torchvision's COCO models have 91 outputs: index 0 "__background__", index i the COCO category id i
("N/A" where COCO has no category). cvdemo's class k is torchvision's label k+1, hence **COCO category id k+1**
(`coco_category_id`); `config.num_classes` is 90 and `config.id2label` keeps only the 80 real categories (the "N/A"
indices are left out, so names are unique and `cvdemo.predict` can match them to an annotation file by name).

Batch norm. torchvision builds these models with FrozenBatchNorm2d when it loads weights (and, for Faster R-CNN
and RetinaNet COCO_V1, sets its eps to 0.0), and with ordinary BatchNorm2d when built with `weights=None,
weights_backbone=None`. A state dict saved from the latter carries `num_batches_tracked` counters; this module builds
whichever of the two the state dict came from, so outputs equal those of the torchvision model that saved it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch
import torchvision
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from torchvision.models import WeightsEnum

from cvdemo.models import faster_rcnn, retinanet, ssd
from cvdemo.models.loading import CheckpointError, load_state_dict_strict

logger = logging.getLogger(__name__)

ARCHITECTURES: dict[str, tuple[str, str]] = {
    "FasterRCNN_ResNet50_FPN_Weights": ("faster_rcnn", "r50-fpn"),
    "RetinaNet_ResNet50_FPN_Weights": ("retinanet", "r50-fpn"),
    "SSD300_VGG16_Weights": ("ssd", "ssd300-vgg16"),
}
"""torchvision weights enum class -> (cvdemo family, preset with that architecture)."""

FAMILIES = {
    "faster_rcnn": (faster_rcnn, faster_rcnn.FasterRCNNConfig, faster_rcnn.FASTER_RCNN_PRESETS),
    "retinanet": (retinanet, retinanet.RetinaNetConfig, retinanet.RETINANET_PRESETS),
    "ssd": (ssd, ssd.SSDConfig, ssd.SSD_PRESETS),
}
"""family -> (module, config class, presets)."""

RESNET_FAMILIES = ("faster_rcnn", "retinanet")  # ResNet backbones: FrozenBatchNorm2d or BatchNorm2d

FROZEN_BATCHNORM_EPS = {"FasterRCNN_ResNet50_FPN_Weights.COCO_V1": 0.0, "RetinaNet_ResNet50_FPN_Weights.COCO_V1": 0.0}
"""Weights that torchvision loads after `overwrite_eps(model, 0.0)` (trained with an older FrozenBatchNorm2d)."""


def supported_weights() -> list[str]:
    """Every weights enum value this module loads, e.g. "FasterRCNN_ResNet50_FPN_Weights.COCO_V1"."""
    names = []
    for enum_name in ARCHITECTURES:
        enum = type(torchvision.models.get_weight(f"{enum_name}.DEFAULT"))
        names += [f"{enum_name}.{w.name}" for w in enum]
    return names


def resolve_weights(name: str) -> WeightsEnum:
    """"FasterRCNN_ResNet50_FPN_Weights.COCO_V1" (or ".DEFAULT") -> torchvision's weights enum value."""
    enum_name = name.partition(".")[0]
    if enum_name not in ARCHITECTURES:
        raise CheckpointError(f"{name!r}: cvdemo loads these torchvision weights: {', '.join(supported_weights())}")
    try:
        return torchvision.models.get_weight(name)
    except (ValueError, KeyError, AttributeError) as e:
        raise CheckpointError(f"{name!r} is not a torchvision weights name; cvdemo loads "
                              f"{', '.join(supported_weights())}") from e


def coco_id2label(categories: list[str]) -> dict[int, str]:
    """torchvision's 91 category names (index = COCO id, 0 background, "N/A" gaps) -> cvdemo's id2label
    {class k: name} for the real categories only, with class k = COCO category id k+1."""
    return {i - 1: name for i, name in enumerate(categories) if i > 0 and name != "N/A"}


def coco_category_id(class_index: int) -> int:
    """cvdemo class index of a model loaded here -> its COCO category id (torchvision's label)."""
    return class_index + 1


def load_torchvision_weights(weights: str, state_dict_file: str | os.PathLike | None = None, *,
                             progress: bool = False) -> nn.Module:
    """Build the cvdemo model for torchvision's `weights` and load them strictly -> model in eval mode.

    weights: a weights enum value by name ("FasterRCNN_ResNet50_FPN_Weights.COCO_V1", "SSD300_VGG16_Weights.COCO_V1";
        see `supported_weights()`).
    state_dict_file: read the state dict from this `.pth`/`.pt` (weights_only) or `.safetensors` file instead of
        fetching `weights.url`.

    Raises:
        CheckpointError: unknown weights name, a download that fails, a file that is not a readable state dict,
            or a state dict that does not fit the architecture (the message names missing/unexpected keys).
    """
    enum = resolve_weights(weights)
    full_name = f"{type(enum).__name__}.{enum.name}"
    if state_dict_file is None:
        state, source = fetch_state_dict(enum, progress=progress), enum.url
    else:
        state, source = read_state_dict_file(state_dict_file), str(state_dict_file)
    family, preset = ARCHITECTURES[type(enum).__name__]
    categories = enum.meta["categories"]
    overrides = {"num_classes": len(categories) - 1, "id2label": coco_id2label(categories)}
    if family in RESNET_FAMILIES:
        frozen = not any(k.endswith(".num_batches_tracked") for k in state)
        overrides.update(frozen_batchnorm=frozen, trainable_backbone_layers=3 if frozen else 5,
                         frozen_batchnorm_eps=FROZEN_BATCHNORM_EPS.get(full_name, 1e-5))
    module, config_class, presets = FAMILIES[family]
    model = module.from_config_dict(config_class(**{**presets[preset], **overrides}).to_dict())
    load_state_dict_strict(model, state, source=f"{source} ({full_name})")
    logger.info("Loaded torchvision's %s from %s", full_name, source)
    return model.eval()


def fetch_state_dict(weights: WeightsEnum, progress: bool = False) -> dict[str, torch.Tensor]:
    """`weights.url` through torch hub's cache (downloaded once, hash checked), read with weights_only=True."""
    try:
        state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=progress,
                                                   check_hash=True, weights_only=True)
    except Exception as e:  # URLError/HTTPError offline, RuntimeError on a hash mismatch, unpickling errors
        raise CheckpointError(
            f"Could not fetch {weights.url} into {Path(torch.hub.get_dir()) / 'checkpoints'} ({e}). Without network "
            "access, download the file elsewhere and pass it as state_dict_file."
        ) from e
    return _checked_state_dict(state, weights.url)


def read_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A local state dict: `.safetensors`, or a `.pth`/`.pt` read with weights_only=True (tensors only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"No state-dict file at {path}")
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path} is not a readable safetensors file (corrupted or truncated?): {e}") from e
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        raise CheckpointError(f"{path} is not a readable state dict (corrupted or truncated, or a pickle that "
                              f"holds more than tensors, which is never loaded): {e}") from e
    return _checked_state_dict(state, str(path))


def _checked_state_dict(state: object, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in state.items()):
        raise CheckpointError(f"{source} does not hold a state dict (a dict of parameter name -> tensor), "
                              f"but {type(state).__name__}")
    return dict(state)
