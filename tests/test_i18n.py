"""The app in English and Simplified Chinese: the catalogs, the browser's language, and no untranslated text.

Every label, info line, placeholder, button and Markdown text of the built app must be a key of a catalog
(translated in the browser by `gr.I18n`); a Chinese browser sees Chinese, any other English.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

import cvdemo.models
from cvdemo.models import DETR, ViT
from cvdemo.models.detr import DETRConfig
from cvdemo.models.registry import ModelSpec
from cvdemo.models.vit import ViTConfig
from cvdemo.ui.i18n import Catalog, catalogs, gradio_i18n, locale_of, parse_accept_language, translations

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
I18N = re.compile(r"__i18n__(\{.*?\})")
LABELS = {i: n for i, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}
# props the front end translates; the Markdown/Button/HTML value is their text
TEXT_PROPS = ("label", "info", "placeholder", "description", "title")
TEXT_VALUE_TYPES = {"markdown", "button", "uploadbutton", "downloadbutton"}


def test_catalog_rejects_mismatched_fields_empty_texts_and_duplicates():
    with pytest.raises(ValueError, match="format fields differ"):
        Catalog("test-fields", {"k": ("{n} boxes", "{m} 个框")})
    with pytest.raises(ValueError, match="non-empty"):
        Catalog("test-empty", {"k": ("boxes", "")})
    Catalog("test-once", {"k": ("boxes", "框")})
    with pytest.raises(ValueError, match="already exists"):
        Catalog("test-once", {"k": ("boxes", "框")})


def test_catalog_text_formats_in_the_locale_and_falls_back_to_english():
    t = Catalog("test-text", {"n": ("{n} boxes", "{n} 个框")})
    assert t.text("n", "en", n=3) == "3 boxes"
    assert t.text("n", "zh-CN", n=3) == "3 个框"
    assert t.text("n", "fr", n=3) == "3 boxes"
    assert t.pair("n", n=1) == {"en": "1 boxes", "zh-CN": "1 个框"}
    assert str(t("n")) == '__i18n__{"__type__": "translation_metadata", "key": "test-text.n"}'
    with pytest.raises(KeyError, match="no text 'missing'"):
        t("missing")


@pytest.mark.parametrize("header, locale", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("zh-TW", "zh-CN"),
    ("zh", "zh-CN"),
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("fr-FR,fr;q=0.9", "en"),
    ("fr-FR,zh-CN;q=0.5,en;q=0.4", "zh-CN"),
    ("en;q=0.3,zh;q=0.7", "zh-CN"),
    ("zh;q=0, en", "en"),
    ("zh;q=abc, en", "en"),
    ("", "en"),
    (None, "en"),
])
def test_accept_language_picks_the_preferred_of_chinese_and_english(header, locale):
    assert parse_accept_language(header) == locale


def test_locale_of_a_request_without_headers_is_english():
    class Request:
        headers = {"accept-language": "zh-CN,zh;q=0.9"}

    assert locale_of(Request()) == "zh-CN"
    assert locale_of(None) == "en"
    assert locale_of(object()) == "en"


def test_every_text_has_a_chinese_translation():
    tables = translations()
    assert tables["en"].keys() == tables["zh-CN"].keys()
    assert len(tables["en"]) > 200  # every tab's text
    untranslated = [k for k, zh in tables["zh-CN"].items()
                    if not CJK.search(zh) and (zh == tables["en"][k] and len(zh) > 16 or len(zh) > 40)]
    assert not untranslated, f"no Chinese in: {untranslated}"
    for namespace in ("app", "shared", "detect", "attention", "match", "evaluate", "train", "concepts"):
        assert namespace in catalogs(), f"no catalog for {namespace}"


def test_gradio_i18n_serves_chinese_to_every_chinese_browser_locale():
    tables = gradio_i18n().translations_dict
    assert tables["zh-CN"] == tables["zh"] == tables["zh-Hans"] == translations()["zh-CN"]
    assert tables["en"] == translations()["en"]


@pytest.fixture(scope="module")
def app_module():
    spec = importlib.util.spec_from_file_location("cvdemo_app_i18n", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=64, num_heads=4,
                           encoder_layers=1, decoder_layers=1, dim_feedforward=128, num_queries=5,
                           num_classes=6, id2label=LABELS, shortest_edge=128, longest_edge=128))
    vit = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=6,
                        id2label=LABELS))
    root = tmp_path_factory.mktemp("i18n-models")
    return [ModelSpec("tiny-detr", str(cvdemo.models.save(detr, root / "detr")), "detect", "test"),
            ModelSpec("tiny-vit", str(cvdemo.models.save(vit, root / "vit")), "classify", "test")]


def _untranslated(config: dict, known: set[str]) -> list[str]:
    """Texts of the built app that are not catalog keys, and keys no catalog has."""
    problems = []
    for component in config["components"]:
        props = component.get("props", {})
        kind = component.get("type", "")
        texts = [(name, props.get(name)) for name in TEXT_PROPS]
        if kind in TEXT_VALUE_TYPES:
            texts.append(("value", props.get("value")))
        for name, text in texts:
            if not isinstance(text, str) or not text.strip():
                continue
            if kind == "tabitem" and name == "title":
                continue
            keys = [json.loads(m)["key"] for m in I18N.findall(text)]
            if not keys:
                problems.append(f"{kind} #{component['id']} {name}={text[:60]!r} is not translated")
            problems += [f"{kind} #{component['id']} {name}: unknown key {k!r}" for k in keys if k not in known]
    return problems


def test_every_text_of_the_app_is_translated(app_module, specs):
    demo = app_module.build_demo(specs, device="cpu")
    try:
        problems = _untranslated(demo.config, set(translations()["en"]))
    finally:
        demo.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def app_url(app_module, specs, serve):
    demo = app_module.build_demo(specs, device="cpu")
    yield serve(demo, **app_module.launch_settings())
    demo.close()


RAW_KEY = re.compile(r"\b(?:app|shared|common|detect|attention|match|evaluate|train|concepts)\.[a-z0-9_]+\b")
TABS = {"en-US": ["Detect (DETR)", "Matching (DETR)", "Attention (ViT)", "Evaluate", "Train", "Concepts"],
        "zh-CN": ["检测（DETR）", "匹配（DETR）", "注意力（ViT）", "评估", "训练", "概念"]}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_browser_language_chooses_the_text(app_url, page_in, locale):
    page, errors = page_in(locale)
    page.goto(app_url)
    page.wait_for_selector("#detect-input", state="attached", timeout=30_000)
    page.wait_for_timeout(500)  # the page-load events localise choices and notes
    seen = []
    for tab in TABS[locale]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(400)
        seen.append(page.inner_text("body"))
    text = "\n".join(seen)
    raw = sorted(set(RAW_KEY.findall(text)) - {"detr.py"})
    assert "__i18n__" not in text and not raw, raw
    chinese = len(CJK.findall(text))
    if locale == "zh-CN":
        assert "看清 DETR 与 ViT 的内部" in text
        assert chinese > 500, f"only {chinese} Chinese characters on the zh-CN page"
        assert "Score threshold" not in text and "Detect objects with" not in text
    else:
        assert "see inside DETR and ViT" in text
        assert chinese < 40, f"{chinese} Chinese characters on the English page"  # Gradio's own language menu
    assert not errors, errors


def test_no_catalog_hides_gradios_own_texts():
    """Gradio's front end translates its own texts (``common.loading``, ...) under namespaces of its bundled
    English: our catalogs keep apart from them, so that no key of ours can stand in for, or hide, one of Gradio's."""
    import gradio

    bundles = list((Path(gradio.__file__).parent / "templates" / "frontend" / "assets").glob("en-*.js"))
    assert bundles, "Gradio's English front-end texts not found"
    gradio_namespaces = set(re.findall(r"\bas (\w+)", bundles[0].read_text()[:2000])) - {"_name", "default"}
    assert "common" in gradio_namespaces
    assert set(catalogs()) & gradio_namespaces == set()
