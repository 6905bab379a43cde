"""Reading image files from disk as RGB uint8 arrays, defensively (files may come from anyone).

Pillow is told which formats to accept, refuses decompression bombs (``MAX_PIXELS``), keeps truncated files
an error, applies the EXIF orientation, flattens transparency onto white, rescales 16-bit and float images to
8 bits (a plain ``convert("RGB")`` would crush them) and takes the first frame of an animation.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = ["IMAGE_FORMATS", "MAX_PIXELS", "ImageReadError", "read_rgb_image"]

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "TIFF", "GIF", "PPM")
MAX_PIXELS = 64_000_000  # larger images are refused (decompression bombs)


class ImageReadError(ValueError):
    """An image file that cannot be read; the message names the file and the reason."""


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer and float modes -> "L", scaled by the actual range (0..65535 for I;16)."""
    array = np.asarray(im, dtype=np.float64)
    if im.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        low, high = float(array.min()), float(array.max())
    scaled = (array - low) / max(high - low, 1e-12) * 255.0
    return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), mode="L")


def read_rgb_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` -> ``uint8[H, W, 3]`` RGB (EXIF-rotated, transparency on white).

    Raises:
        ImageReadError: missing file, unknown or corrupt format, too many pixels.
    """
    path = Path(path)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                im.seek(0)
                im = ImageOps.exif_transpose(im)
                if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    im = _to_8bit(im)
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    im = Image.alpha_composite(background, rgba)
                return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{path}: cannot read the image ({type(e).__name__}: {e}); accepted formats: "
                             f"{', '.join(IMAGE_FORMATS)}, at most {MAX_PIXELS:,} pixels") from None
