"""Issue 13, item 6: curves that explain themselves (a legend for every line, smoothing, log scale, earlier runs
overlaid), the score threshold a saved detector is suggested, recorded runs, and presets whose text agrees
with their numbers."""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from cvdemo.metrics.score_threshold import ThresholdCounts, best_threshold, slider_thresholds, threshold_counts
from cvdemo.training.events import (
    ClassPrediction,
    EvalEvent,
    ImagePrediction,
    RunFinished,
    RunStarted,
    SnapshotEvent,
    StepEvent,
)
from cvdemo.training.kinds import KINDS
from cvdemo.training.recorded_runs import load_recorded_run, recorded_path, write_recorded_run
from cvdemo.training.requests import GENERATED_VAL_IMAGES
from cvdemo.training.run_curves import RunCurves, RunHistory
from cvdemo.ui.texts.train import T
from cvdemo.ui.training_view import CurveOptions, RunView, smoothed


def _events(task: str = "detection", steps: int = 20, total: int = 40, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    terms = ["loss_ce", "loss_bbox", "loss_giou", "loss_ce_0", "loss_bbox_0", "loss_giou_0"]
    if task != "detection":
        terms = ["loss_ce", "accuracy"]
    events = [RunStarted(task=task, start_step=0, total_steps=total, steps_per_epoch=100, batch_size=4,
                         world_size=1, device="cpu", num_parameters=1000, num_trainable_parameters=1000,
                         config={"eval_every": 10})]
    for step in range(1, steps + 1):
        events.append(StepEvent(step=step, total_steps=total, epoch=0, loss=float(3 / step + rng.random()),
                                losses={t: float(rng.random()) for t in terms}, lr=1e-4,
                                lrs={"transformer": 1e-4, "backbone": 1e-5}, grad_norm=1.0, images_per_s=10.0,
                                step_time_s=0.1, memory_mib=100.0, elapsed_s=0.1 * step, eta_s=1.0))
        if step % 10 == 0:
            metric = {"AP": step / 100, "AP50": step / 50} if task == "detection" else {"accuracy": step / 40}
            events.append(EvalEvent(step=step, epoch=0, metrics=metric, per_class={}, num_images=8, duration_s=0.1))
    events.append(RunFinished(step=steps, reason="completed", elapsed_s=0.1 * steps, final_metrics={}))
    return events


def _curves(**kw) -> RunCurves:
    curves = RunCurves()
    for event in _events(**kw):
        curves.add(event)
    return curves


# --- curves as data -------------------------------------------------------------------------------------------


def test_run_curves_keep_every_step_and_round_trip_through_json():
    curves = _curves()
    assert curves.task == "detection" and curves.total_steps == 40 and curves.last_step == 20
    assert len(curves.loss) == 20 and set(curves.lrs) == {"transformer", "backbone"}
    assert [s for s, _ in curves.evals] == [10, 20] and curves.elapsed_s == pytest.approx(2.0)
    back = RunCurves.from_dict(json.loads(json.dumps(curves.to_dict())))
    assert back == curves
    thin = _curves(steps=3000, total=3000).thinned(100)
    assert len(thin.steps) <= 101 and thin.steps[-1] == 3000 and len(thin.terms["loss_ce"]) == len(thin.steps)
    with pytest.raises(ValueError, match="one value per step"):
        RunCurves.from_dict({**curves.to_dict(), "loss": [1.0]})


def test_run_history_is_bounded_per_session_and_overall_and_forgets_a_session():
    history = RunHistory(per_owner=2, max_owners=2)
    ids = [history.add("a", _curves(), about={"job": k}) for k in range(3)]
    assert [r[0] for r in history.runs("a")] == ids[1:]  # the oldest dropped
    history.add("b", _curves())
    history.add("c", _curves())  # a, the least recently active, is dropped
    assert history.runs("a") == [] and len(history.runs("b")) == 1
    history.drop_owner("b")
    assert history.runs("b") == [] and len(history.runs("c")) == 1


def test_smoothing_is_tensorboards_debiased_moving_average():
    values = [3.0, 1.0, 2.0, math.nan, 5.0]
    assert smoothed(values, 0)[:3] == values[:3]
    w, avg, expected, n = 0.6, 0.0, [], 0
    for v in values:  # written out directly
        if not math.isnan(v):
            avg, n = w * avg + (1 - w) * v, n + 1
        expected.append(avg / (1 - w ** n))
    assert smoothed(values, w) == pytest.approx(expected)
    assert smoothed([2.0] * 5, 0.9) == pytest.approx([2.0] * 5)  # debiased: a constant stays constant


# --- the figure --------------------------------------------------------------------------------------------------


def _view(task: str = "detection") -> RunView:
    view = RunView()
    view.consume(_events(task))
    return view


@pytest.mark.parametrize("task", ["detection", "classification"])
def test_every_line_has_a_legend_entry(task):
    figure = _view(task).figure_dict(CurveOptions(overlays=(("run 1", _curves(task=task, seed=1)),)))
    shown_groups = {t.get("legendgroup") for t in figure["data"] if t.get("showlegend", True)}
    for trace in figure["data"]:
        assert trace.get("showlegend", True) or trace.get("legendgroup") in shown_groups, trace["name"]
    lr_names = {t["name"] for t in figure["data"] if t["yaxis"] == "y3"}
    assert lr_names == {"lr transformer", "lr backbone"}


def test_smoothing_log_scale_and_overlays_change_the_figure():
    view = _view()
    plain = view.figure_dict(CurveOptions(smoothing=0, log_y=False))
    assert [t["name"] for t in plain["data"] if t["yaxis"] == "y"] == ["total"]  # raw only
    assert plain["layout"]["yaxis"]["type"] == "linear" and plain["layout"]["yaxis2"]["type"] == "linear"
    terms = next(t for t in plain["data"] if t["name"] == "loss_ce")["y"]
    assert terms == pytest.approx(view.curves.terms["loss_ce"])
    smooth = view.figure_dict(CurveOptions(smoothing=0.9, log_y=True))
    assert [t["name"] for t in smooth["data"] if t["yaxis"] == "y"] == ["total", "total (smoothed)"]
    assert smooth["layout"]["yaxis"]["type"] == "log" and smooth["layout"]["yaxis2"]["type"] == "log"
    assert next(t for t in smooth["data"] if t["name"] == "loss_ce")["y"] == pytest.approx(
        smoothed(view.curves.terms["loss_ce"], 0.9))
    longer = _curves(steps=60, total=60, seed=2)
    overlaid = view.figure_dict(CurveOptions(overlays=(("run 1", longer),)))
    mine = [t for t in overlaid["data"] if t.get("legendgroup") == "overlay-run 1"]
    assert {t["name"] for t in mine} == {"run 1: total (smoothed)", "run 1: AP", "run 1: AP50"}
    assert all(t["line"]["dash"] == "dash" for t in mine)
    assert overlaid["layout"]["xaxis"]["range"] == [0, 60]  # the longest run fits


def test_the_snapshot_caption_counts_right_top_boxes_and_classes():
    box = np.array([[10, 10, 50, 50]], np.float32)
    right = ImagePrediction(1, np.zeros((64, 64, 3), np.uint8), box, np.array([2]), np.vstack([box + 1, box + 30]),
                            np.array([2, 1]), np.array([0.9, 0.1], np.float32), np.array([0, 1]), np.array([0, -1]))
    wrong_class = ImagePrediction(2, right.image, box, np.array([2]), box, np.array([1]),
                                  np.array([0.9], np.float32), np.array([0]), np.array([0]))
    misplaced = ImagePrediction(3, right.image, box, np.array([2]), box + 35, np.array([2]),
                                np.array([0.9], np.float32), np.array([0]), np.array([0]))
    assert right.top_box_right() and not wrong_class.top_box_right() and not misplaced.top_box_right()
    view = RunView()
    view.snapshot = SnapshotEvent(step=5, epoch=0, id2label={1: "a", 2: "b"},
                                  predictions=(right, wrong_class, misplaced))
    assert "**1 of 3** images" in view.snapshot_caption()
    probs = np.array([0.1, 0.7, 0.2], np.float32)
    view.snapshot = SnapshotEvent(step=5, epoch=0, id2label={}, predictions=(
        ClassPrediction(1, right.image, 1, probs), ClassPrediction(2, right.image, 2, probs)))
    assert "top class is right on **1 of 2**" in view.snapshot_caption()
    assert view.snapshot_image().ndim == 3  # a classifier's tiles (no matching to look for)


# --- the score threshold a saved detector is suggested -------------------------------------------------------


def _brute_force(images, t: float) -> tuple[int, int, int]:
    """TP / FP / FN at threshold t, matching the kept detections of each image from scratch."""
    tp = fp = objects = 0
    for im in images:
        objects += len(im.gt_labels)
        kept = [i for i in np.argsort(-im.scores, kind="stable") if im.scores[i] > t]
        taken = set()
        for i in kept:
            best, best_iou = None, 0.5
            for j, (g, label) in enumerate(zip(im.gt_boxes_xyxy, im.gt_labels)):
                x0, y0 = max(im.boxes_xyxy[i][0], g[0]), max(im.boxes_xyxy[i][1], g[1])
                x1, y1 = min(im.boxes_xyxy[i][2], g[2]), min(im.boxes_xyxy[i][3], g[3])
                inter = max(0, x1 - x0) * max(0, y1 - y0)
                area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
                iou = inter / (area(im.boxes_xyxy[i]) + area(g) - inter)
                if j not in taken and label == im.labels[i] and iou >= best_iou:
                    best, best_iou = j, iou
            if best is None:
                fp += 1
            else:
                taken.add(best)
                tp += 1
    return tp, fp, objects - tp


def _random_images(rng, n: int = 6):
    images = []
    for _ in range(n):
        m = int(rng.integers(0, 4))
        gt = rng.uniform(0, 60, (m, 2))
        gt_boxes = np.hstack([gt, gt + rng.uniform(10, 40, (m, 2))])
        noise = rng.normal(0, 4, (m, 4))
        det = np.vstack([gt_boxes + noise, np.hstack([g := rng.uniform(0, 60, (3, 2)), g + 20])])
        images.append(ImagePrediction(0, np.zeros((1, 1, 3), np.uint8), gt_boxes, rng.integers(0, 3, m),
                                      det, rng.integers(0, 3, len(det)), rng.uniform(0, 1, len(det)),
                                      np.arange(len(det)), np.full(len(det), -1)))
    return images


def test_threshold_counts_equal_a_matching_redone_at_every_threshold():
    rng = np.random.default_rng(0)
    for _ in range(20):
        images = _random_images(rng)
        for counts in threshold_counts(images, thresholds=[0.0, 0.13, 0.5, 0.77, 0.99]):
            assert (counts.tp, counts.fp, counts.fn) == _brute_force(images, counts.threshold)
    assert slider_thresholds()[[0, 1, -1]].tolist() == [0.0, 0.01, 0.99]


def test_the_best_threshold_has_the_highest_f1_and_the_highest_such_threshold():
    rng = np.random.default_rng(1)
    images = _random_images(rng, 10)
    best = best_threshold(images)
    counts = threshold_counts(images)
    assert best.f1 == max(c.f1 for c in counts)
    assert best.threshold == max(c.threshold for c in counts if c.f1 == best.f1)
    box = np.array([[0, 0, 10, 10]], np.float64)
    shy = ImagePrediction(0, np.zeros((1, 1, 3), np.uint8), box, np.array([1]), box, np.array([1]),
                          np.array([0.3]), np.array([0]), np.array([0]))  # right, but at a low score
    assert best_threshold([shy]) == ThresholdCounts(0.29, 1, 0, 0, 1)
    assert threshold_counts([shy], [0.5])[0] == ThresholdCounts(0.5, 0, 0, 1, 1)


# --- recorded runs -------------------------------------------------------------------------------------------


def test_a_recorded_run_reads_back_with_its_snapshot_images_regenerated(tmp_path):
    preset = KINDS["detr"].presets["tiny"]
    _, val = preset.datasets(num_val=4, seed=0)
    samples = [val[i] for i in range(2)]
    predictions = tuple(ImagePrediction(int(t["image_id"]), im.permute(1, 2, 0).numpy(), t["boxes_xyxy"].numpy(),
                                        t["labels"].numpy(), t["boxes_xyxy"].numpy(), t["labels"].numpy(),
                                        np.full(len(t["labels"]), 0.8, np.float32), np.arange(len(t["labels"])),
                                        np.arange(len(t["labels"]))) for im, t in samples)
    snapshot = SnapshotEvent(step=20, epoch=0, id2label={0: "circle"}, predictions=predictions)
    path = write_recorded_run(recorded_path("detr", "tiny", tmp_path), kind="detr", preset="tiny",
                              request={"num_val_images": 4, "seed": 0}, hardware="a test", command="pytest",
                              curves=_curves(), snapshot=snapshot)
    run = load_recorded_run("detr", "tiny", tmp_path)
    assert run.curves == _curves() and run.hardware == "a test"
    for got, want in zip(run.snapshot.predictions, predictions):
        assert np.array_equal(got.image, want.image) and np.allclose(got.boxes_xyxy, want.boxes_xyxy)
        assert got.top_box_right()
    data = json.loads(path.read_text())
    data["snapshot"]["predictions"][0]["image_id"] = 99  # no longer the generated image
    path.write_text(json.dumps(data))
    assert load_recorded_run("detr", "tiny", tmp_path) is None
    assert load_recorded_run("detr", "small", tmp_path) is None  # none recorded


@pytest.mark.parametrize("kind", ["detr", "vit"])
def test_the_shipped_recording_is_the_presets_default_run(kind):
    preset = KINDS[kind].presets["tiny"]
    run = load_recorded_run(kind, "tiny")
    assert run is not None, "benchmarks/bench_train_presets.py --record writes it"
    assert run.request["length"] == preset.demo_steps and run.request["seed"] == 0
    assert run.request["num_val_images"] == GENERATED_VAL_IMAGES
    assert run.curves.last_step == preset.demo_steps and run.snapshot.step == preset.demo_steps
    assert len(run.snapshot.predictions) == preset.train["num_snapshot_images"]


# --- presets whose text agrees with their numbers ------------------------------------------------------------


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("kind, name", [("detr", "tiny"), ("vit", "tiny"), ("detr", "small"), ("vit", "small"),
                                        ("yolo", "tiny"), ("fasterrcnn", "tiny"), ("ssd", "tiny")])
def test_the_presets_text_states_its_numbers(kind, name, locale):
    preset = KINDS[kind].presets[name]
    text = T.text(f"preset_{kind}_{name}", locale)
    numbers = _numbers(text)
    shapes, promise = preset.shapes, preset.promise
    assert shapes["image_size"] in numbers and preset.demo_steps in numbers
    assert promise["minutes"] in numbers  # the default run's time on the CPU it was measured on
    assert promise["right"] in numbers and promise["of"] in numbers  # what that run shows
    if kind == "vit":
        assert preset.model["depth"] in numbers and preset.model["embed_dim"] in numbers
    else:
        assert shapes["min_objects"] in numbers and shapes["max_objects"] in numbers
    assert promise["of"] == preset.train_config().num_snapshot_images
    if name == "tiny" and kind in ("detr", "vit"):  # the recording is the run the text describes (others: none)
        run = load_recorded_run(kind, name)
        right = sum(p.top_box_right() if kind == "detr" else p.top_class_right() for p in run.snapshot.predictions)
        assert right == promise["right"]
        assert round(run.curves.elapsed_s / 60) == promise["minutes"]
    if locale == "en":
        assert preset.description == text.strip("*")  # the CLI's help says the same


# --- the Train tab's handlers ----------------------------------------------------------------------------------


@pytest.fixture
def tab(tmp_path, monkeypatch, one_torch_thread):
    import dataclasses

    import gradio as gr

    from cvdemo.models.registry import ModelRegistry
    from cvdemo.training.jobs import JobLimits, JobManager
    from cvdemo.training.presets import DETR_TRAINING_PRESETS
    from cvdemo.training.workspace import TrainingWorkspace
    from cvdemo.ui import train_tab

    detr = DETR_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(DETR_TRAINING_PRESETS, "test", dataclasses.replace(
        detr, name="test", shapes={**detr.shapes, "image_size": 64}, num_val_images=8))
    monkeypatch.setattr(train_tab, "HISTORY", RunHistory())
    ctx = train_tab.TrainContext(ModelRegistry([], device="cpu"), JobManager(JobLimits(max_steps=50, max_seconds=60)),
                                 TrainingWorkspace(tmp_path / "work"), "cpu")
    yield SimpleNamespace(ctx=ctx, train_tab=train_tab, gr=gr)
    ctx.manager.stop_all()
    assert ctx.manager.wait_idle(20)


def _request(session: str = "alice", language: str = "en"):
    return SimpleNamespace(session_hash=session, headers={"accept-language": language})


def _run(tab, steps: int = 2, session: str = "alice") -> list[tuple]:
    return list(tab.train_tab.train("detr", "test", "Generated shapes", None, steps, "steps", None, 2, 0,
                                    _request(session), ctx=tab.ctx))


def test_the_tab_opens_on_the_recorded_run_in_the_users_language(tab):
    status, payload, image, caption, choices = tab.train_tab.first_view(_request(), ctx=tab.ctx)
    assert "A recorded run" in status and f"{KINDS['detr'].presets['tiny'].demo_steps} steps" in status
    figure = json.loads(payload.plot)
    assert any(t["name"] == "total (smoothed)" and len(t["x"]) > 100 for t in figure["data"])
    assert image is not None and image.ndim == 3 and "of 8** images" in caption
    assert [value for _, value in choices.choices] == ["recorded-detr-tiny", "recorded-vit-tiny"]
    status, *_ = tab.train_tab.first_view(_request(language="zh-CN"), ctx=tab.ctx)
    assert "一次录制的训练" in status


def test_curve_settings_are_checked_remembered_and_earlier_runs_overlaid(tab):
    t, ctx = tab.train_tab, tab.ctx
    figure = json.loads(t.redraw(0, False, [], _request(), ctx=ctx).plot)
    assert figure["layout"]["yaxis"]["type"] == "linear"
    assert t.curve_options("alice", "en") == CurveOptions(0, False, ())
    for bad in ((2, False, []), (0.5, "yes", []), (0.5, True, ["run-999"])):
        with pytest.raises(tab.gr.Error):
            t.redraw(*bad, _request(), ctx=ctx)
    _run(tab)
    first = t.list_runs([], _request(), ctx=ctx)
    assert [v for _, v in first.choices] == ["recorded-detr-tiny", "recorded-vit-tiny"]  # the run on the screen
    _run(tab)
    second = t.list_runs([], _request(), ctx=ctx)
    (label, run_id), = [c for c in second.choices if c[1].startswith("run-")]
    assert label.startswith("run 1: DETR detection, test, 2 steps")
    figure = json.loads(t.redraw(0.6, True, [run_id, "recorded-detr-tiny"], _request(), ctx=ctx).plot)
    groups = {tr.get("legendgroup") for tr in figure["data"]}
    assert {"overlay-" + label, "overlay-recorded: DETR detection, tiny, "
            f"{KINDS['detr'].presets['tiny'].demo_steps} steps"} <= groups
    assert t.list_runs([], _request("bob"), ctx=ctx).choices == first.choices  # another session sees none of them
    t.end_session(ctx, "alice")
    assert t.HISTORY.runs("alice") == [] and t.curve_options("alice", "en") == CurveOptions()


def test_a_saved_detector_comes_with_the_threshold_that_shows_its_detections(tab):
    _run(tab)
    note, *_ = tab.train_tab.save_model("m", _request(), ctx=tab.ctx)
    assert "🎚️" in note and "validation images" in note
