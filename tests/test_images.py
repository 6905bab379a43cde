"""cvdemo.images.load_image: every kind of upload becomes upright RGB uint8, or a specific ImageLoadError.

Expected pixels come from the definitions (EXIF orientation table, alpha compositing formula, 16-bit to 8-bit
scaling, pure CMYK primaries), never from the loader's own earlier output.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from cvdemo.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, load_image_rgb

RNG = np.random.default_rng(0)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def random_rgb(h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb never needs real pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------- decoding, by definition

def test_rgb_png_is_exact_from_path_bytes_and_file_object(tmp_path):
    pixels = random_rgb(17, 23)
    data = encode(Image.fromarray(pixels), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for source in (path, str(path), data, io.BytesIO(data)):
        out = load_image_rgb(source)
        assert out.dtype == np.uint8 and out.shape == (17, 23, 3) and out.flags.writeable
        np.testing.assert_array_equal(out, pixels)


# EXIF orientation tag -> how to undo it (EXIF 2.3, tag 0x0112), written directly with numpy
EXIF_UNDO = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored horizontally
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.transpose(1, 0, 2),  # transpose
    6: lambda a: np.rot90(a, -1),  # stored rotated 90 counter-clockwise: turn clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # transverse
    8: lambda a: np.rot90(a, 1),  # stored rotated 90 clockwise: turn counter-clockwise
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    stored = random_rgb(6, 10)  # not square, so a missed rotation changes the shape
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(stored), "PNG", exif=exif.tobytes())
    result = load_image(data)
    np.testing.assert_array_equal(result.pixels, EXIF_UNDO[orientation](stored))
    assert result.original_size == (6, 10)
    assert any("EXIF" in str(note) for note in result.notes) == (orientation != 1)


def test_exif_orientation_in_jpeg():
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:, :40] = (255, 0, 0)  # left half red, right half black
    exif = Image.Exif()
    exif[0x0112] = 6
    out = load_image_rgb(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == (80, 40, 3)  # upright: the red half is now on top
    assert out[:30, :, 0].mean() > 200 and out[50:, :, 0].mean() < 50


def test_16_bit_greyscale_keeps_its_tonal_range():
    ramp = (np.arange(64 * 1024, dtype=np.uint32).reshape(64, 1024)).astype(np.uint16)  # 0..65535
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    data = encode(image, "PNG")
    naive = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert (naive == 255).mean() > 0.99  # a plain convert("RGB") clips 16-bit values: almost all white
    out = load_image_rgb(data)
    expected = np.rint(ramp.astype(np.float64) / 257).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    assert len(np.unique(out)) == 256


def test_float_and_32_bit_tiff_greyscale():
    values = RNG.random((8, 9)).astype(np.float32)  # in [0, 1)
    out = load_image_rgb(encode(Image.fromarray(values, mode="F"), "TIFF"))
    np.testing.assert_array_equal(out[..., 1], np.rint(values.astype(np.float64) * 255).astype(np.uint8))
    ints = RNG.integers(-5000, 5000, (8, 9)).astype(np.int32)  # signed: min-max scaled
    out = load_image_rgb(encode(Image.fromarray(ints, mode="I"), "TIFF"))
    v = ints.astype(np.float64)
    expected = np.rint((v - v.min()) / (v.max() - v.min()) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)


def composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255
    return np.rint(rgb.astype(np.float64) * a + 255 * (1 - a)).astype(np.uint8)


def test_rgba_is_flattened_onto_white():
    rgb, alpha = random_rgb(12, 14), RNG.integers(0, 256, (12, 14), dtype=np.uint8)
    alpha[0, 0], alpha[0, 1] = 0, 255
    rgba = np.dstack([rgb, alpha])
    result = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(result.pixels, composite_on_white(rgb, alpha))
    np.testing.assert_array_equal(result.pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(result.pixels[0, 1], rgb[0, 1])
    assert any("transparent" in str(n) for n in result.notes)


def test_la_and_palette_transparency_onto_white():
    grey, alpha = RNG.integers(0, 256, (5, 7), dtype=np.uint8), RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    out = load_image_rgb(encode(Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG"))
    np.testing.assert_array_equal(out, composite_on_white(np.dstack([grey] * 3), alpha))

    palette_image = Image.new("P", (4, 3))
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, 1 blue
    palette_image.putdata([0, 1, 1, 0] * 3)
    for fmt in ("PNG", "GIF"):
        out = load_image_rgb(encode(palette_image, fmt, transparency=0))  # red = transparent
        assert out.shape == (3, 4, 3)
        np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
        np.testing.assert_array_equal(out[0, 1], [0, 0, 255])


def test_greyscale_and_bilevel_become_three_equal_channels():
    grey = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    out = load_image_rgb(encode(Image.fromarray(grey), "PNG"))
    np.testing.assert_array_equal(out, np.dstack([grey] * 3))
    bits = RNG.random((9, 11)) > 0.5
    out = load_image_rgb(encode(Image.fromarray(bits), "PNG"))
    np.testing.assert_array_equal(out[..., 0], np.where(bits, 255, 0))


def test_cmyk_converts_to_rgb():
    # pure inks: cyan, magenta, yellow, black, white paper -> their RGB colours by definition
    inks = np.array([[[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]]],
                    np.uint8)
    expected = np.array([[[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0], [255, 255, 255]]], np.uint8)
    result = load_image(encode(Image.fromarray(inks, "CMYK"), "TIFF"))
    np.testing.assert_array_equal(result.pixels, expected)
    assert "CMYK converted to RGB" in [str(n) for n in result.notes]

    big = np.repeat(np.repeat(inks, 16, axis=0), 16, axis=1)  # JPEG: lossy, so compare block means
    out = load_image_rgb(encode(Image.fromarray(big, "CMYK"), "JPEG", quality=95))
    means = out.reshape(16, 5, 16, 3).mean(axis=(0, 2))
    np.testing.assert_allclose(means, expected[0], atol=12)


def test_notes_are_messages_the_app_words_in_both_languages():
    from cvdemo.ui.errors import translate

    image = Image.fromarray(RNG.integers(0, 255, (30, 2400, 3), dtype=np.uint8))
    result = load_image(encode(image, "PNG"), max_side=800)
    (note,) = result.notes
    assert note.key == "shared.image_downsized" and note.fields == {"w0": 2400, "h0": 30, "w": 800, "h": 10}
    assert translate(note, "en") == str(note) == "downsized from 2400×30 to 800×10"
    assert translate(note, "zh-CN") == "已从 2400×30 缩小到 800×10"


def test_animated_gif_and_webp_give_the_first_frame():
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    for fmt in ("GIF", "WEBP"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, loop=0,
                      **({"lossless": True} if fmt == "WEBP" else {}))
        result = load_image(data)
        assert result.pixels.shape == (6, 8, 3)
        np.testing.assert_allclose(result.pixels.reshape(-1, 3).mean(0), [255, 0, 0], atol=2)
        assert any("3 frames" in str(n) for n in result.notes)


def test_bmp_and_webp_decode():
    pixels = random_rgb(10, 12)
    np.testing.assert_array_equal(load_image_rgb(encode(Image.fromarray(pixels), "BMP")), pixels)
    webp = encode(Image.fromarray(pixels), "WEBP", lossless=True)
    np.testing.assert_array_equal(load_image_rgb(webp), pixels)


# ---------------------------------------------------------------- size limits and downsizing

def test_decompression_bomb_is_refused_with_its_size():
    with pytest.raises(ImageLoadError, match=r"Image is 24000×24000 pixels; the limit is 64 megapixels"):
        load_image(png_header_only(24000, 24000))  # past Pillow's own hard limit
    with pytest.raises(ImageLoadError, match=r"Image is 9000×8000 pixels; the limit is 64 megapixels"):
        load_image(png_header_only(9000, 8000))  # under Pillow's limit, over ours
    assert DEFAULT_MAX_PIXELS == 64_000_000


def test_pixel_limit_is_a_parameter():
    data = encode(Image.fromarray(random_rgb(20, 30)), "PNG")
    with pytest.raises(ImageLoadError, match="30×20 pixels; the limit is 0.0005 megapixels"):
        load_image(data, max_pixels=500)
    assert load_image(data, max_pixels=600).size == (20, 30)


def test_file_size_limit(tmp_path):
    data = encode(Image.fromarray(random_rgb(40, 40)), "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)
    for source in (path, data, io.BytesIO(data)):
        with pytest.raises(ImageLoadError, match="limit"):
            load_image(source, max_bytes=1000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_images_are_downsized_keeping_the_aspect_ratio(fmt):
    pixels = np.zeros((900, 2400, 3), np.uint8)
    pixels[:, :1200] = (250, 20, 20)  # left half red, right half blue
    pixels[:, 1200:] = (20, 20, 250)
    result = load_image(encode(Image.fromarray(pixels), fmt), max_side=800)
    assert result.size == (300, 800)
    assert result.original_size == (900, 2400)
    assert any("downsized from 2400×900 to 800×300" in str(n) for n in result.notes)
    np.testing.assert_allclose(result.pixels[:, :380].reshape(-1, 3).mean(0), [250, 20, 20], atol=6)
    np.testing.assert_allclose(result.pixels[:, 420:].reshape(-1, 3).mean(0), [20, 20, 250], atol=6)
    assert load_image(encode(Image.fromarray(pixels), fmt), max_side=5000).size == (900, 2400)


# ---------------------------------------------------------------- refusals with specific messages

@pytest.mark.parametrize("content, message", [
    (b"", "The file is empty"),
    (b"<!DOCTYPE html>\n<html><head><title>Not found</title></head><body>404</body></html>",
     r"This file is not an image \(got HTML text\)"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
     r"This file is not an image \(got an SVG drawing"),
    (b"just some notes\nabout a picture\n", r"This file is not an image \(got plain text\)"),
    (b'{"image": "cat.png"}', r"This file is not an image \(got JSON text\)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", r"This file is not an image \(got a PDF document\)"),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", r"This file is not an image \(got a ZIP archive"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC/HEIF format, which is not accepted"),
    (bytes(range(256)) * 4, "its contents are not recognised"),
])
def test_non_images_are_named(content, message):
    with pytest.raises(ImageLoadError, match=message):
        load_image(content)


@pytest.mark.parametrize("fmt, name", [("PPM", "PNM"), ("ICO", "ICO"), ("PCX", "PCX")])
def test_other_image_formats_are_refused_by_name(fmt, name):
    data = encode(Image.fromarray(random_rgb(16, 16)), fmt)
    with pytest.raises(ImageLoadError, match=rf"This image is in {name}.* format, which is not accepted; "
                                             r"convert it to PNG, JPEG, WebP, GIF, BMP or TIFF"):
        load_image(data)


def test_formats_restriction():
    jpeg = encode(Image.fromarray(random_rgb(16, 16)), "JPEG")
    with pytest.raises(ImageLoadError, match="in JPEG format, which is not accepted; convert it to PNG"):
        load_image(jpeg, formats=["PNG"])
    assert load_image(jpeg, formats=["jpeg"]).format == "JPEG"
    with pytest.raises(ValueError, match="unknown"):
        load_image(jpeg, formats=["NOT-A-FORMAT"])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
def test_truncated_files_are_errors(fmt):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = encode(Image.fromarray(random_rgb(64, 64)), fmt)
    with pytest.raises(ImageLoadError, match="truncated or corrupted"):
        load_image(data[: len(data) * 2 // 3])


def test_corrupted_header():
    data = bytearray(encode(Image.fromarray(random_rgb(8, 8)), "PNG"))
    data[20:28] = b"\xff" * 8  # garbage width/height in IHDR
    with pytest.raises(ImageLoadError, match="corrupted"):
        load_image(bytes(data))


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="No image file at"):
        load_image(tmp_path / "nope.png")


# ---------------------------------------------------------------- one loader for every path (issue 12)

def awkward_files(folder: Path) -> dict[str, Path]:
    """Files whose decoding depends on the rules: EXIF rotation, 16-bit, transparency, palette, CMYK."""
    stored = random_rgb(6, 10)
    exif = Image.Exif()
    exif[0x0112] = 6
    ramp = (np.arange(32 * 64, dtype=np.uint32).reshape(32, 64) * 31).astype(np.uint16)
    rgba = np.dstack([random_rgb(9, 7), RNG.integers(0, 256, (9, 7), dtype=np.uint8)])
    images = {"rotated.jpg": (Image.fromarray(stored), "JPEG", {"exif": exif.tobytes(), "quality": 95}),
              "deep16.png": (Image.fromarray(ramp), "PNG", {}),
              "alpha.png": (Image.fromarray(rgba, "RGBA"), "PNG", {}),
              "palette.gif": (Image.fromarray(random_rgb(8, 8)).convert("P"), "GIF", {}),
              "cmyk.tif": (Image.fromarray(random_rgb(5, 6)).convert("CMYK"), "TIFF", {})}
    paths = {}
    for name, (image, fmt, kwargs) in images.items():
        paths[name] = folder / name
        paths[name].write_bytes(encode(image, fmt, **kwargs))
    return paths


def test_the_same_file_decodes_identically_on_every_path(tmp_path):
    """The app's uploads, the predict CLI, training data, the Evaluate tab's viewer and YOLO's size reading all
    go through `cvdemo.images`: the same pixels (and the same shown size) from each."""
    import json

    from cvdemo.datasets.folder import LoadedDataset
    from cvdemo.datasets.structure import Category, Detections, GroundTruth, ImageInfo
    from cvdemo.images import image_size, load_image_file
    from cvdemo.metrics.browse import EvaluationBrowser
    from cvdemo.training.data import CocoFolderDataset
    from cvdemo.ui.evaluation_viewer import DISPLAY_SIDE, render_image
    from cvdemo.ui.uploads import load_upload

    files = awkward_files(tmp_path)
    infos = [ImageInfo(i, name, 0, 0) for i, name in enumerate(files, 1)]
    gt = GroundTruth(infos, [Category(1, "thing")], ann_ids=list(range(1, len(infos) + 1)),
                     image_ids=[i.id for i in infos], category_ids=[1] * len(infos),
                     boxes_xywh=[[0, 0, 2, 2]] * len(infos), areas=[4] * len(infos))
    (tmp_path / "ann.json").write_text(json.dumps(gt.to_coco_dict()))
    training = CocoFolderDataset(tmp_path, tmp_path / "ann.json")
    browser = EvaluationBrowser(tmp_path / "eval", LoadedDataset(gt, "COCO json", {i.id: files[i.file_name]
                                                                                  for i in infos}),
                                Detections.empty())
    a = browser.assignment(0.5, 0.0)
    for k, (name, path) in enumerate(files.items()):
        reference = load_image(path).pixels
        assert load_image_file(path).tobytes() == reference.tobytes(), name  # predict CLI
        assert load_upload({"path": str(path)}).pixels.tobytes() == reference.tobytes(), name  # app uploads
        pixels, _ = training[k]  # training data, [3, H, W] uint8
        np.testing.assert_array_equal(pixels.permute(1, 2, 0).numpy(), reference, err_msg=name)
        assert image_size(path) == (reference.shape[1], reference.shape[0]), name  # YOLO's size reading
        drawn, scale, note = render_image(browser, infos[k].id, a)  # the Evaluate tab's viewer, scaled for display
        assert note == "" and drawn.shape[:2] == (round(reference.shape[0] * scale), round(reference.shape[1] * scale))
        assert max(drawn.shape[:2]) == DISPLAY_SIDE


def test_data_set_images_name_their_file_on_errors(tmp_path):
    from cvdemo.images import image_size, load_image_file

    (tmp_path / "broken.png").write_bytes(encode(Image.fromarray(random_rgb(32, 32)), "PNG")[:20])  # cut header
    for read in (load_image_file, image_size):
        with pytest.raises(ImageLoadError, match=r"broken\.png: "):
            read(tmp_path / "broken.png")
        with pytest.raises(ImageLoadError, match=r"missing\.png: no such image file"):
            read(tmp_path / "missing.png")
    (tmp_path / "page.png").write_text("<html><body>404</body></html>")
    with pytest.raises(ImageLoadError, match=r"page\.png: This file is not an image \(got HTML text\)"):
        image_size(tmp_path / "page.png")


def test_loading_never_changes_pillows_global_state(tmp_path):
    """No module sets Pillow's limits (our pixel limit is an argument), on import or on load, on any path."""
    import importlib
    import warnings

    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    for name in ("cvdemo.images", "cvdemo.predict", "cvdemo.training.data", "cvdemo.training.cli",
                 "cvdemo.datasets.yolo", "cvdemo.ui.uploads", "cvdemo.ui.evaluation_viewer"):
        importlib.import_module(name)
    from cvdemo.images import image_size, load_image_file

    for path in awkward_files(tmp_path).values():
        load_image(path)
        load_image_file(path, max_side=4)
        image_size(path)
    with pytest.raises(ImageLoadError, match="9000×8000 pixels; the limit is 64 megapixels"):
        load_image(png_header_only(9000, 8000))
    with pytest.raises(ImageLoadError, match="the limit is 1e-05 megapixels"):
        load_image(encode(Image.fromarray(random_rgb(20, 30)), "PNG"), max_pixels=10)
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == before
    assert not (Path(__file__).parents[1] / "cvdemo" / "training" / "image_files.py").exists()


def test_image_load_error_is_a_user_error():
    from cvdemo.messages import UserError

    with pytest.raises(UserError, match="The file is empty"):
        load_image(b"")
    assert issubclass(ImageLoadError, ValueError)  # callers that catch ValueError still do
