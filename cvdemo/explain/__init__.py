"""Explanations of ViT and DETR predictions, and measures of how far a map can be trusted.

Modules, one concept each:
    vit           class-specific relevance of a ViT (Chefer 2021) and gradient rollout (vit-explain)
    distance      mean attention distance per layer and head (ViT paper, Figure 7)
    detr          relevance of one DETR detection through encoder and decoder (Chefer, ICCV 2021)
    faithfulness  deletion / insertion curves and their AUC, random baselines, the pointing game

Every map is a float tensor over the model's token grid ([B, gh, gw] for a ViT, [B, h, w] over
DETR's feature map), larger = more relevant, ready for `cvdemo.attention.upsample_heatmap`.
"""

from cvdemo.explain.detr import detr_attention_gradients, detr_relevance
from cvdemo.explain.distance import mean_attention_distance, patch_positions
from cvdemo.explain.faithfulness import (
    PerturbationCurve,
    ScoreFn,
    deletion_curve,
    detr_detection_score,
    insertion_curve,
    pointing_game_hit,
    random_curve,
    vit_class_score,
)
from cvdemo.explain.vit import attention_gradients, gradient_rollout, read_patch_map, vit_relevance

__all__ = ["attention_gradients", "detr_attention_gradients", "detr_relevance",
           "gradient_rollout", "mean_attention_distance", "patch_positions",
           "read_patch_map", "vit_relevance",
           "PerturbationCurve", "ScoreFn", "deletion_curve", "detr_detection_score", "insertion_curve",
           "pointing_game_hit", "random_curve", "vit_class_score"]
