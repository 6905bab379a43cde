"""Convert timm and transformers ViT / DeiT checkpoints to cvdemo's ViT (pure functions, no I/O).

The loader reads `config.json` and `model.safetensors` and calls, for each format:
    is_*_vit_config(config: dict) -> bool
    vit_config_from_*(config: dict) -> ViTConfig
    convert_*_vit_state_dict(state_dict, config) -> dict[str, Tensor]   (timm names, see `vit.py`)

Every conversion is complete or fails: the result has exactly the keys and shapes of
`ViT(config).state_dict()`, so `load_state_dict(strict=True)` succeeds; the only keys dropped
are named in `_TRANSFORMERS_UNUSED` (the pooler, the masked-image-modelling token).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import torch

from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------- timm

# timm model_args that describe the architecture and map onto ViTConfig fields.
_TIMM_ARGS = {"img_size": "image_size", "patch_size": "patch_size", "in_chans": "in_chans",
              "num_classes": "num_classes", "embed_dim": "embed_dim", "depth": "depth",
              "num_heads": "num_heads", "mlp_ratio": "mlp_ratio", "qkv_bias": "qkv_bias",
              "class_token": "class_token", "global_pool": "global_pool", "reg_tokens": "reg_tokens",
              "no_embed_class": "no_embed_class", "init_values": "init_values"}
# timm model_args that change nothing at inference (dropout, init, input-size policy): accepted, unused.
_TIMM_ARGS_IGNORED = {"drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
                      "drop_path_rate", "weight_init", "fix_init", "dynamic_img_size", "strict_img_size"}
# timm model_args that cvdemo's ViT supports only at timm's default value.
_TIMM_ARGS_DEFAULT_ONLY = {"qk_norm": False, "scale_attn_norm": False, "scale_mlp_norm": False,
                           "proj_bias": True,
                           "pre_norm": False, "final_norm": True, "fc_norm": None,
                           "pool_include_prefix": False, "dynamic_img_pad": False, "pos_embed": "learn"}


def is_timm_vit_config(config: dict) -> bool:
    """True for a timm `save_for_hf` config.json (also the legacy flat layout) of a ViT/DeiT architecture."""
    arch = config.get("architecture")
    if not isinstance(arch, str) or "model_type" in config:
        return False
    return arch.split(".")[0].startswith(("vit_", "deit"))


def _timm_label_map(config: dict, num_classes: int) -> dict[int, str]:
    """id2label from timm's label_names (list, or dict id -> name) and label_descriptions (name -> text)."""
    pretrained_cfg = config.get("pretrained_cfg", {})
    names = config.get("label_names", pretrained_cfg.get("label_names", config.get("labels")))
    descriptions = config.get("label_descriptions", pretrained_cfg.get("label_descriptions")) or {}
    if not names:
        return {}
    pairs = names.items() if isinstance(names, Mapping) else enumerate(names)
    id2label = {int(i): str(descriptions.get(name, name)) for i, name in pairs}
    if any(i < 0 or i >= num_classes for i in id2label):
        raise ValueError(f"timm label_names index outside the {num_classes} classes of this model")
    return id2label


def vit_config_from_timm(config: dict) -> ViTConfig:
    """ViTConfig from a timm config.json: sizes from VIT_PRESETS[architecture], then model_args, then
    pretrained_cfg (input_size, mean, std), labels from label_names / label_descriptions."""
    arch = config["architecture"].split(".")[0]
    if arch not in VIT_PRESETS:
        supported = ", ".join(sorted(VIT_PRESETS))
        raise ValueError(f"unsupported timm architecture {arch!r}; supported: {supported}")
    kwargs = dict(VIT_PRESETS[arch])
    pretrained_cfg = config.get("pretrained_cfg", config)  # legacy flat configs keep these at top level
    if "input_size" in pretrained_cfg:
        kwargs["in_chans"], *hw = pretrained_cfg["input_size"]
        kwargs["image_size"] = tuple(hw)
    for key in ("mean", "std"):
        if key in pretrained_cfg:
            kwargs[f"image_{key}"] = tuple(pretrained_cfg[key])

    model_args = dict(config.get("model_args", {}))
    unsupported = {k: v for k, v in model_args.items()
                   if k in _TIMM_ARGS_DEFAULT_ONLY and v != _TIMM_ARGS_DEFAULT_ONLY[k]}
    unknown = sorted(set(model_args) - set(_TIMM_ARGS) - _TIMM_ARGS_IGNORED - set(_TIMM_ARGS_DEFAULT_ONLY))
    if unsupported or unknown:
        raise ValueError(f"{arch}: timm options not implemented by cvdemo's ViT: "
                         f"{unsupported or ''} {unknown or ''}".strip())
    kwargs.update({_TIMM_ARGS[k]: v for k, v in model_args.items() if k in _TIMM_ARGS})
    if isinstance(kwargs["patch_size"], (list, tuple)):  # timm accepts (ph, pw); cvdemo's patches are square
        ph, pw = kwargs["patch_size"]
        if ph != pw:
            raise ValueError(f"{arch}: non-square patches {ph}x{pw} are not supported")
        kwargs["patch_size"] = ph
    kwargs["num_classes"] = config.get("num_classes", kwargs.get("num_classes", 1000))
    kwargs["global_pool"] = config.get("global_pool", kwargs.get("global_pool", "token"))
    if kwargs["global_pool"] not in ("token", "avg"):
        raise ValueError(f"{arch}: timm global_pool={kwargs['global_pool']!r} is not supported "
                         "(token or avg)")
    if kwargs.get("distilled") and (kwargs.get("reg_tokens") or kwargs.get("no_embed_class")):
        # timm's VisionTransformerDistilled ignores reg_token and always gives the prefix tokens pos_embed rows
        raise ValueError(f"{arch}: timm's distilled DeiT does not support reg_tokens or no_embed_class")
    kwargs["id2label"] = _timm_label_map(config, kwargs["num_classes"])
    vit_config = ViTConfig(**kwargs)
    num_features = config.get("num_features")
    if num_features is not None and num_features != vit_config.embed_dim:
        raise ValueError(f"{arch}: config num_features={num_features} but the preset has "
                         f"embed_dim={vit_config.embed_dim}; the checkpoint is not a standard {arch}")
    return vit_config


def convert_timm_vit_state_dict(state_dict: Mapping[str, torch.Tensor], config: ViTConfig) -> dict:
    """timm ViT state dict -> cvdemo ViT state dict (same names, `dist_token`/`head_dist.*` of a distilled DeiT
    and `reg_token` included; checked for completeness and shapes)."""
    sd = dict(state_dict)
    if not config.distilled and ("dist_token" in sd or any(k.startswith("head_dist.") for k in sd)):
        raise ValueError("checkpoint has a distillation token (dist_token / head_dist) but the config is not "
                         "distilled: use a *_distilled_* architecture (ViTConfig(distilled=True))")
    if config.pos_embed == "sincos":
        sd.pop("pos_embed", None)  # a fixed table is recomputed, never loaded
    check_vit_state_dict(sd, config, source="timm")
    return sd


# -------------------------------------------------------------------------------------- transformers

# transformers keys that cvdemo's ViT has no use for, dropped by exact name (after the "vit."/"deit." prefix).
_TRANSFORMERS_UNUSED = ("pooler.dense.weight", "pooler.dense.bias", "embeddings.mask_token")

# Per-layer renames, legacy (save_pretrained / Hub files) and transformers v5 in-memory names.
_LAYER_RENAMES = {
    "attention.attention.query.": "attn.q.", "attention.attention.key.": "attn.k.",
    "attention.attention.value.": "attn.v.", "attention.output.dense.": "attn.proj.",
    "intermediate.dense.": "mlp.fc1.", "output.dense.": "mlp.fc2.",
    "attention.q_proj.": "attn.q.", "attention.k_proj.": "attn.k.", "attention.v_proj.": "attn.v.",
    "attention.o_proj.": "attn.proj.", "mlp.fc1.": "mlp.fc1.", "mlp.fc2.": "mlp.fc2.",
    "layernorm_before.": "norm1.", "layernorm_after.": "norm2.",
}
_TOP_RENAMES = {
    "embeddings.cls_token": "cls_token", "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight", "layernorm.bias": "norm.bias",
    "classifier.weight": "head.weight", "classifier.bias": "head.bias",
    # DeiTForImageClassificationWithTeacher: the distillation token and the two heads
    "embeddings.distillation_token": "dist_token",
    "cls_classifier.weight": "head.weight", "cls_classifier.bias": "head.bias",
    "distillation_classifier.weight": "head_dist.weight", "distillation_classifier.bias": "head_dist.bias",
}
_LAYER_KEY = re.compile(r"^(?:encoder\.layer|layers)\.(\d+)\.(.+)$")


def is_transformers_vit_config(config: dict) -> bool:
    """True for a transformers ViT or DeiT config.json (`"model_type": "vit"` or `"deit"`)."""
    return config.get("model_type") in ("vit", "deit")


# model_type -> (architecture with a head, architecture without one); DeiT's always have a distillation token.
_TRANSFORMERS_ARCHITECTURES = {"vit": ("ViTForImageClassification", "ViTModel"),
                               "deit": ("DeiTForImageClassificationWithTeacher", "DeiTModel")}


def vit_config_from_transformers(config: dict) -> ViTConfig:
    """ViTConfig from a transformers ViTConfig dict (ViTForImageClassification, or ViTModel: no head) or DeiTConfig
    dict (DeiTForImageClassificationWithTeacher: distilled, logits = mean of its two heads; DeiTModel: no head).

    transformers' DeiTForImageClassification (a distillation token in the sequence that no head reads) is
    refused: cvdemo's distilled ViT always averages both heads, as DeiT's authors and timm do."""
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise ValueError(f"transformers ViT with hidden_act={act!r} is not supported "
                         "(cvdemo's ViT uses exact gelu)")
    model_type = config.get("model_type", "vit")
    if model_type not in _TRANSFORMERS_ARCHITECTURES:
        raise ValueError(f"transformers model_type {model_type!r} is not a ViT; expected one of "
                         f"{sorted(_TRANSFORMERS_ARCHITECTURES)}")
    with_head, without_head = _TRANSFORMERS_ARCHITECTURES[model_type]
    architectures = config.get("architectures") or [with_head]
    has_head = with_head in architectures
    if not has_head and without_head not in architectures:
        raise ValueError(f"transformers {model_type} architectures {architectures} are not supported; "
                         f"expected {with_head} or {without_head}")
    id2label = {int(k): str(v) for k, v in config.get("id2label", {}).items()}
    num_classes = len(id2label) if has_head else 0
    if has_head and num_classes == 0:
        num_classes = int(config.get("num_labels", 2))  # transformers' default when id2label is absent
    hidden = config.get("hidden_size", 768)
    mean = config.get("image_mean", (0.5, 0.5, 0.5))  # ViTImageProcessor's default normalisation
    std = config.get("image_std", (0.5, 0.5, 0.5))
    return ViTConfig(
        image_size=config.get("image_size", 224), patch_size=config.get("patch_size", 16),
        in_chans=config.get("num_channels", 3), num_classes=num_classes, embed_dim=hidden,
        depth=config.get("num_hidden_layers", 12), num_heads=config.get("num_attention_heads", 12),
        mlp_dim=config.get("intermediate_size", 4 * hidden), qkv_bias=config.get("qkv_bias", True),
        class_token=True, distilled=model_type == "deit", global_pool="token", pos_embed="learn",
        pos_embed_antialias=False,
        layer_norm_eps=config.get("layer_norm_eps", 1e-12), image_mean=tuple(mean), image_std=tuple(std),
        id2label=id2label if has_head else {},
    )


def convert_transformers_vit_state_dict(state_dict: Mapping[str, torch.Tensor], config: ViTConfig) -> dict:
    """transformers ViT / DeiT state dict (legacy `encoder.layer.N.attention.attention.query` or v5
    `layers.N.attention.q_proj` names, with or without the `vit.` / `deit.` prefix) -> cvdemo ViT state dict.
    DeiT's `embeddings.distillation_token` becomes `dist_token`, `cls_classifier` `head` and
    `distillation_classifier` `head_dist`.

    q, k, v projections are stacked into the fused `attn.qkv` ([3D, D] weight, rows q then k then v).
    """
    out: dict[str, torch.Tensor] = {}
    unmatched = []
    for key, value in state_dict.items():
        name = key.removeprefix("vit.").removeprefix("deit.")
        if name in _TRANSFORMERS_UNUSED:
            continue
        if name in _TOP_RENAMES:
            out[_TOP_RENAMES[name]] = value
            continue
        m = _LAYER_KEY.match(name)
        prefix = next((p for p in _LAYER_RENAMES if m and m.group(2).startswith(p)), None)
        if prefix is None:
            unmatched.append(key)
            continue
        new = f"blocks.{m.group(1)}.{_LAYER_RENAMES[prefix]}{m.group(2)[len(prefix):]}"
        if new in out:
            raise ValueError(f"transformers ViT checkpoint holds {new!r} twice (legacy and v5 names mixed?)")
        out[new] = value
    if unmatched:
        raise ValueError(f"unexpected keys in transformers ViT checkpoint: {sorted(unmatched)}")

    for i in range(config.depth):
        for kind in ("weight", "bias"):
            parts = [out.pop(f"blocks.{i}.attn.{p}.{kind}", None) for p in "qkv"]
            if all(p is not None for p in parts):
                out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat(parts, dim=0)  # (3D, ...) rows q, k, v
            elif any(p is not None for p in parts):
                missing = [f"{p}.{kind}" for p, t in zip("qkv", parts, strict=True) if t is None]
                raise ValueError(f"transformers ViT layer {i}: attention {missing} missing")
    check_vit_state_dict(out, config, source="transformers")
    return out


# ------------------------------------------------------------------------------------------- checking

def check_vit_state_dict(state_dict: Mapping[str, torch.Tensor], config: ViTConfig, source: str = "") -> None:
    """Raise ValueError naming every missing, unexpected or mis-shaped key against ViT(config)."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in ViT(config).state_dict().items()}
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {expected[k]}"
                   for k in set(expected) & set(state_dict) if tuple(state_dict[k].shape) != expected[k])
    if missing or unexpected or wrong:
        what = f"{source} " if source else ""
        raise ValueError(f"{what}ViT checkpoint does not match its config: missing {missing}, "
                         f"unexpected {unexpected}, wrong shapes {wrong}")
