"""cvdemo's models: DETR and ViT, and the one place that loads and saves their weights."""

from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.loading import CheckpointError, load, save
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig
from cvdemo.models.vit_transforms import vit_transform

__all__ = ["DETR", "DETRConfig", "DETR_PRESETS", "ViT", "ViTConfig", "VIT_PRESETS", "CheckpointError", "load",
           "save", "post_process_object_detection", "vit_transform"]
