"""The Evaluate tab's handlers as a public server runs them, without a browser: evaluations held in a bounded store
(one per session, a byte cap over all sessions, the oldest evicted with its folder), a session's folders deleted
when it ends, values only the API can send refused with the controls' limits, hostile uploads refused with
specific messages, and an evaluation's size estimate close to what it really holds. The first view: the shapes
example evaluated on page load as the Evaluate button would, in its own bounded store (page loads never evict an
upload), dropped when the session evaluates its own or ends; without the example, no page-load evaluation."""
from __future__ import annotations

import contextlib
import gc
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from cvdemo.datasets import load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.folder import LoadedDataset
from cvdemo.datasets.structure import DatasetError
from cvdemo.evaluate import main as cli_main
from cvdemo.metrics.browse import EvaluationBrowser, load_evaluation
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.session_store import RunStore, nbytes
from cvdemo.ui import evaluate_browse, evaluate_inputs, evaluate_tab, sessions
from cvdemo.ui.evaluation_viewer import render_image

FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
GT = FIXTURE / "instances_val2014_100.json"
DT = FIXTURE / "instances_val2014_fakebbox100_results.json"
REGISTRY = ModelRegistry([ModelSpec("some-detr", "unused", "detect"), ModelSpec("some-vit", "unused", "classify")],
                         device="cpu")


def request(session: str, language: str = "en") -> gr.Request:
    return gr.Request(session_hash=session, headers={"accept-language": language})


def upload(*paths: Path) -> list[dict]:
    return [{"path": str(p), "orig_name": p.name} for p in paths]


def evaluate(session: str, dataset=(GT,), predictions=(DT,), iou=0.5, score=0.3, model="", language="en"):
    return evaluate_tab.evaluate(upload(*dataset), upload(*predictions), iou, score, model,
                                 request(session, language), registry=REGISTRY)


def refresh(token, iou=0.5, score=0.3, class_v=-1, error="all images", sort="image id", page=1, session="a"):
    return evaluate_browse.refresh(token, iou, score, class_v, error, sort, page, None, request(session))


@pytest.fixture
def store(monkeypatch, tmp_path):
    """A store that holds two evaluations of the fixture (all sessions together), one per session."""
    size = load_evaluation(tmp_path / "probe", [("gt.json", str(GT))], [("dt.json", str(DT))]).memory_bytes()
    small = RunStore("evaluation-test", max_runs=10, max_bytes=int(2.5 * size), per_session=1,
                     on_evict=EvaluationBrowser.close)
    monkeypatch.setattr(evaluate_browse, "EVALUATIONS", small)
    monkeypatch.setattr(evaluate_inputs, "WORK_ROOT", tmp_path / "work")
    return small


def folders(session: str) -> list[Path]:
    return sorted(evaluate_inputs.WORK_ROOT.glob(f"{session}-*"))


def test_one_evaluation_per_session_and_a_global_byte_cap(store):
    first = evaluate("a")[8]
    assert store.stats() == {"runs": 1, "bytes": store.stats()["bytes"], "sessions": 1} and len(folders("a")) == 1
    counts = refresh(first)[0]
    assert "TP " in counts
    again = evaluate("a")[8]  # the session's new evaluation replaces its old one, folder and all
    assert again != first and store.stats()["runs"] == 1 and len(folders("a")) == 1
    with pytest.raises(gr.Error, match="no longer kept on the server"):
        refresh(first)
    evaluate("b")
    evaluate("c")  # three sessions do not fit: the least recently used ("a") goes, with its folder
    assert store.stats()["runs"] == 2 and store.stats()["bytes"] <= store.max_bytes
    assert folders("a") == [] and len(folders("b")) == len(folders("c")) == 1
    with pytest.raises(gr.Error, match="Run it again"):
        evaluate_browse.export(again, 0.5, 0.3, request("a"))


def test_the_end_of_a_session_drops_its_evaluation_and_folders(store):
    token = evaluate("gone")[8]
    (evaluate_inputs.WORK_ROOT / "gone-stale").mkdir()  # e.g. an upload still being staged when the tab closed
    sessions.on_session_end(evaluate_inputs.remove_session_folders)
    sessions.end_session(request("gone"))
    store.drop_session("gone")  # what end_session does for the app's own store
    assert folders("gone") == [] and store.stats()["runs"] == 0
    with pytest.raises(gr.Error, match="no longer kept"):
        refresh(token, session="gone")


def test_a_refused_upload_leaves_nothing_behind(store, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(gr.Error, match="bad.zip: a corrupt zip archive|not a zip"):
        evaluate("z", dataset=(bad,))
    assert folders("z") == [] and store.stats()["runs"] == 0


@pytest.mark.parametrize("iou, score, match", [
    (2.0, 0.3, r"IoU threshold must be in \[0.2, 0.95\] \(got 2.0\)"),
    (0.1, 0.3, r"IoU threshold must be in \[0.2, 0.95\]"),
    ("0.5", 0.3, r"IoU threshold must be a number in \[0.2, 0.95\] \(got '0.5'\)"),
    (0.5, float("nan"), r"Score threshold must be a number"),
    (0.5, -0.1, r"Score threshold must be in \[0, 1\]"),
])
def test_thresholds_only_the_api_can_send_are_refused(store, iou, score, match):
    with pytest.raises(gr.Error, match=match):
        evaluate("t", iou=iou, score=score)
    token = evaluate("t")[8]
    with pytest.raises(gr.Error, match=match):
        refresh(token, iou=iou, score=score, session="t")


def test_models_pages_and_choices_only_the_api_can_send_are_refused(store):
    with pytest.raises(gr.Error, match="image classifier \\(ViT\\); this needs a DETR detector") as err:
        evaluate("m", predictions=(), model="some-vit")
    assert "some-detr" in err.value.message
    with pytest.raises(gr.Error, match="unknown model 'nope': choose one of some-detr"):
        evaluate("m", predictions=(), model="nope")
    with pytest.raises(gr.Error, match="unknown model"):
        evaluate("m", predictions=(), model=["a", "list"])
    token = evaluate("m")[8]
    with pytest.raises(gr.Error, match=r"Page must be a number in \[1, 100000\] \(got 'two'\)"):
        refresh(token, page="two", session="m")
    with pytest.raises(gr.Error, match=r"Page must be a whole number"):
        refresh(token, page=2.5, session="m")
    assert refresh(token, page=1000, session="m")[3] == 5  # past the end: the last page
    with pytest.raises(gr.Error, match=r"Class \(PR curves and image browser\) must be one of"):
        refresh(token, class_v=12345, session="m")
    with pytest.raises(gr.Error, match=r"Show images must be one of"):
        refresh(token, error="everything", session="m")
    with pytest.raises(gr.Error, match=r"Sort by must be one of"):
        refresh(token, sort="random", session="m")


def test_refusals_speak_the_requests_language(store):
    with pytest.raises(gr.Error, match="IoU 阈值"):
        evaluate("zh", iou=3.0, language="zh-CN")
    with pytest.raises(gr.Error, match="请先上传数据集"):
        evaluate("zh", dataset=(), language="zh-CN")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_hostile_data_sets_get_specific_messages(tmp_path):
    cases = {
        "deep.json": ("[" * 100_000 + "]" * 100_000).encode(),
        "deep_value.json": ('{"images": [{"id": 1, "file_name": ' + "[" * 1000 + "]" * 1000 + '}], '
                            '"annotations": [], "categories": []}').encode(),
        "empty.json": b"",
        "binary.json": bytes(range(256)),
        "notjson.json": b"{not json",
    }
    expected = {"deep.json": "JSON nested too deeply", "deep_value.json": "JSON nested too deeply",
                "empty.json": "the file is empty", "binary.json": "binary data, not text",
                "notjson.json": "not valid JSON"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DatasetError, match=expected[name]) as err:
            load_evaluation(tmp_path / f"w-{name}", [(name, str(tmp_path / name))], [("dt.json", str(DT))])
        assert str(tmp_path / f"w-{name}") not in str(err.value)  # the server's folders stay hidden
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.json": bytes(8 << 20)})
    with pytest.raises(DatasetError, match="zip bomb"):
        load_evaluation(tmp_path / "w-bomb", [("bomb.zip", str(bomb))], [("dt.json", str(DT))])
    (tmp_path / "corrupt.zip").write_bytes(_zip(tmp_path / "ok.zip", {"a.json": b"{}" * 1000}).read_bytes()[:60])
    with pytest.raises(DatasetError, match="corrupt zip|not a zip"):
        load_evaluation(tmp_path / "w-corrupt", [("corrupt.zip", str(tmp_path / "corrupt.zip"))],
                        [("dt.json", str(DT))])


def test_a_broken_image_in_a_data_set_is_named(tmp_path):
    """Drawn on a blank canvas with a note in the viewer; named (without the server's folders) in a model run."""
    gt = load_coco_ground_truth(GT)
    first = gt.images[0]
    images = tmp_path / "upload"
    images.mkdir()
    for info in gt.images:
        Image.new("RGB", (info.width, info.height)).save(images / info.file_name)
    (images / first.file_name).write_bytes(b"\xff\xd8\xff\xe0 a truncated jpeg")
    files = [("gt.json", str(GT)), *((p.name, str(p)) for p in sorted(images.iterdir()))]
    browser = load_evaluation(tmp_path / "w", files, [("dt.json", str(DT))])
    _, _, note = render_image(browser, first.id, browser.assignment(0.5, 0.3))
    assert "the image file cannot be read" in note and "corrupted" in note

    def predict(dataset: LoadedDataset):
        from cvdemo.images import load_image_file
        try:
            load_image_file(dataset.image_files[first.id])
        except Exception as e:  # what evaluate_tab's model run does with an ImageLoadError
            raise DatasetError(str(e)) from None

    with pytest.raises(DatasetError, match=rf"^dataset/images/{first.file_name}: ") as err:
        load_evaluation(tmp_path / "w2", files, None, predict=predict)
    assert str(tmp_path) not in str(err.value)


def test_memory_bytes_is_close_to_what_an_evaluation_holds(tmp_path):
    gt = load_coco_ground_truth(GT)
    dt = load_coco_detections(DT, gt)
    dataset = LoadedDataset(gt, "COCO json", {im.id: None for im in gt.images})
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        browser = EvaluationBrowser(tmp_path, dataset, dt)
        for iou, score in [(0.5, 0.3), (0.6, 0.2), (0.7, 0.1), (0.8, 0.0)]:  # fill the caches
            browser.browse(iou, score)
            browser.tide(iou, score)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    held = grown + nbytes([gt, dt])  # the data set and predictions were loaded before
    assert 0.7 < browser.memory_bytes() / held < 1.5, (browser.memory_bytes(), held)


def test_the_metrics_file_is_the_clis_report(store):
    metrics_file = evaluate("r")[3]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        cli_main([str(GT), str(DT), "--json", "--per-class", "--voc"])
    assert json.loads(Path(metrics_file).read_text()) == json.loads(out.getvalue())
    assert np.isfinite(json.loads(out.getvalue())["AP"])


# --- the first view: the shapes example evaluated when the page loads ---------------------------------------------

EXAMPLE = evaluate_tab._shapes_example(Path("examples"))  # [data set files, prediction files]


@pytest.fixture
def example_store(monkeypatch, store):
    """The first view's store, small: three example evaluations (all sessions together), one per session."""
    small = RunStore("evaluation-example", max_runs=3, max_bytes=64 * 2**20, per_session=1,
                     on_evict=EvaluationBrowser.close)
    monkeypatch.setattr(evaluate_browse, "EXAMPLE_EVALUATIONS", small)
    return small


def first_view(session: str, language: str = "en"):
    return evaluate_tab.first_view(request(session, language), example=EXAMPLE)


def test_the_first_view_is_the_shapes_example_as_the_evaluate_button_shows_it(store, example_store):
    assert EXAMPLE is not None and len(EXAMPLE[0]) == 13  # annotations.json and 12 images
    shown = first_view("f")
    status = shown[0]
    assert "Built-in example" in status and "detr-shapes" in status and "**Evaluate**" in status, status
    assert "12 images" in status and "120 predictions" in status  # then the usual status line
    metrics = json.loads(Path(shown[3]).read_text())
    clicked = evaluate("f", dataset=[Path(p) for p in EXAMPLE[0]], predictions=[Path(p) for p in EXAMPLE[1]])
    assert shown[1] == clicked[1] and shown[4] == clicked[4]  # the COCO and class tables of the same files
    assert metrics == json.loads(Path(clicked[3]).read_text())
    assert "内置示例" in first_view("f", "zh-CN")[0]


def test_the_first_view_browses_its_images_and_leaves_the_uploads_store_alone(store, example_store):
    token = first_view("g")[8]
    assert example_store.stats()["runs"] == 1 and store.stats()["runs"] == 0
    counts, _, page_rows, _, image, line, *_ = refresh(token, session="g")
    assert "TP 29 · FP 9 · FN 3" in counts and len(page_rows["data"]) == 12
    assert image is not None and image.std() > 0 and "blank canvas" not in line  # drawn from its file
    assert "How the counts reconcile" in evaluate_browse.errors_view(token, 0.5, 0.3, request("g"))[1]
    assert len(evaluate_browse.export(token, 0.5, 0.3, request("g"))) == 2


def test_page_loads_never_evict_an_upload_and_the_examples_stay_bounded(store, example_store):
    upload_token = evaluate("u")[8]
    for i in range(5):  # five page loads: the example store keeps the last three, with their folders only
        first_view(f"v{i}")
    assert "TP " in refresh(upload_token, session="u")[0]
    assert example_store.stats()["runs"] == 3 and store.stats()["runs"] == 1
    assert [len(folders(f"v{i}")) for i in range(5)] == [0, 0, 1, 1, 1]


def test_an_own_evaluation_or_the_sessions_end_drops_its_example(store, example_store):
    token = first_view("o")[8]
    evaluate("o")  # the session's own upload replaces the example on its screen
    assert example_store.stats()["runs"] == 0 and len(folders("o")) == 1
    with pytest.raises(gr.Error, match="no longer kept"):
        refresh(token, session="o")
    first_view("e")
    sessions.on_session_end(evaluate_inputs.remove_session_folders)
    sessions.end_session(request("e"))
    example_store.drop_session("e")  # what end_session does for the app's own store
    assert example_store.stats()["runs"] == 0 and folders("e") == []


def test_without_the_example_the_tab_opens_empty_as_before(tmp_path):
    def page_load_handlers(examples_dir: Path) -> list[str]:
        with gr.Blocks() as demo:
            evaluate_tab.build_evaluate_tab(REGISTRY, examples_dir)
        return [f.fn.__name__ for f in demo.fns.values() if f.fn is not None]

    assert "first_view" in page_load_handlers(Path("examples"))
    assert "first_view" not in page_load_handlers(tmp_path) and "localize" in page_load_handlers(tmp_path)
