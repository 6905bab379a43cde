"""The Evaluate tab: safe zip extraction, the evaluation's numbers against the library and the CLI, the `/evaluate`
endpoint through gradio_client, and a real browser moving the IoU slider; for a Chinese request or browser, the
same in Simplified Chinese (the exports stay English). No network."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import stat
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import cvdemo.models
from cvdemo.datasets import Category, Detections, GroundTruth, ImageInfo, load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.archive import ArchiveError, ArchiveLimits, extract_zip
from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
from cvdemo.datasets.structure import DatasetError
from cvdemo.datasets.voc import write_voc_annotations
from cvdemo.datasets.yolo import write_yolo_detections, write_yolo_labels
from cvdemo.evaluate import main as cli_main
from cvdemo.metrics import ObjectAssigner, evaluate_coco
from cvdemo.metrics.browse import load_evaluation
from cvdemo.models import DETR
from cvdemo.models.detr import DETRConfig
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.predict import predict_coco
from cvdemo.ui import evaluate_inputs
from cvdemo.ui.evaluate_tab import build_evaluate_tab
from cvdemo.ui.evaluation_viewer import COLORS, object_at, render_image
from cvdemo.ui.i18n import gradio_i18n

FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
GT = FIXTURE / "instances_val2014_100.json"
DT = FIXTURE / "instances_val2014_fakebbox100_results.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def _zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
    return path


def _forge_sizes(path: Path, size: int) -> None:
    """Overwrite the uncompressed size of every entry, in the local headers and the central directory."""
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            data[i + offset:i + offset + 4] = struct.pack("<I", size)
            start = i + 4
    path.write_bytes(bytes(data))


def _cli_json(*extra: str) -> dict:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert cli_main([str(GT), str(DT), "--json", *extra]) == 0
    return json.loads(out.getvalue())


# --- archive safety (gradio-free) ----------------------------------------------------------------------------

def test_a_good_zip_is_extracted_with_its_folders(tmp_path):
    z = _zip(tmp_path / "ok.zip", {"data/": b"", "data/a.txt": b"hello", "data/sub/b.json": b"{}",
                                   "__MACOSX/._a.txt": b"junk"})
    files = extract_zip(z, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["data/a.txt", "data/sub/b.json"]
    assert (tmp_path / "out" / "data" / "a.txt").read_bytes() == b"hello"


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "data.zip"
    fake.write_text("<html>not a zip</html>")
    with pytest.raises(ArchiveError, match="not a zip archive"):
        extract_zip(fake, tmp_path / "out")


@pytest.mark.parametrize("name, why", [("../evil.txt", "path traversal"), ("a/../../evil.txt", "path traversal"),
                                       ("/etc/evil.txt", "absolute"), ("C:/evil.txt", "absolute"),
                                       ("..\\evil.txt", "backslash")])
def test_names_that_escape_the_folder_are_refused_before_writing(tmp_path, name, why):
    z = _zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"evil"})
    out = tmp_path / "session" / "out"
    with pytest.raises(ArchiveError, match=why):
        extract_zip(z, out)
    assert not out.exists() or not any(out.rglob("*"))
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == []


def test_symlinks_are_refused(tmp_path):
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(ArchiveError, match="symbolic links"):
        extract_zip(tmp_path / "link.zip", tmp_path / "out")


def test_too_many_files_are_refused(tmp_path):
    z = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(11)})
    with pytest.raises(ArchiveError, match="11 entries"):
        extract_zip(z, tmp_path / "out", ArchiveLimits(max_files=10))


def test_a_highly_compressible_member_is_refused_by_its_ratio(tmp_path):
    z = _zip(tmp_path / "bomb.zip", {"zeros.json": bytes(8 << 20)})  # 8 MiB of zeros, ~8 KiB on disk
    assert z.stat().st_size < 64 << 10
    with pytest.raises(ArchiveError, match="zip bomb"):
        extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out" / "zeros.json").exists()


def test_a_2gb_bomb_is_refused_from_the_central_directory_at_once(tmp_path):
    z = _zip(tmp_path / "bomb2g.zip", {"a.bin": bytes(1000), "b.bin": bytes(1000)})
    _forge_sizes(z, 2**31 - 1)  # each member now claims ~2 GiB
    start = time.perf_counter()
    with pytest.raises(ArchiveError, match="MiB; at most"):
        extract_zip(z, tmp_path / "out")
    assert time.perf_counter() - start < 0.5
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_member_larger_than_it_declares_is_refused_as_forged(tmp_path):
    z = _zip(tmp_path / "liar.zip", {"a.bin": bytes(200_000)})
    _forge_sizes(z, 10)  # claims 10 bytes: the stream is cut there and the CRC no longer matches
    with pytest.raises(ArchiveError, match="corrupt|forged"):
        extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- the session against the library and the CLI -------------------------------------------------------------

@pytest.fixture(scope="module")
def coco_session(tmp_path_factory):
    session = load_evaluation(tmp_path_factory.mktemp("coco") / "s", [("gt.json", str(GT))], [("dt.json", str(DT))])
    yield session
    session.close()


def test_session_metrics_equal_the_cli(coco_session):
    assert json.loads(json.dumps(coco_session.metrics_dict())) == _cli_json("--per-class", "--voc")
    assert round(coco_session.coco.stats_dict()["AP"], 3) == 0.505  # the published figure


@pytest.mark.parametrize("iou, score", [(0.5, 0.0), (0.75, 0.3), (0.2, 0.9)])
def test_slider_counts_equal_the_object_assigner(coco_session, iou, score):
    gt = load_coco_ground_truth(GT)
    expected = ObjectAssigner(gt, load_coco_detections(DT, gt), min_iou=0.2).assign(iou, score).counts()
    view = coco_session.browse(iou, score)
    assert {k: view.counts[k] for k in ("tp", "fp", "fn")} == {k: expected[k] for k in ("tp", "fp", "fn")}
    assert view.tp.sum() == expected["tp"] and len(view.order) == 100


def test_filters_sort_and_pages(coco_session):
    view = coco_session.browse(0.5, 0.3, error="with misses (FN)", sort="most misses")
    fn = view.fn[view.order]
    assert (fn > 0).all() and (np.diff(fn) <= 0).all()
    person = coco_session.browse(0.5, 0.3, class_id=1, sort="lowest F1")
    f1 = person.f1(person.order)
    assert (np.diff(f1[~np.isnan(f1)]) >= 0).all()
    assert person.counts["tp"] + person.counts["fn"] < view.counts["tp"] + view.counts["fn"] + 1000
    rows = coco_session.page_rows(coco_session.browse(0.5, 0.3), 4)
    assert [r.position for r in rows] == list(range(81, 101))


def test_blank_canvas_boxes_and_a_click(coco_session):
    a = coco_session.assignment(0.5, 0.3)
    det = int(np.flatnonzero(a.det_status == 1)[0])
    image_id = int(coco_session.dt.image_ids[det])
    img, scale, note = render_image(coco_session, image_id, a)
    info, path = coco_session.image_info(image_id)
    assert path is None and "blank" in note and img.shape[:2] == (round(info.height * scale), round(info.width * scale))
    assert (img == COLORS["TP"]).all(axis=2).any()
    x, y, w, h = coco_session.dt.boxes_xywh[det]
    hit = object_at(coco_session, image_id, a, None, (x + w / 2) * scale, (y + h / 2) * scale, scale)
    assert hit is not None and hit[0] in ("det", "gt")


def test_exports_stay_in_the_session_folder(coco_session):
    csv = coco_session.write_objects_csv(0.5, 0.3)
    js = coco_session.write_metrics_json(0.5, 0.3)
    assert coco_session.workdir in csv.parents and coco_session.workdir in js.parents
    lines = csv.read_text().splitlines()
    assert len(lines) == 1 + len(coco_session.dt) + len(coco_session.gt)
    assert json.loads(js.read_text())["at_thresholds"]["tp"] == coco_session.browse(0.5, 0.3).counts["tp"]


def _small_dataset() -> tuple[GroundTruth, Detections]:
    images = [ImageInfo(i, f"img{i}.png", 64, 48) for i in (1, 2, 3)]
    gt = GroundTruth(images, [Category(1, "cat"), Category(2, "dog")], ann_ids=[1, 2, 3, 4],
                     image_ids=[1, 1, 2, 3], category_ids=[1, 2, 1, 2],
                     boxes_xywh=[[2, 2, 20, 20], [30, 10, 20, 30], [5, 5, 40, 30], [10, 10, 30, 30]],
                     areas=[400, 600, 1200, 900])
    dt = Detections(image_ids=[1, 1, 2, 3, 3], category_ids=[1, 1, 1, 2, 1],
                    boxes_xywh=[[2, 3, 20, 19], [30, 10, 20, 30], [6, 5, 40, 30], [40, 30, 10, 10], [10, 10, 30, 30]],
                    scores=[0.9, 0.8, 0.7, 0.6, 0.5])
    return gt, dt


def test_voc_zip_with_images_and_yolo_predictions(tmp_path):
    gt, dt = _small_dataset()
    root = tmp_path / "voc"
    write_voc_annotations(gt, root)
    (root / "JPEGImages").mkdir()
    for im in gt.images:
        Image.new("RGB", (64, 48), (200, 50, 50)).save(root / "JPEGImages" / im.file_name)
    archive = shutil.make_archive(str(tmp_path / "voc"), "zip", root)
    write_yolo_detections(dt, gt, tmp_path / "preds")
    preds = [(p.name, str(p)) for p in sorted((tmp_path / "preds").glob("*.txt"))]
    session = load_evaluation(tmp_path / "s", [("voc.zip", archive)], preds)
    try:
        assert session.dataset.format == "Pascal VOC xml" and session.dataset.has_images
        expected = evaluate_coco(session.gt, session.dt).stats
        np.testing.assert_array_equal(session.coco.stats, expected)
        assert session.browse(0.5, 0.0).counts == {"tp": 2, "fp": 3, "fn": 2, "ignored_dets": 0, "ignored_gts": 0}
        img, scale, note = render_image(session, 1, session.assignment(0.5, 0.0))
        assert note == "" and img.shape[:2] == (600, 800)
        np.testing.assert_allclose(img[590, 790], (200, 50, 50), atol=3)  # the uploaded pixels, scaled
    finally:
        session.close()
    assert not (tmp_path / "s").exists()


def test_yolo_loose_files_with_coco_results(tmp_path):
    gt, dt = _small_dataset()
    write_yolo_labels(gt, tmp_path / "yolo")
    for im in gt.images:
        Image.new("RGB", (64, 48)).save(tmp_path / "yolo" / im.file_name)
    files = [(p.name, str(p)) for p in sorted((tmp_path / "yolo").rglob("*")) if p.is_file()]
    assert {n for n, _ in files} >= {"classes.txt", "img1.txt", "img1.png"}
    dt.write_coco_results_json(tmp_path / "dt.json")
    session = load_evaluation(tmp_path / "s", files, [("dt.json", str(tmp_path / "dt.json"))])
    try:
        assert session.dataset.format == "YOLO txt" and session.dataset.has_images
        assert (session.workdir / "dataset" / "labels" / "img1.txt").is_file()
        assert session.browse(0.5, 0.0).counts["tp"] == 2
    finally:
        session.close()


def test_the_evaluation_code_does_not_import_gradio():
    code = ("import sys, cvdemo.metrics.browse, cvdemo.metrics.report, cvdemo.ui.evaluation_viewer, "
            "cvdemo.datasets.folder; assert 'gradio' not in sys.modules, 'gradio imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1], timeout=60)


def test_bad_uploads_give_specific_errors(tmp_path):
    gt, dt = _small_dataset()
    (tmp_path / "gt.json").write_text(json.dumps(gt.to_coco_dict()))
    Image.new("RGB", (64, 48)).save(tmp_path / "img1.png")
    dt_json = tmp_path / "dt.json"
    dt.write_coco_results_json(dt_json)
    files = [("gt.json", tmp_path / "gt.json"), ("img1.png", tmp_path / "img1.png")]
    with pytest.raises(DatasetError, match=r"2 image\(s\) that are not in the upload \(first: 'img2.png'\)"):
        load_evaluation(tmp_path / "a", files, [("dt.json", dt_json)])
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]))
    with pytest.raises(DatasetError, match=r"unknown.json: .*results\[0\]: 'image_id' 99"):
        load_evaluation(tmp_path / "b", [files[0]], [("unknown.json", unknown)])
    with pytest.raises(DatasetError, match="no annotations found"):
        load_evaluation(tmp_path / "c", [("img1.png", tmp_path / "img1.png")], [("dt.json", dt_json)])
    traversal = _zip(tmp_path / "t.zip", {"../../gt.json": b"{}"})
    with pytest.raises(DatasetError, match="path traversal") as err:
        load_evaluation(tmp_path / "d", [("t.zip", traversal)], [("dt.json", dt_json)])
    assert str(tmp_path) not in str(err.value)


# --- the endpoint and the browser ---------------------------------------------------------------------------

SHAPE_NAMES = ["circle", "square", "triangle", "star", "heart", "hexagon"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry with one tiny, untrained shapes DETR ("tiny-detr")."""
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=32, num_heads=2, encoder_layers=1,
                           decoder_layers=1, dim_feedforward=64, num_queries=5, num_classes=6,
                           id2label=dict(enumerate(SHAPE_NAMES)), shortest_edge=64, longest_edge=64))
    folder = cvdemo.models.save(detr, tmp_path_factory.mktemp("eval-models") / "detr")
    return ModelRegistry([ModelSpec("tiny-detr", str(folder), "detect", "test")], device="cpu")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monkeypatch_module, registry, serve):
    monkeypatch_module.setattr(evaluate_inputs, "WORK_ROOT", tmp_path_factory.mktemp("work"))
    with gr.Blocks() as demo:
        build_evaluate_tab(registry, Path("examples"))
    demo.queue()
    url = serve(demo, enable_monitoring=False, i18n=gradio_i18n())  # as app.py launches it
    yield url
    demo.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_evaluate_endpoint_matches_the_cli_and_survives_a_bad_upload(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    cli_lines = [line for line in _cli_text().splitlines() if line.startswith(" Average")]

    def evaluate(dataset):
        return client.predict([handle_file(str(p)) for p in dataset], [handle_file(str(DT))], 0.5, 0.3,
                              api_name="/evaluate")

    status, coco, voc_md, metrics_file, *_ = evaluate([GT])
    assert "COCO json" in status and "100 images" in status
    assert [f"{row[1]:.3f}" for row in coco["data"]] == [line[-5:] for line in cli_lines]
    assert json.loads(Path(metrics_file).read_text()) == _cli_json("--per-class", "--voc")
    assert "VOC2010+" in voc_md
    folders = sorted(evaluate_inputs.WORK_ROOT.iterdir())

    fake = tmp_path / "data.zip"
    fake.write_text("not a zip")
    with pytest.raises(Exception, match="not a zip archive"):
        evaluate([fake])
    assert sorted(evaluate_inputs.WORK_ROOT.iterdir()) == folders  # nothing left behind by the refused upload
    status, coco, *_ = evaluate([GT])
    assert [f"{row[1]:.3f}" for row in coco["data"]] == [line[-5:] for line in cli_lines]


def test_evaluate_runs_a_model_on_the_data_sets_images(app_url, registry, tmp_path):
    """The model's predictions through the app equal `cvdemo.predict` + COCO evaluation of the same model."""
    gt = write_shapes_dataset(tmp_path / "shapes", 6, seed=5, config=ShapesConfig(image_size=64, max_objects=3))
    files = [tmp_path / "shapes" / "annotations.json", *sorted((tmp_path / "shapes" / "images").glob("*.png"))]
    client = Client(app_url, verbose=False)
    status, coco, *_ = client.predict([handle_file(str(p)) for p in files], [], 0.5, 0.3, "tiny-detr",
                                      api_name="/evaluate")
    records = predict_coco(registry.get("tiny-detr"), tmp_path / "shapes" / "images", gt)
    expected = evaluate_coco(gt, load_coco_detections(records, gt)).stats
    assert len(records) == 6 * 5  # every query of every image, as DETR's evaluation
    assert "30 predictions** of tiny-detr" in status and "on CPU" in status
    shown = [row[1] for row in coco["data"]]
    assert [v for v, e in zip(shown, expected) if e >= 0] == pytest.approx(
        [round(e, 3) for e in expected if e >= 0], abs=1e-9)
    assert all(v == "n/a" for v, e in zip(shown, expected) if e < 0)  # no object of that size

    with pytest.raises(AppError, match="either uploaded predictions or a model"):
        client.predict([handle_file(str(p)) for p in files], [handle_file(str(DT))], 0.5, 0.3, "tiny-detr",
                       api_name="/evaluate")
    with pytest.raises(AppError, match="100 of 100 images have no image file"):  # annotations only
        client.predict([handle_file(str(GT))], [], 0.5, 0.3, "tiny-detr", api_name="/evaluate")
    with pytest.raises(AppError, match="unknown model 'nope'"):
        client.predict([handle_file(str(p)) for p in files], [], 0.5, 0.3, "nope", api_name="/evaluate")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(evaluate_inputs, "MAX_MODEL_IMAGES", 5)
        with pytest.raises(AppError, match="6 images; running a model here is limited to 5"):
            client.predict([handle_file(str(p)) for p in files], [], 0.5, 0.3, "tiny-detr", api_name="/evaluate")


def test_a_model_that_lacks_a_class_of_the_data_set_is_refused_with_both_sides(app_url, tmp_path):
    write_shapes_dataset(tmp_path / "shapes", 2, seed=5, config=ShapesConfig(image_size=64, max_objects=2))
    ann = json.loads((tmp_path / "shapes" / "annotations.json").read_text())
    ann["categories"][0]["name"] = "dog"
    (tmp_path / "shapes" / "annotations.json").write_text(json.dumps(ann))
    files = [tmp_path / "shapes" / "annotations.json", *sorted((tmp_path / "shapes" / "images").glob("*.png"))]
    with pytest.raises(AppError, match="dog") as err:
        Client(app_url, verbose=False).predict([handle_file(str(p)) for p in files], [], 0.5, 0.3, "tiny-detr",
                                               api_name="/evaluate")
    assert "circle" in str(err.value)  # the model's side too


def test_a_broken_image_stops_a_model_run_with_its_name(app_url, tmp_path):
    """The model reads every image through `cvdemo.images`: a corrupt one is named, without the server's folders."""
    write_shapes_dataset(tmp_path / "shapes", 3, seed=5, config=ShapesConfig(image_size=64, max_objects=2))
    images = sorted((tmp_path / "shapes" / "images").glob("*.png"))
    images[1].write_bytes(images[1].read_bytes()[:150])  # truncated
    files = [tmp_path / "shapes" / "annotations.json", *images]
    with pytest.raises(AppError, match=rf"images/{images[1].name}: .*truncated or corrupted") as err:
        Client(app_url, verbose=False).predict([handle_file(str(p)) for p in files], [], 0.5, 0.3, "tiny-detr",
                                               api_name="/evaluate")
    assert str(evaluate_inputs.WORK_ROOT) not in str(err.value) and "/tmp" not in str(err.value)


def _cli_text() -> str:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        cli_main([str(GT), str(DT)])
    return out.getvalue()


def test_browser_moves_the_iou_slider_and_the_counts_change(app_url, coco_session):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto(app_url)
            _wait_for_the_first_view(page, "Built-in example")
            page.locator("#eval-dataset input[type=file]").set_input_files(str(GT))
            page.locator("#eval-predictions input[type=file]").set_input_files(str(DT))
            page.wait_for_function("document.querySelectorAll('#eval-dataset .file-preview, #eval-predictions "
                                   ".file-preview').length >= 2", timeout=30_000)
            page.locator("#eval-button").click()
            tp = coco_session.browse(0.5, 0.3).counts["tp"]  # the upload's counts, not the first view's example's
            page.wait_for_function(f"document.querySelector('#eval-counts').innerText.includes('TP {tp:,} ')",
                                   timeout=30_000)
            before = _tp_fp(page.locator("#eval-counts").inner_text())
            slider = page.locator("#eval-iou input[type=range]")
            slider.focus()
            for _ in range(6):  # 0.50 -> 0.80
                page.keyboard.press("ArrowRight")
            page.wait_for_function("document.querySelector('#eval-counts').innerText.includes('IoU ≥ 0.80')",
                                   timeout=30_000)
            after = _tp_fp(page.locator("#eval-counts").inner_text())
            assert after[0] < before[0] and after[1] > before[1]
            page.locator("#eval-sort").click()
            page.get_by_role("option", name="most false positives").click()
            page.wait_for_function("document.querySelector('#eval-page-info').innerText.includes('most false')",
                                   timeout=30_000)
            # click the centre of a detection of the image on show (the one with the most false positives)
            view = coco_session.browse(0.8, 0.3, sort="most false positives")
            image_id = int(coco_session.image_ids[view.order[0]])
            page.wait_for_function(f"document.querySelector('#eval-click').innerText.includes('Image {image_id} ')",
                                   timeout=30_000)
            det = coco_session.image_objects(image_id, view.assignment)[0][0]
            x, y, w, h = coco_session.dt.boxes_xywh[det]
            info, _ = coco_session.image_info(image_id)
            box = page.locator("#eval-image img").bounding_box()
            shown = box["width"] / info.width  # image pixels -> screen pixels
            page.mouse.click(box["x"] + (x + w / 2) * shown, box["y"] + (y + h / 2) * shown)
            page.wait_for_function("document.querySelector('#eval-click').innerText.includes('box x=')", timeout=30_000)
            page.wait_for_function("document.querySelector('#eval-tide').innerText.includes('IoU ≥ 0.80')",
                                   timeout=30_000)
            page.wait_for_function("document.querySelector('#eval-confusion').innerText.includes('IoU ≥ 0.80')",
                                   timeout=30_000)
        finally:
            browser.close()
    assert errors == []


def _wait_for_the_first_view(page, example: str) -> None:
    """The tab opens with the shapes example evaluated (the first view): wait for it before uploading, so that its
    result cannot arrive after the upload's."""
    page.wait_for_selector("#eval-dataset input[type=file]", state="attached", timeout=30_000)
    page.wait_for_function(f"document.querySelector('#eval-status').innerText.includes('{example}')", timeout=30_000)
    page.wait_for_function("document.querySelector('#eval-counts').innerText.includes('TP 29 ')", timeout=30_000)


def _tp_fp(text: str) -> tuple[int, int]:
    m = re.search(r"TP ([\d,]+) · FP ([\d,]+)", text)
    assert m, text
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


# --- Simplified Chinese through the endpoint and the browser -----------------------------------------------------

ZH = "zh-CN,zh;q=0.9,en;q=0.8"


def test_evaluate_endpoint_keeps_its_parameters_and_answers_in_the_requests_language(app_url, tmp_path):
    client = Client(app_url, verbose=False, headers={"Accept-Language": ZH})
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/evaluate", "/compare"] and not api["unnamed_endpoints"]
    parameters = api["named_endpoints"]["/evaluate"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == [
        "dataset_payload", "preds_payload", "iou_v", "score_v", "model_name"]
    assert parameters[-1]["parameter_has_default"] and parameters[-1]["parameter_default"] == ""  # optional
    status, coco, voc_md, metrics_file, classes, class_dd, *_ = client.predict(
        [handle_file(str(GT))], [handle_file(str(DT))], 0.5, 0.3, api_name="/evaluate")
    assert "100 张图像" in status and "COCO json" in status
    assert coco["headers"] == ["指标", "数值"] and coco["data"][3][0] == "AP  小目标"
    assert [f"{row[1]:.3f}" for row in coco["data"]][0] == "0.505"
    assert classes["headers"][:2] == ["类别", "真值数"] and "VOC2010+，全部点" in voc_md
    assert class_dd["choices"][0] == ["全部类别", -1] and class_dd["value"] == -1
    # the machine-readable file is the same whatever the language
    assert json.loads(Path(metrics_file).read_text()) == _cli_json("--per-class", "--voc")
    fake = tmp_path / "data.zip"
    fake.write_text("not a zip")
    with pytest.raises(AppError, match="not a zip archive"):  # the library's message stays English
        client.predict([handle_file(str(fake))], [handle_file(str(DT))], 0.5, 0.3, api_name="/evaluate")


def test_a_chinese_browser_gets_the_tab_in_chinese(app_url, page_in):
    page, errors = page_in("zh-CN")
    page.goto(app_url)
    _wait_for_the_first_view(page, "内置示例")  # the shapes example, evaluated on load
    page.wait_for_function("document.querySelector('#eval-objects').innerText.includes('匹配对象')",
                           timeout=30_000)  # the page-load event's headers
    assert "全部类别" in page.locator("#eval-class input").input_value()
    assert page.locator("#eval-sort input").input_value() == "图像 id"
    assert "评估" in page.locator("#eval-button").inner_text()
    page.locator("#eval-dataset input[type=file]").set_input_files(str(GT))
    page.locator("#eval-predictions input[type=file]").set_input_files(str(DT))
    page.wait_for_function("document.querySelectorAll('#eval-dataset .file-preview, #eval-predictions "
                           ".file-preview').length >= 2", timeout=30_000)
    page.locator("#eval-button").click()
    page.wait_for_function("document.querySelector('#eval-status').innerText.includes('100 张图像')", timeout=30_000)
    assert "内置示例" not in page.locator("#eval-status").inner_text()
    page.wait_for_function("document.querySelector('#eval-counts').innerText.includes('精确率')", timeout=30_000)
    page.wait_for_function("document.querySelector('#eval-page-info').innerText.includes('排序：图像 id')",
                           timeout=30_000)
    page.wait_for_function("document.querySelector('#eval-tide').innerText.includes('假阳性的成因')", timeout=30_000)
    page.locator("#eval-sort").click()
    page.get_by_role("option", name="假阳性最多").click()
    page.wait_for_function("document.querySelector('#eval-page-info').innerText.includes('排序：假阳性最多')",
                           timeout=30_000)
    assert not errors, errors


def test_the_shapes_example_runs_with_its_images_n_a_and_the_counts_reconciled(app_url, browser_page):
    """The first example (shapes with their images and detr-shapes' predictions): the upload list says how many files
    it holds, COCO's undefined "AP large" reads "n/a", the image is drawn from its file (no blank-canvas note) and the
    reconciliation of the counts is shown beside TIDE's table."""
    page, errors = browser_page
    page.goto(app_url)
    _wait_for_the_first_view(page, "Built-in example")
    images = len(list((Path("examples") / "shapes-detr-eval" / "images").glob("*.png")))
    page.get_by_text("annotations.json").first.click()  # the example table's first row
    page.wait_for_function("document.querySelector('#eval-upload-count').innerText.includes('files')",
                           timeout=30_000)
    count = page.locator("#eval-upload-count").inner_text()
    assert f"data set {images + 1} files" in count and "predictions 1 files" in count, count
    page.locator("#eval-button").click()  # the upload's evaluation replaces the first view's (the same numbers)
    page.wait_for_function("!document.querySelector('#eval-status').innerText.includes('Built-in example')",
                           timeout=60_000)
    page.wait_for_function("document.querySelector('#eval-counts').innerText.includes('TP ')", timeout=60_000)
    coco = page.locator("#eval-coco").inner_text()
    assert re.search(r"AP\s+large\s+n/a", coco) and re.search(r"AR\s+large\s+n/a", coco), coco
    page.wait_for_function("document.querySelector('#eval-click').innerText.includes('Image ')", timeout=30_000)
    assert "blank canvas" not in page.locator("#eval-click").inner_text()
    page.wait_for_function("document.querySelector('#eval-tide').innerText.includes('How the counts reconcile')",
                           timeout=30_000)
    tide = page.locator("#eval-tide").inner_text()
    assert "FN 3 = " in tide and "FN with a loc error 1 + FN with a cls error 1" in tide.replace("\n", " "), tide
    assert not errors, errors
