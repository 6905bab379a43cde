"""Dropdown entries for choosing a layer and a head, shared by the tabs, and the checks of the values they send.

Entries are (text, value) pairs: the text in the user's language, the value fixed whatever the language.
Layers are shown 1-based ("6 (last)") with the 1-based number as the value; heads as "head 1" .. "head H"
plus "mean of heads" (values "head k" and `MEAN`, parsed to a 0-based index or None). Dropdowns, not
sliders: a model may have one layer. `layer_index` / `head_index` check a value sent by the UI or the API against
the model's layers and heads (`cvdemo.ui.validate`: a specific message naming the control).
"""

from __future__ import annotations

from typing import Any

from cvdemo.ui import validate
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.common import T

MEAN = "mean of heads"


def layer_choices(num_layers: int, locale: str = DEFAULT_LOCALE) -> list[tuple[str, int]]:
    """[(text, 1-based layer)] for a model with num_layers layers."""
    def text(i: int) -> str:
        if num_layers == 1:
            return T.text("layer_only", locale)
        if i == 1:
            return T.text("layer_first", locale, i=i)
        return T.text("layer_last", locale, i=i) if i == num_layers else str(i)
    return [(text(i), i) for i in range(1, num_layers + 1)]


def head_choices(num_heads: int, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)]: `MEAN`, then "head 1" .. "head num_heads"."""
    return [(T.text("mean_of_heads", locale), MEAN)] + [
        (T.text("head", locale, i=i + 1), f"head {i + 1}") for i in range(num_heads)]


def parse_head(choice: str | None) -> int | None:
    """"head k" -> k - 1; MEAN (or nothing) -> None."""
    if not choice or choice == MEAN:
        return None
    return int(str(choice).split()[-1]) - 1


def parse_layer(value, num_layers: int) -> int:
    """A 1-based layer from a dropdown -> 0-based index, clamped to the model's layers."""
    return min(max(int(value), 1), num_layers) - 1


def layer_index(value: Any, num_layers: int, *, name: str, locale: str = DEFAULT_LOCALE) -> int:
    """A 1-based layer (a dropdown's value, or sent through the API) -> 0-based index; a gr.Error naming the
    control ``name`` when it is not a whole number in [1, num_layers]. The API documents a layer dropdown's values
    as strings ("1", "2", ...), so a string of digits counts as that number."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return validate.number(value, name=name, low=1, high=num_layers, integer=True, locale=locale) - 1


def head_index(value: Any, num_heads: int, *, name: str, locale: str = DEFAULT_LOCALE) -> int | None:
    """A head dropdown's value ("head k" or `MEAN`; None counts as the mean) -> 0-based index or None; a gr.Error
    naming the control ``name`` for any other value."""
    if value is None:
        return None
    values = [v for _, v in head_choices(num_heads)]
    return parse_head(validate.choice(value, values, name=name, locale=locale))
