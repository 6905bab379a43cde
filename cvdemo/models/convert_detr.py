"""Rename functions from foreign DETR checkpoints to cvdemo's `DETR`.

Pure functions (no I/O): `cvdemo.models.loading` reads the files and calls them.

- transformers `DetrForObjectDetection`: the legacy names written by `save_pretrained` and stored on the
  Hub (`model.backbone.conv_encoder.model.*`, `...self_attn.out_proj`, `...layers.N.fc1`) and the names
  transformers v5 uses in memory (`model.backbone.model.*`, `o_proj`, `mlp.fc1`). Configs from v4
  (top-level `backbone`, `use_timm_backbone`, `dilation`) and v5 (nested `backbone_config`).
- the original facebookresearch/detr `.pth`: `{"model": state_dict, "args": argparse.Namespace}` with
  packed `in_proj_weight` attention projections.
"""

from __future__ import annotations

import re

import torch

from cvdemo.models.coco_labels import COCO_ID2LABEL
from cvdemo.models.detr import DETRConfig

# (pattern, replacement) applied in order to every key; layer-level names first.
_TRANSFORMERS_RENAMES = [
    (r"^model\.backbone\.conv_encoder\.model\.", "backbone.body."),
    (r"^model\.backbone\.model\.", "backbone.body."),
    (r"^model\.(?:backbone\.)?position_embedding\.row_embeddings\.", "position_embedding.row_embed."),
    (r"^model\.(?:backbone\.)?position_embedding\.column_embeddings\.", "position_embedding.col_embed."),
    (r"^model\.input_projection\.", "input_proj."),
    (r"^model\.query_position_embeddings\.", "query_embed."),
    (r"^model\.decoder\.layernorm\.", "transformer.decoder.norm."),
    (r"^model\.(encoder|decoder)\.layers\.", r"transformer.\1.layers."),
    (r"\.(self_attn|encoder_attn)\.o_proj\.", r".\1.out_proj."),
    (r"\.mlp\.fc([12])\.", r".fc\1."),
    (r"\.fc1\.", ".linear1."),
    (r"\.fc2\.", ".linear2."),
    (r"\.self_attn_layer_norm\.", ".norm1."),
    (r"\.encoder_attn_layer_norm\.", ".norm2."),
    (r"^(transformer\.encoder\.layers\.\d+)\.final_layer_norm\.", r"\1.norm2."),
    (r"^(transformer\.decoder\.layers\.\d+)\.final_layer_norm\.", r"\1.norm3."),
    (r"\.encoder_attn\.", ".cross_attn."),
    (r"^class_labels_classifier\.", "class_embed."),
    (r"^bbox_predictor\.", "bbox_embed."),
]


def is_transformers_detr_config(config: dict) -> bool:
    return config.get("model_type") == "detr"


def detr_config_from_transformers(config: dict) -> DETRConfig:
    """A transformers DetrConfig (v4 or v5 `config.json` as a dict) -> DETRConfig."""
    architectures = config.get("architectures") or ["DetrForObjectDetection"]
    if "DetrForObjectDetection" not in architectures:
        raise ValueError(f"Only DetrForObjectDetection checkpoints are supported, not {architectures}")
    backbone_config = config.get("backbone_config")
    if backbone_config:  # transformers v5, or v4 with an HF-native backbone
        if backbone_config.get("model_type") != "timm_backbone":
            raise ValueError(
                f"DETR with a {backbone_config.get('model_type')!r} backbone_config is not supported; "
                "only the timm ResNet backbone (use_timm_backbone=True, as in facebook/detr-resnet-50) is."
            )
        backbone = backbone_config.get("backbone", "resnet50")
        dilation = bool(config.get("dilation")) or backbone_config.get("output_stride") == 16
    else:  # transformers v4 (the Hub's config.json)
        if not config.get("use_timm_backbone", True):
            raise ValueError("DETR without the timm backbone (use_timm_backbone=false) is not supported")
        backbone = config.get("backbone", "resnet50")
        dilation = bool(config.get("dilation", False))
    if config.get("activation_function", "relu") != "relu":
        raise ValueError(f"activation_function={config['activation_function']!r} is not supported (relu only)")
    heads = config.get("encoder_attention_heads", 8)
    ffn = config.get("encoder_ffn_dim", 2048)
    if config.get("decoder_attention_heads", heads) != heads or config.get("decoder_ffn_dim", ffn) != ffn:
        raise ValueError("encoder and decoder must have the same number of heads and feed-forward size")
    id2label = {int(k): v for k, v in (config.get("id2label") or {}).items()}
    num_classes = config.get("num_labels", len(id2label) or 91)
    return DETRConfig(
        backbone=backbone, dilation=dilation, frozen_batchnorm=True,
        position_embedding=config.get("position_embedding_type", "sine"), d_model=config.get("d_model", 256),
        num_heads=heads, encoder_layers=config.get("encoder_layers", 6),
        decoder_layers=config.get("decoder_layers", 6), dim_feedforward=ffn,
        dropout=config.get("dropout", 0.1), num_queries=config.get("num_queries", 100),
        num_classes=num_classes, id2label=id2label,
    )


def convert_transformers_detr_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        new = key
        for pattern, repl in _TRANSFORMERS_RENAMES:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out


def is_original_detr_checkpoint(checkpoint: dict) -> bool:
    return isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict) and any(
        k.startswith("transformer.") for k in checkpoint["model"]
    )


def detr_config_from_original(checkpoint: dict) -> DETRConfig:
    """The original repo's checkpoint -> DETRConfig, from its `args` where present, else from shapes."""
    sd = checkpoint["model"]
    args = vars(checkpoint["args"]) if checkpoint.get("args") is not None else {}
    if args.get("pre_norm") or any(k.startswith("transformer.encoder.norm.") for k in sd):
        raise ValueError("pre-norm DETR checkpoints (--pre_norm) are not supported; cvdemo's DETR is post-norm")
    if args.get("masks"):
        raise ValueError("DETR segmentation checkpoints (--masks) are not supported; use a detection checkpoint")
    d_model = sd["query_embed.weight"].shape[1]
    num_classes = sd["class_embed.weight"].shape[0] - 1
    position = {"v2": "sine", "sine": "sine", "v3": "learned", "learned": "learned"}[
        args.get("position_embedding", "learned" if "backbone.1.row_embed.weight" in sd else "sine")]
    count = lambda prefix: len({k.split(".")[3] for k in sd if k.startswith(prefix)})  # noqa: E731
    return DETRConfig(
        backbone=args.get("backbone", "resnet50"), dilation=bool(args.get("dilation", False)),
        frozen_batchnorm=True, position_embedding=position, d_model=d_model,
        num_heads=args.get("nheads", 8), encoder_layers=count("transformer.encoder.layers."),
        decoder_layers=count("transformer.decoder.layers."),
        dim_feedforward=sd["transformer.encoder.layers.0.linear1.weight"].shape[0],
        dropout=args.get("dropout", 0.1), num_queries=sd["query_embed.weight"].shape[0],
        num_classes=num_classes, id2label=dict(COCO_ID2LABEL) if num_classes == 91 else {},
    )


def convert_original_detr_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        new = re.sub(r"^backbone\.0\.body\.", "backbone.body.", key)
        new = re.sub(r"^backbone\.1\.", "position_embedding.", new)
        new = new.replace(".multihead_attn.", ".cross_attn.")
        if new.endswith(("attn.in_proj_weight", "attn.in_proj_bias")):
            prefix, kind = new.rsplit(".in_proj_", 1)
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                out[f"{prefix}.{name}.{kind}"] = part.clone()
            continue
        out[new] = value
    return out
