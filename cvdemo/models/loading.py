"""All weight I/O: `load(source)` and `save(model, directory)`.

`source` may be
- a directory with `config.json` + `model.safetensors` (or a sharded `model.safetensors.index.json`) in any
  of these formats, detected from `config.json`:
    cvdemo's own (`"model_type": "cvdemo-detr" | "cvdemo-vit"`, the detector families of `FAMILY_MODULES`:
    "cvdemo-faster-rcnn", "cvdemo-ssd", "cvdemo-retinanet", "cvdemo-yolo", "cvdemo-rcnn", and the classifiers of
    `CLASSIFIER_MODULES`: "cvdemo-resnet-classifier", "cvdemo-hybrid-vit"), transformers DETR
    (`"model_type": "detr"`), transformers ViT (`"model_type": "vit"`), timm ViT/DeiT (timm's `save_for_hf` layout,
    `"architecture"`);
- a `.pth`/`.pt` file of the original facebookresearch/detr (its pickled `argparse.Namespace` is allowed by
  name; everything else a pickle might run is refused by `weights_only=True`);
- `hf:<repo_id>[@revision]`: fetched with `huggingface_hub.snapshot_download` (only `*.json` and
  `*.safetensors`; pickled `.bin` files are never downloaded), then loaded as a directory;
- `torchvision:<weights enum>` (e.g. `torchvision:FasterRCNN_ResNet50_FPN_Weights.COCO_V1`): torchvision's
  COCO-trained detector, fetched as torchvision fetches it, read with `weights_only=True`
  (`cvdemo.models.torchvision_weights`).

Conversions are small rename functions (`convert_detr.py`, `convert_vit.py`); every load is strict and a
mismatch raises `CheckpointError` naming the missing and unexpected keys.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from cvdemo.messages import UserError
from cvdemo.models import convert_detr
from cvdemo.models.detr import DETR, DETRConfig

logger = logging.getLogger(__name__)

SUPPORTED_FORMATS = (
    "cvdemo (config.json with model_type cvdemo-detr/cvdemo-vit/cvdemo-faster-rcnn/cvdemo-ssd/cvdemo-retinanet/"
    "cvdemo-yolo/cvdemo-rcnn/cvdemo-resnet-classifier/cvdemo-hybrid-vit + model.safetensors)",
    "transformers DetrForObjectDetection (model_type detr)",
    "transformers ViTForImageClassification (model_type vit)",
    "timm ViT/DeiT saved with save_for_hf (config.json with 'architecture')",
    "original DETR .pth file",
    "hf:<repo_id>[@revision]",
    "torchvision:<weights enum>, e.g. torchvision:FasterRCNN_ResNet50_FPN_Weights.COCO_V1",
)
TORCHVISION_PREFIX = "torchvision:"


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read, is in an unknown format, or does not fit its model."""


def load(source: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Load a DETR, ViT or detector family from `source` (see the module docstring) -> model in eval mode on
    `device`.

    The model's config (`model.config`, with `id2label`) travels with it.
    """
    text = str(source)
    if text.startswith(TORCHVISION_PREFIX):
        from cvdemo.models.torchvision_weights import load_torchvision_weights

        return load_torchvision_weights(text[len(TORCHVISION_PREFIX):]).to(device).eval()
    if text.startswith("hf:"):
        path = download_from_hub(text[3:])
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise CheckpointError(f"No checkpoint at {path}: expected a directory, a .pth file or 'hf:<repo_id>'")
    if path.is_file():
        if path.suffix not in (".pth", ".pt"):
            raise CheckpointError(f"{path}: a single file must be an original DETR .pth; for safetensors give "
                                  "the directory that holds config.json and model.safetensors")
        model = _load_original_detr(path)
    else:
        model = _load_directory(path)
    return model.to(device).eval()


def save(model: nn.Module, directory: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
    """Write `model` in cvdemo's format: `config.json` + `model.safetensors`. Returns the directory.

    dtype: store the floating-point tensors in this type (e.g. torch.float16: half the file, for a shipped
    checkpoint); `load` copies them into the model's own (float32) parameters. Integer buffers stay as they are.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    return directory


def download_from_hub(spec: str) -> Path:
    """'org/name[@revision]' -> local snapshot directory (only *.json and *.safetensors)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo_id, _, revision = spec.partition("@")
    if not repo_id or repo_id.count("/") > 1:
        raise CheckpointError(f"'hf:{spec}' is not a Hub model id; expected hf:<org>/<name>[@revision]")
    logger.info("Fetching %s (revision %s) from the Hugging Face Hub", repo_id, revision or "main")
    try:
        return Path(snapshot_download(repo_id, revision=revision or None,
                                      allow_patterns=["*.json", "*.safetensors"]))
    except LocalEntryNotFoundError as e:
        raise CheckpointError(
            f"{repo_id} is not in the local Hugging Face cache and the Hub cannot be reached "
            "(offline, or HF_HUB_OFFLINE=1). Download it once with network access, or load a local folder."
        ) from e
    except HfHubHTTPError as e:
        raise CheckpointError(f"Could not fetch {repo_id} from the Hub: {e}") from e


def _read_config(directory: Path) -> dict:
    path = directory / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{directory} has no config.json. Supported formats: {'; '.join(SUPPORTED_FORMATS)}")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} must hold a JSON object, not {type(config).__name__}")
    return config


def _read_safetensors(directory: Path) -> dict[str, torch.Tensor]:
    single = directory / "model.safetensors"
    index = directory / "model.safetensors.index.json"
    files = [single] if single.is_file() else []
    if not files and index.is_file():
        files = sorted({directory / f for f in json.loads(index.read_text())["weight_map"].values()})
    if not files:
        pickled = [p.name for p in directory.glob("*.bin")] + [p.name for p in directory.glob("*.pt*")]
        hint = f" (found {pickled}: pickled weights are not loaded; convert them to safetensors)" if pickled else ""
        raise CheckpointError(f"{directory} has no model.safetensors{hint}")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            state.update(load_file(f))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{f} is not a readable safetensors file (corrupted or truncated?): {e}") from e
    return state


def _load_directory(directory: Path) -> nn.Module:
    from cvdemo.models import convert_vit
    from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig

    config = _read_config(directory)
    state = _read_safetensors(directory)
    model_type = config.get("model_type")
    try:  # configs and converters raise ValueError with a specific message; say which checkpoint it was
        if model_type == DETRConfig.model_type:
            model = DETR(DETRConfig.from_dict(config))
        elif model_type == "cvdemo-vit":
            model = ViT(ViTConfig.from_dict(config))
        elif convert_detr.is_transformers_detr_config(config):
            model = DETR(_with_preprocessing(convert_detr.detr_config_from_transformers(config), directory))
            state = convert_detr.convert_transformers_detr_state_dict(state)
        elif convert_vit.is_transformers_vit_config(config):
            cfg = _with_preprocessing(convert_vit.vit_config_from_transformers(config), directory)
            model, state = ViT(cfg), convert_vit.convert_transformers_vit_state_dict(state, cfg)
        elif convert_vit.is_timm_vit_config(config):
            cfg = convert_vit.vit_config_from_timm(config)
            model, state = ViT(cfg), convert_vit.convert_timm_vit_state_dict(state, cfg)
        elif (family := family_modules().get(model_type)) is not None:
            model = family.from_config_dict(config)
        elif (classifier := classifier_modules().get(model_type)) is not None:
            model = classifier.from_config_dict(config)
        elif isinstance(config.get("architecture"), str):
            raise CheckpointError(f"timm architecture {config['architecture']!r} is not a ViT or DeiT; cvdemo "
                                  f"loads these timm models: {', '.join(sorted(VIT_PRESETS))}")
        else:
            raise CheckpointError(f"config.json is in no format cvdemo knows (model_type={model_type!r}). "
                                  f"Supported: {'; '.join(SUPPORTED_FORMATS)}")
    except CheckpointError as e:
        raise CheckpointError(f"{directory}: {e}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{directory}: {e}") from e
    load_state_dict_strict(model, state, source=str(directory))
    return model


FAMILY_MODULES = ("cvdemo.models.faster_rcnn", "cvdemo.models.ssd", "cvdemo.models.retinanet",
                   "cvdemo.models.yolo", "cvdemo.models.rcnn")
"""The detector families beside DETR (issue 14). Each module exposes ``MODEL_TYPE`` (config.json's
``"model_type"``, e.g. "cvdemo-faster-rcnn") and ``from_config_dict(config: dict) -> nn.Module`` (a fresh model
whose ``config.to_dict()`` gives that dict back); a module that does not exist yet is skipped."""


CLASSIFIER_MODULES = ("cvdemo.models.resnet_classifier", "cvdemo.models.hybrid_vit")
"""The image classifiers beside the ViT (issue 16's architecture claims), with the families' protocol
(``MODEL_TYPE``, ``from_config_dict``): "cvdemo-resnet-classifier", "cvdemo-hybrid-vit"."""


def family_modules() -> dict[str, object]:
    """model_type -> the family module that builds it (imported on first use)."""
    return _modules_by_type(FAMILY_MODULES)


def classifier_modules() -> dict[str, object]:
    """model_type -> the classifier module (`CLASSIFIER_MODULES`) that builds it (imported on first use)."""
    return _modules_by_type(CLASSIFIER_MODULES)


def _modules_by_type(names: tuple[str, ...]) -> dict[str, object]:
    import importlib

    found = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        found[module.MODEL_TYPE] = module
    return found


def _with_preprocessing(config, directory: Path):
    """Take image mean/std (and DETR's resize edges) from a transformers preprocessor_config.json."""
    path = directory / "preprocessor_config.json"
    if not path.is_file():
        return config
    pre = json.loads(path.read_text())
    if "image_mean" in pre and "image_std" in pre:
        config.image_mean, config.image_std = tuple(pre["image_mean"]), tuple(pre["image_std"])
    size = pre.get("size") or {}
    if isinstance(config, DETRConfig) and "shortest_edge" in size:
        config.shortest_edge, config.longest_edge = size["shortest_edge"], size.get("longest_edge", 1333)
    return config


def _load_original_detr(path: Path) -> nn.Module:
    # The original checkpoint pickles its argparse.Namespace: allow exactly that class, nothing else.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        raise CheckpointError(
            f"{path} was refused: it is not a plain weights file (a pickle that would run code or build "
            f"objects other than tensors and argparse.Namespace is never loaded) or it is corrupted: {e}"
        ) from e
    if not convert_detr.is_original_detr_checkpoint(checkpoint):
        raise CheckpointError(f"{path} is not an original DETR checkpoint (expected a dict with a 'model' state "
                              "dict of DETR keys, as facebookresearch/detr saves)")
    model = DETR(convert_detr.detr_config_from_original(checkpoint))
    load_state_dict_strict(model, convert_detr.convert_original_detr_state_dict(checkpoint["model"]),
                           source=str(path))
    return model


def load_state_dict_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """`model.load_state_dict(state, strict=True)` with an error that names what does not fit."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        def show(items):
            return ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
        parts = [f"{source} does not fit {type(model).__name__}:"]
        if missing:
            parts.append(f"missing keys: {show(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {show(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {show(shapes)}")
        raise CheckpointError("\n  ".join(parts))
    model.load_state_dict(state, strict=True)
