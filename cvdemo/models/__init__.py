"""cvdemo's models: DETR and ViT, the detector families beside DETR (Faster R-CNN, SSD, RetinaNet on torchvision's
own classes; YOLO v1), and the one place that loads and saves their weights."""

from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.faster_rcnn import FASTER_RCNN_PRESETS, FasterRCNN, FasterRCNNConfig
from cvdemo.models.loading import CheckpointError, load, save
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.models.rcnn import RCNN, RCNNConfig
from cvdemo.models.retinanet import RETINANET_PRESETS, RetinaNet, RetinaNetConfig
from cvdemo.models.ssd import SSD, SSD_PRESETS, SSDConfig
from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.models.yolo import YOLO, YOLO_PRESETS, YOLOConfig

__all__ = ["DETR", "DETRConfig", "DETR_PRESETS", "ViT", "ViTConfig", "VIT_PRESETS", "CheckpointError", "load",
           "save", "post_process_object_detection", "vit_transform", "FasterRCNN", "FasterRCNNConfig",
           "FASTER_RCNN_PRESETS", "SSD", "SSDConfig", "SSD_PRESETS", "RetinaNet", "RetinaNetConfig",
           "RETINANET_PRESETS", "YOLO", "YOLOConfig", "YOLO_PRESETS", "RCNN", "RCNNConfig"]
