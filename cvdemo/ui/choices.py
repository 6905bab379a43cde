"""Dropdown entries for choosing a layer and a head, shared by the tabs (no gradio here).

Layers are shown 1-based ("6 (last)") with the 1-based number as the value; heads as "head 1" .. "head H"
plus "mean of heads" (parsed to a 0-based index or None). Dropdowns, not sliders: a model may have one layer.
"""

from __future__ import annotations

MEAN = "mean of heads"


def layer_choices(num_layers: int) -> list[tuple[str, int]]:
    """[(text, 1-based layer)] for a model with num_layers layers."""
    def text(i: int) -> str:
        if num_layers == 1:
            return "1 (the only one)"
        return f"{i} (first)" if i == 1 else f"{i} (last)" if i == num_layers else str(i)
    return [(text(i), i) for i in range(1, num_layers + 1)]


def head_choices(num_heads: int) -> list[str]:
    """MEAN, then "head 1" .. "head num_heads"."""
    return [MEAN] + [f"head {i + 1}" for i in range(num_heads)]


def parse_head(choice: str | None) -> int | None:
    """"head k" -> k - 1; MEAN (or nothing) -> None."""
    if not choice or choice == MEAN:
        return None
    return int(str(choice).split()[-1]) - 1


def parse_layer(value, num_layers: int) -> int:
    """A 1-based layer from a dropdown or the API -> 0-based index, clamped to the model's layers."""
    return min(max(int(value), 1), num_layers) - 1
