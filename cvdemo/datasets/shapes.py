"""Synthetic shapes: a seeded detection / classification data set, in memory or as files.

Six classes (`CATEGORIES`), COCO-style category ids 1..6; class *index* ``k`` (0..5, what
``labels`` hold) is category id ``k + 1``:

    1 circle   2 square   3 triangle   4 star   5 heart   6 hexagon

Each image has a textured background (flat, gradient, stripes, colour blobs or grain) and
``min_objects..max_objects`` shapes of random class, size (log-uniform between
``min_size`` and ``max_size`` of the image side, so small objects are common), colour
(at least ``min_contrast`` from the mean colour under it, when 16 tries find one),
rotation and position, drawn one on top of another with antialiasing, then a little
sensor noise over everything.

Boxes and occlusion:

- A pixel *belongs* to an object when at least half of it shows that object (its visible
  antialiased coverage is >= 0.5). The box is the tight box of those pixels in continuous
  pixel coordinates (pixel ``(col, row)`` covers ``[col, col+1) x [row, row+1)``), so boxes
  are whole numbers: ``x0`` = first column, ``x1`` = last column + 1. An occluded object's box
  encloses its *visible* part, as COCO's boxes do.
- ``areas`` is the visible coverage summed over pixels (COCO's mask ``area``).
- Heavily occluded objects are never drawn: a new shape that would leave any shape beneath
  it with less than ``min_visible`` of its own area visible is placed again elsewhere
  (up to ``placement_tries`` times), and dropped if no place works. So every shape in an
  image is annotated, and an image can hold fewer than the number of shapes drawn for it.
- Shapes lie wholly inside the image (no truncation at the border).

Determinism: everything is drawn from one ``numpy.random.Generator``. `ShapesDataset` item
``i`` uses ``numpy.random.default_rng([seed, i])``, so an item does not depend on which
items were read before it (DataLoader workers are reproducible), and the files written by
``python -m cvdemo.datasets.shapes OUT --num-images N --seed S`` hold exactly
``ShapesDataset(N, S, config)``; same arguments, same bytes.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from cvdemo.datasets.shapes_draw import (
    BACKGROUNDS,
    SHAPE_NAMES,
    Layer,
    draw_background,
    polygon_coverage,
    shape_outline,
    uniform_noise,
)
from cvdemo.datasets.structure import Category, GroundTruth, ImageInfo

__all__ = [
    "CATEGORIES", "ShapesConfig", "ShapesDataset", "ShapesScene", "generate_sample", "main",
    "render_scene", "write_shapes_dataset",
]

log = logging.getLogger(__name__)

CATEGORIES: tuple[Category, ...] = tuple(
    Category(id=k + 1, name=name, supercategory="shape") for k, name in enumerate(SHAPE_NAMES))
"""The six classes; ``CATEGORIES[k]`` is class index ``k``, category id ``k + 1``."""

Seed = int | Sequence[int] | np.random.Generator


@dataclass(frozen=True)
class ShapesConfig:
    """What the generated images look like. Sizes are fractions of the image side."""

    image_size: int = 128  # square images, pixels
    task: Literal["detect", "classify"] = "detect"  # classify: exactly one shape per image
    min_objects: int = 1  # detect: shapes drawn per image, uniform in [min, max]
    max_objects: int = 6
    min_size: float = 0.1  # diameter of a shape's circumscribed circle, fraction of image_size
    max_size: float = 0.5  #   (drawn log-uniform between the two)
    rotate: bool = True  # random rotation; False draws every shape upright
    backgrounds: tuple[str, ...] = BACKGROUNDS  # textures to draw from (see shapes_draw.BACKGROUNDS)
    background_contrast: float = 60.0  # how far background colours stray from its base colour (RGB)
    min_contrast: float = 90.0  # object colour vs. the mean colour under it (RGB Euclidean)
    min_visible: float = 0.4  # every drawn shape keeps at least this fraction of its area visible
    placement_tries: int = 8  # placements tried before a shape that would occlude too much is dropped
    noise_std: float = 6.0  # sensor noise (uniform grain) over the whole image: std drawn in [0, noise_std]

    def __post_init__(self) -> None:
        problems = []
        if self.image_size < 8:
            problems.append(f"image_size must be >= 8, got {self.image_size}")
        if self.task not in ("detect", "classify"):
            problems.append(f"task must be 'detect' or 'classify', got {self.task!r}")
        if not 0 <= self.min_objects <= self.max_objects:
            problems.append(f"need 0 <= min_objects <= max_objects, got {self.min_objects}, "
                            f"{self.max_objects}")
        if not 0 < self.min_size <= self.max_size <= 1:
            problems.append(f"need 0 < min_size <= max_size <= 1, got {self.min_size}, {self.max_size}")
        if self.min_size * self.image_size < 4:
            problems.append("min_size * image_size must be >= 4 pixels, "
                            f"got {self.min_size * self.image_size:g}")
        unknown = [b for b in self.backgrounds if b not in BACKGROUNDS]
        if not self.backgrounds or unknown:
            problems.append(f"backgrounds must be a non-empty subset of {BACKGROUNDS}, "
                            f"got {self.backgrounds}")
        if not 0 <= self.min_visible <= 1:
            problems.append(f"min_visible must be in [0, 1], got {self.min_visible}")
        if self.placement_tries < 1:
            problems.append(f"placement_tries must be >= 1, got {self.placement_tries}")
        if self.noise_std < 0 or self.min_contrast < 0 or self.background_contrast < 0:
            problems.append("noise_std, min_contrast and background_contrast must be >= 0")
        if problems:
            raise ValueError("invalid ShapesConfig: " + "; ".join(problems))


@dataclass
class ShapesScene:
    """One generated image and everything known about its ``n`` shapes (drawing order).

    Attributes:
        image: ``uint8[H, W, 3]`` RGB.
        boxes_xyxy: ``float32[n, 4]`` tight box of each shape's visible pixels, continuous
            pixel corners ``x0, y0, x1, y1`` (whole numbers).
        labels: ``int64[n]`` class index 0..5 (category id = label + 1).
        areas: ``float64[n]`` visible area, pixels (summed antialiased coverage).
        visible_fractions: ``float64[n]`` visible area / area of the whole shape.
        centers_xy: ``float64[n, 2]`` centre of each shape's circumscribed circle.
        radii: ``float64[n]`` radius of that circle, pixels.
        angles: ``float64[n]`` rotation, radians.
        colors: ``float32[n, 3]`` RGB fill colour (before sensor noise).
        background: the background texture's name.
    """

    image: np.ndarray
    boxes_xyxy: np.ndarray
    labels: np.ndarray
    areas: np.ndarray
    visible_fractions: np.ndarray
    centers_xy: np.ndarray
    radii: np.ndarray
    angles: np.ndarray
    colors: np.ndarray
    background: str


@dataclass
class _Shape:
    label: int
    center: tuple[float, float]
    radius: float
    angle: float
    color: np.ndarray
    layer: Layer


def _pick_color(rng: np.random.Generator, under: np.ndarray, min_contrast: float) -> np.ndarray:
    """A random RGB colour at least ``min_contrast`` from ``under`` (the best of a few tries)."""
    best, best_dist = None, -1.0
    for _ in range(16):
        color = rng.uniform(0, 255, 3).astype(np.float32)
        dist = float(np.linalg.norm(color - under))
        if dist >= min_contrast:
            return color
        if dist > best_dist:
            best, best_dist = color, dist
    return best


def _as_generator(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


SHARED_SHAPES = ShapesConfig(image_size=128, min_objects=1, max_objects=4, min_size=0.15, max_size=0.6)
"""The one detection distribution every shipped detector trains and is evaluated on (detr-shapes' since it was
trained, and the detector families' after it), the default of ``python -m cvdemo.datasets.shapes`` and of the app's
example images: 1-4 shapes per 128 px image, 0.15-0.6 of the side across (19-77 px), so that COCO's small
(< 32² px) and medium (32²-96² px) ranges both hold objects and its large range none."""


def render_scene(seed: Seed, config: ShapesConfig = ShapesConfig()) -> ShapesScene:
    """Draw one image with its shapes, boxes and drawing details (see the module docstring).

    Args:
        seed: a ``numpy.random.Generator`` (advanced in place), or an int / sequence of
            non-negative ints for ``numpy.random.default_rng``.
        config: what to draw.
    """
    rng = _as_generator(seed)
    size = config.image_size
    background = config.backgrounds[int(rng.integers(len(config.backgrounds)))]
    image = draw_background(background, rng, size, config.background_contrast)
    if config.task == "classify":
        n_wanted = 1
    else:
        n_wanted = int(rng.integers(config.min_objects, config.max_objects + 1))
    log_min, log_max = math.log(config.min_size * size / 2), math.log(config.max_size * size / 2)
    shapes: list[_Shape] = []
    for _ in range(n_wanted):
        label = int(rng.integers(len(SHAPE_NAMES)))
        for _ in range(config.placement_tries):
            radius = math.exp(rng.uniform(log_min, log_max))
            center = (rng.uniform(radius, size - radius), rng.uniform(radius, size - radius))
            angle = rng.uniform(0, 2 * math.pi) if config.rotate else 0.0
            outline = shape_outline(SHAPE_NAMES[label], center, radius, angle)
            origin, alpha = polygon_coverage(outline, size, size)
            others_visible = (s.layer.stays_visible(origin, alpha, config.min_visible) for s in shapes)
            if (alpha >= 0.5).any() and all(others_visible):  # it has a box, and hides nothing too much
                break
        else:
            continue  # nowhere to put it without hiding another shape: leave it out
        for other in shapes:  # the new shape covers part of every shape beneath it
            other.layer.cover(origin, alpha)
        layer = Layer(origin, alpha)
        r0, c0 = origin
        region = image[r0:r0 + alpha.shape[0], c0:c0 + alpha.shape[1]]
        weights = alpha[:, :, None]
        under = (region * weights).sum(axis=(0, 1)) / layer.full_area
        color = _pick_color(rng, under, config.min_contrast)
        region += (color - region) * weights
        shapes.append(_Shape(label, center, radius, angle, color, layer))
    if config.noise_std > 0:
        image += uniform_noise(rng, image.shape, rng.uniform(0, config.noise_std))
    image_u8 = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return _scene(image_u8, shapes, background)


def _scene(image: np.ndarray, shapes: list[_Shape], background: str) -> ShapesScene:
    boxes = np.array([s.layer.box_xyxy() for s in shapes], np.float32).reshape(-1, 4)
    areas = np.array([s.layer.visible_area for s in shapes], np.float64)
    return ShapesScene(
        image=image,
        boxes_xyxy=boxes,
        labels=np.array([s.label for s in shapes], np.int64),
        areas=areas,
        visible_fractions=np.array([a / s.layer.full_area for a, s in zip(areas, shapes)], np.float64),
        centers_xy=np.array([s.center for s in shapes], np.float64).reshape(-1, 2),
        radii=np.array([s.radius for s in shapes], np.float64),
        angles=np.array([s.angle for s in shapes], np.float64),
        colors=np.array([s.color for s in shapes], np.float32).reshape(-1, 3),
        background=background,
    )


def generate_sample(seed: Seed, config: ShapesConfig = ShapesConfig()
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image and its annotations: ``(image, boxes_xyxy, labels)``.

    Returns:
        image ``uint8[H, W, 3]`` RGB; boxes_xyxy ``float32[n, 4]`` pixel corners of each
        shape's visible part; labels ``int64[n]`` class index 0..5 (category id = label + 1).
        For ``task="classify"`` ``n`` is 1 and ``labels[0]`` is the image's class.
    """
    scene = render_scene(seed, config)
    return scene.image, scene.boxes_xyxy, scene.labels


class ShapesDataset:
    """``num_images`` generated images, as a ``torch.utils.data.Dataset``-compatible sequence.

    Item ``i`` is drawn from ``numpy.random.default_rng([seed, i])``: the same for the same
    ``(seed, i, config)`` whatever the order of reading or the worker reading it.

    ``dataset[i]`` returns ``(image, target)`` (passed through ``transform`` if given):

    - ``image``: ``torch.uint8[3, H, W]`` RGB.
    - ``target["boxes_xyxy"]``: ``torch.float32[n, 4]`` pixel corners (see the module docstring).
    - ``target["labels"]``: ``torch.int64[n]`` class index 0..5 (category id = label + 1).
    - ``target["areas"]``: ``torch.float32[n]`` visible area, pixels.
    - ``target["image_id"]``: ``int`` ``i + 1`` (the id in the written COCO json).
    - ``target["size"]``: ``torch.int64[2]`` ``(H, W)``.
    - ``target["label"]``: ``int`` the image's class, only for ``task="classify"``.
    """

    def __init__(self, num_images: int, seed: int = 0, config: ShapesConfig = ShapesConfig(),
                 transform: Callable[[Any, dict], tuple[Any, dict]] | None = None) -> None:
        if num_images < 0:
            raise ValueError(f"num_images must be >= 0, got {num_images}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.num_images = num_images
        self.seed = seed
        self.config = config
        self.transform = transform
        self.categories = CATEGORIES

    def __len__(self) -> int:
        return self.num_images

    def _index(self, index: int) -> int:
        i = index + self.num_images if index < 0 else index
        if not 0 <= i < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        return i

    def scene(self, index: int) -> ShapesScene:
        """Item ``index`` with all its details, as NumPy arrays."""
        return render_scene(np.random.default_rng([self.seed, self._index(index)]), self.config)

    def __getitem__(self, index: int) -> tuple[Any, dict]:
        import torch  # here, not at the top: generating or writing files needs no torch

        i = self._index(index)
        scene = self.scene(i)
        image = torch.from_numpy(np.ascontiguousarray(scene.image.transpose(2, 0, 1)))
        target: dict[str, Any] = {
            "boxes_xyxy": torch.from_numpy(scene.boxes_xyxy),
            "labels": torch.from_numpy(scene.labels),
            "areas": torch.from_numpy(scene.areas.astype(np.float32)),
            "image_id": i + 1,
            "size": torch.tensor(scene.image.shape[:2], dtype=torch.int64),
        }
        if self.config.task == "classify":
            target["label"] = int(scene.labels[0])
        if self.transform is not None:
            return self.transform(image, target)
        return image, target


def write_shapes_dataset(out_dir: str | Path, num_images: int, seed: int = 0,
                         config: ShapesConfig = ShapesConfig(), overwrite: bool = False) -> GroundTruth:
    """Write ``ShapesDataset(num_images, seed, config)`` as ``out_dir/images/*.png`` + COCO json.

    Image ``i`` (0-based) is ``images/{i+1:06d}.png`` with image id ``i + 1``; its annotations
    have ids ``1..N`` in image then drawing order, ``bbox`` = the box as ``[x, y, w, h]``,
    ``area`` = visible area, ``iscrowd`` 0. ``file_name`` is relative to ``out_dir/images``.
    PNG encoding and the json are deterministic: same arguments, same bytes.

    Raises:
        FileExistsError: ``out_dir`` already holds ``annotations.json`` or ``images/*.png``
            and ``overwrite`` is False (with ``overwrite``, only those files are replaced).
    """
    out = Path(out_dir)
    images_dir = out / "images"
    ann_path = out / "annotations.json"
    old_pngs = sorted(images_dir.glob("*.png")) if images_dir.is_dir() else []
    if (old_pngs or ann_path.exists()) and not overwrite:
        raise FileExistsError(f"{out} already holds a data set; pass overwrite=True (--overwrite) "
                              "to replace its images/*.png and annotations.json")
    for p in old_pngs:
        p.unlink()
    images_dir.mkdir(parents=True, exist_ok=True)
    dataset = ShapesDataset(num_images, seed, config)
    infos, image_ids, labels, boxes, areas = [], [], [], [], []
    for i in range(num_images):
        scene = dataset.scene(i)
        name = f"{i + 1:06d}.png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise OSError(f"could not encode {name} as PNG")
        (images_dir / name).write_bytes(png.tobytes())
        infos.append(ImageInfo(id=i + 1, file_name=name, width=config.image_size, height=config.image_size))
        image_ids += [i + 1] * len(scene.labels)
        labels.append(scene.labels)
        boxes.append(scene.boxes_xyxy.astype(np.float64))
        areas.append(scene.areas)
    xyxy = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    gt = GroundTruth(
        images=infos,
        categories=list(CATEGORIES),
        ann_ids=np.arange(1, len(xywh) + 1),
        image_ids=image_ids,
        category_ids=(np.concatenate(labels) + 1) if labels else np.zeros(0),
        boxes_xywh=xywh,
        areas=np.round(np.concatenate(areas), 2) if areas else np.zeros(0),
    )
    gt.write_coco_json(ann_path)
    log.info("wrote %d images with %d objects to %s", num_images, len(gt), out)
    return gt


def config_from_args(args: argparse.Namespace) -> ShapesConfig:
    """The command line's `ShapesConfig` (its defaults give `SHARED_SHAPES`)."""
    return dataclasses.replace(SHARED_SHAPES, image_size=args.size, task=args.task, min_objects=args.min_objects,
                               max_objects=args.max_objects, min_size=args.min_size, max_size=args.max_size)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (its defaults give `SHARED_SHAPES`)."""
    parser = argparse.ArgumentParser(
        prog="python -m cvdemo.datasets.shapes",
        description="Write a synthetic shapes data set: OUT/images/*.png and OUT/annotations.json (COCO).")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--num-images", type=int, required=True, help="how many images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (>= 0); same seed, same bytes")
    parser.add_argument("--task", choices=("detect", "classify"), default="detect",
                        help="classify: exactly one shape per image")
    shared = SHARED_SHAPES
    parser.add_argument("--size", type=int, default=shared.image_size, help="image side, pixels")
    parser.add_argument("--min-objects", type=int, default=shared.min_objects)
    parser.add_argument("--max-objects", type=int, default=shared.max_objects)
    parser.add_argument("--min-size", type=float, default=shared.min_size, help="smallest shape, fraction of the side")
    parser.add_argument("--max-size", type=float, default=shared.max_size, help="largest shape, fraction of the side")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing data set in OUT")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m cvdemo.datasets.shapes OUT --num-images N --seed S``.

    Options: ``--task detect|classify``, ``--size``, ``--min-objects``, ``--max-objects``, ``--min-size``,
    ``--max-size`` (defaults: `SHARED_SHAPES`, the shipped detectors' distribution), ``--overwrite``. Returns the exit
    status (0; argparse exits with 2 on bad input).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = config_from_args(args)
        if args.num_images < 0 or args.seed < 0:
            raise ValueError("--num-images and --seed must be >= 0")
        write_shapes_dataset(args.out, args.num_images, args.seed, config, overwrite=args.overwrite)
    except (ValueError, FileExistsError, OSError) as err:
        parser.exit(2, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
