"""Training recipes for the synthetic shapes: ``tiny`` (a live demo on a CPU) and ``small`` (the shipped
checkpoints). Each preset fixes the model's sizes, the data and the `TrainConfig`; the CLIs
(`python -m training.train_detr --preset tiny`) and the app's Train tab start from them.

Why these numbers (measured on a shared 2-core CPU, one thread; see the model cards in checkpoints/):

- ``small`` DETR (the shipped checkpoint) has no pretrained backbone, so the backbone trains at the full learning rate
  (``backbone_lr=None``) with ordinary BatchNorm, dropout is off (the generator never repeats an image, so there
  is nothing to overfit), and a short warm-up keeps the random ResNet from diverging.
- ``tiny`` starts its backbone from the shipped ``detr-shapes`` (``backbone_init``), as DETR starts from an
  ImageNet ResNet, and trains it at DETR's backbone lr (1e-5); the transformer, queries and heads start from
  scratch at lr 1e-3. From a random backbone no class is right within 8 minutes on this CPU (the backbone must
  first learn colour-invariant shape features). The Train tab's default run (``demo_steps`` = 600, a whole cosine
  schedule, ~4 min on one core of the project's CPU) was measured by ``benchmarks/bench_train_presets.py`` (the
  tab's own setup: request seed 0, 32 validation images, 8 snapshot images): the best-scoring box is right
  (class and IoU >= 0.5) on 3 / 4 / 0 of the 8 snapshot images for seeds 0 / 1 / 2, and on 12 / 15 / 3 of the
  32 validation images, COCO AP 0.074 / 0.073 / 0.021: the tab's seed 0 keeps the promise, and a short DETR run
  stays a gamble (seed 2 has not found its classes yet). At lr 2e-4 (the earlier default) 300, 600 and 900 steps
  of seed 0 gave 6, 6 and 15 of 32 and AP 0.020, 0.028, 0.052.
- The model is ``detr-tiny``: ResNet-18 up to layer2 (stride 8: a 16x16 feature map at 128 px, fine enough for
  small shapes), 2+2 transformer layers of width 128, 10 queries; 1.7 M weights, ~22 images/s on one core.
  Boxes are learnt first (L1/GIoU fall within ~2k steps); the class of a matched query comes much later
  (class error stays near 90 % for ~7k steps, then drops), as is typical of DETR.
- ViT classifies one shape per 64 px image with 8 px patches (an 8x8 grid) and 4 blocks of width 128. From
  scratch it stays near chance for thousands of steps: it must first find features that ignore the random
  colours (fed |pixel - median colour| instead, the same ViT reaches 0.61 in 900 steps; fed RGB, 0.25; patch 4,
  mimetic attention init, lr 3e-3, depth 2 or a BatchNorm conv stem did not help). ``small`` therefore adds a
  feature hint (`cvdemo.training.feature_hint`): block 1's tokens predict the shipped ``detr-shapes``
  backbone's 8x8 feature map (stride 8 = the patch size), whose features already ignore colour. The shipped
  ViT is a plain ViT; the hint exists only in training. (0.36 vs 0.25 after ~700 steps in a side-by-side trial.)
  ``tiny`` (2 blocks of width 96) uses the same hint on its last block, so the live demo's accuracy rises
  within minutes: the Train tab's default run (``demo_steps`` = 1200, ~3 min on one core) leaves the top class
  right on 4 / 2 / 5 of the 8 snapshot images for seeds 0 / 1 / 2 (validation accuracy 0.34 / 0.28 / 0.34 on
  32 images; chance 0.17); 600 steps gave 2 of 8 and 0.22 (``benchmarks/bench_train_presets.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

import cvdemo.models
from cvdemo.datasets.shapes import CATEGORIES, SHARED_SHAPES, ShapesConfig, ShapesDataset
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.faster_rcnn import FASTER_RCNN_PRESETS, FasterRCNN, FasterRCNNConfig
from cvdemo.models.loading import CheckpointError
from cvdemo.models.ssd import SSD, SSD_PRESETS, SSDConfig
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.models.yolo import YOLO, YOLO_PRESETS, YOLOConfig
from cvdemo.training.classification import ClassificationTask
from cvdemo.training.engine import TrainConfig
from cvdemo.training.feature_hint import FeatureHint

__all__ = ["DETR_TRAINING_PRESETS", "FASTER_RCNN_TRAINING_PRESETS", "SSD_TRAINING_PRESETS", "VIT_TRAINING_PRESETS",
           "YOLO_TRAINING_PRESETS", "TrainingPreset", "build_detr", "build_faster_rcnn", "build_ssd", "build_vit",
           "build_vit_task", "build_yolo", "init_detr_backbone", "shapes_id2label"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
_PRESET = "preset"  # build_detr's default: the preset's backbone_init


@dataclass(frozen=True)
class TrainingPreset:
    """A complete recipe. ``model``: DETRConfig / ViTConfig fields (classes and labels come from the data);
    ``shapes``: ShapesConfig fields; ``train``: TrainConfig fields; image counts of the generated sets."""

    name: str
    description: str
    model: dict[str, Any]
    shapes: dict[str, Any]
    train: dict[str, Any]
    num_train_images: int
    num_val_images: int
    data_seed: int = 0  # training images use this seed, validation images data_seed + 1
    feature_hint: dict[str, Any] | None = None  # ViT: FeatureHint from {"teacher": DETR whose backbone
    #   teaches, "block": hinted block, "weight": loss factor}; None: CE only
    backbone_init: str | None = None  # DETR: a model (folder relative to the repository, or hf:<id>) whose
    #   backbone starts this one's, as DETR starts from an ImageNet ResNet; None: a random backbone
    demo_steps: int = 300  # the Train tab's default length for this preset (steps)
    promise: dict[str, Any] = field(default_factory=dict)  # what the default run shows, as its text says, measured by
    #   benchmarks/bench_train_presets.py: {"minutes": on the project's 2-core CPU, "right": snapshot images with a
    #   right top prediction, "of": snapshot images} (tests/test_train_curves.py checks text, numbers, recording)
    extra: dict[str, Any] = field(default_factory=dict)

    def shapes_config(self) -> ShapesConfig:
        return ShapesConfig(**self.shapes)

    def train_config(self, **overrides: Any) -> TrainConfig:
        return TrainConfig(**{**self.train, **overrides})

    def datasets(self, num_train: int | None = None, num_val: int | None = None,
                 seed: int | None = None) -> tuple[ShapesDataset, ShapesDataset]:
        """(train, validation) generated sets; validation uses seed + 1."""
        seed = self.data_seed if seed is None else seed
        config = self.shapes_config()
        return (ShapesDataset(num_train or self.num_train_images, seed, config),
                ShapesDataset(num_val or self.num_val_images, seed + 1, config))


def shapes_id2label() -> dict[int, str]:
    """Class index -> name of the six shapes."""
    return {k: c.name for k, c in enumerate(CATEGORIES)}


def build_detr(preset: TrainingPreset, id2label: dict[int, str] | None = None,
               backbone_init: str | None = _PRESET) -> DETR:
    """A freshly initialised DETR of the preset's size for ``id2label`` (default: the shapes), its backbone
    from ``backbone_init`` (default: the preset's; None: random)."""
    id2label = id2label or shapes_id2label()
    model = DETR(DETRConfig(**preset.model, num_classes=len(id2label), id2label=id2label))
    source = preset.backbone_init if backbone_init == _PRESET else backbone_init
    if source is not None:
        init_detr_backbone(model, source)
    return model


def _load_detr(source: str | Path, what: str) -> DETR:
    """The DETR at ``source`` (a folder, relative paths tried against the repository root too, or hf:<id>)."""
    if str(source).startswith("hf:"):
        donor = cvdemo.models.load(str(source))
    else:
        path = Path(source)
        if not path.exists() and (REPO_ROOT / path).exists():
            path = REPO_ROOT / path
        donor = cvdemo.models.load(path)
    if not isinstance(donor, DETR):
        raise CheckpointError(f"{what} {source}: that is a {type(donor).__name__}, not a DETR")
    return donor


def build_vit_task(preset: TrainingPreset, model: ViT, hint_from: str | None = _PRESET) -> ClassificationTask:
    """The `ClassificationTask` of the preset's recipe for ``model``: with the preset's feature hint, its
    teacher from ``hint_from`` (default: the preset's; None: no hint)."""
    spec = dict(preset.feature_hint or {})
    teacher = spec.get("teacher") if hint_from == _PRESET else hint_from
    if teacher is None:
        return ClassificationTask(model.config)
    donor = _load_detr(teacher, "hint teacher")
    c = model.config
    hint = FeatureHint(donor.backbone, donor.config.image_mean, donor.config.image_std, c.image_mean, c.image_std,
                       c.embed_dim, c.patch_size, block=int(spec.get("block", 1)),
                       weight=float(spec.get("weight", 1.0)))
    log.info("feature hint from %s's backbone on block %d (weight %g)", teacher, hint.block, hint.weight)
    return ClassificationTask(c, hint=hint)


def init_detr_backbone(model: nn.Module, source: str | Path) -> None:
    """Copy the backbone weights (and BatchNorm statistics) of the DETR at ``source`` (a folder, relative
    paths tried against the repository root too, or hf:<id>) into ``model`` (a DETR, or any model whose
    ``backbone`` is `cvdemo.models.backbone`'s, e.g. a YOLO); the rest stays as it is.
    Raises `CheckpointError` when the source is not a DETR with the same backbone."""
    donor = _load_detr(source, "backbone init")
    ours, theirs = model.backbone.state_dict(), donor.backbone.state_dict()
    mismatch = sorted(k for k in theirs if k not in ours or ours[k].shape != theirs[k].shape)
    if mismatch:
        raise CheckpointError(f"backbone init {source}: its backbone ({donor.config.backbone}, "
                              f"{donor.config.backbone_stages} stages) does not fit this model's "
                              f"({model.config.backbone}); differing weights: {mismatch[:5]}")
    extra = sorted(k for k in ours if k not in theirs)  # deeper stages, an FPN: they keep their initialisation
    model.backbone.load_state_dict(theirs, strict=not extra)
    log.info("backbone initialised from %s (%d weights; %d more of this model's own stay as they are)", source,
             len(theirs), len(extra))


def _family_builder(model_class: type[nn.Module], config_class: type):
    def build(preset: TrainingPreset, id2label: dict[int, str] | None = None,
              backbone_init: str | None = _PRESET) -> nn.Module:
        id2label = id2label or shapes_id2label()
        model = model_class(config_class(**preset.model, num_classes=len(id2label), id2label=id2label))
        source = preset.backbone_init if backbone_init == _PRESET else backbone_init
        if source is not None:
            init_detr_backbone(model, source)
        return model

    build.__name__ = f"build_{model_class.__name__.lower()}"
    build.__doc__ = (f"A freshly initialised {model_class.__name__} of the preset's size for ``id2label`` (default: "
                     "the shapes), its backbone's first stages from ``backbone_init`` (default: the preset's; None: "
                     "random) as `build_detr`.")
    return build


build_yolo = _family_builder(YOLO, YOLOConfig)
build_faster_rcnn = _family_builder(FasterRCNN, FasterRCNNConfig)
build_ssd = _family_builder(SSD, SSDConfig)


def build_vit(preset: TrainingPreset, id2label: dict[int, str] | None = None) -> ViT:
    """A freshly initialised ViT of the preset's size for ``id2label`` (default: the shapes)."""
    id2label = id2label or shapes_id2label()
    return ViT(ViTConfig(**preset.model, num_classes=len(id2label), id2label=id2label))


_DETR_TINY_MODEL = {**DETR_PRESETS["detr-tiny"], "dropout": 0.0}
# the backbone every preset starts from (the tiny DETR's and the families' init, the ViTs' feature hint): the first
# detr-shapes (2 decoder layers, trained from scratch), kept when detr-shapes grew to 6 decoder layers so that the
# measured presets and the families' checkpoints keep their start
BACKBONE_SOURCE = "checkpoints/detr-shapes-2dec"
# SHARED_SHAPES, detr-shapes' distribution: the small preset of every family
_SHARED_SHAPES = {k: getattr(SHARED_SHAPES, k) for k in ("image_size", "min_objects", "max_objects", "min_size",
                                                         "max_size")}

DETR_TRAINING_PRESETS: dict[str, TrainingPreset] = {
    "tiny": TrainingPreset(
        name="tiny",
        description="live CPU demo: 1-3 large shapes at 128 px, the backbone from detr-shapes (as DETR's from "
                    "ImageNet); the default 600 steps take about 4 minutes on a 2-core CPU, after which the "
                    "best-scoring box is right on 3 of the 8 snapshot images (other seeds: 0 to 4 of 8)",
        model=_DETR_TINY_MODEL,
        shapes=dict(image_size=128, min_objects=1, max_objects=3, min_size=0.2, max_size=0.6),
        backbone_init=BACKBONE_SOURCE,
        train=dict(total_steps=3000, batch_size=8, lr=1e-3, backbone_lr=1e-5, weight_decay=1e-4,
                   grad_clip=0.1, schedule="cosine", warmup_steps=100, hflip=0.5, eval_every=100,
                   snapshot_every=25, num_snapshot_images=8, checkpoint_every=500),
        demo_steps=600,
        promise={"minutes": 4, "right": 3, "of": 8},
        num_train_images=200_000, num_val_images=64,
    ),
    "small": TrainingPreset(
        name="small",
        description="the shipped checkpoint's recipe: 1-4 shapes at 128 px, sizes 0.15-0.6 of the image, a random "
                    "backbone; the default 300 steps (about 2 minutes on a 2-core CPU) show the loss falling, not yet "
                    "a right box (0 of the 4 snapshot images; detr-shapes took 28,300 steps, about 3.5 hours)",
        model=_DETR_TINY_MODEL,
        shapes=_SHARED_SHAPES,
        train=dict(total_steps=7000, batch_size=8, lr=2e-4, backbone_lr=None, weight_decay=1e-4,
                   grad_clip=0.1, schedule="cosine", warmup_steps=200, hflip=0.5, eval_every=2000,
                   snapshot_every=0, checkpoint_every=500),
        promise={"minutes": 2, "right": 0, "of": 4},
        num_train_images=200_000, num_val_images=200,
    ),
}

_VIT_MODEL = dict(image_size=64, patch_size=8, embed_dim=128, depth=4, num_heads=4, mlp_ratio=4.0,
                  global_pool="avg", class_token=False, image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5))
_VIT_SHAPES = dict(image_size=64, task="classify", min_size=0.35, max_size=0.85)

VIT_TRAINING_PRESETS: dict[str, TrainingPreset] = {
    "tiny": TrainingPreset(
        name="tiny",
        description="live CPU demo: one shape per 64 px image, 2 blocks of width 96, hinted by detr-shapes' "
                    "backbone; the default 1200 steps take about 3 minutes on a 2-core CPU, after which the top "
                    "class is right on 4 of the 8 snapshot images (validation accuracy 0.34; chance is 0.17)",
        model={**_VIT_MODEL, "embed_dim": 96, "depth": 2, "num_heads": 3},
        demo_steps=1200,
        promise={"minutes": 3, "right": 4, "of": 8},
        shapes=_VIT_SHAPES,
        feature_hint={"teacher": BACKBONE_SOURCE, "block": 1, "weight": 1.0},
        train=dict(total_steps=2000, batch_size=32, lr=1e-3, weight_decay=0.05, grad_clip=1.0,
                   schedule="cosine", warmup_steps=100, hflip=0.5, eval_every=200, eval_batch_size=64,
                   snapshot_every=25, num_snapshot_images=8, checkpoint_every=200),
        num_train_images=100_000, num_val_images=256,
    ),
    "small": TrainingPreset(
        name="small",
        description="the shipped checkpoint's recipe: one shape per 64 px image, 4 blocks of width 128, hinted by "
                    "detr-shapes' backbone; the default 300 steps (about 3 minutes on a 2-core CPU) leave the top "
                    "class right on 1 of the 4 snapshot images (validation accuracy 0.25; vit-shapes took 10,000 "
                    "steps, 59 minutes)",
        model=_VIT_MODEL,
        shapes=_VIT_SHAPES,
        feature_hint={"teacher": BACKBONE_SOURCE, "block": 1, "weight": 1.0},
        train=dict(total_steps=7500, batch_size=64, lr=1e-3, weight_decay=0.05, grad_clip=1.0,
                   schedule="cosine", warmup_steps=500, hflip=0.5, eval_every=1000, eval_batch_size=128,
                   checkpoint_every=500),
        promise={"minutes": 3, "right": 1, "of": 4},
        num_train_images=400_000, num_val_images=1000,
    ),
}


YOLO_TRAINING_PRESETS: dict[str, TrainingPreset] = {
    "tiny": TrainingPreset(
        name="tiny",
        description="live CPU demo: YOLO v1 on 1-3 large shapes at 128 px (an 8x8 grid, 2 boxes per cell), the "
                    "backbone from detr-shapes as the tiny DETR's; the default 300 steps take about 2 minutes on a "
                    "2-core CPU, after which the best-scoring box is right on 1 of the 8 snapshot images (COCO AP "
                    "0.05)",
        model=YOLO_PRESETS["tiny"],
        shapes=DETR_TRAINING_PRESETS["tiny"].shapes,
        backbone_init=BACKBONE_SOURCE,
        train=dict(total_steps=3000, batch_size=16, lr=1e-3, backbone_lr=1e-4, weight_decay=5e-4, grad_clip=10.0,
                   schedule="cosine", warmup_steps=100, hflip=0.5, eval_every=100, snapshot_every=25,
                   num_snapshot_images=8, checkpoint_every=500),
        promise={"minutes": 2, "right": 1, "of": 8},
        num_train_images=200_000, num_val_images=64,
    ),
    "small": TrainingPreset(
        name="small",
        description="the recipe of a shipped yolo-shapes: the YOLO v1 grid with a 1x1-convolution head on "
                    "detr-shapes' distribution (1-4 shapes at 128 px, sizes 0.15-0.6 of the image), the backbone "
                    "from detr-shapes",
        model=YOLO_PRESETS["small"],
        shapes=_SHARED_SHAPES,
        backbone_init=BACKBONE_SOURCE,
        train=dict(total_steps=20000, batch_size=16, lr=1e-3, backbone_lr=1e-4, weight_decay=5e-4, grad_clip=10.0,
                   schedule="cosine", warmup_steps=200, hflip=0.5, eval_every=2000, checkpoint_every=500),
        num_train_images=400_000, num_val_images=200,
    ),
}


def _family_presets(family: str, model: dict, lr: float, batch_size: int, shows: str,
                    promise: dict[str, Any]) -> dict[str, TrainingPreset]:
    """tiny (live) and small (a shipped checkpoint's recipe) of a torchvision family, as YOLO's. ``shows``: what
    the tiny preset's default run shows (measured by benchmarks/bench_train_presets.py), ``promise`` its numbers."""
    common = dict(lr=lr, backbone_lr=lr / 10, weight_decay=1e-4, grad_clip=10.0, schedule="cosine", hflip=0.5)
    return {
        "tiny": TrainingPreset(
            name="tiny",
            description=f"live CPU demo: {family} on 1-3 large shapes at 128 px, the backbone's first stages from "
                        f"detr-shapes as the tiny DETR's; {shows}",
            model=model, shapes=DETR_TRAINING_PRESETS["tiny"].shapes, backbone_init=BACKBONE_SOURCE,
            train=dict(total_steps=3000, batch_size=batch_size, warmup_steps=100, eval_every=100, snapshot_every=25,
                       num_snapshot_images=8, checkpoint_every=500, **common),
            promise=promise, num_train_images=200_000, num_val_images=64),
        "small": TrainingPreset(
            name="small",
            description=f"the recipe of a shipped checkpoint: {family} on detr-shapes' distribution (1-4 shapes at "
                        "128 px, sizes 0.15-0.6 of the image), the backbone's first stages from detr-shapes",
            model=model, shapes=_SHARED_SHAPES, backbone_init=BACKBONE_SOURCE,
            train=dict(total_steps=20000, batch_size=batch_size, warmup_steps=200, eval_every=2000,
                       checkpoint_every=500, **common),
            num_train_images=400_000, num_val_images=200),
    }


# measured on the project's 2-core CPU, seed 0 (the tab's), one thread: in 300 steps the CNN families reach what
# the tiny DETR does not in 600 (AP 0.074): DETR is slow to converge, as the notes say
FASTER_RCNN_TRAINING_PRESETS = _family_presets(
    "Faster R-CNN", FASTER_RCNN_PRESETS["tiny"], lr=1e-4, batch_size=8,
    shows="the default 300 steps take about 3 minutes on a 2-core CPU, after which the best-scoring box is right on "
          "5 of the 8 snapshot images (COCO AP 0.29)", promise={"minutes": 3, "right": 5, "of": 8})
SSD_TRAINING_PRESETS = _family_presets(
    "SSD", SSD_PRESETS["tiny"], lr=1e-3, batch_size=16,
    shows="the default 300 steps take about 3 minutes on a 2-core CPU, after which the best-scoring box is right on "
          "6 of the 8 snapshot images (COCO AP 0.34)", promise={"minutes": 3, "right": 6, "of": 8})
