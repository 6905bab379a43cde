"""The Evaluate tab's "compare two prediction sets" (issue 14, Deliver 5): the core (`cvdemo.metrics.comparison`) on
a hand-made ground truth and two prediction sets whose answer is known (per-class deltas, the ranking of images,
identical sets agreeing everywhere, each side equal to a single evaluation of it, a data set mismatch as a readable
error); the `/compare` endpoint through gradio_client (two uploads, and one side a tiny random DETR); the section
in headless Chromium in English and Chinese. No network."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import cvdemo.models
from cvdemo.datasets import Category, Detections, GroundTruth, ImageInfo, load_coco_detections
from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
from cvdemo.metrics import ObjectAssigner, evaluate_coco
from cvdemo.metrics.browse import load_evaluation
from cvdemo.metrics.comparison import LoadedComparison, PredictionSetError, compare_predictions, load_comparison
from cvdemo.models import DETR
from cvdemo.models.detr import DETRConfig
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.models.yolo import YOLO, YOLOConfig
from cvdemo.predict import predict_coco
from cvdemo.session_store import RunStore
from cvdemo.ui import evaluate_compare, evaluate_inputs, sessions
from cvdemo.ui.evaluate_compare_views import compare_coco_rows, set_error_text
from cvdemo.ui.evaluate_tab import build_evaluate_tab
from cvdemo.ui.i18n import gradio_i18n

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
GT = FIXTURE / "instances_val2014_100.json"
DT = FIXTURE / "instances_val2014_fakebbox100_results.json"
ZH = "zh-CN,zh;q=0.9,en;q=0.8"


# --- the core, on a hand-made ground truth ----------------------------------------------------------------------

def _hand_made() -> tuple[GroundTruth, Detections, Detections]:
    """Three 64x64 images, classes cat (1) and dog (2); objects 1 (cat) and 2 (dog) in image 1, 3 (cat) in image 2,
    4 (dog) in image 3. A finds objects 1, 2, 3 exactly and makes a dog false positive (0.6) in image 3; B finds
    1, 3, 4 exactly and makes a dog false positive (0.95) in image 2, above its true dog."""
    gt = GroundTruth([ImageInfo(i, f"img{i}.png", 64, 64) for i in (1, 2, 3)], [Category(1, "cat"), Category(2, "dog")],
                     ann_ids=[1, 2, 3, 4], image_ids=[1, 1, 2, 3], category_ids=[1, 2, 1, 2],
                     boxes_xywh=[[0, 0, 20, 20], [30, 30, 20, 20], [5, 5, 20, 20], [10, 10, 30, 30]],
                     areas=[400, 400, 400, 900])
    a = Detections([1, 1, 2, 3], [1, 2, 1, 2], [[0, 0, 20, 20], [30, 30, 20, 20], [5, 5, 20, 20], [45, 45, 10, 10]],
                   [0.9, 0.8, 0.7, 0.6])
    b = Detections([1, 2, 3, 2], [1, 1, 2, 2], [[0, 0, 20, 20], [5, 5, 20, 20], [10, 10, 30, 30], [40, 40, 10, 10]],
                   [0.9, 0.7, 0.8, 0.95])
    return gt, a, b


def test_per_class_deltas_counts_and_the_ranking_of_images():
    gt, a, b = _hand_made()
    c = compare_predictions(gt, a, b, iou_threshold=0.5, score_threshold=0.0)
    cat, dog = c.classes
    # cat: both find both objects exactly -> AP 1 each. dog: A finds 1 of 2 at precision 1 -> 51 of 101 recall
    # points at 1; B's false positive comes first -> the same points at precision 1/2
    assert (cat.name, cat.num_gt, cat.ap_a, cat.ap_b, cat.ap_delta) == ("cat", 2, 1.0, 1.0, 0.0)
    assert dog.ap_a == pytest.approx(51 / 101) and dog.ap_b == pytest.approx(25.5 / 101)
    assert dog.ap_delta == pytest.approx(-25.5 / 101) and dog.ap50_delta == pytest.approx(-25.5 / 101)
    assert c.stats_a[0] == pytest.approx((1 + 51 / 101) / 2) and c.stats_b[0] == pytest.approx((1 + 25.5 / 101) / 2)
    assert np.isnan(c.stats_delta[4]) and c.stats_dict()["B-A"]["APm"] is None  # no medium object: undefined
    assert {k: c.counts_a[k] for k in ("tp", "fp", "fn")} == {"tp": 3, "fp": 1, "fn": 1}
    assert {k: c.counts_b[k] for k in ("tp", "fp", "fn")} == {"tp": 3, "fp": 1, "fn": 1}
    # image 3: object 4 found by B only + |1 - 0| FP = 2; image 1: object 2 by A only = 1; image 2: |0 - 1| FP = 1
    assert [(im.image_id, im.disagreement) for im in c.disagreeing] == [(3, 2), (1, 1), (2, 1)]
    im3, im1, im2 = c.disagreeing
    assert (im3.found_a, im3.found_b, im3.only_b, im3.fp_a, im3.fp_b) == ((), (4,), (4,), 1, 0)
    assert (im1.found_a, im1.found_b, im1.only_a, im1.only_b) == ((1, 2), (1,), (2,), ())
    assert (im2.tp_a, im2.fp_a, im2.fn_a, im2.tp_b, im2.fp_b, im2.fn_b) == (1, 0, 0, 1, 1, 0)
    # at score 0.7 A's false positive is gone and B's stays: image 3 now only disagrees by object 4
    high = compare_predictions(gt, a, b, iou_threshold=0.5, score_threshold=0.7)
    assert [(im.image_id, im.disagreement) for im in high.disagreeing] == [(1, 1), (2, 1), (3, 1)]


def test_identical_sets_agree_everywhere():
    gt, a, _ = _hand_made()
    c = compare_predictions(gt, a, a, iou_threshold=0.5, score_threshold=0.3)
    assert c.disagreeing == [] and [im.disagreement for im in c.images] == [0, 0, 0]
    assert np.array_equal(c.stats_a, c.stats_b) and np.nan_to_num(c.stats_delta).tolist() == [0.0] * 12
    assert all(k.ap_delta in (0.0, None) and k.ap50_delta in (0.0, None) for k in c.classes)
    assert c.counts_a == c.counts_b


def test_each_side_equals_a_single_evaluation_of_it(tmp_path):
    """On COCO val2014 (100 images): A is the COCO API's fake results, B the same with every other detection
    dropped; each side's numbers are those of the Evaluate tab's single evaluation (and of evaluate_coco)."""
    results = json.loads(DT.read_text())
    (tmp_path / "b.json").write_text(json.dumps(results[::2]))
    sets = load_comparison(tmp_path / "cmp", [("gt.json", str(GT))], [("a.json", str(DT))],
                           [("b.json", str(tmp_path / "b.json"))])
    single = load_evaluation(tmp_path / "single", [("gt.json", str(GT))], [("dt.json", str(DT))])
    try:
        c = sets.compare(0.5, 0.3)
        np.testing.assert_array_equal(c.stats_a, single.coco.stats)
        np.testing.assert_array_equal(c.stats_b, evaluate_coco(sets.gt, load_coco_detections(results[::2], sets.gt))
                                      .stats)
        assert {k: c.counts_a[k] for k in ("tp", "fp", "fn")} == {
            k: single.browse(0.5, 0.3).counts[k] for k in ("tp", "fp", "fn")}
        expected_b = ObjectAssigner(sets.gt, sets.b.dt, min_iou=0.2).assign(0.5, 0.3).counts()
        assert c.counts_b == expected_b
        assert round(c.stats_a[0], 3) == 0.505 and c.stats_b[8] < c.stats_a[8]  # fewer detections, less recall
        per_image = {im.image_id: im for im in c.images}
        assert sum(im.tp_a for im in c.images) == c.counts_a["tp"] and len(per_image) == 100
        assert c.disagreeing and all(im.disagreement == len(im.only_a) + len(im.only_b) + abs(im.fp_a - im.fp_b)
                                     for im in c.images)
        scores = [im.disagreement for im in c.images]
        assert scores == sorted(scores, reverse=True)
        assert sets.compare(0.5, 0.3) is c  # cached
    finally:
        sets.close()
        single.close()
    assert not (tmp_path / "cmp").exists()


def test_a_data_set_mismatch_is_a_readable_error(tmp_path):
    gt, a, b = _hand_made()
    stranger = Detections([1, 9], [1, 1], [[0, 0, 5, 5], [0, 0, 5, 5]], [0.5, 0.4])
    with pytest.raises(PredictionSetError, match=r"prediction set B: 1 detection\(s\) name 1 image id\(s\) the "
                                                 r"ground truth does not have \(first: 9\)") as err:
        compare_predictions(gt, a, stranger)
    assert err.value.side == "B" and err.value.key == "evaluate.compare_in_set"
    assert set_error_text(err.value, "zh-CN").startswith("预测集 B：1 detection(s)")
    with pytest.raises(PredictionSetError, match=r"prediction set A: .*category id\(s\) .*first: 7"):
        compare_predictions(gt, Detections([1], [7], [[0, 0, 5, 5]], [0.5]), b)
    # through the files: the loader names the file, the comparison the set
    gt.write_coco_json(tmp_path / "gt.json")
    a.write_coco_results_json(tmp_path / "a.json")
    stranger.write_coco_results_json(tmp_path / "b.json")
    files = [("gt.json", str(tmp_path / "gt.json"))]
    with pytest.raises(PredictionSetError, match=r"prediction set B: b.json: .*results\[1\]: 'image_id' 9 is") as err:
        load_comparison(tmp_path / "x", files, [("a.json", str(tmp_path / "a.json"))],
                        [("b.json", str(tmp_path / "b.json"))])
    assert str(tmp_path) not in str(err.value)
    with pytest.raises(PredictionSetError, match="prediction set A: upload the predictions") as err:
        load_comparison(tmp_path / "y", files, [], [("b.json", str(tmp_path / "b.json"))])
    assert set_error_text(err.value, "zh-CN") == "预测集 A：还需上传预测（一个 COCO 结果 .json 或若干 YOLO .txt 文件）"


def test_comparisons_are_kept_one_per_session_in_its_folder_until_the_session_ends(monkeypatch, tmp_path):
    """The handler as a server runs it: one comparison per session in a bounded store, in a folder of the
    session under WORK_ROOT; a refused upload leaves nothing; a new comparison evicts the session's previous one
    with its folder; the session's end deletes the rest."""
    store = RunStore("comparison-test", max_runs=4, max_bytes=2**30, per_session=1, on_evict=LoadedComparison.close)
    monkeypatch.setattr(evaluate_compare, "COMPARISONS", store)
    monkeypatch.setattr(evaluate_inputs, "WORK_ROOT", tmp_path / "work")
    gt, a, b = _hand_made()
    gt.write_coco_json(tmp_path / "gt.json")
    a.write_coco_results_json(tmp_path / "a.json")
    b.write_coco_results_json(tmp_path / "b.json")
    registry = ModelRegistry([], device="cpu")

    def compare(session: str, b_files=("b.json",)):
        return evaluate_compare.compare([{"path": str(tmp_path / "gt.json"), "orig_name": "gt.json"}],
                                        [{"path": str(tmp_path / "a.json"), "orig_name": "a.json"}], "",
                                        [{"path": str(tmp_path / n), "orig_name": n} for n in b_files], "", 0.5, 0.0,
                                        gr.Request(session_hash=session, headers={}), registry=registry)

    first = compare("s1")[-1]
    *_, images, _, _, line, token = compare("s1")
    assert [row[1] for row in images["data"]] == [3, 1, 2] and "Image **3**" in line  # most disagreement first
    assert store.stats()["runs"] == 1  # the second comparison evicted the first
    row = gr.SelectData(None, {"index": [1, 0], "value": 2, "row_value": images["data"][1]})
    image_a, image_b, line = evaluate_compare.compare_row(token, 0.5, 0.0, row,
                                                          gr.Request(session_hash="s1", headers={}))
    assert "Image **1**" in line and "found by A only: 2" in line and image_a.shape == image_b.shape
    with pytest.raises(gr.Error, match="no longer kept"):
        evaluate_compare.recompare(first, 0.5, 0.0, gr.Request(session_hash="s1", headers={}))
    assert len(list((tmp_path / "work").glob("s1-*"))) == 1
    with pytest.raises(gr.Error, match="prediction set B: upload the predictions"):
        compare("s1", b_files=())
    assert len(list((tmp_path / "work").glob("s1-*"))) == 1  # the refused upload left nothing
    sessions.on_session_end(evaluate_inputs.remove_session_folders)
    sessions.end("s1")
    store.drop_session("s1")  # what ending a session does for the app's own store
    assert list((tmp_path / "work").glob("s1-*")) == [] and store.stats()["runs"] == 0


# --- the endpoint ------------------------------------------------------------------------------------------------

SHAPE_NAMES = ["circle", "square", "triangle", "star", "heart", "hexagon"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry with one tiny, untrained shapes DETR ("tiny-detr")."""
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=32, num_heads=2, encoder_layers=1,
                           decoder_layers=1, dim_feedforward=64, num_queries=5, num_classes=6,
                           id2label=dict(enumerate(SHAPE_NAMES)), shortest_edge=64, longest_edge=64))
    folder = tmp_path_factory.mktemp("cmp-models")
    cvdemo.models.save(detr, folder / "detr")
    yolo = YOLO(YOLOConfig(input_size=64, grid_size=4, num_classes=6, head_channels=16, fc_hidden=128,
                           id2label=dict(enumerate(SHAPE_NAMES))))
    cvdemo.models.save(yolo, folder / "yolo")
    return ModelRegistry([ModelSpec("tiny-detr", str(folder / "detr"), "detect", "test"),
                          ModelSpec("tiny-yolo", str(folder / "yolo"), "family", "test")], device="cpu")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """(ground truth, data set files, A's results file, B's results file) of 4 shapes images: A is every object
    exactly, B misses every object of image 1 and adds a false positive there."""
    root = tmp_path_factory.mktemp("cmp-shapes")
    gt = write_shapes_dataset(root / "shapes", 4, seed=5, config=ShapesConfig(image_size=64, max_objects=3))
    perfect = [{"image_id": int(i), "category_id": int(c), "bbox": [float(v) for v in box], "score": 0.9}
               for i, c, box in zip(gt.image_ids, gt.category_ids, gt.boxes_xywh)]
    (root / "a.json").write_text(json.dumps(perfect))
    worse = [r for r in perfect if r["image_id"] != 1]
    worse.append({"image_id": 1, "category_id": int(gt.categories[0].id), "bbox": [1.0, 1.0, 6.0, 6.0], "score": 0.8})
    (root / "b.json").write_text(json.dumps(worse))
    files = [root / "shapes" / "annotations.json", *sorted((root / "shapes" / "images").glob("*.png"))]
    return gt, files, root / "a.json", root / "b.json"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, registry, serve):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(evaluate_inputs, "WORK_ROOT", tmp_path_factory.mktemp("cmp-work"))
        with gr.Blocks() as demo:  # no examples folder: no first-view evaluation on each page load
            build_evaluate_tab(registry, tmp_path_factory.mktemp("no-examples"))
        demo.queue()
        url = serve(demo, enable_monitoring=False, i18n=gradio_i18n())  # as app.py launches it
        yield url
        demo.close()


def _upload(paths) -> list:
    return [handle_file(str(p)) for p in paths]


def test_compare_endpoint_with_two_uploads(app_url, shapes):
    gt, files, a_json, b_json = shapes
    client = Client(app_url, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in api["/compare"]["parameters"]] == [
        "dataset_payload", "preds_a_payload", "model_a", "preds_b_payload", "model_b", "iou_v", "score_v"]
    out = client.predict(_upload(files), _upload([a_json]), "", _upload([b_json]), "", 0.5, 0.3, api_name="/compare")
    status, coco, classes, counts, images, image_a, image_b, line = out
    assert "4 images" in status and status.count("uploaded predictions") == 2
    expected = [evaluate_coco(gt, load_coco_detections(json.loads(p.read_text()), gt)).stats for p in (a_json, b_json)]
    assert coco["headers"] == ["metric", "A", "B", "B − A"]
    assert [row[1] for row in coco["data"]][:3] == [round(v, 3) for v in expected[0][:3]] == [1.0, 1.0, 1.0]
    assert [row[2] for row in coco["data"]][:3] == [round(v, 3) for v in expected[1][:3]]
    assert coco["data"][0][3] == f"{expected[1][0] - expected[0][0]:+.3f}".replace("-", "−")
    assert classes["headers"][:5] == ["class", "#GT", "AP A", "AP B", "AP B − A"]
    assert images["data"][0][1] == 1 and images["data"][0][4] == "none"  # image 1: B found nothing A missed
    n1 = int((gt.image_ids == 1).sum())
    assert images["data"][0][2] == n1 + 1 and len(images["data"]) == 1  # its objects + one false positive
    assert "Image **1**" in line and Path(image_a).is_file() and Path(image_b).is_file()
    assert "disagree on **1** of 4 images" in counts


def test_compare_endpoint_with_a_model_and_in_chinese(app_url, registry, shapes, tmp_path):
    gt, files, a_json, b_json = shapes
    stranger = tmp_path / "b.json"
    stranger.write_text(json.dumps([{"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]))
    client = Client(app_url, verbose=False, headers={"Accept-Language": ZH})
    status, coco, classes, *_ = client.predict(_upload(files), [], "tiny-detr", _upload([b_json]), "", 0.5, 0.3,
                                               api_name="/compare")
    records = predict_coco(registry.get("tiny-detr"), {im.id: p for im, p in zip(gt.images, files[1:])}, gt)
    expected = evaluate_coco(gt, load_coco_detections(records, gt)).stats
    assert "tiny-detr 的 20 个预测" in status and "4 张图像" in status
    assert coco["headers"] == ["指标", "A", "B", "B − A"] and coco["data"][3][0] == "AP  小目标"
    shown = [row[1] for row in coco["data"]]
    assert [v for v, e in zip(shown, expected) if e >= 0] == [round(e, 3) for e in expected if e >= 0]
    assert classes["headers"][0] == "类别"
    with pytest.raises(AppError, match=r"预测集 B：b.json: .*results\[0\]: 'image_id' 99"):  # not in the data set
        client.predict(_upload(files), _upload([a_json]), "", _upload([stranger]), "", 0.5, 0.3, api_name="/compare")
    with pytest.raises(AppError, match="unknown model 'nope'"):
        Client(app_url, verbose=False).predict(_upload(files), [], "nope", _upload([b_json]), "", 0.5, 0.3,
                                               api_name="/compare")


def test_both_sides_models_of_two_families(app_url, registry, shapes):
    """A: the DETR, B: a YOLO (a detector family beside DETR): each side's numbers are its own predictions'."""
    gt, files, *_ = shapes
    client = Client(app_url, verbose=False)
    status, coco, *_ = client.predict(_upload(files), [], "tiny-detr", [], "tiny-yolo", 0.5, 0.0,
                                      api_name="/compare")
    images = {im.id: p for im, p in zip(gt.images, files[1:])}
    expected = [evaluate_coco(gt, load_coco_detections(predict_coco(registry.get(name), images, gt), gt)).stats
                for name in ("tiny-detr", "tiny-yolo")]
    assert "of tiny-detr" in status and "of tiny-yolo" in status
    for column, stats in zip((1, 2), expected):
        shown = [row[column] for row in coco["data"]]
        assert [v for v, e in zip(shown, stats) if e >= 0] == [round(e, 3) for e in stats if e >= 0]
    with pytest.raises(AppError, match="IoU threshold must be"):
        client.predict(_upload(files), [], "tiny-detr", [], "tiny-yolo", 2.0, 0.0, api_name="/compare")


def test_viewer_rows_say_n_a_where_coco_is_undefined():
    gt, a, b = _hand_made()
    rows = compare_coco_rows(compare_predictions(gt, a, b), "zh-CN")
    assert rows[4][1:] == ["不适用", "不适用", "不适用"] and rows[0][3] == f"{-25.5 / 101 / 2:+.3f}".replace("-", "−")


# --- the browser -------------------------------------------------------------------------------------------------

def test_page_load_offers_every_family_to_the_comparison_and_localises_it(registry):
    with gr.Blocks() as demo:
        build_evaluate_tab(registry, Path("examples"))
    load = next(fn for fn in demo.fns.values()
                if fn.fn.__module__ == "cvdemo.ui.evaluate_tab" and [t[1] for t in fn.targets] == ["load"])
    out = load.fn(SimpleNamespace(headers={"accept-language": ZH}))
    evaluate_models, *_, model_a, model_b, coco, classes, images, legend = out
    assert evaluate_models.choices == model_a.choices == model_b.choices == [
        ("上传的预测", ""), ("tiny-detr", "tiny-detr"), ("tiny-yolo", "tiny-yolo")]  # every family, /evaluate's too
    assert coco["headers"] == ["指标", "A", "B", "B − A"] and classes["headers"][:2] == ["类别", "真值数"]
    assert images["headers"][2:5] == ["分歧", "仅 A 检出", "仅 B 检出"] and "真阳性" in legend


TEXTS = {"en-US": ("Compare two prediction sets", "Compare", "found by A only", "disagree on", "score ≥ 0.31",
                   "true positive"),
         "zh-CN": ("比较两组预测", "比较", "仅 A 检出", "有分歧", "分数 ≥ 0.31", "真阳性")}


@pytest.mark.parametrize("locale", TEXTS)
def test_the_section_compares_in_the_browser(app_url, shapes, page_in, locale):
    heading, button, column, counts, moved, legend = TEXTS[locale]
    _, files, a_json, b_json = shapes
    page, errors = page_in(locale)
    page.goto(app_url)
    page.get_by_text(heading, exact=True).first.click()  # open the accordion
    page.wait_for_selector("#cmp-dataset input[type=file]", state="attached", timeout=30_000)
    page.locator("#cmp-dataset input[type=file]").set_input_files([str(p) for p in files])
    page.locator("#cmp-preds-a input[type=file]").set_input_files(str(a_json))
    page.locator("#cmp-preds-b input[type=file]").set_input_files(str(b_json))
    page.wait_for_function("document.querySelectorAll('#cmp-dataset .file-preview, #cmp-preds-a .file-preview, "
                           "#cmp-preds-b .file-preview').length >= 3", timeout=30_000)
    assert page.locator("#cmp-button").inner_text().strip() == button
    page.locator("#cmp-button").click()
    page.wait_for_function(f"document.querySelector('#cmp-counts').innerText.includes('{counts}')", timeout=30_000)
    page.wait_for_function("document.querySelector('#cmp-coco').innerText.includes('B − A')", timeout=30_000)
    page.wait_for_function(f"document.querySelector('#cmp-images').innerText.includes('{column}')", timeout=30_000)
    page.wait_for_function("document.querySelector('#cmp-classes').innerText.includes('AP50 B − A')",
                           timeout=30_000)
    page.wait_for_function("(() => { const img = document.querySelector('#cmp-image-b img');"
                           " return img !== null && img.complete && img.naturalWidth > 0; })()", timeout=30_000)
    assert legend in page.locator("#cmp-legend").inner_text()
    page.locator("#cmp-score input[type=range]").focus()
    page.keyboard.press("ArrowRight")  # 0.30 -> 0.31: the kept comparison at the new threshold
    page.wait_for_function(f"document.querySelector('#cmp-counts').innerText.includes('{moved}')", timeout=30_000)
    assert not errors, errors
