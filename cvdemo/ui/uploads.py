"""Uploaded files -> pixels through `cvdemo.images.load_image`, or a `gr.Error` with its specific message.

Events that take an upload run with `preprocess=False`, so Gradio never opens the file itself (it would
fail on a non-image with a generic error before our handler runs); the handler gets Gradio's file payload,
a dict with the uploaded file's `path` in Gradio's upload cache.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from cvdemo.images import ImageLoadError, LoadedImage, load_image
from cvdemo.messages import Message
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.common import T

MAX_SIDE = 1333  # longer side the app keeps; DETR resizes to at most 1333 anyway, ViT to 224


def upload_path(payload: Any) -> str | None:
    """The local path in a Gradio file payload (dict or FileData), or None when there is no file."""
    if payload is None:
        return None
    if isinstance(payload, str):
        return payload
    path = payload.get("path") if isinstance(payload, dict) else getattr(payload, "path", None)
    return str(path) if path else None


def image_notes(loaded_notes: list[Message], locale: str = DEFAULT_LOCALE, *,
                resized_to: tuple[int, int] | None = None, square: bool = False) -> list[str]:
    """What was done to an image, in ``locale``: the loader's notes, then, with ``resized_to`` (h, w), the model's
    input size when pre-processing did not keep the image's aspect ratio (``square``: a ViT's square input)."""
    notes = [translate(note, locale) for note in loaded_notes]
    if resized_to is not None:
        h, w = resized_to
        notes.append(T.text("resized_for_model_square" if square else "resized_for_model", locale, w=w, h=h))
    return notes


def load_upload(payload: Any, max_side: int = MAX_SIDE, locale: str = DEFAULT_LOCALE) -> LoadedImage:
    """Decode an uploaded image safely; anything wrong becomes a gr.Error the user sees (titled in ``locale``;
    the decoder's own explanation stays in English)."""
    path = upload_path(payload)
    if path is None:
        raise gr.Error(T.text("no_image", locale), title=T.text("no_image_title", locale))
    try:
        return load_image(path, max_side=max_side)
    except ImageLoadError as e:
        raise gr.Error(html.escape(str(e), quote=False), title=T.text("bad_file_title", locale),
                       print_exception=False) from None


def image_examples(image_in: gr.Image, shapes_dir: Path, shapes_label: Any, photos_dir: Path,
                   photos_label: Any, *, model: gr.Dropdown | None = None, shapes_model: str | None = None,
                   photos_model: str | None = None, elem_prefix: str | None = None) -> None:
    """Two example galleries under an image input: the generated shapes (``*.png``) and the photos (``*.jpg``);
    a folder with no images gives no gallery. With ``model`` (the tab's model dropdown) and a gallery's model name
    (``shapes_model``, ``photos_model``: the model it is labelled for, if the app offers it), picking an example
    also selects that model, so an example always runs on its own model. ``elem_prefix``: the galleries' element
    ids are ``<prefix>-examples-shapes`` and ``<prefix>-examples-photos``."""
    for kind, folder, pattern, label, name, per_page in (
            ("shapes", shapes_dir, "*.png", shapes_label, shapes_model, 8),
            ("photos", photos_dir, "*.jpg", photos_label, photos_model, 10)):
        files = sorted(folder.glob(pattern))
        if not files:
            continue
        with_model = model is not None and name is not None
        rows = [[str(p), name] if with_model else [str(p)] for p in files]
        inputs = [image_in, model] if with_model else image_in
        answering(gr.Examples(rows, inputs, label=label, cache_examples=False, examples_per_page=per_page,
                              elem_id=f"{elem_prefix}-examples-{kind}" if elem_prefix else None,
                              visible_columns=[0]))  # thumbnails only: the gallery's label names the model


def first_example(folder: Path, names: list[str], model: str) -> str | None:
    """The path of the first ``*.png`` example in ``folder`` when ``model`` (the one it is labelled for) is the
    tab's default model (the first of ``names``), else None: what a tab shows before anyone clicks."""
    files = sorted(folder.glob("*.png"))
    return str(files[0]) if files and names and names[0] == model else None


def offered(names: list[str], name: str) -> str | None:
    """``name`` if the app offers that model (it is among ``names``), else None (its examples then keep the
    model the user chose)."""
    return name if name in names else None


def answering(examples: gr.Examples) -> gr.Examples:
    """``examples`` with its own click handler (Gradio's ``load_example``, which puts an example into the inputs)
    wrapped by `answers` like every other event handler of the app. Call it inside the Blocks being built."""
    event = getattr(examples, "load_input_event", None)
    root = gr.context.Context.root_block
    block_fn = root.fns.get(event["id"]) if event is not None and root is not None else None
    if block_fn is not None and block_fn.fn is not None:
        block_fn.fn = answers(block_fn.fn)
    return examples
