"""The Matching tab: its run (`cvdemo.matching_run`) returns exactly what the library computes, `/match` answers
through gradio_client on a launched demo holding only this tab (values only the API can send refused by name), and
a real browser steps through the Hungarian algorithm to its last step; in English and, for a Chinese browser or
request, Simplified Chinese (the Hungarian steps worded from their structured messages). Tiny random DETRs built
here; no network.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from scipy.optimize import linear_sum_assignment

import cvdemo.models
from cvdemo import matching_run as mr
from cvdemo.datasets.shapes_draw import SHAPE_NAMES
from cvdemo.ground_truth_text import GROUND_TRUTH_TEXTS, GroundTruthError, format_ground_truth, parse_ground_truth
from cvdemo.hungarian import STEP_KINDS, STEP_TEXTS, hard_example, hungarian_steps, random_cost_matrix
from cvdemo.images import load_image_rgb
from cvdemo.losses import SetCriterion
from cvdemo.matching import HungarianMatcher, max_iou_assignment
from cvdemo.models import DETR, DETRConfig
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.ui import match_tab
from cvdemo.ui import matching_views as views
from cvdemo.ui.errors import translate
from cvdemo.ui.i18n import gradio_i18n
from cvdemo.ui.match_tab import SHAPES, UPLOAD, build_match_tab
from cvdemo.ui.matching_figures import cost_figure, label_name, one_to_many_image, step_figure
from cvdemo.ui.texts import match as match_texts

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
LABELS = dict(enumerate(SHAPE_NAMES))
VAL_INDEX = 0  # a validation image with 3 shapes


def tiny_detr(seed: int = 0) -> DETR:
    torch.manual_seed(seed)
    return DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=64, num_heads=4, encoder_layers=1,
                           decoder_layers=3, dim_feedforward=128, num_queries=8, num_classes=6, id2label=LABELS,
                           shortest_edge=128, longest_edge=128)).eval()


@pytest.fixture(scope="module")
def model_and_run():
    model = tiny_detr()
    image, boxes, labels = mr.validation_sample(VAL_INDEX)
    assert len(labels) == 3
    return model, mr.run_matching_model(model, image, boxes, labels, "tiny", VAL_INDEX)


def model_outputs(model: DETR, image: np.ndarray) -> dict:
    inputs = prepare_detr_inputs(image, model.config)
    with torch.inference_mode():
        return model(inputs["pixel_values"], None)


def test_run_keeps_every_decoder_layer(model_and_run):
    model, run = model_and_run
    out = model_outputs(model, run.image)
    assert run.num_layers == 3 and run.num_queries == 8
    for layer, ref in enumerate([*out["aux_outputs"], out]):
        got = run.outputs(layer)
        torch.testing.assert_close(got["pred_logits"], ref["pred_logits"])
        torch.testing.assert_close(got["pred_boxes"], ref["pred_boxes"])
    target = run.targets()[0]
    np.testing.assert_array_equal(target["labels"].numpy(), run.gt_labels)
    h, w = run.image.shape[:2]
    cx = (run.gt_boxes_xyxy[:, 0] + run.gt_boxes_xyxy[:, 2]) / 2 / w
    np.testing.assert_allclose(target["boxes"][:, 0].numpy(), cx, rtol=1e-6)


def test_costs_and_assignment_are_the_librarys(model_and_run):
    model, run = model_and_run
    out = model_outputs(model, run.image)
    matcher = HungarianMatcher(1, 5, 2)
    ref = matcher.cost_terms(out, run.targets())[0]
    m = mr.match(run, run.num_layers - 1)
    for key in ("class", "bbox", "giou", "total"):
        assert isinstance(m.costs[key], np.ndarray)  # the UI gets numpy
        np.testing.assert_allclose(m.costs[key], ref[key].double().numpy(), rtol=1e-6, atol=1e-7)
    rows, cols = linear_sum_assignment(ref.total.double().numpy())
    np.testing.assert_array_equal(m.pred_idx, rows)
    np.testing.assert_array_equal(m.tgt_idx, cols)
    assert sorted(m.matched_gt[m.matched_gt >= 0]) == [0, 1, 2]


@pytest.mark.parametrize("weights", [(1, 0, 0), (0, 5, 0), (0, 0, 2), (3.5, 1, 0.5)])
def test_new_weights_re_solve_on_the_weighted_total(model_and_run, weights):
    _, run = model_and_run
    base = mr.match(run, 1)  # an aux layer
    m = mr.match(run, 1, weights)
    terms = base.costs
    total = weights[0] * terms["class"] + weights[1] * terms["bbox"] + weights[2] * terms["giou"]
    np.testing.assert_allclose(m.costs["total"], total, rtol=1e-5, atol=1e-6)
    rows, cols = linear_sum_assignment(m.costs["total"])
    np.testing.assert_array_equal(m.pred_idx, rows)
    np.testing.assert_array_equal(m.tgt_idx, cols)
    # the steps walk to the same assignment
    steps = mr.solve_steps(m)
    assert steps[0].kind == "start" and steps[-1].kind == "done"
    starred = np.argwhere(steps[-1].starred)
    np.testing.assert_array_equal(starred[:, 0], m.pred_idx)
    np.testing.assert_array_equal(starred[:, 1], m.tgt_idx)
    assert "Optimal assignment" in steps[-1].explanation
    with pytest.raises(ValueError, match="all matcher costs are 0"):
        mr.match(run, 1, (0, 0, 0))


def test_per_query_losses_equal_set_criterion(model_and_run):
    model, run = model_and_run
    out = model_outputs(model, run.image)
    crit = SetCriterion(6, HungarianMatcher(1, 5, 2), mr.LOSS_WEIGHTS, eos_coef=0.1, losses=("labels", "boxes"))
    ref_losses = crit(out, run.targets())
    for layer, suffix in ((run.num_layers - 1, ""), (0, "_0"), (1, "_1")):
        view = mr.matching_loss(run, mr.match(run, layer))
        for key in ("loss_ce", "loss_bbox", "loss_giou"):
            assert view.losses[key] == pytest.approx(float(ref_losses[key + suffix]), rel=1e-5)
    main = {k: v for k, v in out.items() if k in ("pred_logits", "pred_boxes")}
    ref = crit.per_query_breakdown(main, run.targets())[0]
    view = mr.matching_loss(run, mr.match(run, run.num_layers - 1))
    for field in ("matched_gt", "target_class", "ce", "ce_weight", "l1", "giou", "total"):
        np.testing.assert_allclose(getattr(view.breakdown, field), getattr(ref, field), rtol=1e-5, equal_nan=True)
    assert view.total == pytest.approx(float(ref.total.sum()), rel=1e-5)
    assert view.total == pytest.approx(float(crit.weighted_total(
        {k: ref_losses[k] for k in ("loss_ce", "loss_bbox", "loss_giou")})), rel=1e-5)


def test_layers_and_one_to_many_come_from_the_library(model_and_run):
    _, run = model_and_run
    per_layer = mr.matches_per_layer(run, (1, 5, 2))
    for layer in range(run.num_layers):
        m = mr.match(run, layer)
        np.testing.assert_array_equal(per_layer[layer, m.tgt_idx], m.pred_idx)
    otm = mr.one_to_many(run, run.num_layers - 1, iou_threshold=0.1)
    ref = max_iou_assignment(run.pred_boxes_xyxy(run.num_layers - 1), run.gt_boxes_xyxy, iou_threshold=0.1)
    np.testing.assert_array_equal(otm.assignment.gt_index, ref.gt_index)
    assert not otm.nms_kept[~ref.positive].any()
    assert otm.duplicates == int(np.maximum(ref.positives_per_gt - 1, 0).sum())
    assert otm.kept_per_gt.sum() == otm.nms_kept.sum()


@pytest.mark.parametrize("text, message", [
    ("", "no ground-truth boxes"),
    ("circle 1 2 3", "line 1 .*expected 5 values"),
    ("# a comment\ncat 1 2 3 4", "line 2: unknown label 'cat'; this model knows circle"),
    ("star 1 2 x 4", "line 1 .*must be numbers"),
    ("star 10 2 5 4", "line 1: .*empty or inverted"),
    ("square 0 0 20 200", "lies outside the image, which is 128×100"),
    ("\n".join(["circle 1 1 5 5"] * 9), "9 ground-truth boxes but the model has only 8 queries"),
])
def test_ground_truth_text_errors_say_what_is_wrong(text, message):
    with pytest.raises(GroundTruthError, match=message) as error:
        parse_ground_truth(text, LABELS, (100, 128), max_objects=8)
    assert error.value.key.startswith("match.gt_") and translate(error.value, "en") == str(error.value)


def test_ground_truth_that_is_not_text_or_too_long_to_repeat():
    with pytest.raises(GroundTruthError, match="must be text") as error:
        parse_ground_truth(12, LABELS, (100, 128))
    assert error.value.fields == {"kind": "int"}
    with pytest.raises(GroundTruthError, match=r"line 1 \('\[{59}…'\): expected 5 values"):
        parse_ground_truth("[" * 5000, LABELS, (100, 128))


def test_ground_truth_text_round_trips():
    boxes, labels = parse_ground_truth("Star, 1, 2, 30, 40  # comment\n\n5 0 0 128 100", LABELS, (100, 128))
    np.testing.assert_array_equal(labels, [3, 5])
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40], [0, 0, 128, 100]])
    again = parse_ground_truth(format_ground_truth(boxes, labels, LABELS), LABELS, (100, 128))
    np.testing.assert_array_equal(again[0], boxes)
    np.testing.assert_array_equal(again[1], labels)


def test_validation_labels_follow_the_models_classes():
    image, boxes, labels = mr.validation_sample(VAL_INDEX)
    reversed_names = {5 - k: name for k, name in LABELS.items()}
    _, _, mapped = mr.validation_sample(VAL_INDEX, reversed_names)
    np.testing.assert_array_equal(mapped, 5 - labels)
    with pytest.raises(GroundTruthError, match="does not know the shapes"):
        mr.validation_sample(VAL_INDEX, {0: "person", 1: "bicycle"})
    with pytest.raises(IndexError, match="pick 0 to 199"):
        mr.validation_sample(200)


def test_run_views_and_figures_import_neither_gradio_nor_torch():
    """The run and its texts are core modules (no gradio); the views and figures get numpy (no torch)."""
    for module, banned in (("matching_run.py", {"gradio"}), ("ground_truth_text.py", {"gradio"}),
                           ("ui/matching_views.py", {"gradio", "torch", "torchvision"}),
                           ("ui/matching_figures.py", {"gradio", "torch", "torchvision"}),
                           ("ui/match_tab.py", {"torch", "torchvision"})):
        tree = ast.parse((ROOT / "cvdemo" / module).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {name.split(".")[0] for name in imported} & banned, module
    assert not (ROOT / "cvdemo" / "ui" / "matching_session.py").exists()


# --- the launched tab --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory, serve):
    root = tmp_path_factory.mktemp("match-models")
    registry = ModelRegistry([ModelSpec("tiny-detr", str(cvdemo.models.save(tiny_detr(), root / "detr")), "detect",
                                        "test DETR"),
                              ModelSpec("tiny-vit", str(root / "vit"), "classify", "a classifier, never loaded")],
                             device="cpu")
    with gr.Blocks() as demo:
        build_match_tab(registry, ROOT / "examples")
    demo.queue(default_concurrency_limit=4)
    yield serve(demo, enable_monitoring=False, i18n=gradio_i18n())
    demo.close()


def test_match_endpoint_on_a_shapes_image_and_bad_uploads(demo_url, tmp_path):
    client = Client(demo_url, verbose=False)
    result = client.predict(SHAPES, VAL_INDEX, None, "", "tiny-detr", 1, 5, 2, api_name="/match")
    image, summary, costs = result[0], result[1], result[2]
    assert load_image_rgb(image).shape == (480, 480, 3)
    assert "3 objects, 8 queries" in summary and "3 matched" in summary
    assert costs["type"] == "plotly"
    gt_text, layer = result[-3], result[-2]
    assert len(gt_text.splitlines()) == 3 and layer["value"] == 3
    model_time = summary.split("model ")[-1]

    # new weights and another layer: re-solved from the session's run, the model does not run again
    again = client.predict(2, 1, 0, 0, api_name="/rematch")
    assert "decoder layer 2 of 3" in again[1] and again[1].endswith(model_time)
    assert "total = 1·class + 0·L1 + 0·(−GIoU)" in again[2]["plot"]

    not_image = tmp_path / "boxes.png"
    not_image.write_text("circle 1 2 3 4")
    with pytest.raises(AppError, match="not an image"):
        client.predict(UPLOAD, 0, handle_file(not_image), gt_text, "tiny-detr", 1, 5, 2, api_name="/match")
    shapes_png = ROOT / "examples" / "shapes" / "shapes-1.png"
    with pytest.raises(AppError, match="line 1: unknown label 'dog'"):
        client.predict(UPLOAD, 0, handle_file(shapes_png), "dog 1 1 9 9", "tiny-detr", 1, 5, 2, api_name="/match")
    result = client.predict(UPLOAD, 0, handle_file(shapes_png), "circle 10 10 60 60\nstar 64 64 120 120",
                            "tiny-detr", 1, 5, 2, api_name="/match")
    assert "2 objects, 8 queries" in result[1] and "your image" in result[1]


GOOD = (SHAPES, VAL_INDEX, None, "", "tiny-detr", 1.0, 5.0, 2.0)


@pytest.mark.parametrize("change, message", [
    ({4: "tiny-vit"}, r"'tiny-vit' is an image classifier \(ViT\); this needs a DETR detector"),
    ({4: "no-such-model"}, r"Unknown model 'no-such-model'"),
    ({1: -3}, r"Validation image must be in \[0, 199\] \(got -3\)"),
    ({1: 10**9}, r"Validation image must be in \[0, 199\]"),
    ({1: "x"}, r"Validation image must be a number"),
    ({1: 2.5}, r"Validation image must be a whole number"),
    ({5: -5.0}, r"Weight of the class term −p must be in \[0, 10\] \(got -5.0\)"),
    ({6: "five"}, r"Weight of the L1 term must be a number in \[0, 10\] \(got 'five'\)"),
    ({7: None}, r"Weight of the −GIoU term must be a number"),
    ({5: 0, 6: 0, 7: 0}, r"All three cost weights are 0"),
    ({0: "Somewhere else"}, r"Image must be one of: Shapes validation image, Your image \+ boxes"),
    ({0: UPLOAD}, r"(?i)no image|choose an image|upload"),
])
def test_match_refuses_values_only_the_api_can_send(demo_url, change, message):
    client = Client(demo_url, verbose=False)
    args = [change.get(i, value) for i, value in enumerate(GOOD)]
    with pytest.raises(AppError, match=message) as error:
        client.predict(*args, api_name="/match")
    assert "error id" not in str(error.value)


def test_rematch_checks_its_values_and_says_when_the_run_was_dropped(demo_url):
    client = Client(demo_url, verbose=False)
    client.predict(*GOOD, api_name="/match")
    for args, message in (((9, 1, 5, 2), r"Decoder layer must be in \[1, 3\] \(got 9\)"),
                          (("2", 1, 5, 2), r"Decoder layer must be a number"),
                          ((3, 11, 5, 2), r"Weight of the class term −p must be in \[0, 10\]")):
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name="/rematch")
    assert "decoder layer 3 of 3" in client.predict(None, 1, 5, 2, api_name="/rematch")[1]  # None: the last layer
    store = match_tab.MATCHING_RUNS
    saved = store.max_runs
    store.max_runs = 1
    try:
        store.put("someone else", match_tab.ShownMatching(*_tiny_shown()))  # evicts this client's run
        with pytest.raises(AppError, match="no longer kept on the server"):
            client.predict(2, 1, 5, 2, api_name="/rematch")
    finally:
        store.max_runs = saved


def _tiny_shown():
    image, boxes, labels = mr.validation_sample(1)
    run = mr.run_matching_model(tiny_detr(), image, boxes, labels, "tiny", 1)
    return run, mr.solve_steps(mr.match(run, run.num_layers - 1))


def test_handlers_run_without_a_browser(model_and_run):
    """The module-level handlers work from the session's token alone (no Gradio event): /rematch re-solves and
    keeps the new steps for the step buttons."""
    _, run = model_and_run
    token = match_tab.MATCHING_RUNS.put("handler-test", match_tab.ShownMatching(run, []))
    outputs = match_tab.rematch(token, 2, 0, 5, 0, None)
    assert len(outputs) == match_tab.VIEW_COUNT and "decoder layer 2 of 3" in outputs[1]
    steps = match_tab.MATCHING_RUNS.get(token).steps
    assert steps and steps[-1].kind == "done"
    mine = (match_tab.STEP_MATCHING, 0, 5, 5)  # the step-through's matrix: this matching's cost
    i, _, text = match_tab.step_forward(token, 0, *mine, None)
    assert i == 1 and text.startswith(f"**Step 2 of {len(steps)}")
    assert match_tab.step_back(token, 0, *mine, None)[0] == 0
    assert match_tab.step_to(token, 10**6, *mine, None)[0] == len(steps) - 1
    *_, timer = match_tab.tick(token, len(steps) - 2, *mine, None)
    assert timer.active is False  # Play stops at the last step
    match_tab.MATCHING_RUNS.drop_session("handler-test")


def test_browser_steps_to_the_end(demo_url, browser_page):
    page, errors = browser_page
    page.goto(demo_url)
    page.locator("#match-button").click()
    page.wait_for_function("document.querySelector('#match-summary').innerText.includes('3 matched')",
                           timeout=30_000)
    text = page.locator("#match-step-text")
    assert "Step 1 of" in text.inner_text()
    for _ in range(60):
        if "Optimal assignment" in text.inner_text():
            break
        before = text.inner_text()
        page.locator("#match-step").click()
        page.wait_for_function("b => document.querySelector('#match-step-text').innerText !== b",
                               arg=before, timeout=10_000)
    assert "Optimal assignment" in text.inner_text() and "done" in text.inner_text()
    page.locator("#match-back").click()
    page.wait_for_function("() => !document.querySelector('#match-step-text').innerText"
                           ".includes('Optimal assignment')", timeout=10_000)
    page.locator("#match-play").click()  # Play walks on by itself, one step every PLAY_SECONDS
    page.wait_for_function("document.querySelector('#match-step-text').innerText"
                           ".includes('Optimal assignment')", timeout=10_000)
    assert not errors, errors


# --- English and Simplified Chinese ------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
MATCH_SOURCES = ("match_tab.py", "matching_views.py", "matching_figures.py")


@pytest.mark.parametrize("shape, integral", [((8, 3), False), ((3, 7), False), ((5, 5), False), ((6, 6), True),
                                             ((9, 2), True), ((1, 1), False), ((0, 3), False)])
def test_steps_are_worded_from_their_messages_in_both_languages(shape, integral):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.integers(0, 4, shape) if integral else rng.random(shape)
        steps = hungarian_steps(cost)[2]
        for step in steps:
            # the catalog's English is the library's, so the Chinese says the same thing
            assert views.step_text(step, "en") == step.explanation
            chinese = views.step_text(step, "zh-CN")
            assert CJK.search(chinese) and chinese != step.explanation, (step.kind, chinese)
            assert CJK.search(views.step_kind(step, "zh-CN"))
    assert views.step_kind(hungarian_steps(np.ones((4, 2)))[2][1], "en") == "column reduction"  # queries × GT
    assert views.step_kind(hungarian_steps(np.ones((2, 4)))[2][1], "en") == "row reduction"


def test_every_step_is_worded_in_chinese_the_rescaled_start_too():
    steps = hungarian_steps(np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]]) * 2.0 ** 900)[2]  # rescaled by the solver
    assert "2^-102" in steps[0].explanation
    chinese = views.step_text(steps[0], "zh-CN")
    assert "2^-102" in chinese and "以免求和溢出" in chinese and chinese.startswith("代价矩阵")
    assert all(CJK.search(views.step_text(step, "zh-CN")) for step in steps)


def test_tab_text_and_figures_follow_the_locale(model_and_run):
    _, run = model_and_run
    m = mr.match(run, run.num_layers - 1)
    loss = mr.matching_loss(run, m)
    english = cost_figure(run, m, "en").to_plotly_json()
    chinese = cost_figure(run, m, "zh-CN").to_plotly_json()
    titles = [a["text"] for a in chinese["layout"]["annotations"]]
    assert "总代价 = 1·类别 + 5·L1 + 2·(−GIoU)" in titles and CJK.search(chinese["layout"]["title"]["text"])
    assert "total = 1·class + 5·L1 + 2·(−GIoU)" in [a["text"] for a in english["layout"]["annotations"]]
    assert "总代价" in chinese["data"][3]["hovertemplate"] and "total" in english["data"][3]["hovertemplate"]
    steps = mr.solve_steps(m)
    assert CJK.search(step_figure(run, steps[1], "zh-CN").layout.title.text)
    assert step_figure(run, steps[1]).layout.title.text.startswith("Reduced cost")

    assert "**3 个目标，8 个查询**：3 个已匹配" in views.summary(run, m, [], "zh-CN")
    assert "**3 objects, 8 queries:** 3 matched" in views.summary(run, m, [], "en")
    assert "shapes validation image 0" in views.summary(run, m, [], "en")
    rows = views.loss_rows(run, m, loss, "zh-CN")
    assert rows["headers"][:3] == ["查询", "匹配到", "目标类别"]
    assert views.loss_rows(run, m, loss, "en")["headers"] == match_tab.LOSS_COLUMNS
    assert "无目标" in [row[2] for row in rows["data"]]  # the unmatched queries' target
    assert "加权总损失" in views.loss_totals(loss, "zh-CN")
    table, note = views.layers_table(run, m.weights, "zh-CN")
    assert table["headers"] == ["真值", "1（辅助输出）", "2（辅助输出）", "3（最后一层：模型的输出）"]
    assert "与最后一层不同" in note
    *_, compare, text = views.comparison(run, m, "zh-CN")
    assert compare["headers"][0] == "真值" and "**一对一**（匈牙利）" in text
    assert views.comparison(run, m, "en")[2]["headers"] == match_tab.COMPARE_COLUMNS
    _, _, step_text = views.step_view(run, steps, len(steps) - 1, "zh-CN")
    assert step_text.startswith(f"**第 {len(steps)} 步（共 {len(steps)} 步）· 完成**") and "最优分配" in step_text
    assert label_name(run, run.num_classes, "zh-CN") == "无目标" and label_name(run, 99, "zh-CN") == "类别 99"
    assert label_name(run, run.num_classes) == "no object"


@pytest.mark.parametrize("text, message", [
    ("", "没有真值框"),
    ("circle 1 2 3", "第 1 行（'circle 1 2 3'）：应有 5 个值"),
    ("cat 1 2 3 4", "第 1 行：未知类别 'cat'；这个模型认识的类别为 circle"),
    ("square 0 0 20 200", "超出了图像范围，图像为 128×100 像素"),
])
def test_ground_truth_errors_in_chinese(text, message):
    with pytest.raises(GroundTruthError) as error:
        parse_ground_truth(text, LABELS, (100, 128), max_objects=8)
    assert re.search(message, translate(error.value, "zh-CN"))
    with pytest.raises(IndexError) as error:
        mr.validation_sample(200)
    assert "验证图像 200 不存在" in translate(error.value, "zh-CN")


def test_every_text_of_the_catalog_is_used():
    """A text is used by the tab's modules, or it is a message of the core (whose English it must be)."""
    texts = match_texts.T.texts
    core = {**mr.RUN_TEXTS, **GROUND_TRUTH_TEXTS, **STEP_TEXTS}
    assert {name: texts[name][0] for name in core} == core
    kinds = {f"kind_{kind}" for kind in STEP_KINDS}  # worded as f"kind_{step.kind}"
    assert kinds <= set(texts)
    source = "\n".join((ROOT / "cvdemo" / "ui" / name).read_text() for name in MATCH_SOURCES)
    unused = [key for key in texts if key not in core and key not in kinds and f'"{key}"' not in source]
    assert not unused, f"catalog 'match' has unused texts: {unused}"


def test_match_endpoint_answers_in_the_requests_language(demo_url, tmp_path):
    client = Client(demo_url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    params = [p["parameter_name"] for p in client.view_api(print_info=False, return_format="dict")
              ["named_endpoints"]["/match"]["parameters"]]
    assert params == ["src", "index", "image_payload", "gt", "model_name", "wc", "wl", "wg"]
    result = client.predict(SHAPES, VAL_INDEX, None, "", "tiny-detr", 1, 5, 2, api_name="/match")
    assert "3 个目标，8 个查询" in result[1] and "形状验证图像 0" in result[1]
    assert result[6]["headers"][0] == "查询" and "第 1 步" in result[5]
    assert "总代价 = 1·类别" in result[2]["plot"]
    with pytest.raises(AppError, match="第 1 行：未知类别 'dog'") as error:
        client.predict(UPLOAD, 0, handle_file(ROOT / "examples" / "shapes" / "shapes-1.png"), "dog 1 1 9 9",
                       "tiny-detr", 1, 5, 2, api_name="/match")
    assert error.value.title == "请检查真值"
    with pytest.raises(AppError, match="三个代价权重都为 0"):
        client.predict(SHAPES, VAL_INDEX, None, "", "tiny-detr", 0, 0, 0, api_name="/match")


def test_browser_in_chinese(demo_url, page_in):
    page, errors = page_in("zh-CN")
    page.goto(demo_url)
    page.wait_for_function("(document.querySelector('#match-source')?.innerText || '').includes('形状验证图像')",
                           timeout=30_000)
    page.locator("#match-button").click()
    page.wait_for_function("document.querySelector('#match-summary').innerText.includes('3 个已匹配')",
                           timeout=30_000)
    body = page.inner_text("body")
    assert "匈牙利算法，逐步演示" in body and "第 1 步" in page.locator("#match-step-text").inner_text()
    assert "形状数据集中生成的 200 张验证图像之一" in body and "__i18n__" not in body
    assert "**" not in body and "3 个目标，8 个查询：3 个已匹配" in body  # Markdown emphasis next to CJK text
    page.locator("#match-step").click()
    page.wait_for_function("document.querySelector('#match-step-text').innerText.includes('第 2 步')",
                           timeout=10_000)
    assert not errors, errors


# --- teaching the algorithm: Enter applies, the hard example and random matrices, a readable one-to-many ---------


def _built_tab():
    with gr.Blocks() as demo:
        build_match_tab(ModelRegistry([], device="cpu"), ROOT / "examples")
    config = demo.get_config_file()
    demo.close()
    return config


def test_enter_applies_every_number_field():
    """Each number field of the tab (the three cost weights; the random matrix's seed, rows and columns) has a
    `submit` trigger (Enter) on the same event as its `blur` (leaving the field)."""
    config = _built_tab()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    numbers = {c["id"] for c in config["components"] if c["type"] == "number"}
    assert {ids[i] for i in numbers} == {"match-weight-class", "match-weight-l1", "match-weight-giou", "match-seed",
                                        "match-rows", "match-cols"}
    for number in numbers:
        events = [{t[1] for t in d["targets"] if t[0] == number} for d in config["dependencies"]]
        assert any({"submit", "blur"} <= e for e in events), ids[number]
    rematch = next(d for d in config["dependencies"] if d.get("api_name") == "rematch")
    assert {ids[t[0]] for t in rematch["targets"] if t[1] == "submit"} == {"match-weight-class",
                                                                           "match-weight-l1", "match-weight-giou"}


def test_the_hard_example_and_random_matrices_step_through_every_kind():
    """Without any run: the step-through's matrix is the hard example or a seeded random one, whose steps cover,
    adjust and augment; the text names rows and columns plainly, in both languages."""
    n_hard = len(hungarian_steps(hard_example())[2])
    slider, figure, text = match_tab.show_steps(None, match_tab.STEP_HARD, 0, 5, 5, None)
    assert slider.maximum == n_hard - 1 and slider.value == 0 and text.startswith(f"**Step 1 of {n_hard}")
    assert "(row, column), both from 0" in text and list(figure.data[0].y) == [f"r{r}" for r in range(5)]
    kinds = []
    for i in range(n_hard):
        index, figure, text = match_tab.step_to(None, i, match_tab.STEP_HARD, 0, 5, 5, None)
        kinds.append(text.split("· ")[1].split("*")[0])
    assert {"cover", "adjust", "augment", "done"} <= set(kinds)
    assert "1075" in text
    steps = hungarian_steps(random_cost_matrix(4, 6, 11))[2]
    slider, _, text = match_tab.show_steps(None, match_tab.STEP_RANDOM, 11, 4, 6, None)
    assert slider.maximum == len(steps) - 1
    assert match_tab.step_forward(None, 0, match_tab.STEP_RANDOM, 11, 4, 6, None)[2] == views.step_view(
        None, steps, 1)[2]
    _, _, chinese = views.step_view(None, steps, 0, "zh-CN")
    assert "（行, 列），均从 0 开始编号" in chinese
    # no run yet and this matching's cost chosen: nothing to show
    assert match_tab.show_steps(None, match_tab.STEP_MATCHING, 0, 5, 5, None) == (gr.skip(),) * 3
    with pytest.raises(gr.Error, match="rows"):
        match_tab.show_steps(None, match_tab.STEP_RANDOM, 0, 9, 5, None)
    with pytest.raises(gr.Error, match="seed"):
        match_tab.step_forward(None, 0, match_tab.STEP_RANDOM, -1, 5, 5, None)


def test_a_real_cost_solved_in_few_steps_says_why(model_and_run):
    """The matching's own steps end with the reason when its reductions already gave the whole assignment."""
    _, run = model_and_run
    steps = mr.solve_steps(mr.match(run, run.num_layers - 1))
    _, _, text = views.step_view(run, steps, len(steps) - 1)
    direct = "augment" not in {s.kind for s in steps}
    assert ("Why so few steps" in text) == direct == steps[-1].fields["direct"]
    if direct:
        assert "为什么步骤这么少" in views.step_view(run, steps, len(steps) - 1, "zh-CN")[2]


def test_one_to_many_image_captions_only_what_nms_keeps(model_and_run, monkeypatch):
    """Removed-by-NMS boxes are drawn thin without a caption (they piled up): the captions are the ground truth
    and the kept queries only; the tab's label is short and the legend says what thick and thin mean."""
    from cvdemo.ui import matching_figures

    _, run = model_and_run
    layer = run.num_layers - 1
    otm = mr.one_to_many(run, layer, iou_threshold=0.05)
    assert otm.assignment.positive.sum() > otm.nms_kept.sum()  # some are removed by NMS
    captions = []
    real = matching_figures._Canvas.caption
    monkeypatch.setattr(matching_figures._Canvas, "caption",
                        lambda self, box, text, *a, **k: (captions.append(text), real(self, box, text, *a, **k)))
    image = one_to_many_image(run, layer, otm)
    assert image.dtype == np.uint8 and image.ndim == 3
    kept = [f"q{q}" for q in np.flatnonzero(otm.nms_kept)]
    assert sorted(c for c in captions if not c.startswith("GT")) == sorted(kept)
    assert len(captions) == run.num_objects + len(kept)
    assert len(match_texts.T.text("one_to_many_label")) < 40
    assert "thin uncaptioned ones are removed by NMS" in match_texts.T.text("compare_legend")


def test_browser_steps_through_the_hard_example(demo_url, browser_page):
    page, errors = browser_page
    page.goto(demo_url)
    page.locator("#match-step-source").get_by_label("the hard example (5 × 5)").check()
    text = page.locator("#match-step-text")
    page.wait_for_function("(document.querySelector('#match-step-text')?.innerText || '').includes('Step 1 of')",
                           timeout=15_000)
    seen, order = set(), []
    for i in range(40):
        order.append(text.inner_text().split("\n")[0])
        seen.add(order[-1].split("·")[1].strip())
        if "Optimal assignment" in text.inner_text():
            break
        page.locator("#match-step").click()
        page.wait_for_function("n => document.querySelector('#match-step-text').innerText.includes(`Step ${n} of`)",
                               arg=i + 2, timeout=10_000)
    assert {"cover", "adjust", "augment", "done"} <= seen, order
    page.locator("#match-step-source").get_by_label("a random matrix").check()
    page.wait_for_function("document.querySelector('#match-step-text').innerText.includes('Step 1 of')",
                           timeout=10_000)
    page.locator("#match-step").click()
    page.wait_for_function("document.querySelector('#match-step-text').innerText.includes('Step 2 of')",
                           timeout=10_000)
    page.locator("#match-seed input").fill("3")
    page.locator("#match-seed input").press("Enter")  # Enter applies the seed
    page.wait_for_function("document.querySelector('#match-step-text').innerText.includes('Step 1 of')",
                           timeout=10_000)
    assert not errors, errors
