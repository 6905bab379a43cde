"""Values from the API checked against the same limits as the UI's controls, with the same messages.

A slider cannot send 5.0 or "abc", but `gradio_client` and plain HTTP can. Each handler checks its values on entry
with `number` and `choice`; a value out of place raises a `gr.Error` that names the control (its label in the
user's language) and its limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gradio as gr

from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.common import T

__all__ = ["choice", "number"]


def _fail(locale: str, key: str, **fields: Any) -> gr.Error:
    return gr.Error(T.text(key, locale, **fields), title=T.text("bad_value_title", locale), print_exception=False)


def number(value: Any, *, name: str, low: float, high: float, locale: str = DEFAULT_LOCALE, integer: bool = False,
           low_open: bool = False, high_open: bool = False) -> float | int:
    """``value`` as a float (or an int with ``integer``) within [low, high] (open ends with low_open/high_open).

    Refused with a gr.Error: strings, None, bools, NaN/inf, non-integral values when ``integer``, and values out of
    range. ``name``: the control's label in ``locale``."""
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    limits = f"{lo}{low:g}, {high:g}{hi}"
    shown = repr(value) if isinstance(value, str) else str(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(locale, "not_a_number", name=name, limits=limits, value=shown)
    if integer and value != int(value):
        raise _fail(locale, "not_an_integer", name=name, limits=limits, value=shown)
    inside = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not inside:
        raise _fail(locale, "out_of_range", name=name, limits=limits, value=shown)
    return int(value) if integer else float(value)


def choice(value: Any, options: Sequence[Any], *, name: str, locale: str = DEFAULT_LOCALE) -> Any:
    """``value`` if it is one of ``options``, else a gr.Error listing them."""
    try:
        if value in options:
            return value
    except TypeError:  # an unhashable value from the API
        pass
    shown = ", ".join(str(o) for o in list(options)[:12]) + (", …" if len(options) > 12 else "")
    value_text = repr(value)
    raise _fail(locale, "not_a_choice", name=name, options=shown,
                value=value_text if len(value_text) <= 40 else value_text[:37] + "...")
