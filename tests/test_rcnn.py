"""R-CNN (cvdemo.models.rcnn) and selective search (cvdemo.models.selective_search): proposals, the family contract,
every stage of `inspect`, save -> load, the shipped checkpoints/rcnn-shapes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

import cvdemo.models
from cvdemo.models import CheckpointError
from cvdemo.models.loading import family_modules
from cvdemo.models.rcnn import MODEL_TYPE, RCNN, RCNNConfig, context_boxes_xyxy, from_config_dict
from cvdemo.models.selective_search import selective_search_xyxy
from cvdemo.models.vit import ViT, ViTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "rcnn-shapes"
SHIPPED_TEST_IMAGES = 60  # the first of the card's evaluation images (seed 777)
LABELS = {0: "circle", 1: "square", 2: "triangle"}
RECTANGLES = np.array([[10, 20, 50, 70], [70, 30, 120, 80]], np.float32)  # xyxy in a 96 x 128 (h x w) image


def two_rectangles(scale: int = 1) -> np.ndarray:
    """uint8 [96 * scale, 128 * scale, 3]: two flat rectangles (RECTANGLES * scale) on a flat background."""
    image = np.full((96, 128, 3), (200, 200, 190), np.uint8)
    image[20:70, 10:50] = (200, 30, 30)
    image[30:80, 70:120] = (30, 40, 200)
    return np.kron(image, np.ones((scale, scale, 1), np.uint8)) if scale > 1 else image


def tiny(**overrides) -> RCNN:
    """An R-CNN around a random 32 px ViT; a threshold below 1/3 so that its guesses become detections."""
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=32, patch_size=8, num_classes=3, embed_dim=32, depth=1, num_heads=2,
                        id2label=LABELS))
    options = {"context_padding": 4, "score_threshold": 0.2, "max_proposals": 40, **overrides}
    return RCNN.from_classifier(vit, **options).eval()


def images() -> list[torch.Tensor]:
    """A batch of non-square float [3, H, W] images in [0, 1]: 96 x 128 and 80 x 60."""
    second = two_rectangles()[8:88, 40:100]
    return [torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255 for a in (two_rectangles(), second)]


def test_selective_search_covers_flat_rectangles_with_boxes_inside_the_image():
    boxes = selective_search_xyxy(two_rectangles(), "fast")
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 0
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= 128).all() and (boxes[:, 3] <= 96).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    best = box_iou(torch.from_numpy(RECTANGLES), torch.from_numpy(boxes)).max(dim=1).values
    assert (best >= 0.7).all(), best


def test_selective_search_is_reproducible_and_capped():
    first = selective_search_xyxy(two_rectangles(), "quality")
    assert np.array_equal(first, selective_search_xyxy(two_rectangles(), "quality"))  # its ranking is seeded
    capped = selective_search_xyxy(two_rectangles(), "quality", max_proposals=5)
    assert np.array_equal(capped, first[:5])
    large = selective_search_xyxy(two_rectangles(), "quality", min_box_side=45)
    assert (large[:, 2:] - large[:, :2] >= 45).all() and len(large) < len(first)
    with pytest.raises(ValueError, match="mode"):
        selective_search_xyxy(two_rectangles(), "slow")
    with pytest.raises(ValueError, match="uint8"):
        selective_search_xyxy(two_rectangles().astype(np.float32), "fast")


def test_selective_search_downscales_large_images_and_maps_boxes_back():
    big = two_rectangles(scale=4)  # 384 x 512; INTER_AREA to 128 px gives back exactly the small image
    boxes = selective_search_xyxy(big, "fast", max_side=128)
    np.testing.assert_array_equal(boxes, 4 * selective_search_xyxy(two_rectangles(), "fast"))
    assert (boxes[:, 2] <= 512).all() and (boxes[:, 3] <= 384).all()
    best = box_iou(torch.from_numpy(4 * RECTANGLES), torch.from_numpy(boxes)).max(dim=1).values
    assert (best >= 0.7).all(), best


def test_context_boxes_leave_the_padding_around_the_box_once_warped():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # 20 x 40
    out = context_boxes_xyxy(boxes, (32, 32), padding=4)  # the box must fill 24 of the 32 warped pixels
    torch.testing.assert_close(out, torch.tensor([[20 - 40 / 3, 40 - 80 / 3, 20 + 40 / 3, 40 + 80 / 3]]))


def test_eval_forward_follows_the_family_contract_on_non_square_images():
    model = tiny()
    batch = images()
    with torch.no_grad():
        results = model(batch)
    assert len(results) == len(batch)
    for image, r in zip(batch, results):
        assert set(r) == {"boxes", "labels", "scores"}
        n = len(r["scores"])
        assert n > 0 and r["boxes"].shape == (n, 4) and r["labels"].dtype == torch.int64
        assert ((r["labels"] >= 0) & (r["labels"] < 3)).all()
        assert (r["scores"] > 0.2).all() and (r["scores"].diff() <= 0).all()
        h, w = image.shape[1:]
        assert (r["boxes"] >= 0).all() and (r["boxes"][:, 2] <= w).all() and (r["boxes"][:, 3] <= h).all()


def test_inspect_counts_agree_and_its_detections_are_the_forwards():
    model = tiny()
    batch = images()
    with torch.no_grad():
        results = model(batch)
    for r, forward in zip(model.inspect(batch), results):
        p = r["num_proposals"]
        assert 0 < p <= 40 and r["classifier_passes"] == p  # one classifier pass per proposal, after the cap
        assert r["proposals"].shape == r["crop_boxes"].shape == (p, 4) and r["crop_size"] == (32, 32)
        probs = r["proposal_class_probs"]
        assert probs.shape == (p, 3)
        torch.testing.assert_close(probs.sum(-1), torch.ones(p))
        assert set(r["timings_ms"]) == {"proposals", "classifier", "nms"}
        assert all(v >= 0 for v in r["timings_ms"].values())
        before = r["detections_before_nms"]
        assert len(before["scores"]) == int((probs > 0.2).sum()) >= len(forward["scores"])
        for key in ("boxes", "labels", "scores"):
            torch.testing.assert_close(r["detections"][key], forward[key])


def test_lower_nms_iou_never_keeps_more_boxes():
    model = tiny(max_proposals=2000)
    batch = images()
    for low, mid, high in zip(model.inspect(batch, nms_iou=0.1), model.inspect(batch, nms_iou=0.5),
                              model.inspect(batch, nms_iou=0.9)):
        counts = [len(r["detections"]["scores"]) for r in (low, mid, high)]
        assert counts == sorted(counts) and counts[0] < len(high["detections_before_nms"]["scores"]), counts
    strict = model.inspect(batch, score_threshold=0.5)
    loose = model.inspect(batch, score_threshold=0.0)
    assert all(len(s["detections_before_nms"]["scores"]) <= len(x["detections_before_nms"]["scores"])
               for s, x in zip(strict, loose))


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = tiny()
    cvdemo.models.save(model, tmp_path)
    assert all(k.startswith("classifier.") for k in model.state_dict())
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE == "cvdemo-rcnn" and config["classifier"]["model_type"] == "cvdemo-vit"
    loaded = cvdemo.models.load(tmp_path)
    assert isinstance(loaded, RCNN) and not loaded.training
    assert loaded.config.to_dict() == model.config.to_dict() == from_config_dict(config).config.to_dict()
    with torch.no_grad():
        for a, b in zip(model(images()), loaded(images())):
            for key in ("boxes", "labels", "scores"):
                torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert MODEL_TYPE in family_modules()


def test_a_corrupted_checkpoint_gives_a_clear_error(tmp_path):
    cvdemo.models.save(tiny(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        cvdemo.models.load(tmp_path)


def test_training_mode_raises_because_the_classifier_is_trained_apart():
    model = tiny().train()
    with pytest.raises(RuntimeError, match="inference-only"):
        model(images(), [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}] * 2)


def test_config_checks_say_what_is_wrong():
    vit = ViTConfig(image_size=32, patch_size=8, num_classes=3, embed_dim=32, depth=1, num_heads=2).to_dict()
    with pytest.raises(ValueError, match="classifier"):
        RCNNConfig(num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        RCNNConfig(num_classes=4, classifier=vit)
    with pytest.raises(ValueError, match="context_padding"):
        RCNNConfig(num_classes=3, classifier=vit, context_padding=16)
    with pytest.raises(ValueError, match="proposal_mode"):
        RCNNConfig(num_classes=3, classifier=vit, proposal_mode="slow")


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="checkpoints/rcnn-shapes is not built")
def test_shipped_rcnn_reaches_its_cards_ap_on_fresh_shapes():
    from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset
    from cvdemo.training.family_detection import FamilyDetectionTask

    card = json.loads((SHIPPED / "metrics.json").read_text())
    model = cvdemo.models.load(SHIPPED)
    assert isinstance(model, RCNN) and model.config.score_threshold == card["score_threshold"]
    assert (SHIPPED / "model.safetensors").stat().st_size <= 10 * 2**20
    val = ShapesDataset(SHIPPED_TEST_IMAGES, card["eval_seed"], SHARED_SHAPES)  # the first of the card's images
    metrics, _ = FamilyDetectionTask(model.config).evaluate(model, val, torch.device("cpu"))
    assert metrics["AP"] == pytest.approx(card["AP"], abs=0.05), (metrics, card)

