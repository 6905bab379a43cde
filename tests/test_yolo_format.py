"""YOLO txt: hand-written label folders, layouts, class files, predictions, round trips, every error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cvdemo.datasets.coco import load_coco_ground_truth
from cvdemo.datasets.structure import DatasetError, Detections
from cvdemo.datasets.yolo import (
    load_yolo_detections,
    load_yolo_ground_truth,
    read_yolo_classes,
    write_yolo_detections,
    write_yolo_labels,
)


def _image(path: Path, width: int, height: int, orientation: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", (width, height), (90, 120, 30))
    if orientation is None:
        im.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(path, exif=exif)


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _image(root / "images" / "a.png", 40, 20)
    _image(root / "images" / "b.jpg", 30, 10, orientation=6)  # stored 30x10, shown rotated: 10x30
    _image(root / "images" / "c.png", 16, 16)  # no label file: no objects
    _text(root / "labels" / "a.txt", "0 0.5 0.5 0.5 0.5\n1 0.25 0.75 0.1 0.2\n")
    _text(root / "labels" / "b.txt", "2 0.5 0.5 1 1\n\n")
    _text(root / "classes.txt", "cat\ndog\nbird\n")
    return root


def test_labels_become_pixel_boxes(yolo: Path) -> None:
    gt = load_yolo_ground_truth(yolo)
    shown_b = ImageOps.exif_transpose(Image.open(yolo / "images" / "b.jpg")).size
    assert shown_b == (10, 30)
    assert [(im.id, im.file_name, im.width, im.height) for im in gt.images] == [
        (1, "a.png", 40, 20), (2, "b.jpg", *shown_b), (3, "c.png", 16, 16)]
    assert [(c.id, c.name) for c in gt.categories] == [(1, "cat"), (2, "dog"), (3, "bird")]
    # a.png 40x20: cx, cy, w, h = (20, 10, 20, 10) and (10, 15, 4, 4); b.jpg 10x30: the whole image.
    expected = np.array([[10, 5, 20, 10], [8, 13, 4, 4], [0, 0, 10, 30]], float)
    np.testing.assert_allclose(gt.boxes_xywh, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gt.areas, expected[:, 2] * expected[:, 3])
    assert gt.category_ids.tolist() == [1, 2, 3]
    assert gt.image_ids.tolist() == [1, 1, 2] and gt.ann_ids.tolist() == [1, 2, 3]


def test_coco_export_reads_the_same_in_pycocotools(yolo: Path, tmp_path: Path) -> None:
    gt = load_yolo_ground_truth(yolo)
    gt.write_coco_json(tmp_path / "gt.json")
    coco = COCO(str(tmp_path / "gt.json"))
    assert coco.loadAnns([2])[0]["bbox"] == pytest.approx([8, 13, 4, 4])
    assert coco.cats[3]["name"] == "bird" and coco.imgs[2]["height"] == 30
    back = load_coco_ground_truth(tmp_path / "gt.json")
    np.testing.assert_array_equal(back.boxes_xywh, gt.boxes_xywh)


def test_write_then_load_round_trips(yolo: Path, tmp_path: Path) -> None:
    gt = load_yolo_ground_truth(yolo)
    write_yolo_labels(gt, tmp_path / "copy")
    assert (tmp_path / "copy" / "labels" / "c.txt").read_text() == ""
    assert read_yolo_classes(tmp_path / "copy" / "classes.txt") == ["cat", "dog", "bird"]
    sizes = {im.file_name: (im.width, im.height) for im in gt.images}
    back = load_yolo_ground_truth(tmp_path / "copy", image_sizes=sizes)
    assert back.images == gt.images and back.categories == gt.categories
    np.testing.assert_allclose(back.boxes_xywh, gt.boxes_xywh, rtol=0, atol=1e-9)
    assert back.category_ids.tolist() == gt.category_ids.tolist()
    assert back.image_ids.tolist() == gt.image_ids.tolist()


def test_predictions_with_confidence(yolo: Path, tmp_path: Path) -> None:
    gt = load_yolo_ground_truth(yolo)
    preds = tmp_path / "predict" / "labels"
    _text(preds / "a.txt", "1 0.5 0.5 0.5 0.5 0.9\n0 0.25 0.75 0.1 0.2 0.25\n")
    dets = load_yolo_detections(preds, gt)
    assert dets.image_ids.tolist() == [1, 1] and dets.category_ids.tolist() == [2, 1]
    np.testing.assert_allclose(dets.boxes_xywh, [[10, 5, 20, 10], [8, 13, 4, 4]], atol=1e-12)
    assert dets.scores.tolist() == [0.9, 0.25]
    assert len(load_yolo_detections(tmp_path / "predict", gt)) == 2  # sub-folder 'labels' matched by name
    _text(preds / "zzz.txt", "0 0.5 0.5 0.5 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"zzz\.txt: no image 'zzz' in the ground truth"):
        load_yolo_detections(preds, gt)


def test_detections_equal_to_the_labels_score_ap_1_in_pycocotools(yolo: Path, tmp_path: Path) -> None:
    gt = load_yolo_ground_truth(yolo)
    perfect = Detections(gt.image_ids, gt.category_ids, gt.boxes_xywh, np.linspace(0.9, 0.5, len(gt)))
    write_yolo_detections(perfect, gt, tmp_path / "pred")
    dets = load_yolo_detections(tmp_path / "pred", gt)
    np.testing.assert_allclose(dets.boxes_xywh, gt.boxes_xywh, rtol=0, atol=1e-9)
    gt.write_coco_json(tmp_path / "gt.json")
    (tmp_path / "dt.json").write_text(json.dumps(dets.to_coco_results()))
    coco = COCO(str(tmp_path / "gt.json"))
    ev = COCOeval(coco, coco.loadRes(str(tmp_path / "dt.json")), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[1] == pytest.approx(1.0)  # AP@0.5: every box found, nothing else


def test_data_yaml_names(tmp_path: Path) -> None:
    assert read_yolo_classes(_text(tmp_path / "l.yaml", "nc: 2\nnames: [cat, dog]\n")) == ["cat", "dog"]
    assert read_yolo_classes(_text(tmp_path / "d.yaml", "names:\n  1: dog\n  0: cat\n")) == ["cat", "dog"]
    assert read_yolo_classes(_text(tmp_path / "b.yaml", "names:\n  - a\n  - b\n  - c\n")) == ["a", "b", "c"]
    cases = [
        ("nc: 3\nnames: [cat, dog]\n", r"'nc' is 3 but 'names' has 2 entries"),
        ("names:\n  0: cat\n  2: dog\n", r"'names' keys must be the class indices 0\.\.1"),
        ("path: ../x\n", r"missing key 'names'"),
        ("names: [cat, [dog]]\n", r"'names' must be a list of class names"),
        ("names: [cat, dog\n", r"malformed YAML"),
        ("names: [cat, cat]\n", r"class 1 'cat' has the same name as class 0"),
        ("names: !!python/object/apply:os.system ['echo hi']\n", r"malformed YAML"),
    ]
    for i, (text, message) in enumerate(cases):
        with pytest.raises(DatasetError, match=rf"bad{i}\.yaml: {message}"):
            read_yolo_classes(_text(tmp_path / f"bad{i}.yaml", text))
    with pytest.raises(DatasetError, match=r"c\.txt:2: empty class name"):
        read_yolo_classes(_text(tmp_path / "c.txt", "cat\n\ndog\n"))


def test_split_layouts_and_class_file_in_the_parent(tmp_path: Path) -> None:
    ultra = tmp_path / "ultra"
    _image(ultra / "images" / "val" / "x.png", 10, 10)
    _text(ultra / "labels" / "val" / "x.txt", "1 0.5 0.5 0.2 0.2\n")
    _text(ultra / "data.yaml", "names: [a, b]\n")
    gt = load_yolo_ground_truth(ultra, split="val")
    assert gt.images[0].file_name == "x.png" and gt.category_ids.tolist() == [2]
    robo = tmp_path / "robo"
    _image(robo / "valid" / "images" / "y.jpg", 20, 10)
    _text(robo / "valid" / "labels" / "y.txt", "0 0.5 0.5 0.5 0.5\n")
    _text(robo / "data.yaml", "names: [only]\n")
    assert load_yolo_ground_truth(robo, split="valid").boxes_xywh.tolist() == [[5.0, 2.5, 10.0, 5.0]]
    assert len(load_yolo_ground_truth(robo / "valid")) == 1  # data.yaml found one level up


def test_darknet_layout_ignores_other_txt_files(tmp_path: Path) -> None:
    _image(tmp_path / "p.png", 8, 8)
    _image(tmp_path / "sub" / "q.png", 8, 8)
    _text(tmp_path / "p.txt", "0 0.5 0.5 0.25 0.25\n")
    _text(tmp_path / "sub" / "q.txt", "0 0.5 0.5 0.5 0.5\n")
    _text(tmp_path / "classes.txt", "thing\n")
    _text(tmp_path / "train.txt", "p.png\nsub/q.png\n")
    gt = load_yolo_ground_truth(tmp_path)
    assert [im.file_name for im in gt.images] == ["p.png", "sub/q.png"]
    assert gt.boxes_xywh.tolist() == [[3.0, 3.0, 2.0, 2.0], [2.0, 2.0, 4.0, 4.0]]


BAD_LINES = [
    ("4 columns", "0 0.5 0.5 0.5", r"a\.txt:1: expected 5 columns \(class cx cy w h\), got 4"),
    ("6 columns", "0 0.5 0.5 0.5 0.5 0.9", r"a\.txt:1: expected 5 columns \(class cx cy w h\), got 6"),
    ("polygon", "0 0.1 0.1 0.9 0.1 0.5 0.9", r"a\.txt:1: expected 5 columns .*segmentation polygon"),
    ("non-numeric class", "cat 0.5 0.5 0.5 0.5", r"a\.txt:1: 'class' must be a number, got 'cat'"),
    ("non-numeric cy", "0 0.5 0,5 0.5 0.5", r"a\.txt:1: 'cy' must be a number, got '0,5'"),
    ("nan", "0 nan 0.5 0.5 0.5", r"a\.txt:1: 'cx' must be a finite number, got 'nan'"),
    ("cx > 1", "0 1.2 0.5 0.5 0.5", r"a\.txt:1: 'cx' must be in \[0, 1\] \(normalised\), got 1\.2"),
    ("pixels", "0 20 10 8 4", r"a\.txt:1: 'cx' must be in \[0, 1\] \(normalised\), got 20"),
    ("negative h", "0 0.5 0.5 0.5 -0.1", r"a\.txt:1: 'h' must be in \[0, 1\] \(normalised\), got -0\.1"),
    ("zero w", "0 0.5 0.5 0 0.5", r"a\.txt:1: 'w' must be > 0, got 0"),
    ("class too big", "3 0.5 0.5 0.5 0.5",
     r"a\.txt:1: 'class' 3 is not a class index 0\.\.2 \(3 class names\)"),
    ("class negative", "-1 0.5 0.5 0.5 0.5", r"a\.txt:1: 'class' -1 is not a class index"),
    ("class fraction", "1.5 0.5 0.5 0.5 0.5", r"a\.txt:1: 'class' 1\.5 is not a class index"),
]


@pytest.mark.parametrize(("line", "message"), [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES])
def test_bad_label_lines_name_file_line_and_field(yolo: Path, line: str, message: str) -> None:
    _text(yolo / "labels" / "a.txt", f"{line}\n")
    with pytest.raises(DatasetError, match=message):
        load_yolo_ground_truth(yolo)


def test_error_names_the_right_line(yolo: Path) -> None:
    _text(yolo / "labels" / "a.txt", "0 0.5 0.5 0.5 0.5\n\n1 0.5 0.5 0.5 1.01\n")
    with pytest.raises(DatasetError, match=r"a\.txt:3: 'h' must be in \[0, 1\]"):
        load_yolo_ground_truth(yolo)


@pytest.mark.parametrize(("line", "message"), [
    ("0 0.5 0.5 0.5 0.5", r"p\.txt:1: expected 6 columns \(class cx cy w h conf\), got 5"),
    ("0 0.5 0.5 0.5 0.5 1.5", r"p\.txt:1: 'conf' must be in \[0, 1\] \(normalised\), got 1\.5"),
    ("0 0.5 0.5 0.5 0.5 high", r"p\.txt:1: 'conf' must be a number, got 'high'"),
    ("7 0.5 0.5 0.5 0.5 0.5", r"p\.txt:1: 'class' 7 is not a class index 0\.\.2"),
])
def test_bad_prediction_lines(yolo: Path, tmp_path: Path, line: str, message: str) -> None:
    _image(yolo / "images" / "p.png", 8, 8)
    gt = load_yolo_ground_truth(yolo)
    _text(tmp_path / "pred" / "p.txt", f"{line}\n")
    with pytest.raises(DatasetError, match=message):
        load_yolo_detections(tmp_path / "pred", gt)


def test_folder_errors(yolo: Path, tmp_path: Path) -> None:
    _text(yolo / "labels" / "ghost.txt", "0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"ghost\.txt: label file without an image"):
        load_yolo_ground_truth(yolo)
    (yolo / "labels" / "ghost.txt").unlink()
    _image(yolo / "images" / "a.jpg", 4, 4)
    with pytest.raises(DatasetError, match=r"images a\.jpg and a\.png would share the label file a\.txt"):
        load_yolo_ground_truth(yolo)
    (yolo / "images" / "a.jpg").unlink()
    (yolo / "images" / "c.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"c\.png: cannot read the image size"):
        load_yolo_ground_truth(yolo)
    assert len(load_yolo_ground_truth(yolo, image_sizes={"c.png": (16, 16)}).images) == 3
    (yolo / "classes.txt").unlink()
    with pytest.raises(DatasetError, match=r"no class names: put a classes\.txt"):
        load_yolo_ground_truth(yolo)
    with pytest.raises(DatasetError, match=r"classes must be distinct"):
        load_yolo_ground_truth(yolo, classes=["a", "a"])
    with pytest.raises(DatasetError, match=r"image_sizes\['c\.png'\] must be \(width, height\)"):
        load_yolo_ground_truth(yolo, classes=["a", "b", "c"], image_sizes={"c.png": (0, 16)})
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"images: no images \(\.jpg"):
        load_yolo_ground_truth(tmp_path / "empty", classes=["a"])
    only_labels = tmp_path / "only"
    _text(only_labels / "labels" / "x.txt", "0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"no images folder; pass image_sizes"):
        load_yolo_ground_truth(only_labels, classes=["a"])
