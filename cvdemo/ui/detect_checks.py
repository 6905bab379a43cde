"""The Detect tab's run store and the checks of the values its handlers get (the API may send anything).

`DETECTION_RUNS`: the bounded per-session store of `cvdemo.detection_run.DetectionRun`s (the page's `gr.State`
holds a run's token). The checks turn a dropdown's or slider's value into an index or number checked against the
run, or raise a `cvdemo.ui.validate` error worded in the user's language.
"""

from __future__ import annotations

from cvdemo.detection_run import DetectionRun
from cvdemo.ui import sessions, validate
from cvdemo.ui.choices import head_index, layer_index
from cvdemo.ui.texts.detect import T

__all__ = ["DETECTION_RUNS", "checked_row", "checked_threshold", "decoder_view_args", "encoder_view_args"]

# a run holds the image (3.8 MB of the 4.4 MB that detr-shapes keeps for a 1333x1000 upload), the probabilities and
# the attention maps (at most ENCODER_BUDGET of encoder maps; ~20 MB in all for DETR-R50 on a photo)
DETECTION_RUNS = sessions.store("detect", max_runs=64, max_bytes=64 * 2**20, per_session=2)


def checked_threshold(value, locale: str) -> float:
    return validate.number(value, name=T.text("threshold", locale), low=0.0, high=1.0, locale=locale)


def decoder_view_args(run: DetectionRun, layer, head, locale: str) -> tuple[int, int | None]:
    """(0-based decoder layer, head index or None) from the dropdowns' values, checked against the run."""
    return (layer_index(layer, run.num_decoder_layers, name=T.text("decoder_layer", locale), locale=locale),
            head_index(head, run.num_heads, name=T.text("head", locale), locale=locale))


def encoder_view_args(run: DetectionRun, layer, head, locale: str) -> tuple[int, int | None]:
    heads = run.num_heads if run.encoder_per_head else 0  # only the mean of heads is kept for large maps
    return (layer_index(layer, run.num_encoder_layers, name=T.text("encoder_layer", locale), locale=locale),
            head_index(head, heads, name=T.text("head", locale), locale=locale))


def checked_row(value, run: DetectionRun, locale: str) -> int:
    return validate.number(value, name=T.text("detection", locale), low=0, high=len(run.scores) - 1,
                           integer=True, locale=locale)
