"""Hostile and odd input on every endpoint of the app, as a public Space receives it: every call gets a specific,
readable answer (never Gradio's generic "upstream app has raised an exception", never our own "Something went
wrong ... error id" for input we can foresee), and the server keeps answering afterwards."""

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

ROOT = Path(__file__).resolve().parents[1]
SHAPE = str(sorted((ROOT / "examples" / "shapes").glob("*.png"))[0])
GENERIC = ("upstream Gradio app has raised an exception", "error id")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)

    def png(name: str, h: int, w: int) -> str:
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(d / name)
        return str(d / name)

    out = {"wide": png("wide.png", 12, 8000), "tall": png("tall.png", 8000, 12), "dot": png("dot.png", 1, 1),
           "thin": png("thin.png", 1, 5000)}
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("this is not an image\n" * 10)
    (d / "page.png").write_text("<html><body><script>alert(1)</script></body></html>")
    (d / "vector.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')
    good = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good, format="PNG")
    (d / "truncated.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    # a PNG header that claims 100000 x 100000 pixels (a decompression bomb), with one tiny IDAT
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    (d / "bomb.png").write_bytes(bomb)
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "notjson.json").write_text("{not json")
    (d / "bad.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with zipfile.ZipFile(d / "nothing.zip", "w") as z:
        z.writestr("readme.txt", "no images, no annotations")
    (d / "preds.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]))
    for name in ("empty.png", "text.png", "page.png", "vector.svg", "truncated.png", "bomb.png", "deep.json",
                 "notjson.json", "bad.zip", "nothing.zip", "preds.json"):
        out[name.split(".")[0]] = str(d / name)
    return out


@pytest.fixture(scope="module")
def app_url(serve):
    import app

    demo = app.build_demo()
    url = serve(demo, **app.launch_settings())
    yield url
    demo.close()


@pytest.fixture
def client(app_url):
    c = Client(app_url, verbose=False)
    yield c
    # the server still answers a normal request after whatever the test sent
    result = c.predict(handle_file(SHAPE), "detr-shapes", 0.5, api_name="/detect")
    assert result[0] is not None


def refused(client: Client, *args, api_name: str, match: str) -> str:
    """Call ``api_name``; it must refuse with a specific message matching ``match`` (a regex, case-insensitive)."""
    with pytest.raises(AppError) as e:
        client.predict(*args, api_name=api_name)
    message = str(e.value)
    assert not any(g in message for g in GENERIC), message
    import re
    assert re.search(match, message, re.IGNORECASE), message
    return message


# -- images of any shape are answered, not refused ------------------------------------------------------------
@pytest.mark.parametrize("shape", ["wide", "tall", "dot", "thin"])
def test_detect_answers_extreme_aspect_ratios(client, files, shape):
    image, _table, summary, *_ = client.predict(handle_file(files[shape]), "detr-shapes", 0.5, api_name="/detect")
    assert image is not None and summary


@pytest.mark.parametrize("shape", ["wide", "tall", "dot"])
def test_rollout_answers_extreme_aspect_ratios(client, files, shape):
    result = client.predict(handle_file(files[shape]), "vit-shapes", "mean", 0.0, "1", api_name="/rollout")
    assert result[0] is not None


def test_match_answers_an_extreme_aspect_ratio(client, files):
    result = client.predict("Your image + boxes", 0, handle_file(files["wide"]), "0 0 0 4000 10", "detr-shapes",
                            1.0, 5.0, 2.0, api_name="/match")
    assert result is not None


# -- files that are not images ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["empty", "text", "page", "vector", "truncated", "bomb"])
@pytest.mark.parametrize("api", ["/detect", "/rollout"])
def test_broken_and_non_image_files_get_their_own_message(client, files, name, api):
    args = (handle_file(files[name]), "detr-shapes", 0.5) if api == "/detect" else \
        (handle_file(files[name]), "vit-shapes", "mean", 0.0, "1")
    refused(client, *args, api_name=api, match=r"image|empty|pixels|format|truncated|file")


# -- values only the API can send ------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [5.0, -0.5, "abc", None])
def test_detect_threshold_out_of_range_or_not_a_number(client, threshold):
    refused(client, handle_file(SHAPE), "detr-shapes", threshold, api_name="/detect", match=r"must be")


def test_detect_refuses_a_classifier_and_an_unknown_model(client):
    refused(client, handle_file(SHAPE), "vit-shapes", 0.5, api_name="/detect", match=r"classifier")
    refused(client, handle_file(SHAPE), "no-such-model", 0.5, api_name="/detect", match=r"unknown model|choose")


@pytest.mark.parametrize("args, match", [
    (("mean", 1.0, "1"), r"must be .*\[0, 1\)"),
    (("mean", -0.1, "1"), r"must be"),
    (("mean", "lots", "1"), r"must be"),
    (("median", 0.0, "1"), r"must be one of"),
    (("mean", 0.0, "99"), r"must be"),
])
def test_rollout_values_are_checked(client, args, match):
    refused(client, handle_file(SHAPE), "vit-shapes", *args, api_name="/rollout", match=match)


def test_rollout_refuses_a_detector(client):
    refused(client, handle_file(SHAPE), "detr-shapes", "mean", 0.0, "1", api_name="/rollout", match=r"detector")


@pytest.mark.parametrize("args, match", [
    (("Shapes validation image", 0, None, "", "vit-shapes", 1.0, 5.0, 2.0), r"classifier"),
    (("Shapes validation image", -3, None, "", "detr-shapes", 1.0, 5.0, 2.0), r"must be"),
    (("Shapes validation image", 10**9, None, "", "detr-shapes", 1.0, 5.0, 2.0), r"must be"),
    (("Shapes validation image", "x", None, "", "detr-shapes", 1.0, 5.0, 2.0), r"must be"),
    (("Shapes validation image", 0, None, "", "detr-shapes", -5.0, 5.0, 2.0), r"must be"),
    (("Shapes validation image", 0, None, "", "detr-shapes", 1.0, "five", 2.0), r"must be"),
    (("Somewhere else", 0, None, "", "detr-shapes", 1.0, 5.0, 2.0), r"must be one of"),
])
def test_match_values_are_checked(client, args, match):
    refused(client, *args, api_name="/match", match=match)


@pytest.mark.parametrize("gt", ["", "circle 1 2", "0 0 0 x 10", "9999 0 0 10 10", "0 10 10 5 5", "[" * 5000])
def test_match_ground_truth_text_errors_are_specific(client, gt):
    refused(client, "Your image + boxes", 0, handle_file(SHAPE), gt, "detr-shapes", 1.0, 5.0, 2.0,
            api_name="/match", match=r"box|class|line|number|ground truth|object")


def test_match_without_an_image(client):
    refused(client, "Your image + boxes", 0, None, "0 0 0 10 10", "detr-shapes", 1.0, 5.0, 2.0,
            api_name="/match", match=r"image")


# -- evaluation data ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, match", [
    ("deep", r"nested|deep"),
    ("notjson", r"json"),
    ("empty", r"empty|json|annotations|file"),
    ("bad", r"zip"),
    ("nothing", r"annotations|images|found|data set|dataset"),
])
def test_evaluate_bad_data_sets_are_named(client, files, name, match):
    refused(client, [handle_file(files[name])], [handle_file(files["preds"])], 0.5, 0.3, "",
            api_name="/evaluate", match=match)


@pytest.mark.parametrize("iou, score", [(2.0, 0.3), (0.5, "x"), (-1, 0.3)])
def test_evaluate_thresholds_are_checked(client, files, iou, score):
    refused(client, [handle_file(files["preds"])], [handle_file(files["preds"])], iou, score, "",
            api_name="/evaluate", match=r"must be")


def test_evaluate_refuses_a_classifier(client, files):
    refused(client, [handle_file(files["preds"])], [], 0.5, 0.3, "vit-shapes", api_name="/evaluate",
            match=r"classifier|detector|choose")


# -- training --------------------------------------------------------------------------------------------------
TRAIN = dict(kind_v="detr", preset_v="tiny", source_v="Generated shapes", upload_v=None, length_v=300,
             unit_v="steps", lr_v=2e-4, batch_v=8, snap_v=25)


@pytest.mark.parametrize("change, match", [
    ({"kind_v": "cnn"}, r"must be one of"),
    ({"preset_v": "huge"}, r"must be one of"),
    ({"length_v": -5}, r"must be"),
    ({"length_v": "long"}, r"must be"),
    ({"length_v": 1e12}, r"must be"),
    ({"lr_v": 0.0}, r"must be"),
    ({"lr_v": "fast"}, r"must be"),
    ({"batch_v": 0}, r"must be"),
    ({"batch_v": 100000}, r"must be"),
    ({"unit_v": "hours"}, r"must be one of"),
])
def test_train_values_are_checked_before_anything_starts(client, change, match):
    before = set(Path("/tmp").glob("cvdemo-train-*"))
    refused(client, *{**TRAIN, **change}.values(), api_name="/train", match=match)
    assert set(Path("/tmp").glob("cvdemo-train-*")) <= before  # a refused run leaves no folder


def test_train_bad_zips_are_named(client, files):
    for name in ("bad", "nothing", "deep"):
        args = {**TRAIN, "source_v": "My COCO zip", "upload_v": handle_file(files[name])}
        refused(client, *args.values(), api_name="/train", match=r"zip|annotations|images|json|data")


def test_save_and_push_without_a_run_say_so(client):
    refused(client, "my-model", api_name="/save_model", match=r"train|run|nothing")
    refused(client, "someone/model", "", True, api_name="/push_to_hub", match=r"token|train|save|run")
