"""The one image loader of cvdemo: any image file -> RGB uint8 `[H, W, 3]`, or a specific `ImageLoadError`.

Every path that decodes an image goes through here (the app's uploads, `python -m cvdemo.predict`, the Evaluate
tab's viewer and model runs, training data, the YOLO loader's size reading), so a file decodes the same way
everywhere; Pillow opens files in this module only.

`load_image(source)` reads a path, bytes or a binary file object and

- accepts only the formats in `formats` (Pillow never tries its other decoders on untrusted data); a file
  that is something else is named in the error ("This file is not an image (got HTML text)");
- refuses images over `max_pixels` *before* decoding them (decompression bombs), naming the size;
- relies on Pillow's `LOAD_TRUNCATED_IMAGES` being off (its default): a truncated or corrupted file is an
  error, not grey pixels;
- takes frame 0 of animated GIF/WebP/multi-page TIFF;
- applies the EXIF orientation, so phone photos are upright;
- rescales 16-bit and float greyscale (`I;16`, `I`, `F`) to 8 bits (a plain `convert("RGB")` would clip a
  16-bit ramp to 2 levels);
- flattens transparency (RGBA, LA, PA, palette or RGB with a transparent colour) onto white;
- converts CMYK, greyscale, 1-bit and palette images to RGB;
- optionally downsizes so the longer side is at most `max_side` (JPEGs are decoded at a reduced scale
  directly, so a 50-megapixel photo never needs a full-size decode).

`load_image_file(path)` is the same for an image of a data set on disk (its errors name the file), and
`image_size(path)` reads (width, height) from the header alone (no pixels decoded).

Pillow's global state is left as it is: the pixel limit is an argument (`DEFAULT_MAX_PIXELS`), checked against
the header before any pixel is decoded, never `Image.MAX_IMAGE_PIXELS`; `ImageFile.LOAD_TRUNCATED_IMAGES` keeps
Pillow's default (False), which the loader relies on and does not set.

Every refusal raises `ImageLoadError` (a `cvdemo.messages.UserError` and a `ValueError`) with a message a user
can act on.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from cvdemo.messages import Message, UserError

logger = logging.getLogger(__name__)

ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
"""Pillow format names accepted by default. "JPEG" includes the JPEGs Pillow reports as "MPO" (many phone
cameras write those: a JPEG with extra preview frames)."""
DEFAULT_MAX_PIXELS = 64_000_000  # refuse images larger than this before decoding (64 MP, ~200 MB as RGB)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP",
                 "TIFF": "TIFF"}


class ImageLoadError(UserError, ValueError):
    """An upload that is not an image we accept, or that cannot be decoded; the message says why."""


@dataclass
class LoadedImage:
    """A decoded image and what was done to it.

    pixels: uint8 [H, W, 3] RGB, C-contiguous (after orientation, flattening and downsizing).
    format: Pillow's format name ("PNG", "JPEG", ...).
    original_size: (height, width) as stored in the file, before orientation and downsizing.
    notes: what was done, as `Message`s ("shared.image_rotated", "shared.image_downsized", ...; ``str(note)`` is
        the English: "rotated upright (EXIF orientation 6)", "downsized from ...").
    """

    pixels: np.ndarray
    format: str
    original_size: tuple[int, int]
    notes: list[Message] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of `pixels`."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


def load_image(source: str | os.PathLike | bytes | BinaryIO, *, formats: Sequence[str] = ALLOWED_FORMATS,
               max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedImage:
    """Decode an untrusted image file into RGB uint8 pixels (see the module docstring).

    source: a path, the file's bytes, or a binary file object (read from its current position).
    formats: Pillow format names to accept (upper case); others are refused with a message naming them.
    max_pixels: refuse images whose width * height exceeds this, before decoding.
    max_side: if given, downsize (keeping the aspect ratio) so that max(H, W) <= max_side.
    max_bytes: refuse files larger than this.
    Raises ImageLoadError with a specific message for anything that is not a decodable accepted image.
    """
    data = _read_bytes(source, max_bytes)
    formats = _check_formats(formats)
    if not data:
        raise ImageLoadError("The file is empty (0 bytes); choose an image file (PNG, JPEG, ...).")
    limit = max_pixels
    _warn_if_truncated_images_allowed()
    try:
        im = Image.open(io.BytesIO(data), formats=list(formats))
    except UnidentifiedImageError:
        raise ImageLoadError(_describe_unaccepted(data[:1024], formats)) from None
    except Image.DecompressionBombError:
        raise ImageLoadError(_too_large_message(_size_for_message(data, formats), limit)) from None
    except Exception as e:  # noqa: BLE001 - Pillow's header parsers raise many types on malformed files
        raise ImageLoadError(f"The image file is truncated or corrupted and cannot be read ({e}). "
                             "Re-export or re-download it and try again.") from None

    with im:
        width, height = im.size
        if width * height > limit:
            raise ImageLoadError(_too_large_message((width, height), limit))
        if width <= 0 or height <= 0:
            raise ImageLoadError(f"The image has no pixels ({width}×{height}).")
        notes: list[Message] = []
        frames = getattr(im, "n_frames", 1)
        if frames > 1 and im.format != "MPO":  # MPO: a camera JPEG with preview images, not an animation
            notes.append(_note("frames", f"{frames} frames (animated or multi-page): the first is shown",
                               frames=frames))
        fmt = im.format or "unknown"
        try:
            if max_side is not None and im.format in ("JPEG", "MPO") and max(width, height) > max_side:
                scale = max_side / max(width, height)
                im.draft(im.mode, (max(1, round(width * scale)), max(1, round(height * scale))))
            im.load()
            pixels, more = _to_rgb(im)
        except ImageLoadError:
            raise
        except Image.DecompressionBombError:
            raise ImageLoadError(_too_large_message((width, height), limit)) from None
        except Exception as e:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ValueError, EOFError ...
            name = _FORMAT_NAMES.get(fmt, fmt)
            raise ImageLoadError(f"The {name} file is truncated or corrupted and cannot be decoded ({e}). "
                                 "Re-export or re-download it and try again.") from None
    notes.extend(more)
    if max_side is not None and max(pixels.shape[:2]) > max_side:
        pixels = _downsize(pixels, max_side)
    if pixels.shape[:2] != (height, width) and pixels.shape[:2] != (width, height):
        notes.append(_note("downsized", f"downsized from {width}×{height} to {pixels.shape[1]}×{pixels.shape[0]}",
                           w0=width, h0=height, w=pixels.shape[1], h=pixels.shape[0]))
    if not (pixels.flags.writeable and pixels.flags.c_contiguous):
        pixels = np.array(pixels, order="C")  # np.asarray(PIL image) is read-only
    return LoadedImage(pixels, fmt, (height, width), notes)


def load_image_rgb(source: str | os.PathLike | bytes | BinaryIO, **kwargs) -> np.ndarray:
    """`load_image(source, **kwargs).pixels`: uint8 [H, W, 3] RGB."""
    return load_image(source, **kwargs).pixels


def load_image_file(path: str | os.PathLike, **kwargs) -> np.ndarray:
    """The pixels (uint8 [H, W, 3] RGB) of an image of a data set on disk; `load_image`'s rules and keyword
    arguments. An `ImageLoadError` names the file (``"images/7.png: The PNG file is truncated ..."``)."""
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such image file")
    try:
        return load_image(path, **kwargs).pixels
    except ImageLoadError as e:
        raise ImageLoadError(f"{path}: {e}") from None


def image_size(path: str | os.PathLike, *, formats: Sequence[str] = ALLOWED_FORMATS) -> tuple[int, int]:
    """(width, height) of an image file as it is shown, from its header alone: no pixels are decoded.

    The EXIF orientation is applied for the formats whose EXIF block sits in the header (JPEG, TIFF, WebP): a
    quarter turn swaps width and height. Raises ImageLoadError (naming the file) when it cannot be read."""
    path = Path(path)
    formats = _check_formats(formats)
    try:
        with Image.open(path, formats=list(formats)) as im:
            width, height = im.size
            # a PNG's getexif() would decode the pixels: only formats whose EXIF is in the header
            if im.format in ("JPEG", "MPO", "TIFF", "WEBP") and _exif_orientation(im) in (5, 6, 7, 8):
                width, height = height, width
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: no such image file") from None
    except UnidentifiedImageError:
        with open(path, "rb") as f:
            head = f.read(1024)
        raise ImageLoadError(f"{path}: {_describe_unaccepted(head, formats)}") from None
    except Exception as e:  # noqa: BLE001 - header parsers raise many types on malformed files
        raise ImageLoadError(f"{path}: cannot read the image size ({e})") from None
    return width, height


_warned_truncated = False


def _warn_if_truncated_images_allowed() -> None:
    """Log once if some other module switched on Pillow's LOAD_TRUNCATED_IMAGES (read, never set here)."""
    global _warned_truncated
    if ImageFile.LOAD_TRUNCATED_IMAGES and not _warned_truncated:
        _warned_truncated = True
        logger.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES was set to True by another module: truncated image "
                       "files may decode with grey areas instead of being refused")


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    Image.init()
    formats = tuple(f.upper() for f in formats)
    unknown = [f for f in formats if f not in Image.OPEN]
    if unknown or not formats:
        raise ValueError(f"formats must be Pillow format names such as {ALLOWED_FORMATS}; unknown: {unknown}")
    return formats


def _read_bytes(source, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageLoadError(f"No image file at {path}.")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageLoadError(f"The file is {size / 2**20:.1f} MB; "
                                 f"the limit is {max_bytes / 2**20:.0f} MB.")
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
    else:
        raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")
    if len(data) > max_bytes:
        raise ImageLoadError(f"The file is over {max_bytes / 2**20:.0f} MB, the limit.")
    return data


def _too_large_message(size: tuple[int, int] | None, limit: int) -> str:
    what = f"{size[0]}×{size[1]} pixels" if size else "larger than the limit"
    return (f"Image is {what}; the limit is {limit / 1e6:g} megapixels. "
            "Downscale it (for example to 4000 pixels on the longer side) and upload it again.")


def _size_for_message(data: bytes, formats: Sequence[str]) -> tuple[int, int] | None:
    """(width, height) from the header of an image Pillow refused as a decompression bomb, for the message.

    Runs the format's header parser directly (the same one Image.open ran), without decoding pixels."""
    Image.init()
    for fmt in formats:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or (accept is not None and accept(data[:16]) is not True):
            continue
        try:
            return factory(io.BytesIO(data), "").size
        except Exception:  # noqa: BLE001 - only for the message; fall back to no size
            return None
    return None


def _accepted_list(formats: Sequence[str]) -> str:
    names = [_FORMAT_NAMES.get(f, f) for f in formats]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


# Magic numbers of image formats we recognise but may not accept, and of common non-image files.
_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"), (b"\xff\xd8\xff", 0, "JPEG"), (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"), (b"II*\x00", 0, "TIFF"), (b"MM\x00*", 0, "TIFF"), (b"WEBP", 8, "WEBP"),
    (b"\x00\x00\x01\x00", 0, "ICO (icon)"), (b"8BPS", 0, "PSD (Photoshop)"), (b"qoif", 0, "QOI"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"), (b"\xff\x4f\xff\x51", 0, "JPEG 2000"), (b"DDS ", 0, "DDS"),
    (b"icns", 0, "ICNS (icon)"), (b"\x76\x2f\x31\x01", 0, "OpenEXR"), (b"\x0a", 0, "PCX"),
    (b"#?RADIANCE", 0, "HDR (Radiance)"), (b"II\xbc", 0, "JPEG XR"), (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
)
_OTHER_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF", 0, "a PDF document"), (b"PK\x03\x04", 0, "a ZIP archive or Office document"),
    (b"\x1f\x8b", 0, "gzip-compressed data"), (b"7z\xbc\xaf", 0, "a 7-Zip archive"),
    (b"Rar!", 0, "a RAR archive"),
    (b"\x7fELF", 0, "a Linux program"), (b"MZ", 0, "a Windows program"), (b"AVI ", 8, "an AVI video"),
    (b"WAVE", 8, "a WAV audio file"), (b"ID3", 0, "an MP3 audio file"), (b"OggS", 0, "an Ogg media file"),
    (b"\x1aE\xdf\xa3", 0, "a WebM/Matroska video"), (b"fLaC", 0, "a FLAC audio file"),
)


def _describe_unaccepted(head: bytes, formats: Sequence[str]) -> str:
    """The message for a file Pillow did not open with the accepted formats."""
    accepted = _accepted_list(formats)
    text = _as_text(head)
    if text is not None:
        return f"This file is not an image (got {_describe_text(text)})."
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis"):
            return (f"This image is in HEIC/HEIF format, which is not accepted; export it as JPEG "
                    f"({accepted} are accepted).")
        if brand in (b"avif", b"avis"):
            return f"This image is in AVIF format, which is not accepted; convert it to {accepted}."
        return "This file is not an image (got an MP4/QuickTime video)."
    for magic, offset, name in _IMAGE_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            if name in formats:
                return (f"The file starts like a {_FORMAT_NAMES.get(name, name)} image but cannot be read: "
                        "it is corrupted or truncated. Re-export or re-download it and try again.")
            pcx_like = head[1:2] in (b"\x00", b"\x02", b"\x03", b"\x04", b"\x05") and head[2:3] == b"\x01"
            if name != "PCX" or pcx_like:  # PCX has a one-byte magic: check its version and encoding too
                return f"This image is in {name} format, which is not accepted; convert it to {accepted}."
    if head[:1] == b"P" and head[1:2] in b"1234567" and head[2:3].isspace():
        return f"This image is in PNM (PPM/PGM/PBM) format, which is not accepted; convert it to {accepted}."
    for magic, offset, what in _OTHER_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return f"This file is not an image (got {what})."
    return f"This file is not an image in an accepted format ({accepted}): its contents are not recognised."


def _as_text(head: bytes) -> str | None:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            # the 1 KiB sample may cut a multi-byte character at its end
            try:
                text = head[:-4].decode(encoding)
            except UnicodeDecodeError:
                continue
        if encoding == "utf-16" and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
        if text and printable / len(text) > 0.95:
            return text
    return None


def _describe_text(text: str) -> str:
    t = text.lstrip().lower()
    if t.startswith("<!doctype html") or any(tag in t for tag in ("<html", "<body", "<head")):
        return "HTML text"
    if t.startswith("<svg") or "<svg" in t:
        return "an SVG drawing; SVG is vector graphics, export it as PNG"
    if t.startswith("<?xml") or t.startswith("<"):
        return "XML text"
    if t.startswith(("{", "[")):
        return "JSON text"
    if t.startswith("data:image/"):
        return "a base64 data URL as text, not the image file itself"
    return "plain text"


def _note(name: str, english: str, **fields) -> Message:
    """A remark on what the loader did to the image ("shared.image_<name>" in the UI's catalogs)."""
    return Message(f"shared.image_{name}", fields, english)


def _to_rgb(im: Image.Image) -> tuple[np.ndarray, list[Message]]:
    """A loaded Pillow image (frame 0) -> (uint8 [H, W, 3] RGB upright, notes)."""
    notes: list[Message] = []
    orientation = _exif_orientation(im)
    if orientation not in (None, 1):
        try:
            im = ImageOps.exif_transpose(im)
            notes.append(_note("rotated", f"rotated upright (EXIF orientation {orientation})", orientation=orientation))
        except Exception as e:  # noqa: BLE001 - a broken EXIF block must not reject an otherwise good image
            logger.warning("ignoring unreadable EXIF orientation: %s", e)

    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _high_depth_to_uint8(np.asarray(im), mode)
        depth = "16-bit" if mode.startswith("I;16") else f"{mode}-mode"
        notes.append(_note("greyscale", f"{depth} greyscale scaled to 8 bits", depth=depth))
        return np.repeat(gray[:, :, None], 3, axis=2), notes
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        if float(alpha.min()) < 1.0:
            notes.append(_note("transparent", "transparent areas shown on white"))
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), notes
    if mode != "RGB":
        try:
            converted = im.convert("RGB")
        except ValueError as e:
            raise ImageLoadError(f"Images in colour mode {mode} are not supported ({e}); "
                                 "save it as RGB.") from None
        if mode == "CMYK":
            notes.append(_note("cmyk", "CMYK converted to RGB"))
        im = converted
    return np.asarray(im), notes


def _exif_orientation(im: Image.Image) -> int | None:
    try:
        return im.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - unreadable EXIF: treat as no orientation
        return None


def _high_depth_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit / 32-bit int / float greyscale -> uint8, keeping the full tonal range.

    16-bit data (mode I;16*, or I with values in 0..65535 above 255) maps 0..65535 -> 0..255 (divide by 257);
    I data already in 0..255 is kept; floats in [0, 1] are multiplied by 255; anything else is min-max scaled.
    """
    v = values.astype(np.float64)
    if not np.isfinite(v).all():
        raise ImageLoadError("The image holds NaN or infinite pixel values.")
    lo, hi = float(v.min()), float(v.max())
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and 255 < hi <= 65535):
        v = v / 257.0
    elif mode == "I" and lo >= 0 and hi <= 255:
        pass
    elif mode == "F" and lo >= 0 and hi <= 1:
        v = v * 255.0
    elif hi > lo:
        v = (v - lo) / (hi - lo) * 255.0
    else:
        v = np.zeros_like(v)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def _downsize(pixels: np.ndarray, max_side: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
