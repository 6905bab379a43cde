"""The Train tab in English and Simplified Chinese: status lines, curves, captions, notes and errors in the
locale they are asked for (English by default), choices with language-independent values, and a catalog
without dead entries. No training here: the events are made up, the setups never run.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cvdemo.durations import CLOCK, format_duration
from cvdemo.messages import Message
from cvdemo.training import EvalEvent, RunFinished, RunStarted, SnapshotEvent, StepEvent
from cvdemo.training.events import ClassPrediction
from cvdemo.training.jobs import JobLimits, JobManager, TrainingBusyError
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import VIT_TRAINING_PRESETS
from cvdemo.training.requests import SetupError, TrainRequest, build_setup, coco_folder_from_zip
from cvdemo.training.trained_models import PushError, push_to_hub
from cvdemo.ui import train_tab
from cvdemo.ui.texts.train import T
from cvdemo.ui.training_view import RunView, duration_text, end_note, word

ROOT = Path(__file__).resolve().parents[1]
# the tab and the training core whose messages ("train.<key>") the catalog words
SOURCES = ["cvdemo/ui/train_tab.py", "cvdemo/ui/training_view.py", "cvdemo/training/kinds.py",
           "cvdemo/training/jobs.py", "cvdemo/training/requests.py", "cvdemo/training/trained_models.py"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def run_events(task: str = "detection", finished: bool = True) -> list:
    """A short run's events: start, two steps, an evaluation, a snapshot, the end."""
    start = RunStarted(task=task, start_step=0, total_steps=10, steps_per_epoch=100, batch_size=4, world_size=1,
                       device="cpu", num_parameters=1_700_000, num_trainable_parameters=1_700_000,
                       config={"eval_every": 5})
    losses = ({"loss_ce": 1.5, "loss_bbox": 0.4, "loss_giou": 0.6, "loss_ce_0": 1.6, "loss_bbox_0": 0.5,
               "loss_giou_0": 0.7} if task == "detection" else {"loss_ce": 1.7, "accuracy": 0.25})
    steps = [StepEvent(step=k, total_steps=10, epoch=0, loss=2.0 / k, losses=losses, lr=1e-4,
                       lrs={"backbone": 1e-5, "default": 1e-4}, grad_norm=1.0, images_per_s=20.0,
                       step_time_s=0.2, memory_mib=1234.0, elapsed_s=65.0 * k, eta_s=30.0)
             for k in (1, 2)]
    metrics = {"AP": 0.25, "AP50": 0.5} if task == "detection" else {"accuracy": 0.5}
    evaluation = EvalEvent(step=2, epoch=0, metrics=metrics, per_class={}, num_images=8, duration_s=1.0)
    image = np.zeros((32, 32, 3), np.uint8)
    snapshot = SnapshotEvent(step=2, epoch=0, id2label={0: "circle", 1: "square"},
                             predictions=(ClassPrediction(0, image, label=0, probs=np.array([0.3, 0.7])),))
    events = [start, *steps, evaluation, snapshot]
    if finished:
        events.append(RunFinished(step=2, reason="stopped", elapsed_s=130.0, final_metrics=metrics))
    return events


def view_of(locale: str | None = None, **kw) -> RunView:
    view = RunView() if locale is None else RunView(locale)
    view.consume(run_events(**kw))
    return view


def test_every_catalog_text_is_used_in_the_tab_sources():
    source = "\n".join((ROOT / path).read_text() for path in SOURCES)
    unused = [key for key in T.texts if f'"{key}"' not in source and f'"train.{key}"' not in source]
    assert not unused, f"dead catalog entries: {unused}"


def test_the_preset_notes_are_the_presets_own_descriptions():
    for (kind, name), key in train_tab.PRESET_NOTES.items():
        assert T.text(key, "en") == f"*{KINDS[kind].presets[name].description}*"
        assert train_tab._preset_note(kind, name, "zh-CN") == T.text(key, "zh-CN")
        assert CJK.search(T.text(key, "zh-CN"))


def test_choices_keep_their_values_in_every_language():
    for make in (train_tab.kind_choices, train_tab.preset_choices, train_tab.source_choices,
                 train_tab.unit_choices):
        english, chinese = make("en"), make("zh-CN")
        assert [v for _, v in english] == [v for _, v in chinese] == [v for _, v in make()]
        assert all(CJK.search(text) for text, _ in chinese)
    assert train_tab.kind_choices("en") == [("DETR detection", "detr"), ("ViT classification", "vit"),
                                            ("YOLO detection", "yolo"), ("Faster R-CNN detection", "fasterrcnn"),
                                            ("SSD detection", "ssd")]
    assert train_tab.source_choices("zh-CN") == [("生成的形状", "Generated shapes"), ("我的 COCO zip", "My COCO zip")]
    assert [v for _, v in train_tab.unit_choices("zh-CN")] == ["steps", "epochs"]


def test_times_in_both_languages():
    assert [duration_text(s) for s in (42, 185, 600)] == ["42 s", "3 min 05 s", "10 min"]
    assert [duration_text(s, "zh-CN") for s in (42, 185, 600)] == ["42 秒", "3 分 05 秒", "10 分钟"]
    assert duration_text(float("inf")) == "unknown" and duration_text(float("nan"), "zh-CN") == "未知"
    # the one formatter behind it, as the training CLI's progress bar writes durations
    assert [format_duration(s, CLOCK) for s in (42, 75, 3725)] == ["00:42", "01:15", "1:02:05"]
    assert format_duration(float("nan"), CLOCK) == "--:--" and format_duration(-1) == "?"
    assert format_duration(3725) == "62 min 05 s"


def test_core_messages_are_worded_with_their_nested_fields():
    description = Message("train.description", {"kind": Message("train.kind_vit"), "preset": "tiny", "steps": 3,
                                                 "batch": 4, "device": "cpu",
                                                 "data": Message("train.data_generated", {"px": 64})})
    assert word(description, "zh-CN") == ("ViT 图像分类，预设“tiny”，在 cpu 上训练 3 步，每批 4 张图像；数据："
                                          "生成的形状（64 像素，每步都是新图像）")
    assert word(None) == "" and word("as it is") == "as it is"
    assert word(Message("train.crashed", {"error_id": "1a2b3c4d"})).startswith("an error on the server (error id 1a2b")


def test_progress_and_captions_follow_the_locale_english_by_default():
    english = view_of().progress_markdown("running", "Training…")
    assert "**Step 2 / 10** (20 %)" in english and "loss **1.000**" in english and "20.0 images/s" in english
    assert "ETA **30 s**" in english and "device **cpu**, 1.70 M parameters, batch 4, peak memory 1,234 MiB" \
        in english
    assert "Evaluation at step 2 on 8 images: AP **0.250**, AP50 **0.500**" in english
    assert view_of("en").progress_markdown("running") == view_of().progress_markdown("running")
    chinese = view_of("zh-CN").progress_markdown("running")
    assert "**第 2 / 10 步**（20 %）" in chinese and "损失 **1.000**" in chinese and "张图像/秒" in chinese
    assert "预计剩余 **30 秒**" in chinese and "已用时 2 分 10 秒" in chinese and "峰值内存 1,234 MiB" in chinese
    assert "第 2 步在 8 张图像上的评估：AP **0.250**，AP50 **0.500**" in chinese
    assert RunView("zh-CN").progress_markdown("queued") == "正在准备训练…"
    assert RunView().snapshot_caption().startswith("Snapshots of the predictions")
    assert RunView("zh-CN").snapshot_caption() == T.text("snapshot_none", "zh-CN")
    assert view_of("zh-CN", task="classification").snapshot_caption().startswith("**第 2 步**：模型")
    assert view_of(task="classification").snapshot_caption().startswith("**Step 2**: the model's top class")


def test_the_curves_titles_axes_and_legend_follow_the_locale():
    def texts(figure: dict) -> tuple[list[str], set[str], list[str]]:
        layout = figure["layout"]
        titles = [a["text"] for a in layout["annotations"]]
        names = {t["name"] for t in figure["data"]}
        axes = [layout[f"xaxis{k}"].get("title", {}).get("text") for k in ("3", "4")]
        return titles, names, axes

    titles, names, axes = texts(view_of().figure_dict())
    assert titles[:4] == ["Total loss (weighted sum of the terms)",
                          "Loss terms, last decoder layer (dotted: aux layers)", "Learning rate", "Validation AP"]
    assert {"total", "total (smoothed)", "loss_ce", "loss_ce layer 0", "lr backbone", "AP", "AP50"} <= names
    assert axes == ["step", "step"]
    titles, names, axes = texts(view_of("zh-CN").figure_dict())
    assert titles[:4] == ["总损失（各项加权和）", "各损失项，最后一个解码器层（点线：辅助层）", "学习率", "验证集 AP"]
    assert {"总损失", "总损失（平滑）", "loss_ce", "loss_ce 第 0 层", "学习率 backbone", "AP", "AP50"} <= names
    assert axes == ["步", "步"]
    titles, names, _ = texts(view_of("zh-CN", task="classification").figure_dict())
    assert titles[1] == "交叉熵与批内准确率" and titles[3] == "验证集准确率"
    assert {"批内 loss_ce", "批内准确率", "准确率"} <= names
    _, names, _ = texts(view_of(task="classification").figure_dict())
    assert {"batch loss_ce", "batch accuracy", "accuracy"} <= names
    waiting = RunView("zh-CN")
    waiting.consume(run_events()[:2])  # no evaluation yet
    assert waiting.figure_dict()["layout"]["annotations"][-1]["text"] == "每 5 步及训练结束时评估"
    done = RunView("zh-CN")
    done.consume(run_events()[:2] + run_events()[-1:])  # ended without an evaluation
    assert done.figure_dict()["layout"]["annotations"][-1]["text"] == "没有评估"


def test_end_notes_and_queue_lines_follow_the_locale():
    view = view_of()
    job = SimpleNamespace(error=None, stop_reason="stop pressed", limits=JobLimits(max_seconds=600))
    assert end_note("stopped", view, job) == \
        "⏹ **Stopped** at step 2 after 2 min 10 s: you pressed Stop. You can still save the model."
    assert end_note("stopped", view, job, "zh-CN") == \
        "⏹ 在第 2 步（用时 2 分 10 秒）**已停止**：你点击了“停止”。仍然可以保存模型。"
    job.stop_reason = "time limit"
    assert "本服务器的时长上限 10 分钟" in end_note("stopped", view, job, "zh-CN")
    assert end_note("finished", view, job).startswith("✅ **Done**: 2 steps in 2 min 10 s; AP 0.250, AP50")
    assert end_note("finished", view, job, "zh-CN").startswith(
        "✅ **完成**：2 步，用时 2 分 10 秒；AP 0.250，AP50 0.500。")
    job.error = None
    assert end_note("failed", view, job, "zh-CN") == "❌ **训练失败**，在第 2 步：未知错误"
    job.error = Message("train.diverged", {"error": "loss is nan at step 2"})
    assert end_note("failed", view, job, "zh-CN") == \
        "❌ **训练失败**，在第 2 步：损失发散（NaN/inf）：loss is nan at step 2。请尝试更低的学习率。"


@pytest.fixture
def tiny_presets(monkeypatch):
    vit = VIT_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(VIT_TRAINING_PRESETS, "i18n", vit.__class__(**{
        **vit.__dict__, "name": "i18n", "model": {**vit.model, "image_size": 32},
        "shapes": {**vit.shapes, "image_size": 32}}))


def chinese_error(error_type, fn, *args, **kw) -> str:
    """The text, in Chinese, of the error ``fn(*args, **kw)`` raises (which must be an ``error_type``)."""
    with pytest.raises(error_type) as raised:
        fn(*args, **kw)
    return word(raised.value, "zh-CN")


def test_setup_descriptions_notes_and_errors_follow_the_locale(tiny_presets, tmp_path):
    request = TrainRequest(kind="vit", preset="i18n", length=500, batch_size=4, num_val_images=4)
    setup = build_setup(request)
    assert word(setup.description) == ("ViT classification, preset 'i18n', 500 steps of 4 images on cpu; data: "
                                       "generated shapes (32 px, new images every step)")
    assert word(setup.description, "zh-CN") == ("ViT 图像分类，预设“i18n”，在 cpu 上训练 500 步，每批 4 张图像；数据："
                                                 "生成的形状（32 像素，每步都是新图像）")
    manager = JobManager(JobLimits(max_steps=3, max_seconds=60, max_queue=0))
    steps, note = manager.cap_steps(500)
    assert steps == 3 and word(note, "zh-CN") == "请求 500 步，实际运行 3 步：这是本服务器每次训练允许的上限"
    assert word(note) == "500 steps asked, 3 run: the most this server allows per run"
    assert manager.cap_steps(3) == (3, None)
    assert chinese_error(SetupError, build_setup, TrainRequest(kind="vit", preset="i18n", length=0,
                                                               batch_size=4)) == "至少训练一步"
    assert chinese_error(SetupError, build_setup, TrainRequest(kind="vit", preset="huge")).startswith(
        "未知预设 'huge'")
    assert chinese_error(SetupError, build_setup, TrainRequest(kind="rcnn")).startswith("未知任务 'rcnn'")
    assert chinese_error(PushError, push_to_hub, tmp_path, "me/model", "").startswith("推送需要 Hugging Face 令牌")
    assert chinese_error(PushError, push_to_hub, tmp_path, "no slash", "hf_x").startswith(
        "'no slash' 不是 Hub 仓库 ID")
    import zipfile
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("images/a.png", b"x")
    assert chinese_error(Exception, coco_folder_from_zip, empty, tmp_path / "out").startswith(
        "zip 中没有 annotations.json")


def test_busy_lines_follow_the_locale(tiny_presets):
    manager = JobManager(JobLimits(max_steps=5, max_seconds=60, max_queue=0))
    manager._running["cpu"] = object()  # a run holds the device (no thread started)
    assert word(manager.busy_message("cpu")) == "Busy: another session is training on cpu, 0 in queue."
    assert word(manager.busy_message("cpu"), "zh-CN") == "繁忙：另一个会话正在 cpu 上训练，队列中有 0 个任务。"
    setup = build_setup(TrainRequest(kind="vit", preset="i18n", length=2, batch_size=4, num_val_images=4))
    assert chinese_error(TrainingBusyError, manager.submit, "someone", setup).startswith(
        "服务器繁忙：cpu 上正有一个训练任务在运行，另有 0 个在等待")
