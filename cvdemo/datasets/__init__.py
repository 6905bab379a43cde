"""Detection data sets: one in-memory structure (`structure`) and the file formats people use.

`GroundTruth` and `Detections` (see `cvdemo.datasets.structure` for every array's dtype,
shape and box convention) are what every loader returns and what `cvdemo.metrics` reads:

- COCO json (`coco`): ``load_coco_ground_truth``, ``load_coco_detections``;
- Pascal VOC xml (`voc`): ``load_voc_ground_truth``, ``write_voc_annotations``;
- YOLO txt (`yolo`): ``load_yolo_ground_truth``, ``load_yolo_detections``, ...;
- the synthetic shapes generator: `cvdemo.datasets.shapes`.

The VOC and YOLO loaders are imported on first use, so that ``python -m cvdemo.evaluate``
does not pay for defusedxml and Pillow.
"""
from importlib import import_module

from cvdemo.datasets.coco import load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.structure import Category, DatasetError, Detections, GroundTruth, ImageInfo

_LAZY = {
    "load_voc_ground_truth": "cvdemo.datasets.voc", "write_voc_annotations": "cvdemo.datasets.voc",
    "load_yolo_ground_truth": "cvdemo.datasets.yolo", "load_yolo_detections": "cvdemo.datasets.yolo",
    "read_yolo_classes": "cvdemo.datasets.yolo", "write_yolo_labels": "cvdemo.datasets.yolo",
    "write_yolo_detections": "cvdemo.datasets.yolo",
}

__all__ = [
    "Category", "DatasetError", "Detections", "GroundTruth", "ImageInfo",
    "load_coco_detections", "load_coco_ground_truth", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cvdemo.datasets' has no attribute {name!r}")
