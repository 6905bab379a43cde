"""The shipped faithfulness table: complete, and its Markdown's verdict read from the numbers (EN and ZH)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvdemo.explain.evaluation import DETR_METHODS, VIT_METHODS, read_faithfulness_table
from cvdemo.ui.explain_table import faithfulness_markdown

SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "explain-faithfulness.json"


def _stat(mean: float, half: float = 0.01) -> dict:
    return {"mean": mean, "low": mean - half, "high": mean + half}


def _row(pointing: float, deletion: float, minus_random: float | None) -> dict:
    row = {"objects": 10, "pointing": _stat(pointing), "deletion_auc": _stat(deletion), "insertion_auc": _stat(0.9)}
    if minus_random is not None:
        row["deletion_minus_random"] = _stat(minus_random, 0.05)
    return row


def test_the_shipped_table_covers_both_models_on_500_images_with_every_method():
    table = read_faithfulness_table(SHIPPED)
    for model, methods in (("vit-shapes", VIT_METHODS), ("detr-shapes", DETR_METHODS)):
        entry = table[model]
        assert entry["images"] >= 500 and entry["objects"] >= 500, (model, entry["images"], entry["objects"])
        assert tuple(entry["methods"]) == methods
        for row in entry["methods"].values():
            assert row["objects"] == entry["objects"]
            assert row["pointing"]["low"] <= row["pointing"]["mean"] <= row["pointing"]["high"]
        relevance, random = entry["methods"]["relevance"], entry["methods"]["random"]
        assert relevance["pointing"]["mean"] >= 0.9
        assert relevance["deletion_auc"]["mean"] < random["deletion_auc"]["mean"]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_markdown_names_the_best_methods_and_warns_about_one_no_better_than_random(tmp_path, locale):
    table = {"m": {"images": 3, "objects": 3, "seed": 1, "steps": 4, "methods": {
        "rollout": _row(0.5, 0.40, -0.2), "relevance": _row(0.9, 0.45, -0.1),
        "gradient rollout": _row(0.7, 0.60, 0.01), "random": _row(0.2, 0.6, None)}}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    text = faithfulness_markdown(path, "m", current="other", locale=locale)
    best = text.split("**")
    if locale == "en":
        assert "most faithful map by deletion AUC is **rollout**" in text
        assert "best pointer is **relevance (Chefer)**" in text
        assert "**gradient rollout** is not clearly more faithful than a random map" in text
        assert "your model (other) has not been measured" in text
        assert "This disagrees with Chefer et al. (2021)" in text and "**rollout** does better" in text
    else:
        assert "最忠实的是 **注意力展开**" in text and "指向最准的是 **相关性（Chefer）**" in text
        assert "**梯度展开** 在这里并不明显比随机图更忠实" in text
        assert "与 Chefer 等人（2021）的结论不同" in text
    assert len(best) > 4 and text.count("\n| ") == 5  # header + four methods
    assert "No shipped faithfulness figures for m" in faithfulness_markdown(tmp_path / "none.json", "m")


def test_a_broken_table_is_refused_with_what_is_wrong(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"m": {"methods": {"relevance": {}}}}))
    with pytest.raises(ValueError, match="random"):
        read_faithfulness_table(path)
    path.write_text(json.dumps({"m": {"methods": {"random": {"pointing": {}}}}}))
    with pytest.raises(ValueError, match="lacks"):
        read_faithfulness_table(path)
