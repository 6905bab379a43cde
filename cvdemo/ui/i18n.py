"""The app's text in English and Simplified Chinese: one `Catalog` per tab, the browser's language, `gr.I18n`.

Static text (labels, info lines, buttons, tab names, Markdown written at build time) is given to Gradio as a
key, ``T("key")``, and translated in the browser from the `gr.I18n` that `gradio_i18n()` builds from every
catalog (Gradio follows the browser's language; anything but Chinese falls back to English). Text a handler
composes at run time (summaries with numbers, status lines, dropdown entries) is translated on the server:
``T.text("key", locale, n=3)`` with the locale of the request, `locale_of(request)`, read from its
Accept-Language header, the same preference the browser's language setting sends.

A catalog maps key -> (English, Simplified Chinese); both may hold ``str.format`` fields, the same ones.
No gradio import at module level: the gradio-free session modules format their text with this module too.
"""

from __future__ import annotations

import importlib
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_LOCALE", "LOCALES", "Catalog", "catalogs", "gradio_i18n", "locale_of",
           "parse_accept_language"]

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"
# every catalog module, imported by `catalogs()`; one per part of the UI
CATALOG_MODULES = ("app", "common", "detect", "attention", "match", "evaluate", "train", "concepts", "detectors",
                   "explain", "claims")
# browser languages served the Simplified Chinese text: Gradio's front end looks up the exact tag, then its
# language ("zh-TW" -> "zh"), so "zh" catches every Chinese variant
_GRADIO_LOCALES = {"en": "en", "zh-CN": "zh-CN", "zh": "zh-CN", "zh-Hans": "zh-CN"}

_REGISTRY: dict[str, Catalog] = {}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Catalog:
    """The texts of one part of the UI.

    Args:
        namespace: prefix of every key ("detect" -> keys "detect.<key>" in `gr.I18n`).
        texts: key -> (English, Simplified Chinese).

    Raises:
        ValueError: a text is empty, the two languages' format fields differ, or the namespace is taken.
    """

    def __init__(self, namespace: str, texts: Mapping[str, tuple[str, str]]) -> None:
        problems = []
        for key, pair in texts.items():
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, str) and t for t in pair)):
                problems.append(f"{key}: expected a pair of non-empty strings (English, Chinese)")
            elif _fields(pair[0]) != _fields(pair[1]):
                problems.append(f"{key}: format fields differ: {sorted(_fields(pair[0]))} in English, "
                                f"{sorted(_fields(pair[1]))} in Chinese")
        if problems:
            raise ValueError(f"catalog {namespace!r}: " + "; ".join(problems))
        if namespace in _REGISTRY:
            raise ValueError(f"a catalog named {namespace!r} already exists")
        self.namespace = namespace
        self.texts = dict(texts)
        _REGISTRY[namespace] = self

    def key(self, key: str) -> str:
        """The full `gr.I18n` key of ``key``; KeyError if this catalog lacks it."""
        if key not in self.texts:
            raise KeyError(f"catalog {self.namespace!r} has no text {key!r}")
        return f"{self.namespace}.{key}"

    def __call__(self, key: str) -> Any:
        """Static text: a `gradio.i18n.I18nData` the browser translates (for labels, info, Markdown, ...)."""
        from gradio.i18n import I18nData  # here, not at the top: this module must import without gradio

        return I18nData(self.key(key))

    def text(self, key: str, locale: str | None = DEFAULT_LOCALE, /, **fields: Any) -> str:
        """Run-time text in ``locale`` ("en" or "zh-CN"; anything else -> English), formatted with ``fields``."""
        english, chinese = self.texts[key]
        template = chinese if locale == "zh-CN" else english
        return template.format(**fields) if fields else template

    def pair(self, key: str, /, **fields: Any) -> dict[str, str]:
        """{locale: text} for both languages."""
        return {locale: self.text(key, locale, **fields) for locale in LOCALES}


def catalogs() -> dict[str, Catalog]:
    """Every catalog of the app (imports `cvdemo.ui.texts.*`), by namespace."""
    for name in CATALOG_MODULES:
        importlib.import_module(f"cvdemo.ui.texts.{name}")
    return dict(_REGISTRY)


# Texts Gradio's own front end asks for but does not ship (its status tracker announces `common.complete` and
# `common.error` to screen readers when an event ends; without these the raw key is read out and shown to tests)
GRADIO_MISSING = {"common.complete": ("Complete", "完成"), "common.error": ("Error", "错误")}


def translations() -> dict[str, dict[str, str]]:
    """{locale: {full key: text}} of every catalog (and `GRADIO_MISSING`), for `gr.I18n` (keys in both
    languages)."""
    tables: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}
    for key, (english, chinese) in GRADIO_MISSING.items():
        tables["en"][key], tables["zh-CN"][key] = english, chinese
    for catalog in catalogs().values():
        for key, (english, chinese) in catalog.texts.items():
            tables["en"][f"{catalog.namespace}.{key}"] = english
            tables["zh-CN"][f"{catalog.namespace}.{key}"] = chinese
    return tables


def gradio_i18n():
    """The `gr.I18n` for `demo.launch(i18n=...)`: English, and Simplified Chinese for every Chinese locale."""
    import gradio as gr

    tables = translations()
    return gr.I18n(**{tag: tables[locale] for tag, locale in _GRADIO_LOCALES.items()})


def parse_accept_language(header: str | None) -> str:
    """The app's locale for an Accept-Language header: "zh-CN" when Chinese is preferred to English,
    else "en". Follows the q-values; a malformed entry is skipped."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag == "zh" or tag.startswith("zh-"):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT_LOCALE


def locale_of(request: Any) -> str:
    """The locale of a `gr.Request` (or anything with ``headers``); English without one."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return DEFAULT_LOCALE
    try:
        header = headers.get("accept-language")
    except AttributeError:
        return DEFAULT_LOCALE
    return parse_accept_language(header)
