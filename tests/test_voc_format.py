"""Pascal VOC xml: hand-written folders, the 1-based corner conversion, round trips, every error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from cvdemo.datasets.coco import load_coco_ground_truth
from cvdemo.datasets.structure import DatasetError
from cvdemo.datasets.voc import VOC_CLASSES, load_voc_ground_truth, write_voc_annotations


def _xml(filename: str | None, size: tuple[int, int] | None, objects: list[dict]) -> str:
    parts = ["<annotation>", "<folder>VOC2007</folder>"]
    if filename is not None:
        parts.append(f"<filename>{filename}</filename>")
    if size is not None:
        parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for obj in objects:
        parts.append("<object>")
        if "name" in obj:
            parts.append(f"<name>{obj['name']}</name>")
        parts.append("<pose>Unspecified</pose><truncated>0</truncated>")
        if "difficult" in obj:
            parts.append(f"<difficult>{obj['difficult']}</difficult>")
        if "box" in obj:
            tags = ("xmin", "ymin", "xmax", "ymax")
            corners = "".join(f"<{t}>{v}</{t}>" for t, v in zip(tags, obj["box"]))
            parts.append(f"<bndbox>{corners}</bndbox>")
        parts.append("</object>")
    parts.append("</annotation>")
    return "\n".join(parts)


def _write(root: Path, stem: str, text: str) -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    path = root / "Annotations" / f"{stem}.xml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def voc(tmp_path: Path) -> Path:
    root = tmp_path / "VOC"
    _write(root, "000002", _xml("000002.jpg", (335, 500), [
        {"name": "train", "box": (139, 200, 207, 301)},
    ]))
    _write(root, "000001", _xml("000001.jpg", (353, 500), [
        {"name": "dog", "box": (48, 240, 195, 371), "difficult": 0},
        {"name": "person", "box": (8, 12, 352, 498), "difficult": 1},
        {"name": "dog", "box": (1, 1, 353, 500)},  # the whole image
        {"name": "dog", "box": (5, 6, 5, 6)},  # a single pixel
    ]))
    _write(root, "000003", _xml("000003.jpg", (100, 80), []))  # an image without objects
    return root


def test_corners_become_zero_based_xywh(voc: Path) -> None:
    gt = load_voc_ground_truth(voc)
    assert [(im.id, im.file_name, im.width, im.height) for im in gt.images] == [
        (1, "000001.jpg", 353, 500), (2, "000002.jpg", 335, 500), (3, "000003.jpg", 100, 80)]
    assert [(c.id, c.name) for c in gt.categories] == [(1, "dog"), (2, "person"), (3, "train")]
    # x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, h = ymax - ymin + 1
    expected = np.array([[47, 239, 148, 132], [7, 11, 345, 487], [0, 0, 353, 500], [4, 5, 1, 1],
                         [138, 199, 69, 102]], float)
    np.testing.assert_array_equal(gt.boxes_xywh, expected)
    np.testing.assert_array_equal(gt.areas, expected[:, 2] * expected[:, 3])
    assert gt.ann_ids.tolist() == [1, 2, 3, 4, 5]
    assert gt.image_ids.tolist() == [1, 1, 1, 1, 2]
    assert gt.category_ids.tolist() == [1, 2, 1, 1, 3]
    assert gt.ignore.tolist() == [False, True, False, False, False]
    assert not gt.iscrowd.any()


def test_given_class_list_sets_ids_and_refuses_others(voc: Path) -> None:
    gt = load_voc_ground_truth(voc, classes=VOC_CLASSES)
    assert len(gt.categories) == 20
    names = ("dog", "person", "dog", "dog", "train")
    assert gt.category_ids.tolist() == [VOC_CLASSES.index(n) + 1 for n in names]
    message = r"000001\.xml: object\[0\]: 'name' 'dog' is not one of the classes"
    with pytest.raises(DatasetError, match=message):
        load_voc_ground_truth(voc, classes=["person", "train"])


def test_coco_export_agrees_with_pycocotools(voc: Path, tmp_path: Path) -> None:
    gt = load_voc_ground_truth(voc)
    out = tmp_path / "gt.json"
    gt.write_coco_json(out)
    coco = COCO(str(out))
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[2]))[0]
    assert ann["bbox"] == [138, 199, 69, 102] and coco.cats[ann["category_id"]]["name"] == "train"
    assert coco.imgs[3]["width"] == 100 and coco.getAnnIds(imgIds=[3]) == []
    again = load_coco_ground_truth(out)
    np.testing.assert_array_equal(again.boxes_xywh, gt.boxes_xywh)
    assert again.ignore.tolist() == gt.ignore.tolist()
    assert json.loads(out.read_text())["annotations"][1]["ignore"] == 1


def test_write_then_load_round_trips(voc: Path, tmp_path: Path) -> None:
    gt = load_voc_ground_truth(voc)
    written = write_voc_annotations(gt, tmp_path / "copy")
    assert sorted(p.name for p in written) == ["000001.xml", "000002.xml", "000003.xml"]
    first = (tmp_path / "copy" / "Annotations" / "000001.xml").read_text()
    assert "<xmin>48</xmin>" in first and "<xmax>195</xmax>" in first  # 1-based again, as in the source
    assert "<difficult>1</difficult>" in first
    back = load_voc_ground_truth(tmp_path / "copy")
    assert back.images == gt.images and back.categories == gt.categories
    for field in ("ann_ids", "image_ids", "category_ids", "boxes_xywh", "areas", "ignore"):
        np.testing.assert_array_equal(getattr(back, field), getattr(gt, field))


def test_split_and_images_folder(voc: Path) -> None:
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "ImageSets" / "Main" / "val.txt").write_text("000002\n000001\n")
    gt = load_voc_ground_truth(voc, split="val")
    assert [im.file_name for im in gt.images] == ["000002.jpg", "000001.jpg"]
    assert gt.image_ids.tolist() == [1, 2, 2, 2, 2]
    with pytest.raises(DatasetError, match=r"test\.txt: no such file"):
        load_voc_ground_truth(voc, split="test")
    (voc / "ImageSets" / "Main" / "train.txt").write_text("000001\n000009\n")
    with pytest.raises(DatasetError, match=r"train\.txt:2: image id '000009' has no annotation"):
        load_voc_ground_truth(voc, split="train")
    (voc / "JPEGImages").mkdir()
    for name in ("000001.jpg", "000002.jpg"):
        (voc / "JPEGImages" / name).write_bytes(b"")
    with pytest.raises(DatasetError, match=r"000003\.xml: 'filename' '000003\.jpg' is not in .*JPEGImages"):
        load_voc_ground_truth(voc)
    assert len(load_voc_ground_truth(voc / "Annotations", split="val").images) == 2


def test_missing_filename_defaults_to_stem_jpg(tmp_path: Path) -> None:
    _write(tmp_path, "img7", _xml(None, (10, 10), [{"name": "a", "box": (1, 1, 10, 10)}]))
    assert load_voc_ground_truth(tmp_path).images[0].file_name == "img7.jpg"


def test_0_based_boxes_are_refused_or_clipped(tmp_path: Path) -> None:
    _write(tmp_path, "a", _xml("a.jpg", (50, 40), [{"name": "cat", "box": (0, 3, 50, 40)},
                                                   {"name": "cat", "box": (2, 3, 51, 40)}]))
    with pytest.raises(DatasetError, match=r"a\.xml: object\[0\]: bndbox 'xmin' 0 is outside the image: VOC "
                                           r"corners are 1-based, 1\.\.50 .*clip_boxes=True"):
        load_voc_ground_truth(tmp_path)
    gt = load_voc_ground_truth(tmp_path, clip_boxes=True)
    np.testing.assert_array_equal(gt.boxes_xywh, [[0, 2, 50, 38], [1, 2, 49, 38]])


BAD_CASES = [
    ("no size", _xml("a.jpg", None, []), r"a\.xml: missing 'size'"),
    ("no width", "<annotation><size><height>5</height></size></annotation>",
     r"a\.xml: size: missing 'width'"),
    ("zero height", _xml("a.jpg", (5, 0), []), r"a\.xml: size: 'height' must be a whole number > 0, got 0"),
    ("text width", _xml("a.jpg", ("wide", 5), []), r"a\.xml: size: 'width' must be a number, got 'wide'"),
    ("non-numeric corner", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 2, "3x", 4)}]),
     r"a\.xml: object\[0\]: bndbox: 'xmax' must be a number, got '3x'"),
    ("nan corner", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, "nan", 3, 4)}]),
     r"a\.xml: object\[0\]: bndbox: 'ymin' must be a finite number, got 'nan'"),
    ("missing corner", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 2, 3, "")}]),
     r"a\.xml: object\[0\]: bndbox: missing 'ymax'"),
    ("xmax < xmin", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 1, 2, 2)},
                                             {"name": "a", "box": (9, 1, 4, 2)}]),
     r"a\.xml: object\[1\]: bndbox 'xmax' 4 is less than 'xmin' 9"),
    ("ymax < ymin", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 7, 2, 6.5)}]),
     r"a\.xml: object\[0\]: bndbox 'ymax' 6\.5 is less than 'ymin' 7"),
    ("past the edge", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 1, 2, 51)}]),
     r"a\.xml: object\[0\]: bndbox 'ymax' 51 is outside the image"),
    ("no name", _xml("a.jpg", (50, 50), [{"box": (1, 1, 2, 2)}]), r"a\.xml: object\[0\]: missing 'name'"),
    ("no bndbox", _xml("a.jpg", (50, 50), [{"name": "a"}]), r"a\.xml: object\[0\]: missing 'bndbox'"),
    ("bad difficult", _xml("a.jpg", (50, 50), [{"name": "a", "box": (1, 1, 2, 2), "difficult": "yes"}]),
     r"a\.xml: object\[0\]: 'difficult' must be 0 or 1, got 'yes'"),
    ("malformed", "<annotation><size><width>5</width></annotation>",
     r"a\.xml: malformed XML: mismatched tag"),
    ("not voc", "<svg></svg>", r"a\.xml: root element is <svg>, expected <annotation>"),
    ("empty file", "", r"a\.xml: malformed XML: no element found"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_malformed_files_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, "a", text)
    with pytest.raises(DatasetError, match=message):
        load_voc_ground_truth(tmp_path)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE annotation [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>&lol9;</filename><size><width>5</width><height>5</height></size></annotation>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotation><filename>&secret;</filename><size><width>5</width><height>5</height></size></annotation>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_xml_bombs_are_refused(tmp_path: Path, text: str) -> None:
    _write(tmp_path, "bomb", text)
    with pytest.raises(DatasetError, match=r"bomb\.xml: refused: .*XML bomb"):
        load_voc_ground_truth(tmp_path)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such folder"):
        load_voc_ground_truth(tmp_path / "missing")
    (tmp_path / "Annotations").mkdir()
    with pytest.raises(DatasetError, match=r"no \.xml files"):
        load_voc_ground_truth(tmp_path)
    _write(tmp_path, "a", _xml("same.jpg", (5, 5), []))
    _write(tmp_path, "b", _xml("same.jpg", (5, 5), []))
    with pytest.raises(DatasetError, match=r"b\.xml: 'filename' 'same\.jpg' is also the image of .*a\.xml"):
        load_voc_ground_truth(tmp_path)
    with pytest.raises(DatasetError, match="classes must be unique"):
        load_voc_ground_truth(tmp_path, classes=["a", "a"])
