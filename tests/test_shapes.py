"""The synthetic shapes generator: determinism, tight boxes, occlusion rule, classify task, CLI.

Box checks are made from the pixels of the image (and, for the half-pixel convention, from
the declared circle geometry), not from the generator's internal coverage maps.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from cvdemo.datasets.shapes import (
    CATEGORIES,
    ShapesConfig,
    ShapesDataset,
    generate_sample,
    render_scene,
    write_shapes_dataset,
)
from cvdemo.datasets.shapes_draw import SHAPE_NAMES, shape_outline

REPO = Path(__file__).resolve().parents[1]
FLAT = dict(backgrounds=("flat",), noise_std=0.0)


def _folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _polygon_area(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _fraction_map(image: np.ndarray, background: np.ndarray, color: np.ndarray) -> np.ndarray:
    """How much of each pixel shows ``color`` over ``background``: a projection of the RGB blend."""
    d = color.astype(np.float64) - background
    return ((image.astype(np.float64) - background) @ d) / (d @ d)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    config = ShapesConfig(image_size=64)
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_shapes_dataset(tmp_path / name, 10, seed, config)
    a, b, c = (_folder_bytes(tmp_path / n) for n in "abc")
    assert len(a) == 11 and "annotations.json" in a
    assert a == b
    assert a.keys() == c.keys()
    assert a["annotations.json"] != c["annotations.json"]
    assert all(a[k] != c[k] for k in a if k.endswith(".png"))


def test_items_do_not_depend_on_reading_order() -> None:
    config = ShapesConfig(image_size=48)
    forward = [ShapesDataset(12, 3, config)[i] for i in range(12)]
    backward = ShapesDataset(12, 3, config)
    for i in reversed(range(12)):
        image, target = backward[i]
        assert torch.equal(image, forward[i][0])
        assert torch.equal(target["boxes_xyxy"], forward[i][1]["boxes_xyxy"])
        assert torch.equal(target["labels"], forward[i][1]["labels"])
    assert torch.equal(backward[-1][0], forward[11][0])
    assert not torch.equal(forward[0][0], forward[1][0])
    with pytest.raises(IndexError):
        backward[12]


def test_dataloader_workers_reproduce_items() -> None:
    dataset = ShapesDataset(8, 5, ShapesConfig(image_size=32, min_size=0.2))
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=list)
    batched = [item for batch in loader for item in batch]
    assert len(batched) == 8
    for i, (image, target) in enumerate(batched):
        assert target["image_id"] == i + 1
        assert torch.equal(image, dataset[i][0])


def test_sample_contract() -> None:
    config = ShapesConfig(image_size=80)
    image, boxes, labels = generate_sample(11, config)
    assert image.dtype == np.uint8 and image.shape == (80, 80, 3)
    assert boxes.dtype == np.float32 and boxes.shape == (len(labels), 4)
    assert labels.dtype == np.int64 and ((labels >= 0) & (labels < 6)).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all() and (boxes >= 0).all() and (boxes <= 80).all()
    again = generate_sample(np.random.default_rng(11), config)
    assert np.array_equal(image, again[0]) and np.array_equal(boxes, again[1])
    image_t, target = ShapesDataset(2, 0, config)[1]
    assert image_t.dtype == torch.uint8 and image_t.shape == (3, 80, 80)
    assert target["boxes_xyxy"].dtype == torch.float32 and target["labels"].dtype == torch.int64
    assert target["size"].tolist() == [80, 80] and "label" not in target
    assert [(c.id, c.name) for c in CATEGORIES] == list(enumerate(SHAPE_NAMES, start=1))
    assert SHAPE_NAMES == ("circle", "square", "triangle", "star", "heart", "hexagon")


def test_single_shape_box_is_tight_around_its_pixels() -> None:
    config = ShapesConfig(image_size=96, task="classify", min_size=0.1, max_size=0.9, **FLAT)
    seen = set()
    for seed in range(60):
        image, boxes, labels = generate_sample(seed, config)
        assert len(labels) == 1
        seen.add(int(labels[0]))
        background = image[0, 0].astype(np.float64)  # a corner is outside every shape's circle
        far = np.abs(image.astype(np.float64) - background).sum(axis=2)
        color = image.reshape(-1, 3)[np.argmax(far)]  # a fully covered pixel
        frac = _fraction_map(image, background, color)
        x0, y0, x1, y1 = boxes[0].astype(int)
        inside = np.zeros(frac.shape, bool)
        inside[y0:y1, x0:x1] = True
        # Every clearly-covered pixel is in the box, and each box edge touches the shape.
        assert (frac[~inside] < 0.6).all(), (seed, boxes[0])
        edges = (frac[y0, x0:x1], frac[y1 - 1, x0:x1], frac[y0:y1, x0], frac[y0:y1, x1 - 1])
        assert all(edge.max() >= 0.4 for edge in edges), (seed, boxes[0])
    assert seen == set(range(6))


def test_circle_boxes_follow_the_pixel_edge_convention() -> None:
    config = ShapesConfig(image_size=96, task="classify", min_size=0.1, max_size=0.8, **FLAT)
    errors = []
    for seed in range(240):
        scene = render_scene(seed, config)
        if scene.labels[0] == 0:
            (cx, cy), r = scene.centers_xy[0], scene.radii[0]
            errors.append(scene.boxes_xyxy[0] - np.array([cx - r, cy - r, cx + r, cy + r]))
    errors = np.array(errors)
    assert len(errors) >= 20
    assert np.abs(errors).max() <= 1.0  # each edge within a pixel of the true circle
    # No half-pixel shift: pixel (i, j) covers [i, i+1) x [j, j+1).
    assert np.abs(errors.mean(axis=0)).max() < 0.15


def test_occluded_shapes_stay_visible_and_boxes_hold_their_pixels() -> None:
    config = ShapesConfig(image_size=96, min_objects=4, max_objects=8, max_size=0.6, min_visible=0.4, **FLAT)
    occluded = 0
    for seed in range(30):
        scene = render_scene(seed, config)
        image = scene.image.astype(np.int16)
        occluded += int((scene.visible_fractions < 0.99).sum())
        for k in range(len(scene.labels)):
            color = np.floor(scene.colors[k] + 0.5).astype(np.int16)
            solid = np.abs(image - color).max(axis=2) <= 1  # pixels showing only this shape
            ys, xs = np.nonzero(solid)
            x0, y0, x1, y1 = scene.boxes_xyxy[k]
            assert len(xs) and xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
            outline = shape_outline(SHAPE_NAMES[scene.labels[k]], scene.centers_xy[k], scene.radii[k],
                                    scene.angles[k])
            full = _polygon_area(outline)
            perimeter = np.linalg.norm(outline - np.roll(outline, 1, axis=0), axis=1).sum()
            # Solid pixels miss at most the antialiased rim of the visible part (its outline and
            # the occluders' outlines crossing it); the rest must be >= min_visible of the shape.
            assert len(xs) + 2 * perimeter >= config.min_visible * full, (seed, k)
            assert len(xs) <= scene.areas[k] + 1e-6
    assert occluded >= 10  # the rule was exercised: shapes do overlap


def test_classify_task_has_one_shape_per_image() -> None:
    dataset = ShapesDataset(30, 1, ShapesConfig(image_size=48, task="classify", min_size=0.3, max_size=0.9))
    labels = []
    for i in range(len(dataset)):
        _, target = dataset[i]
        assert target["labels"].shape == (1,) and target["boxes_xyxy"].shape == (1, 4)
        assert target["label"] == int(target["labels"][0])
        labels.append(target["label"])
    assert len(set(labels)) >= 4


def test_config_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="min_size <= max_size"):
        ShapesConfig(min_size=0.5, max_size=0.2)
    with pytest.raises(ValueError, match="backgrounds"):
        ShapesConfig(backgrounds=("plaid",))
    with pytest.raises(ValueError, match="task"):
        ShapesConfig(task="segment")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        ShapesDataset(3, seed=-1)


def test_cli_writes_coco_that_pycocotools_reads(tmp_path: Path) -> None:
    out = tmp_path / "shapes"
    cmd = [sys.executable, "-m", "cvdemo.datasets.shapes", str(out), "--num-images", "6", "--seed", "4",
           "--task", "classify", "--size", "64"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"{i:06d}.png" for i in range(1, 7)]
    config = ShapesConfig(image_size=64, task="classify", min_objects=1, max_objects=4, min_size=0.15, max_size=0.6)
    write_shapes_dataset(tmp_path / "library", 6, 4, config)  # the CLI's defaults: the shared distribution
    assert _folder_bytes(out) == _folder_bytes(tmp_path / "library")  # the CLI is the library

    coco = COCO(str(out / "annotations.json"))
    assert sorted(coco.getCatIds()) == [1, 2, 3, 4, 5, 6]
    assert [coco.cats[i]["name"] for i in range(1, 7)] == list(SHAPE_NAMES)
    dataset = ShapesDataset(6, 4, config)
    for image_id in coco.getImgIds():
        info = coco.imgs[image_id]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(anns) == 1 and anns[0]["id"] >= 1 and anns[0]["iscrowd"] == 0
        scene = dataset.scene(image_id - 1)
        pixels = cv2.cvtColor(cv2.imread(str(out / "images" / info["file_name"])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(pixels, scene.image)
        x0, y0, x1, y1 = scene.boxes_xyxy[0].tolist()
        assert anns[0]["bbox"] == [x0, y0, x1 - x0, y1 - y0]
        assert anns[0]["category_id"] == scene.labels[0] + 1
        assert 0 < anns[0]["area"] <= (x1 - x0) * (y1 - y0)
    ann = json.loads((out / "annotations.json").read_text())
    assert {im["width"] for im in ann["images"]} == {64}

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_one_shared_distribution_for_the_cli_the_presets_the_examples_and_the_families():
    """Issue 14: the shapes CLI's default, detr-shapes' recipe (the small preset), every family's small preset and
    the app's example images come from one distribution, whose objects fill COCO's small and medium ranges."""
    import importlib.util
    from pathlib import Path

    from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset, build_parser, config_from_args
    from cvdemo.training.kinds import KINDS

    assert config_from_args(build_parser().parse_args(["out", "--num-images", "1"])) == SHARED_SHAPES
    for kind in ("detr", "yolo", "fasterrcnn", "ssd"):
        assert KINDS[kind].presets["small"].shapes_config() == SHARED_SHAPES, kind
    path = Path(__file__).resolve().parents[1] / "examples" / "make_shape_examples.py"
    spec = importlib.util.spec_from_file_location("make_shape_examples", path)
    examples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(examples)
    assert examples.DETECT == SHARED_SHAPES
    areas = np.concatenate([ShapesDataset(100, 7, SHARED_SHAPES)[i][1]["areas"].numpy() for i in range(100)])
    assert (areas < 32 ** 2).mean() > 0.2 and ((areas >= 32 ** 2) & (areas < 96 ** 2)).mean() > 0.2
