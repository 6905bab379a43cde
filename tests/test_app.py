"""The app: `/detect` and `/rollout` through gradio_client against the launched app, its launch settings, and
the gradio-free session code behind the tabs, each checked against the `cvdemo` library computing directly.

Tiny random models are built here; the shipped checkpoints are never needed.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import cvdemo.models
from cvdemo import detection_run as ds
from cvdemo import vit_run as vs
from cvdemo.attention import (
    attention_rollout,
    cls_attention_map,
    encoder_attention_at,
    query_attention_map,
    upsample_heatmap,
)
from cvdemo.images import load_image_rgb
from cvdemo.models import DETR, DETRConfig, post_process_object_detection
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.registry import ModelRegistry, ModelSpec, ModelUnavailableError
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.ui import attention_views, detect_views
from cvdemo.ui import concept_figures as cf
from cvdemo.ui.detect_views import class_distribution_figure
from cvdemo.ui.errors import translate

ROOT = Path(__file__).resolve().parents[1]
SHAPES_IMAGE = ROOT / "examples" / "shapes" / "shapes-0.png"
SHAPE_NAMES = {k: n for k, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}


def load_app_module():
    spec = importlib.util.spec_from_file_location("cvdemo_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_detr(num_classes: int = 6, seed: int = 0) -> DETR:
    torch.manual_seed(seed)
    labels = SHAPE_NAMES if num_classes == 6 else {k: f"thing {k}" for k in range(num_classes)}
    model = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=64, num_heads=4,
                            encoder_layers=2, decoder_layers=2, dim_feedforward=128, num_queries=10,
                            num_classes=num_classes, id2label=labels, shortest_edge=128, longest_edge=128))
    with torch.no_grad():
        model.class_embed.bias[0] += 3.0  # make class 0 likely, so there are detections to draw
    return model.eval()


def tiny_vit(pos_embed: str = "learn", seed: int = 0, pool: str = "token", class_token: bool = True):
    torch.manual_seed(seed)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=6,
                         id2label=SHAPE_NAMES, pos_embed=pos_embed, global_pool=pool, class_token=class_token,
                         image_mean=(0.5,) * 3, image_std=(0.5,) * 3)).eval()


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"detr": cvdemo.models.save(tiny_detr(), root / "detr"),
            "vit": cvdemo.models.save(tiny_vit(), root / "vit"), "missing": root / "not-trained-yet"}


@pytest.fixture(scope="module")
def specs(model_dirs):
    return [ModelSpec("tiny-detr", str(model_dirs["detr"]), "detect", "test DETR"),
            ModelSpec("not-trained", str(model_dirs["missing"]), "detect"),
            ModelSpec("facebook/detr-resnet-50", "hf:facebook/detr-resnet-50", "detect"),
            ModelSpec("tiny-vit", str(model_dirs["vit"]), "classify", "test ViT")]


@pytest.fixture(scope="module")
def server(specs, serve):
    app = load_app_module()
    demo = app.build_demo(specs, device="cpu")
    settings = app.launch_settings()
    url = serve(demo, **settings)
    yield {"url": url, "demo": demo, "app": app, "settings": settings}
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    return Client(server["url"], verbose=False)


def reference_detections(model_dir, image: np.ndarray) -> dict:
    """What the library computes for the image, without the app."""
    model = cvdemo.models.load(model_dir).optimize_for_inference()
    inputs = prepare_detr_inputs(image, model.config)
    with torch.inference_mode():
        out = model(inputs["pixel_values"], inputs["pixel_mask"])
    return post_process_object_detection(out, inputs["original_sizes"])[0]


# ---------------------------------------------------------------- the launched app, through gradio_client

def test_detect_returns_what_the_library_computes(client, model_dirs):
    result = client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.0, api_name="/detect")
    annotated, table, summary = result[0], result[1], result[2]
    ref = reference_detections(model_dirs["detr"], load_image_rgb(SHAPES_IMAGE))
    rows = table["data"]
    assert table["headers"] == ["#", "query", "label", "score", "x0", "y0", "x1", "y1", "caption"]
    assert len(rows) == int((ref["scores"] > 0).sum()) == 10
    assert [r[1] for r in rows] == ref["query_index"].tolist()
    assert [r[2] for r in rows] == [SHAPE_NAMES[int(k)] for k in ref["labels"]]
    np.testing.assert_allclose([r[3] for r in rows], ref["scores"].numpy(), atol=1.5e-3)
    np.testing.assert_allclose([r[4:8] for r in rows], ref["boxes"].numpy(), atol=0.15)
    shown = load_image_rgb(annotated)
    assert shown.shape == (480, 480, 3)  # the 128 px image enlarged for display
    assert "10 detections" in summary and "model" in summary and "ms" in summary
    assert result[4]["choices"] == [["1 (first)", 1], ["2 (last)", 2]] and result[4]["value"] == 2
    cross, encoder, plot = client.predict(0.0, api_name="/attention_views")  # what the UI runs next
    assert load_image_rgb(cross).shape == load_image_rgb(encoder).shape == (480, 480, 3)
    assert plot["type"] == "plotly"


def test_bad_files_get_their_own_message_and_the_app_keeps_working(client, tmp_path):
    html = tmp_path / "photo.png"
    html.write_text("<!DOCTYPE html><html><head><title>Login</title></head><body>sign in</body></html>")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(SHAPES_IMAGE.read_bytes()[:3000])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for path, message in ((html, r"This file is not an image \(got HTML text\)"),
                          (truncated, "truncated or corrupted"), (empty, "The file is empty")):
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(path), "tiny-detr", 0.5, api_name="/detect")
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(path), "tiny-vit", "mean", 0.0, 1, api_name="/rollout")
    result = client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.5, api_name="/detect")
    assert load_image_rgb(result[0]).shape == (480, 480, 3)


def test_rollout_returns_what_the_library_computes(client, model_dirs):
    result = client.predict(handle_file(SHAPES_IMAGE), "tiny-vit", "max", 0.5, 2, api_name="/rollout")
    top5, summary, rollout_image = result[0], result[1], result[2]
    model = cvdemo.models.load(model_dirs["vit"])
    with torch.inference_mode():
        probs = model(vit_transform(load_image_rgb(SHAPES_IMAGE), model.config))["logits"][0].softmax(-1)
    expected = sorted(((SHAPE_NAMES[k], float(p)) for k, p in enumerate(probs)), key=lambda t: -t[1])[:5]
    got = [(c["label"], c["confidence"]) for c in top5["confidences"]]
    assert [g[0] for g in got] == [e[0] for e in expected]
    np.testing.assert_allclose([g[1] for g in got], [e[1] for e in expected], atol=1e-5)
    assert "2 layers × 2 heads" in summary
    assert load_image_rgb(rollout_image).shape == (480, 480, 3)
    cls_image, grid_caption, grid_image, positions = client.predict(api_name="/vit_views")  # the UI's next
    assert "4×4 = 16 patches of 8×8 pixels" in grid_caption and "= 17 tokens" in grid_caption
    assert load_image_rgb(cls_image).shape == (480, 480, 3)
    assert load_image_rgb(grid_image).shape == (448, 448, 3)
    assert load_image_rgb(positions).shape == (4 * 138 - 2, 4 * 138 - 2, 3)


def test_unavailable_models_say_why(client, monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    assert huggingface_hub.constants.HF_HUB_OFFLINE  # tests/conftest.py: never the network
    with pytest.raises(AppError, match="not available.*does not exist yet"):
        client.predict(handle_file(SHAPES_IMAGE), "not-trained", 0.5, api_name="/detect")
    with pytest.raises(AppError, match="not in the local Hugging Face cache and the Hub cannot be reached"):
        client.predict(handle_file(SHAPES_IMAGE), "facebook/detr-resnet-50", 0.5, api_name="/detect")
    assert client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.5, api_name="/detect")[0]


def test_threshold_refilters_without_running_the_model(client, monkeypatch):
    calls = []
    run_detr = ds.run_detr
    monkeypatch.setattr(ds, "run_detr", lambda *a, **k: calls.append(1) or run_detr(*a, **k))
    first = client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.0, api_name="/detect")
    scores = np.sort([r[3] for r in first[1]["data"]])[::-1]  # rounded to 3 decimals in the table
    gap = int(np.argmax(scores[:-1] - scores[1:]))  # cut in the widest gap, far from any rounding
    assert scores[gap] - scores[gap + 1] > 2e-3
    threshold = float(scores[gap] + scores[gap + 1]) / 2
    filtered = client.predict(threshold, 2, "mean of heads", api_name="/filter")
    assert len(calls) == 1  # /detect ran the model; /filter did not
    kept = [r[3] for r in filtered[1]["data"]]
    assert kept == scores[: gap + 1].tolist()
    assert f"{gap + 1} detection" in filtered[2] and f"above {threshold:.2f}" in filtered[2]


def test_launch_settings_suit_a_public_space(server):
    settings, demo = server["settings"], server["demo"]
    assert settings["max_file_size"] and settings["enable_monitoring"] is False
    assert settings["allowed_paths"] == [str(ROOT / "examples")]
    assert settings["server_name"] == "127.0.0.1"
    assert demo._queue.max_size == server["app"].QUEUE_SIZE
    model_events = [fn for fn in demo.fns.values() if fn.api_name in ("detect", "rollout")]
    assert len(model_events) == 2
    for fn in model_events:
        assert fn.concurrency_id == "gpu" and fn.concurrency_limit == 1 and fn.preprocess is False
    url = server["url"].rstrip("/")
    for path in ("/monitoring", f"/gradio_api/file={ROOT / 'app.py'}", "/gradio_api/file=/etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + path, timeout=10)
        assert e.value.code in (403, 404)


def test_server_address_comes_from_the_environment(monkeypatch):
    app = load_app_module()
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    settings = app.launch_settings()
    assert (settings["server_name"], settings["server_port"]) == ("0.0.0.0", 7999)


# ---------------------------------------------------------------- session code, against cvdemo directly

@pytest.fixture(scope="module")
def detr_and_run():
    model = tiny_detr()
    image = load_image_rgb(SHAPES_IMAGE)[:, :100]  # not square: rows and columns must not be swapped
    return model, image, ds.run_detr(model, image, "tiny")


def test_detection_run_matches_post_processing(detr_and_run):
    model, image, run = detr_and_run
    inputs = prepare_detr_inputs(image, model.config)
    with torch.inference_mode():
        out = model(inputs["pixel_values"], inputs["pixel_mask"], return_attention=True)
    for threshold in (0.0, 0.3, 0.6, 0.9):
        ref = post_process_object_detection(out, inputs["original_sizes"], threshold=threshold)[0]
        np.testing.assert_array_equal(run.query_index[run.kept(threshold)], ref["query_index"].numpy())
    np.testing.assert_allclose(run.probs, out["pred_logits"][0].softmax(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(run.probs.sum(-1), 1.0, atol=1e-5)
    rows = detect_views.detection_rows(run, 0.5)
    assert [r[0] for r in rows] == list(range(1, len(run.kept(0.5)) + 1))


def test_attention_views_match_cvdemo_attention(detr_and_run):
    model, image, run = detr_and_run
    inputs = prepare_detr_inputs(image, model.config)
    with torch.inference_mode():
        out = model(inputs["pixel_values"], None, return_attention=True)
    size = (round(image.shape[0] * run.display_scale), round(image.shape[1] * run.display_scale))
    fs = out["feature_size"]
    for layer, head in ((0, None), (1, 2)):
        q = int(run.query_index[3])
        expected = upsample_heatmap(query_attention_map(out["cross_attentions"][layer], fs, q, head)[0], size)
        np.testing.assert_allclose(ds.cross_attention_heatmap(run, 3, layer, head), expected, atol=0.02)
        x, y = 70.0, 40.0
        point = (y / image.shape[0], x / image.shape[1])
        encoder = encoder_attention_at(out["encoder_attentions"][layer], fs, point, head)[0]
        np.testing.assert_allclose(ds.encoder_attention_heatmap(run, (x, y), layer, head),
                                   upsample_heatmap(encoder, size), atol=0.02)
    with pytest.raises(ValueError, match="out of range"):
        ds.cross_attention_heatmap(run, 0, 5, None)


def test_large_encoder_maps_keep_only_the_mean_over_heads(detr_and_run, monkeypatch):
    model, image, _ = detr_and_run
    monkeypatch.setattr(ds, "ENCODER_BUDGET", 1)
    run = ds.run_detr(model, image)
    assert run.encoder_attentions.shape[1] == 1 and not run.encoder_per_head
    inputs = prepare_detr_inputs(image, model.config)
    with torch.inference_mode():
        out = model(inputs["pixel_values"], None, return_attention=True)
    size = run.display_size
    expected = upsample_heatmap(encoder_attention_at(out["encoder_attentions"][1], out["feature_size"],
                                                     (0.5, 0.5), None)[0], size)
    got = ds.encoder_attention_heatmap(run, (image.shape[1] / 2, image.shape[0] / 2), 1, 3)  # head ignored
    np.testing.assert_allclose(got, expected, atol=0.02)


@pytest.mark.parametrize("num_classes", [6, 91])
def test_class_distribution_rows_are_probability_distributions(num_classes):
    model = tiny_detr(num_classes)
    run = ds.run_detr(model, load_image_rgb(SHAPES_IMAGE))
    heatmap = class_distribution_figure(run, 0.5, 0).data[0]
    z = np.asarray(heatmap.z)
    assert z.shape[0] == 10
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-5)  # "other classes" keeps the rows whole
    assert heatmap.x[-1] == "no object"
    assert len(heatmap.x) == (7 if num_classes == 6 else len(set(run.labels.tolist())) + 2)
    assert heatmap.y[0].startswith("▶ query")


@pytest.mark.parametrize("pos_embed, pool, class_token", [("learn", "token", True), ("sincos", "token", True),
                                                          ("learn", "avg", False), ("learn", "avg", True)])
def test_vit_views_match_cvdemo_attention(pos_embed, pool, class_token):
    model = tiny_vit(pos_embed, pool=pool, class_token=class_token)
    image = load_image_rgb(SHAPES_IMAGE)
    run = vs.run_vit(model, image)
    with torch.inference_mode():
        out = model(vit_transform(image, model.config), return_attention=True)
    p = int(class_token)
    rollout = attention_rollout(out["attentions"], head_fusion="min", discard_ratio=0.3, start_layer=1,
                                num_prefix_tokens=p)
    layer1_head0, layer0_mean = out["attentions"][1][0, 0], out["attentions"][0][0].mean(0)  # (T, T) each
    if pool == "token":  # read the CLS token's row
        expected = [cls_attention_map(rollout, out["grid_size"])[0], layer1_head0[0, 1:], layer0_mean[0, 1:]]
    else:  # the classifier averages the patch tokens: average their rows
        expected = [rollout[0, p:, p:].mean(0), layer1_head0[p:, p:].mean(0), layer0_mean[p:, p:].mean(0)]
    got = [vs.rollout_heatmap(run, "min", 0.3, 1), vs.layer_attention_heatmap(run, 1, 0),
           vs.layer_attention_heatmap(run, 0, None)]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.reshape(4, 4).numpy(), atol=1e-6)
    table = (model.pos_embed[0, p:] if pos_embed == "learn"
             else cvdemo.models.vit.sincos_pos_embed_2d((4, 4), 32)).detach()
    cos = F.cosine_similarity(table[:, None], table[None], dim=-1).reshape(4, 4, 4, 4)
    np.testing.assert_allclose(run.pos_similarity, cos.numpy(), atol=1e-5)
    assert attention_views.top_classes(run, 3) == {SHAPE_NAMES[int(k)]: pytest.approx(float(prob), abs=1e-6)
                                      for prob, k in zip(*out["logits"][0].softmax(-1).topk(3))}
    picture, caption = attention_views.patch_grid_view(run)
    assert picture.shape == (448, 448, 3)
    assert "4×4 = 16 patches" in caption and f"= {16 + p} tokens" in caption
    assert attention_views.position_similarity_view(run).shape[:2] == (4 * 138 - 2, 4 * 138 - 2)  # 4 tiles of 136 px


# ---------------------------------------------------------------- English and Simplified Chinese

@pytest.fixture(scope="module")
def zh_client(server):
    return Client(server["url"], verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})


def test_detect_speaks_the_browsers_language(zh_client, client):
    result = zh_client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.0, api_name="/detect")
    assert result[1]["headers"] == ["#", "查询", "类别", "分数", "x0", "y0", "x1", "y1", "图上标注"]
    assert "分数高于 0.00 的检测结果 **10 个**（共 10 个查询）" in result[2] and "特征图" in result[2]
    assert result[3]["choices"][0][0].endswith("· 查询 " + str(result[1]["data"][0][1]))
    assert result[4]["choices"] == [["1（第一层）", 1], ["2（最后一层）", 2]] and result[4]["value"] == 2
    assert result[5]["choices"][0] == ["各头平均", "mean of heads"] and result[5]["value"] == "mean of heads"
    plot = zh_client.predict(0.0, api_name="/attention_views")[2]
    assert json.loads(plot["plot"])["layout"]["title"]["text"].startswith("各查询的类别概率")
    filtered = zh_client.predict(0.5, 2, "mean of heads", api_name="/filter")
    assert "分数高于 0.50" in filtered[2] and filtered[1]["headers"][1] == "查询"
    english = client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.0, api_name="/detect")
    assert "**10 detections** with score above 0.00 (of 10 queries)" in english[2]
    assert english[5]["choices"][0] == ["mean of heads", "mean of heads"]


def test_rollout_speaks_the_browsers_language(zh_client, client):
    result = zh_client.predict(handle_file(SHAPES_IMAGE), "tiny-vit", "max", 0.5, 2, api_name="/rollout")
    assert "2 层 × 2 个头，4×4 个图像块，从 CLS 词元读出类别" in result[1]
    assert result[5]["choices"][1] == ["第 1 个头", "head 1"]
    caption = zh_client.predict(api_name="/vit_views")[1]
    assert "4×4 = 16 个 8×8 像素的图像块" in caption and "+ 1 个 CLS 词元（编号 0）= 17 个词元" in caption
    english = client.predict(handle_file(SHAPES_IMAGE), "tiny-vit", "max", 0.5, 2, api_name="/rollout")
    assert "2 layers × 2 heads, 4×4 patches, classified from the CLS token" in english[1]


def _load_event(demo, module: str):
    """The page-load event of the tab built by `cvdemo.ui.<module>`."""
    events = [fn for fn in demo.fns.values()
              if fn.fn.__module__ == f"cvdemo.ui.{module}" and [t[1] for t in fn.targets] == ["load"]]
    assert len(events) == 1 and events[0].api_visibility == "private" and not events[0].inputs
    return events[0]


def test_page_load_localises_what_the_layout_cannot(specs):
    from types import SimpleNamespace

    demo = load_app_module().build_demo(specs, device="cpu")
    zh = SimpleNamespace(headers={"accept-language": "zh-CN"})
    en = SimpleNamespace(headers={})
    detect = _load_event(demo, "detect_tab")
    note, dec_layer, dec_head, enc_layer, enc_head, table = detect.fn(zh)
    assert note == "*test DETR*"  # the spec's own line (the shipped models' lines come in both languages)
    assert dec_layer.choices[0] == ("1（第一层）", 1) and dec_layer.value == 6
    assert dec_head.choices[0] == ("各头平均", "mean of heads") and dec_head.value == "mean of heads"
    assert enc_layer.choices[-1] == ("6（最后一层）", 6) and enc_head.choices[1] == ("第 1 个头", "head 1")
    assert table["headers"][1:4] == ["查询", "类别", "分数"] and table["data"] == []
    assert detect.fn(en)[5]["headers"] == ["#", "query", "label", "score", "x0", "y0", "x1", "y1", "caption"]
    vit = _load_event(demo, "attention_tab")
    note, fusion, start_layer, layer, head = vit.fn(zh)
    assert note == "*test ViT*"
    assert fusion.choices == [("平均", "mean"), ("最大值", "max"), ("最小值", "min")] and fusion.value == "mean"
    assert start_layer.value == 1 and layer.value == 12 and layer.choices[-1] == ("12（最后一层）", 12)
    assert head.choices[0] == ("各头平均", "mean of heads")
    assert vit.fn(en)[1].choices[0] == ("mean", "mean")


def test_detection_figure_and_session_text_in_both_languages(detr_and_run):
    _, _, run = detr_and_run
    zh = class_distribution_figure(run, 0.5, 0, locale="zh-CN")
    assert zh.layout.title.text.startswith("各查询的类别概率（分数最高的 10 个，共 10 个；✓ = 分数高于 0.50）")
    assert zh.data[0].x[-1] == "无目标" and zh.data[0].y[0] == "▶ 查询 " + str(int(run.query_index[0]))
    en = class_distribution_figure(run, 0.5, 0)
    assert en.layout.title.text.startswith("Class probabilities of each query (best 10 of 10")
    coco_like = class_distribution_figure(ds.run_detr(tiny_detr(91), run.image), 0.5, locale="zh-CN")
    assert coco_like.data[0].x[-2:] == ("其他类别", "无目标")
    assert detect_views.label_text(run, 99, "zh-CN") == "类别 99" and detect_views.label_text(run, 99) == "class 99"
    assert detect_views.label_text(run, 0, "zh-CN") == "circle"  # the model's own class names are not translated
    assert run.class_name(0) == "circle" and run.class_name(99) is None  # the run itself holds data, no words


def test_vit_session_text_in_both_languages():
    run = vs.run_vit(tiny_vit(pool="avg", class_token=False), load_image_rgb(SHAPES_IMAGE))
    assert attention_views.readout_text(run, "zh-CN") == "从图像块词元的平均读出类别"
    assert attention_views.readout_text(run) == "classified from the average of the patch tokens"
    caption = attention_views.patch_grid_view(run, locale="zh-CN")[1]
    assert caption == "32×32 的输入被切成 4×4 = 16 个 8×8 像素的图像块；每块成为一个词元（按阅读顺序编号）= 16 个词元。"
    assert attention_views.patch_grid_view(run)[1].endswith("(numbered in reading order) = 16 tokens.")
    run.id2label.pop(0)
    assert "类别 0" in attention_views.top_classes(run, 6, locale="zh-CN")
    assert "class 0" in attention_views.top_classes(run, 6)


@pytest.mark.parametrize("namespace, sources", [
    ("detect", ["detect_tab.py", "detect_explain.py", "detect_checks.py", "detect_views.py"]),
    ("attention", ["attention_tab.py", "attention_views.py"])])
def test_every_text_of_the_tab_catalogs_is_used(namespace, sources):
    catalog = importlib.import_module(f"cvdemo.ui.texts.{namespace}").T
    code = "".join((ROOT / "cvdemo" / "ui" / name).read_text() for name in sources)
    unused = [key for key in catalog.texts if f'"{key}"' not in code]
    assert not unused, f"texts of {namespace!r} used nowhere: {unused}"


# ---------------------------------------------------------------- the model registry

def test_registry_loads_each_model_once_and_shares_it(model_dirs, monkeypatch):
    registry = ModelRegistry([ModelSpec("d", str(model_dirs["detr"]), "detect")], device="cpu")
    calls = []
    real_load = cvdemo.models.load

    def counting_load(*args, **kwargs):
        calls.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(cvdemo.models, "load", counting_load)
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.get("d"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 4 and all(m is got[0] for m in got)
    assert registry.is_loaded("d") and got[0].backbone.optimized and not got[0].training


def test_registry_errors_are_specific(model_dirs):
    registry = ModelRegistry([ModelSpec("vit-as-detector", str(model_dirs["vit"]), "detect"),
                              ModelSpec("gone", str(model_dirs["missing"]), "classify")], device="cpu")
    with pytest.raises(ModelUnavailableError, match=r"an image classifier \(ViT\); it cannot be used as a DETR det"):
        registry.get("vit-as-detector")
    assert "does not exist yet" in translate(registry.unavailable_reason("gone"))  # a Message, worded by the UI
    with pytest.raises(ModelUnavailableError, match="does not exist yet"):
        registry.get("gone")
    with pytest.raises(ModelUnavailableError, match="Unknown model"):
        registry.get("nope")
    with pytest.raises(ValueError, match="two models are named"):
        ModelRegistry([ModelSpec("a", "x", "detect"), ModelSpec("a", "y", "classify")])


# ---------------------------------------------------------------- concept figures

def test_sinusoidal_encoding_matches_its_definition():
    pe = cf.sinusoidal_encoding_1d(7, 10)
    for pos in range(7):
        for i in range(5):
            angle = pos / 10000 ** (2 * i / 10)
            assert pe[pos, 2 * i] == pytest.approx(np.sin(angle))
            assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(angle))
    gram = pe @ pe.T  # the dot product depends on the offset only
    np.testing.assert_allclose(np.diag(gram, 2)[:-1], np.diag(gram, 2)[1:], atol=1e-12)
    assert len(cf.sinusoidal_figure(16, 8).data) == 2
    assert len(cf.encoding_1d_vs_2d_figure(4, 5, 1, 2, 16).data) == 4


@pytest.mark.parametrize("scale", [True, False])
def test_toy_attention_matches_torch(scale):
    q, k, v = cf.toy_qkv(seed=3, d_k=6)
    scores, weights, out = cf.scaled_dot_product_attention_explicit(q, k, v, scale=scale)
    t = [torch.from_numpy(a) for a in (q, k, v)]
    reference = F.scaled_dot_product_attention(*t, scale=None if scale else 1.0)
    np.testing.assert_allclose(out, reference.numpy(), atol=1e-10)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-12)
    assert len(cf.attention_figure(3, 6, scale).data) == 6


def test_iou_and_its_verdict():
    a, b = (10, 10, 50, 50), (30, 30, 70, 70)
    assert cf.iou_xyxy(a, b) == pytest.approx(400 / (1600 + 1600 - 400))
    assert cf.iou_xyxy(a, (60, 60, 70, 70)) == 0.0
    fig, verdict = cf.iou_figure(a, b, threshold=0.1)
    assert "true positive" in verdict and "0.143" in fig.layout.title.text
    assert "false positive" in cf.iou_figure(a, b, threshold=0.5)[1]
