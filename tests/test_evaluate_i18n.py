"""The Evaluate tab in English and Simplified Chinese: its view module composes the tables, text and figures of an
evaluation in the given locale (English by default, unchanged), the core's messages are worded from the catalog,
the exports stay English, the page-load event localises the dropdowns, legend and empty tables, and every text of
the "evaluate" catalog is used. No browser here."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from gradio.utils import get_type_hints

from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics.assignment import FP, MISSED, TP
from cvdemo.metrics.browse import ERROR_FILTERS, SORTS, load_evaluation
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.ui import evaluate_tab
from cvdemo.ui import evaluation_viewer as viewer
from cvdemo.ui.errors import translate
from cvdemo.ui.evaluate_tab import build_evaluate_tab
from cvdemo.ui.evaluation_viewer import (
    choice_text,
    confusion_figure,
    describe_object,
    error_filter_choices,
    legend_html,
    pr_curves_figure,
    render_image,
    sort_choices,
)
from cvdemo.ui.i18n import catalogs
from cvdemo.ui.texts.evaluate import T

ROOT = Path(__file__).parents[1]
FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
GT = FIXTURE / "instances_val2014_100.json"
DT = FIXTURE / "instances_val2014_fakebbox100_results.json"
CJK = re.compile(r"[\u4e00-\u9fff]")
SOURCES = ("cvdemo/ui/evaluate_tab.py", "cvdemo/ui/evaluate_browse.py", "cvdemo/ui/evaluate_compare.py",
           "cvdemo/ui/evaluate_inputs.py", "cvdemo/ui/evaluation_viewer.py", "cvdemo/ui/evaluate_compare_views.py")
CORE_SOURCES = ("cvdemo/metrics/browse.py", "cvdemo/datasets/folder.py")  # messages keyed "evaluate.<name>"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    s = load_evaluation(tmp_path_factory.mktemp("i18n") / "s", [("gt.json", str(GT))], [("dt.json", str(DT))])
    yield s
    s.close()


def test_every_text_of_the_catalog_is_used():
    code = "".join((ROOT / name).read_text() for name in SOURCES)
    core = "".join((ROOT / name).read_text() for name in CORE_SOURCES)
    unused = [key for key in T.texts if f'"{key}"' not in code and f'"evaluate.{key}"' not in core]
    assert not unused, f"texts of 'evaluate' used nowhere: {unused}"
    assert catalogs()["evaluate"] is T


def test_filter_and_sort_choices_keep_their_values():
    assert [v for _, v in error_filter_choices("zh-CN")] == list(ERROR_FILTERS)
    assert [v for _, v in sort_choices("zh-CN")] == list(SORTS)
    assert error_filter_choices() == [(v, v) for v in ERROR_FILTERS]  # English: the text is the value
    assert sort_choices("en") == [(v, v) for v in SORTS]
    assert all(CJK.search(text) for text, _ in error_filter_choices("zh-CN") + sort_choices("zh-CN")[1:])
    assert choice_text("most misses", "zh-CN") == "漏检最多" and choice_text("unknown", "zh-CN") == "unknown"


def test_objects_table_speaks_the_locale_and_the_csv_stays_english(session):
    a = session.assignment(0.5, 0.3)
    image_id = int(session.dt.image_ids[np.flatnonzero(a.det_status == TP)[0]])
    en = viewer.object_table(session.object_rows(image_id, a))["data"]
    zh = viewer.object_table(session.object_rows(image_id, a), "zh-CN")["data"]
    assert len(en) == len(zh) and [r[1:2] + r[3:6] + r[7:] for r in en] == [r[1:2] + r[3:6] + r[7:] for r in zh]
    assert {r[0] for r in en} >= {"detection"} and {r[0] for r in zh} >= {"检测"}
    assert any(r[0].startswith("object ") for r in en) and any(r[0].startswith("目标 ") for r in zh)
    statuses = {r[2] for r in zh}
    assert "TP" in statuses and statuses <= {"TP", "FP", "忽略", "FN（漏检）", "已检出", "忽略（crowd）"}
    assert viewer.object_table(session.object_rows(image_id, a), "fr")["data"] == en  # any other language: English
    table = pd.read_csv(session.write_objects_csv(0.5, 0.3))
    assert list(table.columns[:3]) == ["kind", "id", "image_id"]
    assert set(table["status"]) <= {"FP", "TP", "ignored", "below score", "FN (missed)", "found", "ignored (crowd)"}
    assert set(table["kind"]) == {"detection", "object"}


def test_missing_uploads_are_refused_in_the_locale(tmp_path):
    with pytest.raises(DatasetError) as err:  # the core gives a key; the UI words it
        load_evaluation(tmp_path / "a", [], [("dt.json", str(DT))])
    assert err.value.key == "evaluate.need_dataset" and "请先上传数据集" in translate(err.value, "zh-CN")
    assert "upload the data set" in translate(err.value, "en") and "upload the data set" in str(err.value)
    with pytest.raises(DatasetError, match="upload the predictions"):
        load_evaluation(tmp_path / "b", [("gt.json", str(GT))], [])
    with pytest.raises(DatasetError) as err:
        load_evaluation(tmp_path / "c", [("gt.json", str(GT))], [("dt.json", str(DT))], predict=lambda ds: None)
    assert "只能二选一" in translate(err.value, "zh-CN")


def test_a_data_set_without_images_is_noted_in_the_locale(session):
    assert "未上传图像" in viewer.status_markdown(session, 1.0, "zh-CN")
    assert "no images uploaded: boxes are drawn on a blank canvas" in viewer.status_markdown(session, 1.0)


def test_viewer_notes_descriptions_and_legend(session):
    a = session.assignment(0.5, 0.3)
    fp = int(np.flatnonzero(a.det_status == FP)[0])
    image_id = int(session.dt.image_ids[fp])
    _, _, note_en = render_image(session, image_id, a)
    _, _, note_zh = render_image(session, image_id, a, locale="zh-CN")
    assert note_en.startswith("no image uploaded: blank canvas") and note_zh.startswith("未上传图像")
    session.tide(0.5, 0.3)  # computed: the description names the TIDE error type
    en = describe_object(session, a, "det", fp)
    zh = describe_object(session, a, "det", fp, locale="zh-CN")
    assert en.startswith(f"**Detection {fp}** · **FP**") and "TIDE error type" in en and "box x=" in en
    assert zh.startswith(f"**检测 {fp}** · **FP**") and "TIDE 错误类型" in zh and "（单位为像素" in zh
    missed = int(np.flatnonzero(a.gt_status == MISSED)[0])
    assert "**FN (missed)**" in describe_object(session, a, "gt", missed)
    assert "**FN（漏检）**" in describe_object(session, a, "gt", missed, locale="zh-CN")
    assert "true positive" in legend_html() and "真阳性" in legend_html("zh-CN") and "rgb(0, 170, 60)" in legend_html(
        "zh-CN")


def test_figures_in_both_languages(session):
    en, zh = pr_curves_figure(session.coco), pr_curves_figure(session.coco, locale="zh-CN")
    assert en.layout.xaxis.title.text == "recall" and zh.layout.xaxis.title.text == "召回率"
    assert zh.layout.title.text.startswith("IoU 0.50，目标最多的") and "精确率 %{y:.3f}" in zh.data[0].hovertemplate
    assert "precision %{y:.3f}" in en.data[0].hovertemplate and en.data[0].name == zh.data[0].name  # class names
    one = pr_curves_figure(session.coco, 1, locale="zh-CN")
    assert "在三个 IoU 阈值下" in one.layout.title.text and [t.name for t in one.data][0] == "IoU 0.50"
    cm = session.confusion(0.5, 0.3)
    en, zh = confusion_figure(cm), confusion_figure(cm, locale="zh-CN")
    assert en.data[0].x[-1] == "background" and zh.data[0].x[-1] == "背景" and en.data[0].x[:-1] == zh.data[0].x[:-1]
    assert zh.layout.title.text.startswith("混淆矩阵（") and "IoU ≥ 0.50" in zh.layout.title.text
    assert en.layout.title.text.startswith("Confusion matrix (") and zh.layout.yaxis.title.text == "真实类别"
    assert "count %{customdata}" in en.data[0].hovertemplate and "数量 %{customdata}" in zh.data[0].hovertemplate


def test_tab_text_in_both_languages(session):
    view = session.browse(0.5, 0.3)
    en, zh = viewer.counts_markdown(view, None), viewer.counts_markdown(view, None, "zh-CN")
    assert en.startswith("At IoU ≥ 0.50 and score ≥ 0.30 (all classes): **TP ")
    assert zh.startswith("IoU ≥ 0.50、分数 ≥ 0.30 时（全部类别）：**TP ") and "召回率" in zh
    assert re.search(r"TP [\d,]+ · FP [\d,]+", zh).group(0) == re.search(r"TP [\d,]+ · FP [\d,]+", en).group(0)
    assert "类别 **person**" in viewer.counts_markdown(session.browse(0.5, 0.3, 1), "person", "zh-CN")
    assert "| 假阳性的成因（TIDE） | 数量 |" in viewer.tide_markdown(session, 0.5, 0.3, "zh-CN")
    assert "| badly localised |" in viewer.tide_markdown(session, 0.5, 0.3)
    assert "为什么同在 IoU 0.5 下" in viewer.voc_markdown(session, "zh-CN")
    assert viewer.voc_markdown(session).startswith("| Pascal VOC mAP, IoU > 0.5 | value |\n|---|---|\n")
    assert "100 张图像" in viewer.status_markdown(session, 1.0, "zh-CN")
    assert "100 images" in viewer.status_markdown(session, 1.0)
    assert [r[0] for r in viewer.coco_rows(session)][:4] == ["AP  IoU .50:.95", "AP  IoU .50", "AP  IoU .75",
                                                                     "AP  small"]
    assert viewer.coco_rows(session, "zh-CN")[3][0] == "AP  小目标"
    assert viewer.table("page", [], "zh-CN")["headers"] == ["#", "图像 id", "TP", "FP", "FN", "F1", "文件"]
    assert viewer.table("objects", [], "en")["headers"] == evaluate_tab.OBJECT_COLUMNS


def _handler(demo, name: str):
    fns = [fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == name]
    assert len(fns) >= 1
    return fns[0]


def test_page_load_localises_the_choices_legend_and_tables():
    with gr.Blocks() as demo:
        build_evaluate_tab(ModelRegistry([ModelSpec("tiny-detr", "unused", "detect")], device="cpu"),
                           ROOT / "examples")
    loads = [fn for fn in demo.fns.values()
             if fn.fn.__module__ == "cvdemo.ui.evaluate_tab" and [t[1] for t in fn.targets] == ["load"]]
    assert len(loads) == 1 and loads[0].api_visibility == "private" and not loads[0].inputs
    zh = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})
    model_dd, class_dd, error_dd, sort_dd, legend, coco, classes, page, objects, *example = loads[0].fn(zh)
    assert model_dd.choices == [("上传的预测", ""), ("tiny-detr", "tiny-detr")]
    assert class_dd.choices == [("全部类别", -1)] and class_dd.value == -1
    assert error_dd.choices[2] == ("含漏检（FN）", "with misses (FN)") and error_dd.value == "all images"
    assert sort_dd.choices[1] == ("假阳性最多", "most false positives") and sort_dd.value == "image id"
    assert "漏检目标（FN）" in legend and coco == {"headers": ["指标", "数值"], "data": []}
    assert classes["headers"][1] == "真值数" and page["headers"][1] == "图像 id" and objects["headers"][6] == "匹配对象"
    if example:  # the example's table headers are shown as given: no translation key
        assert example[0].headers == [T.text("dataset_label", "zh-CN"), T.text("predictions_label", "zh-CN")]
    en = loads[0].fn(SimpleNamespace(headers={}))
    assert en[0].choices[0] == ("uploaded predictions", "")
    assert en[1].choices == [("all classes", -1)] and en[5]["headers"] == evaluate_tab.COCO_COLUMNS
    # the handlers that compose text get the request from Gradio (found by its type hint; it is no API input)
    for name in ("evaluate", "refresh", "view_row", "click", "errors_view", "errors_after_move", "pr_view", "export"):
        assert get_type_hints(_handler(demo, name).fn).get("request") is gr.Request, name
