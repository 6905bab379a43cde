"""The Train tab: the training core's job manager and setup (tiny runs on shrunk presets), `/train` through
gradio_client against a launched demo holding only the tab, and a real browser pressing Start and Stop.

Everything runs on the CPU with one torch thread and never touches the network (a missing Hub token is
refused before any request).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import cvdemo.models
from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
from cvdemo.datasets.structure import DatasetError
from cvdemo.models import DETR
from cvdemo.models.registry import ModelRegistry, ModelSpec, ModelUnavailableError
from cvdemo.training import EvalEvent, RunFinished, RunStarted, SnapshotEvent, StepEvent
from cvdemo.training.jobs import JobLimits, JobManager, TrainingBusyError
from cvdemo.training.presets import DETR_TRAINING_PRESETS, VIT_TRAINING_PRESETS
from cvdemo.training.requests import TrainRequest, build_setup, coco_folder_from_zip
from cvdemo.training.trained_models import push_to_hub
from cvdemo.training.workspace import TrainingWorkspace
from cvdemo.ui.training_view import RunView, word

CLASSIFY_32 = ShapesConfig(image_size=32, task="classify", min_size=0.4, max_size=0.9)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def shrunk_presets(monkeypatch):
    """The tiny presets at 64 px (DETR) and 32 px (ViT): the same recipes, a fraction of the compute."""
    detr = DETR_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(DETR_TRAINING_PRESETS, "test", dataclasses.replace(
        detr, name="test", model={**detr.model, "shortest_edge": 64, "longest_edge": 64, "num_queries": 6},
        shapes={**detr.shapes, "image_size": 64}))
    vit = VIT_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(VIT_TRAINING_PRESETS, "test", dataclasses.replace(
        vit, name="test", model={**vit.model, "image_size": 32}, shapes={**vit.shapes, "image_size": 32}))


def detr_request(**kw) -> TrainRequest:
    return TrainRequest(**{"kind": "detr", "preset": "test", "length": 6, "batch_size": 2, "snapshot_every": 3,
                           "num_val_images": 2, **kw})


def vit_request(**kw) -> TrainRequest:
    return TrainRequest(**{"kind": "vit", "preset": "test", "length": 2000, "batch_size": 8,
                           "snapshot_every": 0, "num_val_images": 8, **kw})


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def coco_zip(tmp_path: Path, num_images: int = 8, classify: bool = False, mutate=None) -> Path:
    """A COCO-format zip of generated shapes: annotations.json + images/, inside one top-level folder."""
    folder = tmp_path / "shapes"
    config = CLASSIFY_32 if classify else ShapesConfig(image_size=64)
    write_shapes_dataset(folder, num_images, seed=3, config=config)
    if mutate:
        mutate(folder)
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, "my-set/" + path.relative_to(folder).as_posix())
    return archive


# --- the job manager ---------------------------------------------------------------------------------------


def test_a_detr_job_streams_every_event_with_finite_losses():
    manager = JobManager(JobLimits(max_steps=100, max_seconds=60))
    job = manager.submit("alice", build_setup(detr_request()))
    assert job.done.wait(30) and job.state == "finished", job.error
    events, cursor = job.poll(0)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert job.poll(cursor) == ([], cursor)  # nothing new after the end
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == list(range(1, 7))
    assert all(math.isfinite(e.loss) and all(map(math.isfinite, e.losses.values())) for e in steps)
    assert {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0", "loss_bbox_0", "loss_giou_0"} <= set(steps[-1].losses)
    assert any(isinstance(e, EvalEvent) and "AP" in e.metrics for e in events)
    # the view draws what the events say: a curve per term and aux layer, the matching on the snapshot
    view = RunView()
    view.consume(events)
    names = {t.name for t in view.figure().data}
    assert {"loss_ce", "loss_bbox", "loss_giou", "loss_ce layer 0", "AP"} <= names
    snapshot = [e for e in events if isinstance(e, SnapshotEvent)][-1]
    assert snapshot.step == 6 and len(snapshot.predictions) == 2 and view.snapshot is snapshot
    assert view.snapshot_image().shape[0] >= 192
    assert "Step 6 / 6" in view.progress_markdown("finished") and "device **cpu**" in view.progress_markdown("x")
    assert manager.wait_idle(5)


def test_a_vit_job_learns_and_stop_is_honoured_within_a_step(tmp_path):
    manager = JobManager(JobLimits(max_steps=5000, max_seconds=60))
    # four images, one batch: the loss must fall fast (the uploaded-zip path, classification)
    folder = coco_folder_from_zip(coco_zip(tmp_path, 4, classify=True), tmp_path / "data")
    job = manager.submit("bob", build_setup(vit_request(dataset=folder, batch_size=4, length=1000, lr=2e-3)))
    wait_for(lambda: job.steps_done >= 40)
    manager.stop("bob")
    stopped_at = job.steps_done
    assert job.done.wait(5) and job.state == "stopped" and job.stop_reason == "stop pressed"
    steps = [e for e in job.poll(0)[0] if isinstance(e, StepEvent)]
    assert steps[-1].step <= stopped_at + 1  # the step under way when Stop came, then no more
    losses = [e.loss for e in steps]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses


def test_others_wait_in_a_queue_and_are_refused_when_it_is_full():
    manager = JobManager(JobLimits(max_steps=5000, max_seconds=60, max_queue=1))
    first = manager.submit("a", build_setup(vit_request()))
    wait_for(lambda: first.steps_done >= 1)
    second = manager.submit("b", build_setup(vit_request()))
    assert second.state == "queued" and manager.queue_position(second) == 1
    assert word(manager.busy_message("cpu")) == "Busy: another session is training on cpu, 1 in queue."
    with pytest.raises(TrainingBusyError, match="busy.*1 more are waiting"):
        manager.submit("c", build_setup(vit_request()))
    with pytest.raises(TrainingBusyError, match="already have a training run"):
        manager.submit("a", build_setup(vit_request()))
    manager.stop("b")  # a queued run never starts
    assert second.state == "stopped" and second.done.is_set()
    manager.stop("a")
    assert manager.wait_idle(10) and second.started_at is None and manager.busy_message("cpu") is None


def test_caps_on_steps_and_wall_time():
    assert JobLimits.from_env({"CVDEMO_MAX_TRAIN_STEPS": "7", "CVDEMO_MAX_TRAIN_SECONDS": "0.5"}) == \
        JobLimits(max_steps=7, max_seconds=0.5, max_queue=4)
    assert JobLimits.from_env({}) == JobLimits()
    with pytest.raises(ValueError, match="must be numbers"):
        JobLimits.from_env({"CVDEMO_MAX_TRAIN_STEPS": "many"})
    manager = JobManager(JobLimits(max_steps=7, max_seconds=60))
    job = manager.submit("a", build_setup(vit_request(length=500)))
    assert job.done.wait(20) and job.state == "finished" and job.steps_done == 7
    assert [word(n) for n in job.setup.notes] == ["500 steps asked, 7 run: the most this server allows per run"]
    manager = JobManager(JobLimits(max_steps=10_000, max_seconds=2))  # room for a first step on a loaded CPU
    start = time.monotonic()
    job = manager.submit("a", build_setup(vit_request(length=10_000)))
    assert job.done.wait(30) and job.state == "stopped" and job.stop_reason == "time limit"
    assert time.monotonic() - start < 10 and 0 < job.steps_done < 10_000


def test_save_then_add_to_the_registry_then_it_loads(tmp_path):
    manager = JobManager(JobLimits(max_steps=100, max_seconds=60))
    job = manager.submit("a", build_setup(detr_request(length=2, snapshot_every=0)))
    assert job.done.wait(30) and job.state == "finished"
    folder = cvdemo.models.save(job.model, tmp_path / "mine")
    registry = ModelRegistry([ModelSpec("vit-x", str(tmp_path / "nowhere"), "classify")], device="cpu")
    registry.add(ModelSpec("mine", str(folder), "detect", "trained here"))  # loads lazily from the folder
    registry.add(ModelSpec("mine-now", str(folder), "detect"), model=cvdemo.models.load(folder))
    assert registry.names("detect") == ["mine", "mine-now"] and not registry.is_loaded("mine")
    pixels = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = job.model.eval()(pixel_values=pixels)["pred_boxes"]
        for name in ("mine", "mine-now"):
            model = registry.get(name)
            assert isinstance(model, DETR) and not model.training
            torch.testing.assert_close(model(pixel_values=pixels)["pred_boxes"], expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="already on offer"):
        registry.add(ModelSpec("mine", str(folder), "detect"))
    with pytest.raises(ModelUnavailableError, match="is a DETR detector"):
        registry.add(ModelSpec("wrong", str(folder), "classify"), model=cvdemo.models.load(folder))
    registry.remove("mine")
    assert registry.names("detect") == ["mine-now"]



def test_a_saved_detector_of_another_family_is_a_family_model_of_the_registry(tmp_path):
    from cvdemo.models.registry import model_task
    from cvdemo.training.kinds import KINDS
    from cvdemo.training.presets import YOLO_TRAINING_PRESETS, build_yolo

    assert KINDS["yolo"].model_task == "family" and KINDS["yolo"].data_task == "detect"
    model = build_yolo(YOLO_TRAINING_PRESETS["tiny"], {0: "a", 1: "b"}, backbone_init=None)
    folder = cvdemo.models.save(model, tmp_path / "grid")
    assert model_task(cvdemo.models.load(folder)) == "family"
    registry = ModelRegistry([], device="cpu")
    registry.add(ModelSpec("grid", str(folder), "family"))
    assert registry.names("family") == ["grid"] and registry.names("detect") == []
    assert not registry.get("grid").training
    with pytest.raises(ModelUnavailableError, match="'grid' is a detector of another family.*needs a DETR"):
        registry.require("grid", "detect")
    with pytest.raises(ModelUnavailableError, match="is a detector of another family"):
        registry.add(ModelSpec("as-detr", str(folder), "detect"), model=cvdemo.models.load(folder))


# --- uploads and the Hub -------------------------------------------------------------------------------------


def test_uploaded_zips_are_checked_and_each_problem_has_its_own_message(tmp_path):
    not_zip = tmp_path / "data.zip"
    not_zip.write_bytes(b"\x89PNG\r\n\x1a\n not a zip")
    with pytest.raises(DatasetError, match="not a zip archive"):
        coco_folder_from_zip(not_zip, tmp_path / "a")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("annotations.json", "{}")
        z.writestr("../../escaped.png", b"x")
    with pytest.raises(DatasetError, match="path traversal"):
        coco_folder_from_zip(evil, tmp_path / "b")
    assert not (tmp_path / "escaped.png").exists()
    no_json = tmp_path / "nojson.zip"
    with zipfile.ZipFile(no_json, "w") as z:
        z.writestr("images/a.png", b"x")
    with pytest.raises(DatasetError, match="no annotations.json"):
        coco_folder_from_zip(no_json, tmp_path / "c")

    def drop_an_image(folder: Path) -> None:
        first = json.loads((folder / "annotations.json").read_text())["images"][0]["file_name"]
        (folder / "images" / first).unlink()

    folder = coco_folder_from_zip(coco_zip(tmp_path / "m", 4, mutate=drop_an_image), tmp_path / "d")
    with pytest.raises(DatasetError, match="1 images listed .* are missing"):
        build_setup(detr_request(dataset=folder))
    from cvdemo.datasets.archive import ArchiveLimits
    with pytest.raises(DatasetError, match="entries; at most 3"):
        coco_folder_from_zip(coco_zip(tmp_path / "n", 4), tmp_path / "e", ArchiveLimits(max_files=3))
    good = coco_folder_from_zip(coco_zip(tmp_path / "g", 4), tmp_path / "f")
    setup = build_setup(detr_request(dataset=good, length=3, unit="epochs"))
    assert setup.config.total_steps == 6 and len(setup.train_data) == 4  # 3 epochs of 4 images in batches of 2
    assert "your 4 images, 6 classes" in word(setup.description)
    with pytest.raises(ValueError, match="fewer than one batch of 8"):
        build_setup(detr_request(dataset=good, batch_size=8))


def test_pushing_without_a_token_says_what_is_needed(tmp_path):
    with pytest.raises(ValueError, match="A Hugging Face token is needed"):
        push_to_hub(tmp_path, "me/my-model", "")
    with pytest.raises(ValueError, match="not a Hub repository id"):
        push_to_hub(tmp_path, "no slash", "hf_x")
    with pytest.raises(ValueError, match="Save the trained model first"):
        push_to_hub(tmp_path, "me/my-model", "hf_x")
    with pytest.raises(ValueError, match="Save the trained model first"):
        push_to_hub(None, "me/my-model", "hf_x")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="works offline"):  # the tests run with HF_HUB_OFFLINE=1
        push_to_hub(tmp_path, "me/my-model", "hf_x")


# --- the launched tab ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tab_app(tmp_path_factory, serve):
    import gradio as gr

    from cvdemo.ui.i18n import gradio_i18n
    from cvdemo.ui.train_tab import build_train_tab

    registry = ModelRegistry([], device="cpu")
    manager = JobManager(JobLimits(max_steps=5000, max_seconds=120))
    workspace = TrainingWorkspace(tmp_path_factory.mktemp("train-work"))
    with gr.Blocks() as demo:
        with gr.Tabs():
            with gr.Tab("Train"):
                build_train_tab(registry, Path("examples"), manager=manager, workspace=workspace)
    demo.queue()
    url = serve(demo, i18n=gradio_i18n())
    yield {"url": url, "registry": registry, "manager": manager, "workspace": workspace}
    manager.stop_all()
    assert manager.wait_idle(10)
    demo.close()


def test_train_through_gradio_client_then_stop_and_save(tab_app, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(tab_app["url"], verbose=False)
    job = client.submit("detr", "tiny", "Generated shapes", None, 500, "steps", 2e-4, 2, 2, api_name="/train")
    seen, stopped = [], False
    for out in job:
        seen.append(out)
        if not stopped and re.search(r"\*\*Step [1-9]\d* / 500\*\*", out[0]):
            assert "the run ends after the current step" in client.predict(api_name="/stop_training")
            stopped = True
    status = job.outputs()[-1][0]
    assert "Stopped" in status and "you pressed Stop" in status, status
    assert "device **cpu**" in status and "DETR detection, preset 'tiny'" in status
    assert int(re.search(r"Stopped\*\* at step (\d+)", status).group(1)) < 100
    figure = json.loads(job.outputs()[-1][1]["plot"])
    assert {"loss_ce", "loss_bbox", "loss_giou"} <= {t.get("name") for t in figure["data"]}
    assert any(out[2] for out in seen)  # a snapshot image came
    note, files = client.predict("my detr", api_name="/save_model")
    files = files["value"] if isinstance(files, dict) else files  # an update that also shows the component
    assert "Saved as **my-detr**" in note and sorted(Path(f).name for f in files) == ["config.json",
                                                                                       "model.safetensors"]
    registry, session = tab_app["registry"], client.session_hash
    assert "(in this browser session)" in note  # and it is true: only this session is offered the model
    assert isinstance(registry.get("my-detr", owner=session), DETR) and "my-detr" in registry.names("detect", session)
    other = Client(tab_app["url"], verbose=False)
    assert "my-detr" not in registry.names("detect", other.session_hash) + registry.names("detect")
    with pytest.raises(ModelUnavailableError, match="Unknown model 'my-detr'"):
        registry.get("my-detr", owner=other.session_hash)
    with pytest.raises(AppError, match="Save the trained model first"):  # the other session saved nothing
        other.predict("me/my-detr", "hf_x", True, api_name="/push_to_hub")
    with pytest.raises(AppError, match="A Hugging Face token is needed"):
        client.predict("me/my-detr", "", True, api_name="/push_to_hub")
    with pytest.raises(AppError, match="not a Hub repository id"):
        client.predict("no slash", "hf_x", True, api_name="/push_to_hub")
    with pytest.raises(AppError, match="works offline"):
        client.predict("me/my-detr", "hf_x", True, api_name="/push_to_hub")
    not_zip = tmp_path / "shapes.zip"
    not_zip.write_text("not a zip")
    with pytest.raises(AppError, match="not a zip archive"):
        client.predict("detr", "tiny", "My COCO zip", handle_file(str(not_zip)), 5, "steps", 2e-4, 2, 2,
                       api_name="/train")
    assert not list(tab_app["workspace"].root.glob("*/run-*"))  # the refused run left no work folder


def test_a_browser_sees_the_run_grow_and_stop(tab_app, browser_page):
    page, errors = browser_page
    page.goto(tab_app["url"])
    page.get_by_role("radio", name="ViT classification").check()
    page.locator("#train-start").click()
    page.wait_for_function("document.querySelector('#train-status').innerText.includes('Step ')",
                           timeout=30_000)
    first = page.locator("#train-status").inner_text()
    page.wait_for_function("t => document.querySelector('#train-status').innerText !== t", arg=first,
                           timeout=15_000)  # the run moves on: step, loss and curves redrawn
    page.wait_for_selector("#train-curves .js-plotly-plot", timeout=30_000)  # plotly.js loads lazily
    page.locator("#train-stop").click()
    page.wait_for_function("document.querySelector('#train-status').innerText.includes('Stopped')",
                           timeout=15_000)
    assert not errors, errors


def test_a_chinese_browser_gets_chinese_status_curves_and_notes(tab_app):
    """The locale of the request that starts a run (its Accept-Language) chooses the run's text."""
    from gradio_client import Client

    client = Client(tab_app["url"], verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert client.predict(api_name="/stop_training") == "*没有可停止的训练任务。*"
    job = client.submit("vit", "tiny", "Generated shapes", None, 3, "steps", 1e-3, 4, 0, api_name="/train")
    job.result()
    status, plot = job.outputs()[-1][:2]
    assert "**第 3 / 3 步**" in status and "✅ **完成**：3 步" in status and "准确率" in status, status
    assert "ViT 图像分类，预设“tiny”，在 cpu 上训练 3 步" in status and "设备 **cpu**" in status
    figure = json.loads(plot["plot"])
    assert "学习率" in [a["text"] for a in figure["layout"]["annotations"]]
    assert {"总损失", "批内 loss_ce", "准确率"} <= {t.get("name") for t in figure["data"]}
    note, _ = client.predict("vit zh", api_name="/save_model")
    assert note.startswith("✅ 已保存为 **vit-zh**")
    spec = tab_app["registry"].spec("vit-zh", owner=client.session_hash)
    assert spec.about_in("zh-CN").startswith("由你在本应用中训练：ViT 图像分类")
    assert spec.about_in("en").startswith("trained in this app by you: ViT")


def test_a_chinese_page_shows_chinese_choices_and_notes(tab_app, page_in):
    page, errors = page_in("zh-CN")
    page.goto(tab_app["url"])
    page.wait_for_function("document.querySelector('#train-limits')?.innerText.includes('每次训练最多')",
                           timeout=30_000)  # the page-load event localised the caps line
    text = page.inner_text("body")
    assert "DETR 目标检测" in text and "生成的形状" in text and "开始训练" in text and "学习率" in text, text
    assert "CPU 现场演示" in text and "Generated shapes" not in text and "train." not in text
    page.get_by_role("radio", name="ViT 图像分类").check()
    page.wait_for_function("document.body.innerText.includes('2 个宽度为 96 的 Transformer 块')", timeout=15_000)
    assert not errors, errors


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_tab_opens_on_a_recorded_run_and_its_curve_settings_redraw(tab_app, page_in, locale):
    """The first view (issue 13): before any click the tab shows the tiny preset's recorded run, its curves and
    its last snapshot; the smoothing and log-scale settings redraw the curves."""
    page, errors = page_in(locale)
    page.goto(tab_app["url"])
    recorded = "一次录制的训练" if locale == "zh-CN" else "A recorded run"
    page.wait_for_function(f"document.querySelector('#train-status')?.innerText.includes('{recorded}')",
                           timeout=60_000)
    page.wait_for_selector("#train-snapshot img", timeout=30_000)
    page.wait_for_selector("#train-curves .js-plotly-plot", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#train-curves .scatterlayer .trace').length > 5",
                           timeout=30_000)
    assert page.locator("#train-compare input[type=checkbox]").count() == 2  # the recordings, to overlay
    before = page.locator("#train-curves .js-plotly-plot").evaluate("p => p.layout.yaxis.type")
    page.locator("#train-log input").click()
    page.wait_for_function("document.querySelector('#train-curves .js-plotly-plot').layout.yaxis.type !== "
                           f"'{before}'", timeout=15_000)
    assert not errors, errors
