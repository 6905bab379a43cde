"""`python -m cvdemo.predict`: COCO results from any loadable model, categories matched by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import cvdemo.models
from cvdemo.datasets.coco import load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.shapes import CATEGORIES, ShapesConfig, write_shapes_dataset
from cvdemo.datasets.structure import Category
from cvdemo.metrics import evaluate_coco
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.predict import CategoryMismatchError, main, map_categories

ID2LABEL = {k: c.name for k, c in enumerate(CATEGORIES)}
QUERIES = 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, 3, seed=5, config=ShapesConfig(image_size=64, min_objects=1, max_objects=3))
    return root


@pytest.fixture(scope="module")
def detr_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = DETRConfig(**{**DETR_PRESETS["detr-tiny"], "shortest_edge": 64, "longest_edge": 64,
                           "num_queries": QUERIES}, num_classes=6, id2label=ID2LABEL)
    return cvdemo.models.save(DETR(config), tmp_path_factory.mktemp("detr"))


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=6,
                       id2label=ID2LABEL)
    return cvdemo.models.save(ViT(config), tmp_path_factory.mktemp("vit"))


def expected_detections(model_dir, image_path) -> list[tuple[int, list[float], float]]:
    """Every query's (class index, pixel xywh, probability), computed directly from the logits."""
    model = cvdemo.models.load(model_dir)
    image = np.array(Image.open(image_path).convert("RGB"))
    h, w = image.shape[:2]
    pixels = torch.from_numpy(image).permute(2, 0, 1).float() / 255  # 64 px: no resize for this model
    mean, std = torch.tensor(model.config.image_mean), torch.tensor(model.config.image_std)
    pixels = ((pixels - mean[:, None, None]) / std[:, None, None])[None]
    with torch.no_grad():
        out = model(pixels)
    probs = out["pred_logits"][0].softmax(-1)[:, :-1]
    rows = []
    for q in range(QUERIES):
        k = int(probs[q].argmax())
        cx, cy, bw, bh = out["pred_boxes"][0, q].tolist()
        rows.append((k, [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h], float(probs[q, k])))
    return rows


def renumbered_annotations(shapes, tmp_path, keep=None, extra=None):
    """The annotations with category ids 10, 11, ... in reversed name order (and optionally fewer/more)."""
    data = json.loads((shapes / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    wanted = [n for n in reversed(list(names.values())) if keep is None or n in keep] + (extra or [])
    new_id = {name: 10 + i for i, name in enumerate(wanted)}
    data["categories"] = [{"id": new_id[n], "name": n} for n in wanted]
    data["annotations"] = [{**a, "category_id": new_id[names[a["category_id"]]]} for a in data["annotations"]
                           if names[a["category_id"]] in new_id]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path, new_id


def test_detr_writes_every_query_with_ids_mapped_by_name(shapes, detr_dir, tmp_path):
    ann, new_id = renumbered_annotations(shapes, tmp_path)
    out = tmp_path / "results.json"
    assert main([str(detr_dir), "--images", str(shapes / "images"), "--annotations", str(ann),
                 "--out", str(out), "--device", "cpu"]) == 0
    results = json.loads(out.read_text())
    assert len(results) == 3 * QUERIES  # all queries kept, no threshold
    gt = load_coco_ground_truth(ann)
    for info in gt.images:
        got = sorted(((r["category_id"], r["score"], r["bbox"]) for r in results if r["image_id"] == info.id),
                     key=lambda t: -t[1])
        expected = expected_detections(detr_dir, shapes / "images" / info.file_name)
        want = sorted(((new_id[ID2LABEL[k]], s, box) for k, box, s in expected), key=lambda t: -t[1])
        assert [g[0] for g in got] == [x[0] for x in want]
        np.testing.assert_allclose([g[1] for g in got], [x[1] for x in want], rtol=1e-5)
        np.testing.assert_allclose([g[2] for g in got], [x[2] for x in want], rtol=1e-4, atol=1e-3)
    # valid COCO results that our evaluation reads
    evaluation = evaluate_coco(gt, load_coco_detections(out, gt))
    assert np.all(np.isfinite(evaluation.stats)) and 0 <= evaluation.stats_dict()["AP"] <= 1


def test_model_classes_missing_from_the_annotations_are_left_out(shapes, detr_dir, tmp_path):
    ann, new_id = renumbered_annotations(shapes, tmp_path, keep={"circle", "square", "star"})
    out = tmp_path / "results.json"
    assert main([str(detr_dir), "--images", str(shapes / "images"), "--annotations", str(ann),
                 "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    expected = sum(ID2LABEL[k] in new_id for info in load_coco_ground_truth(ann).images
                   for k, _, _ in expected_detections(detr_dir, shapes / "images" / info.file_name))
    assert len(results) == expected and {r["category_id"] for r in results} <= set(new_id.values())


def test_an_unknown_category_is_an_error_listing_both_sides(shapes, detr_dir, tmp_path, capsys):
    ann, _ = renumbered_annotations(shapes, tmp_path, extra=["pentagon"])
    status = main([str(detr_dir), "--images", str(shapes / "images"), "--annotations", str(ann),
                   "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert status == 2 and "pentagon" in err and "Model classes: ['circle'" in err and "hexagon" in err
    assert not (tmp_path / "r.json").exists()


def test_missing_image_is_reported(shapes, detr_dir, tmp_path, capsys):
    status = main([str(detr_dir), "--images", str(tmp_path), "--annotations",
                   str(shapes / "annotations.json"), "--out", str(tmp_path / "r.json")])
    assert status == 2 and "000001.png" in capsys.readouterr().err


def test_vit_writes_every_class_score_per_image(shapes, vit_dir, tmp_path):
    out = tmp_path / "results.json"
    assert main([str(vit_dir), "--images", str(shapes / "images"), "--annotations",
                 str(shapes / "annotations.json"), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert len(results) == 3 * 6
    model = cvdemo.models.load(vit_dir)
    for image_id in (1, 2, 3):
        rows = sorted((r for r in results if r["image_id"] == image_id), key=lambda r: r["category_id"])
        assert [r["category_id"] for r in rows] == [1, 2, 3, 4, 5, 6]
        scores = np.array([r["score"] for r in rows])
        assert scores.sum() == pytest.approx(1.0, abs=1e-5)
        image = Image.open(shapes / "images" / f"{image_id:06d}.png").convert("RGB").resize((32, 32),
                                                                                           Image.BICUBIC)
        pixels = torch.from_numpy(np.asarray(image, np.float32) / 255)
        pixels = (pixels - torch.tensor(model.config.image_mean)) / torch.tensor(model.config.image_std)
        with torch.no_grad():
            probs = model(pixels.permute(2, 0, 1)[None])["logits"].softmax(-1)[0].numpy()
        np.testing.assert_allclose(scores, probs, rtol=1e-4, atol=1e-6)


def test_map_categories_by_name():
    cats = [Category(7, "Square"), Category(3, "circle")]
    assert map_categories(ID2LABEL, cats) == {1: 7, 0: 3}  # case-insensitive when no exact match
    with pytest.raises(CategoryMismatchError, match=r"\['pentagon'\].*Model classes.*Annotation categories"):
        map_categories(ID2LABEL, [Category(1, "pentagon")])
