"""COCO json loading and export: every malformed input gets its own message; exports round-trip."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from cvdemo.datasets import (
    Category,
    DatasetError,
    Detections,
    GroundTruth,
    ImageInfo,
    load_coco_detections,
    load_coco_ground_truth,
)


def good_gt() -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80},
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 30], "area": 450.5, "iscrowd": 0},
            {"id": 6, "image_id": 1, "category_id": 3, "bbox": [0.5, 1, 5, 5], "area": 25, "iscrowd": 1},
            {"id": 7, "image_id": 2, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
        ],
    }


def good_dets() -> list[dict]:
    return [
        {"image_id": 1, "category_id": 1, "bbox": [11, 10, 20, 30], "score": 0.9},
        {"image_id": 2, "category_id": 3, "bbox": [1, 2, 0, 4], "score": 0.4},
    ]


def mutate(section: str, index: int, **changes):
    def apply(gt):
        record = gt[section][index]
        for key, value in changes.items():
            if value is KeyError:
                del record[key]
            else:
                record[key] = value

    return apply


GT_CASES = {
    "missing id": (mutate("annotations", 1, id=KeyError), r"annotations\[1\]: missing key 'id'"),
    "missing bbox": (mutate("annotations", 2, bbox=KeyError), r"annotations\[2\]: missing key 'bbox'"),
    "missing image_id": (
        mutate("annotations", 0, image_id=KeyError),
        r"annotations\[0\]: missing key 'image_id'",
    ),
    "zero id": (mutate("annotations", 1, id=0), r"annotations\[1\]: 'id' must not be 0"),
    "duplicate id": (
        mutate("annotations", 2, id=5),
        r"annotations\[2\]: duplicate annotation id 5 \(also annotations\[0\]\)",
    ),
    "string id": (mutate("annotations", 2, id="7"), r"annotations\[2\]: 'id' must be an integer, got '7'"),
    "float id": (mutate("annotations", 0, id=5.5), r"annotations\[0\]: 'id' must be an integer, got 5.5"),
    "zero width": (
        mutate("annotations", 1, bbox=[1, 1, 0, 5]),
        r"annotations\[1\]: 'bbox' width must be > 0, got 0.0",
    ),
    "negative height": (
        mutate("annotations", 2, bbox=[1, 1, 3, -2]),
        r"annotations\[2\]: 'bbox' height must be > 0, got -2.0",
    ),
    "short bbox": (
        mutate("annotations", 1, bbox=[1, 2, 3]),
        r"annotations\[1\]: 'bbox' must be a list of 4 numbers",
    ),
    "text in bbox": (
        mutate("annotations", 0, bbox=[1, "2", 3, 4]),
        r"annotations\[0\]: 'bbox' must be a list of 4",
    ),
    "nan in bbox": (
        mutate("annotations", 2, bbox=[1, float("nan"), 3, 4]),
        r"annotations\[2\]: 'bbox' must be finite",
    ),
    "unknown image": (
        mutate("annotations", 2, image_id=9),
        r"annotations\[2\]: 'image_id' 9 is not an image",
    ),
    "unknown category": (
        mutate("annotations", 0, category_id=2),
        r"annotations\[0\]: 'category_id' 2 is not a category",
    ),
    "negative area": (mutate("annotations", 0, area=-1), r"annotations\[0\]: 'area' must be >= 0"),
    "text area": (
        mutate("annotations", 0, area="big"),
        r"annotations\[0\]: 'area' must be a number, got 'big'",
    ),
    "crowd 2": (mutate("annotations", 1, iscrowd=2), r"annotations\[1\]: 'iscrowd' must be 0 or 1, got 2"),
    "duplicate image": (mutate("images", 1, id=1), r"images\[1\]: duplicate image id 1 \(also images\[0\]\)"),
    "image without id": (mutate("images", 0, id=KeyError), r"images\[0\]: missing key 'id'"),
    "text width": (mutate("images", 1, width="wide"), r"images\[1\]: 'width' must be a number, got 'wide'"),
    "duplicate category": (mutate("categories", 1, id=1), r"categories\[1\]: duplicate category id 1"),
    "annotation not an object": (
        lambda gt: gt["annotations"].__setitem__(1, [1, 2]),
        r"annotations\[1\]: expected an object, got list",
    ),
    "no annotations key": (lambda gt: gt.pop("annotations"), r"missing top-level key 'annotations'"),
    "images not a list": (
        lambda gt: gt.__setitem__("images", {"id": 1}),
        r"'images' must be a list, got dict",
    ),
}


@pytest.mark.parametrize("case", GT_CASES)
def test_malformed_ground_truth_names_file_record_and_field(case, tmp_path):
    change, message = GT_CASES[case]
    gt = good_gt()
    change(gt)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    with pytest.raises(DatasetError, match=message) as info:
        load_coco_ground_truth(path)
    assert str(info.value).startswith(str(path))


DET_CASES = {
    "missing score": (lambda d: d[1].pop("score"), r"results\[1\]: missing key 'score'"),
    "nan score": (
        lambda d: d[0].__setitem__("score", float("nan")),
        r"results\[0\]: 'score' must be a finite number",
    ),
    "text score": (
        lambda d: d[1].__setitem__("score", "high"),
        r"results\[1\]: 'score' must be a number, got 'high'",
    ),
    "unknown image": (
        lambda d: d[1].__setitem__("image_id", 42),
        r"results\[1\]: 'image_id' 42 is not an image",
    ),
    "unknown category": (
        lambda d: d[0].__setitem__("category_id", 2),
        r"results\[0\]: 'category_id' 2 is not a category",
    ),
    "negative width": (
        lambda d: d[0].__setitem__("bbox", [1, 1, -1, 1]),
        r"results\[0\]: 'bbox' width must be >= 0, got -1.0",
    ),
    "segmentation only": (lambda d: d[1].pop("bbox"), r"results\[1\]: missing key 'bbox'"),
    "not an object": (lambda d: d.__setitem__(0, 3), r"results\[0\]: expected an object, got int"),
}


@pytest.mark.parametrize("case", DET_CASES)
def test_malformed_detections_name_file_record_and_field(case, tmp_path):
    change, message = DET_CASES[case]
    gt = load_coco_ground_truth(good_gt())
    dets = good_dets()
    change(dets)
    path = tmp_path / "dt.json"
    path.write_text(json.dumps(dets))  # json writes NaN as NaN; the loader reads it to report it
    with pytest.raises(DatasetError, match=message):
        load_coco_detections(path, gt)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"not valid JSON: Expecting value at line 1 column 1"),
        (b'{"images": [', r"not valid JSON: Expecting value at line 1 column 13"),
        (b"\xff\xfe\x00", r"not valid JSON"),
    ],
)
def test_non_json_says_where(content, message, tmp_path):
    path = tmp_path / "gt.json"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        load_coco_ground_truth(path)


def test_wrong_top_level_types(tmp_path):
    with pytest.raises(DatasetError, match="expected a JSON object with 'images'.*got a list"):
        load_coco_ground_truth([1, 2])
    gt = load_coco_ground_truth(good_gt())
    with pytest.raises(
        DatasetError, match="expected a JSON list of detections.*looks like a ground-truth file"
    ):
        load_coco_detections(good_gt(), gt)
    with pytest.raises(DatasetError, match="no such file"):
        load_coco_ground_truth(tmp_path / "missing.json")


def test_empty_results_are_no_detections(caplog):
    gt = load_coco_ground_truth(good_gt())
    with caplog.at_level("WARNING"):
        dt = load_coco_detections([], gt)
    assert len(dt) == 0 and dt.boxes_xywh.shape == (0, 4)
    assert "empty" in caplog.text


def test_loaded_arrays_follow_the_contract():
    gt = load_coco_ground_truth(good_gt())
    assert gt.ann_ids.dtype == np.int64 and gt.boxes_xywh.dtype == np.float64 and gt.iscrowd.dtype == bool
    np.testing.assert_array_equal(gt.ann_ids, [5, 6, 7])
    np.testing.assert_array_equal(gt.boxes_xywh[1], [0.5, 1, 5, 5])
    np.testing.assert_array_equal(gt.areas, [450.5, 25, 12])
    np.testing.assert_array_equal(gt.iscrowd, [False, True, False])
    assert gt.categories[0] == Category(1, "cat", "animal") and gt.categories[1].name == "dog"
    assert gt.images[1] == ImageInfo(2, "b.jpg", 100, 80)
    dt = load_coco_detections(good_dets(), gt)
    np.testing.assert_array_equal(dt.boxes_xywh[1], [1, 2, 0, 4])  # zero-size predictions are legal
    np.testing.assert_array_equal(dt.scores, [0.9, 0.4])


def test_missing_area_defaults_to_box_area_with_a_warning(caplog):
    gt_dict = good_gt()
    del gt_dict["annotations"][0]["area"]
    with caplog.at_level("WARNING"):
        gt = load_coco_ground_truth(gt_dict)
    assert gt.areas[0] == 20 * 30 and "annotations[0]" in caplog.text


def test_export_round_trips(tmp_path):
    gt_dict = good_gt()
    gt_dict["annotations"][2]["ignore"] = 1
    gt = load_coco_ground_truth(copy.deepcopy(gt_dict))
    gt.write_coco_json(tmp_path / "gt.json")
    again = load_coco_ground_truth(tmp_path / "gt.json")
    for name in ("ann_ids", "image_ids", "category_ids", "boxes_xywh", "areas", "iscrowd", "ignore"):
        np.testing.assert_array_equal(getattr(again, name), getattr(gt, name), err_msg=name)
    assert again.images == gt.images and again.categories == gt.categories
    dt = load_coco_detections(good_dets(), gt)
    dt.write_coco_results_json(tmp_path / "dt.json")
    assert json.loads((tmp_path / "dt.json").read_text()) == good_dets()


def test_structures_validate_shapes():
    with pytest.raises(DatasetError, match=r"boxes_xywh must have shape \(N, 4\)"):
        Detections([1], [1], [[1, 2, 3]], [0.5])
    with pytest.raises(DatasetError, match="scores has 2 rows, expected 1"):
        Detections([1], [1], [[1, 2, 3, 4]], [0.5, 0.6])
    gt = GroundTruth([ImageInfo(1, "a", 1, 1)], [Category(1, "a")], [1], [1], [1], [[0, 0, 1, 1]], [1.0])
    assert gt.iscrowd.tolist() == [False] and gt.ignore.tolist() == [False]
    assert math.isclose(gt.to_coco_dict()["annotations"][0]["area"], 1.0)
