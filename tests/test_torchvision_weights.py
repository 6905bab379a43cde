"""torchvision's COCO weights path (cvdemo.models.torchvision_weights), offline: a torchvision model with random
weights is saved as a state dict, loaded through our path, and must detect exactly as torchvision's own model."""

import pytest
import torch
from torchvision.models import detection
from torchvision.ops.misc import FrozenBatchNorm2d

from cvdemo.models import CheckpointError
from cvdemo.models import torchvision_weights as tvw
from cvdemo.models.faster_rcnn import FasterRCNN
from cvdemo.models.retinanet import RetinaNet
from cvdemo.models.ssd import SSD, SSD_PRESETS, SSDConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FASTER_RCNN = "FasterRCNN_ResNet50_FPN_Weights.COCO_V1"
SSD300 = "SSD300_VGG16_Weights.COCO_V1"
RETINANET = "RetinaNet_ResNet50_FPN_Weights.COCO_V1"


def image() -> list[torch.Tensor]:
    return [torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(2))]


def random_faster_rcnn():
    torch.manual_seed(0)
    model = detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    with torch.no_grad():  # a random classifier is near uniform over 91 classes (scores < 0.05): sharpen it
        model.roi_heads.box_predictor.cls_score.weight.mul_(30)
    return model


def smaller_inputs(*models) -> None:
    """Both models resize to 320 px instead of 800 (the same change on both): an R50 at 800 px takes seconds."""
    for model in models:
        model.transform.min_size, model.transform.max_size = (320,), 533


def assert_same_detections(theirs, ours, images) -> None:
    with torch.no_grad():
        expected, got = theirs(images), ours(images)
    for want, have in zip(expected, got):
        real = want["labels"] > 0  # torchvision's background column 0 (only RetinaNet's sigmoid can pick it)
        want = {k: v[real] for k, v in want.items()}
        assert len(want["scores"]) > 0
        assert torch.equal(have["boxes"], want["boxes"])
        assert torch.equal(have["scores"], want["scores"])
        assert torch.equal(have["labels"], want["labels"] - 1)  # cvdemo's class k is torchvision's label k+1


def test_a_random_torchvision_faster_rcnn_loads_and_detects_identically(tmp_path):
    theirs = random_faster_rcnn()
    torch.save(theirs.state_dict(), tmp_path / "fasterrcnn.pth")
    ours = tvw.load_torchvision_weights(FASTER_RCNN, tmp_path / "fasterrcnn.pth")
    assert isinstance(ours, FasterRCNN) and not ours.training
    assert (ours.transform.min_size, ours.transform.max_size) == (theirs.transform.min_size, theirs.transform.max_size)
    smaller_inputs(theirs, ours)
    assert_same_detections(theirs, ours, image())


def test_a_random_torchvision_retinanet_loads_and_detects_identically(tmp_path):
    torch.manual_seed(0)
    theirs = detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None).eval()
    with torch.no_grad():  # torchvision's prior (sigmoid 0.01) leaves a random model without detections
        theirs.head.classification_head.cls_logits.bias.zero_()
    torch.save(theirs.state_dict(), tmp_path / "retinanet.pth")
    ours = tvw.load_torchvision_weights(RETINANET, tmp_path / "retinanet.pth")
    assert isinstance(ours, RetinaNet) and not ours.training
    smaller_inputs(theirs, ours)
    assert_same_detections(theirs, ours, image())


def test_a_random_torchvision_ssd300_loads_and_detects_identically(tmp_path):
    torch.manual_seed(0)
    theirs = detection.ssd300_vgg16(weights=None, weights_backbone=None).eval()
    torch.save(theirs.state_dict(), tmp_path / "ssd300.pth")
    ours = tvw.load_torchvision_weights(SSD300, tmp_path / "ssd300.pth")
    assert isinstance(ours, SSD) and not ours.training
    assert_same_detections(theirs, ours, image())


def test_the_download_path_is_torch_hubs_with_weights_only(tmp_path, monkeypatch):
    state = random_faster_rcnn().state_dict()
    calls = []

    def fake_load_state_dict_from_url(url, **kwargs):
        calls.append((url, kwargs))
        return state

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_load_state_dict_from_url)
    model = tvw.load_torchvision_weights(FASTER_RCNN)
    url, kwargs = calls[0]
    assert url == detection.FasterRCNN_ResNet50_FPN_Weights.COCO_V1.url
    assert kwargs["weights_only"] is True and kwargs["check_hash"] is True
    assert isinstance(model, FasterRCNN)



def test_a_torchvision_source_loads_through_cvdemo_load_and_the_registry(monkeypatch):
    from cvdemo.models import load
    from cvdemo.models.registry import ModelRegistry, ModelSpec, ModelUnavailableError

    state = random_faster_rcnn().state_dict()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kwargs: state)
    model = load(f"torchvision:{FASTER_RCNN}")
    assert isinstance(model, FasterRCNN) and not model.training
    spec = ModelSpec("frcnn-coco", f"torchvision:{FASTER_RCNN}", "family")
    registry = ModelRegistry([spec], device="cpu")
    assert spec.from_hub and registry.unavailable_reason("frcnn-coco") is None
    assert isinstance(registry.get("frcnn-coco"), FasterRCNN)

    def offline(url, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ModelUnavailableError, match="state_dict_file"):
        ModelRegistry([spec], device="cpu").get("frcnn-coco")

def test_an_unreachable_download_says_how_to_load_offline(monkeypatch):
    def offline(url, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(CheckpointError, match="state_dict_file"):
        tvw.load_torchvision_weights(SSD300)


def test_coco_labels_keep_the_real_categories_with_category_id_k_plus_1(tmp_path):
    state = random_faster_rcnn().state_dict()
    torch.save(state, tmp_path / "f.pth")
    config = tvw.load_torchvision_weights(FASTER_RCNN, tmp_path / "f.pth").config
    categories = detection.FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    assert config.num_classes == 90 and len(config.id2label) == 80 and "N/A" not in config.id2label.values()
    assert config.id2label[0] == "person" and config.id2label[89] == "toothbrush"
    assert all(categories[tvw.coco_category_id(k)] == name for k, name in config.id2label.items())


def test_a_state_dict_without_batchnorm_counters_builds_torchvisions_frozen_batchnorm(tmp_path):
    """torchvision's COCO models use FrozenBatchNorm2d, with eps 0.0 for FasterRCNN_ResNet50_FPN_Weights.COCO_V1."""
    state = {k: v for k, v in random_faster_rcnn().state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "frozen.pth")
    model = tvw.load_torchvision_weights(FASTER_RCNN, tmp_path / "frozen.pth")
    frozen = [m for m in model.backbone.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert len(frozen) == 53 and all(m.eps == 0.0 for m in frozen)  # ResNet-50: stem + 16 blocks x 3 + 4 downsample
    assert model.config.frozen_batchnorm and model.config.frozen_batchnorm_eps == 0.0
    with torch.no_grad():  # close to the BatchNorm2d model (eps 1e-5 vs 0.0), not equal
        theirs = random_faster_rcnn()
        smaller_inputs(theirs, model)
        x = image()[0][None]
        ours_map, their_map = model.backbone(x)["0"], theirs.backbone(x)["0"]
        assert (ours_map - their_map).abs().max() < 1e-3 * their_map.abs().max()


def test_a_truncated_file_gives_a_clear_error(tmp_path):
    torch.save(random_faster_rcnn().state_dict(), tmp_path / "fasterrcnn.pth")
    data = (tmp_path / "fasterrcnn.pth").read_bytes()
    (tmp_path / "fasterrcnn.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        tvw.load_torchvision_weights(FASTER_RCNN, tmp_path / "fasterrcnn.pth")


def test_a_state_dict_of_another_architecture_gives_a_clear_error(tmp_path):
    torch.save(SSD(SSDConfig(**SSD_PRESETS["tiny"])).state_dict(), tmp_path / "ssd.pth")
    with pytest.raises(CheckpointError, match="(?s)does not fit FasterRCNN.*missing keys: backbone.body.*unexpected "
                                              "keys: backbone.extra"):
        tvw.load_torchvision_weights(FASTER_RCNN, tmp_path / "ssd.pth")


def test_a_pickle_that_is_not_a_state_dict_is_refused(tmp_path):
    torch.save({"model": {"layer.weight": torch.zeros(1)}, "epoch": 3}, tmp_path / "checkpoint.pth")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        tvw.load_torchvision_weights(SSD300, tmp_path / "checkpoint.pth")


def test_unknown_weights_names_list_the_supported_ones():
    with pytest.raises(CheckpointError, match="SSD300_VGG16_Weights.COCO_V1"):
        tvw.load_torchvision_weights("FCOS_ResNet50_FPN_Weights.COCO_V1")
    with pytest.raises(CheckpointError, match="not a torchvision weights name"):
        tvw.load_torchvision_weights("SSD300_VGG16_Weights.COCO_V7")
