"""Output images written to Gradio's cache atomically, so identical concurrent answers are all complete.

Gradio 6 saves an output image under a folder named by the hash of its encoded bytes and rewrites that file in
place on every call (`gradio.processing_utils.save_pil_to_cache`). Two sessions that produce the same image at
the same moment (two users clicking the same example) write one path while the other is being downloaded, and a
client gets a truncated file ("peer closed connection"; h11 "Too little data for declared Content-Length").
Gradio's own `save_file_to_cache` already avoids this for files: a content-addressed copy that exists is reused,
and a new one is written under a temporary name and renamed into place. `install()` makes image outputs follow
the same rule. It keeps Gradio's paths, names and formats; only the write changes.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from gradio import processing_utils

__all__ = ["install", "save_pil_to_cache_atomic"]

logger = logging.getLogger(__name__)
_original = processing_utils.save_pil_to_cache


def save_pil_to_cache_atomic(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """As `gradio.processing_utils.save_pil_to_cache`, but an existing copy is reused and a new one is renamed
    into place, never rewritten while it may be read."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    target = (folder / f"{name}.{format}").resolve()
    if target.exists() and target.stat().st_size == len(data):
        try:
            os.utime(target)  # `delete_cache` ages files by time: a copy handed out again must not expire now
        except OSError:
            pass
        return str(target)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(target)


def install() -> None:
    """Use `save_pil_to_cache_atomic` for every image output of this process (idempotent)."""
    if processing_utils.save_pil_to_cache is not save_pil_to_cache_atomic:
        processing_utils.save_pil_to_cache = save_pil_to_cache_atomic
        logger.debug("image outputs are written to Gradio's cache atomically")
