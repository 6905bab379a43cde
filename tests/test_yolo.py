"""YOLO v1 (issue 14): the grid assignment and the loss on hand-computed S=2, B=2, C=2 examples; the model's
train / eval / inspect contracts on non-square images; it overfits 4 images; save -> load; corrupted checkpoints."""

import json

import pytest
import torch
from torchvision.ops import box_iou

import cvdemo.models
from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset
from cvdemo.losses_yolo import assign_targets, grid_to_boxes_cxcywh, object_cells, yolo_loss
from cvdemo.models.loading import CheckpointError
from cvdemo.models.yolo import MODEL_TYPE, YOLO, YOLO_PRESETS, YOLOConfig, from_config_dict, letterbox

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# One object in an S=2 grid (cells 0.5 wide): centre (0.3, 0.2), size 0.36 x 0.16 -> cell (row 0, col 0);
# as xyxy (0.12, 0.12, 0.48, 0.28); relative to its cell x = 0.6, y = 0.4; sqrt w = 0.6, sqrt h = 0.4.
OBJECT = [0.3, 0.2, 0.36, 0.16]


def hand_grid() -> dict:
    """S=2, B=2, C=2 predictions for one image. Cell (0, 0):
    box 0: xy (0.6, 0.4), sqrt_wh (0.3, 0.3) -> cxcywh (0.3, 0.2, 0.09, 0.09): the object's centre exactly, but
           small: inside the object, IoU = 0.0081 / 0.0576;
    box 1: xy (0.5, 0.5), sqrt_wh (0.6, 0.4) -> cxcywh (0.25, 0.25, 0.36, 0.16) = xyxy (0.07, 0.17, 0.43, 0.33):
           off-centre but the right size: intersection 0.31 x 0.11 = 0.0341, union 0.0576 * 2 - 0.0341 = 0.0811.
    So box 1 is responsible (higher IoU), though box 0's centre is the better one."""
    xy = torch.full((1, 2, 2, 2, 2), 0.5)
    sqrt_wh = torch.full((1, 2, 2, 2, 2), 0.5)
    xy[0, 0, 0, 0] = torch.tensor([0.6, 0.4])
    sqrt_wh[0, 0, 0, 0] = torch.tensor([0.3, 0.3])
    sqrt_wh[0, 0, 0, 1] = torch.tensor([0.6, 0.4])
    confidence = torch.tensor([[[[0.2, 0.5], [0.1, 0.3]], [[0.0, 0.4], [0.2, 0.1]]]])  # [1, row, col, box]
    class_probs = torch.full((1, 2, 2, 2), 0.5)
    class_probs[0, 0, 0] = torch.tensor([0.4, 0.6])
    return {"xy": xy, "sqrt_wh": sqrt_wh, "confidence": confidence, "class_probs": class_probs}


def target(boxes, labels) -> dict:
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64)}


def test_grid_to_boxes_puts_each_box_in_its_cell():
    grid = hand_grid()
    boxes = grid_to_boxes_cxcywh(grid["xy"], grid["sqrt_wh"])[0]  # [S, S, B, 4]
    assert boxes[0, 0, 0].tolist() == pytest.approx([0.3, 0.2, 0.09, 0.09])
    assert boxes[0, 0, 1].tolist() == pytest.approx([0.25, 0.25, 0.36, 0.16])
    assert boxes[0, 1, 0].tolist() == pytest.approx([0.75, 0.25, 0.25, 0.25])  # row 0, col 1: x = (1 + 0.5) / 2
    assert boxes[1, 0, 0].tolist() == pytest.approx([0.25, 0.75, 0.25, 0.25])  # row 1, col 0


def test_the_cell_holding_the_centre_is_responsible():
    centres = torch.tensor([[0.3, 0.2, 0.1, 0.1], [0.75, 0.3, 0.1, 0.1], [0.2, 0.9, 0.1, 0.1],
                            [0.5, 0.5, 0.1, 0.1], [1.0, 1.0, 0.1, 0.1]])
    # (row, col): row from y, col from x; a centre on an edge belongs to the cell right of / below it
    assert object_cells(centres, 2).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [1, 1]]


def test_the_box_with_the_highest_iou_is_responsible_not_the_nearest_centre():
    grid = hand_grid()
    boxes = grid_to_boxes_cxcywh(grid["xy"], grid["sqrt_wh"])[0]
    assignment = assign_targets(boxes, torch.tensor([OBJECT]))
    assert assignment.cells.tolist() == [[0, 0]]
    assert assignment.box_index.tolist() == [1]
    assert assignment.iou.tolist() == pytest.approx([0.0341 / 0.0811])
    assert 0.0081 / 0.0576 < 0.0341 / 0.0811  # box 0's IoU, which loses


def test_loss_terms_by_hand():
    loss = yolo_loss(hand_grid(), [target(OBJECT, [1])])
    assert list(loss) == ["loss_coord", "loss_obj", "loss_noobj", "loss_class"]
    # responsible box 1 of cell (0, 0): xy (0.5, 0.5) vs (0.6, 0.4), sqrt_wh (0.6, 0.4) vs (0.6, 0.4)
    assert float(loss["loss_coord"]) == pytest.approx(5 * ((0.5 - 0.6) ** 2 + (0.5 - 0.4) ** 2 + 0 + 0))
    # its confidence 0.5 is trained towards its IoU
    assert float(loss["loss_obj"]) == pytest.approx((0.5 - 0.0341 / 0.0811) ** 2)
    # every other box, including box 0 of the object's own cell, towards 0
    assert float(loss["loss_noobj"]) == pytest.approx(0.5 * (0.2**2 + 0.1**2 + 0.3**2 + 0.0**2 + 0.4**2
                                                              + 0.2**2 + 0.1**2))
    # only the cell with an object has a class term: (0.4, 0.6) vs one-hot (0, 1)
    assert float(loss["loss_class"]) == pytest.approx((0.4 - 0) ** 2 + (0.6 - 1) ** 2)


def test_loss_is_summed_over_the_batch_and_divided_by_its_size():
    one = hand_grid()
    empty = {"xy": one["xy"], "sqrt_wh": one["sqrt_wh"], "confidence": torch.full((1, 2, 2, 2), 0.1),
             "class_probs": one["class_probs"]}
    batch = {k: torch.cat([one[k], empty[k]]) for k in one}
    loss = yolo_loss(batch, [target(OBJECT, [1]), target([], [])])
    # the empty image adds no-object terms only: 0.5 * 8 boxes * 0.1^2 = 0.04
    assert float(loss["loss_coord"]) == pytest.approx(0.1 / 2)
    assert float(loss["loss_obj"]) == pytest.approx((0.5 - 0.0341 / 0.0811) ** 2 / 2)
    assert float(loss["loss_noobj"]) == pytest.approx((0.175 + 0.04) / 2)
    assert float(loss["loss_class"]) == pytest.approx(0.32 / 2)


def test_two_objects_in_one_cell_the_larger_keeps_it():
    small = [0.4, 0.1, 0.1, 0.1]  # centre in cell (0, 0) too, label 0
    grid = hand_grid()
    boxes = grid_to_boxes_cxcywh(grid["xy"], grid["sqrt_wh"])[0]
    assignment = assign_targets(boxes, torch.tensor([small, OBJECT]))
    assert assignment.cells.tolist() == [[0, 0], [0, 0]]
    assert assignment.box_index.tolist() == [-1, 1]  # the small one is left out of the loss
    assert assignment.iou.tolist() == pytest.approx([0.0, 0.0341 / 0.0811])
    both = yolo_loss(grid, [target([small, OBJECT], [0, 1])])
    alone = yolo_loss(grid, [target(OBJECT, [1])])
    assert {k: float(v) for k, v in both.items()} == pytest.approx({k: float(v) for k, v in alone.items()})
    # equal areas: the first in target order keeps the cell
    twin = [0.35, 0.15, 0.36, 0.16]
    assert assign_targets(boxes, torch.tensor([twin, OBJECT])).box_index.tolist() == [1, -1]


def test_objects_in_two_cells_each_get_a_responsible_box_and_a_class_term():
    second = [0.75, 0.75, 0.25, 0.25]  # cell (1, 1), whose boxes are both (0.75, 0.75, 0.25, 0.25): IoU 1 for box 0
    loss = yolo_loss(hand_grid(), [target([OBJECT, second], [1, 0])])
    assert float(loss["loss_coord"]) == pytest.approx(0.1)  # the second box is predicted exactly
    assert float(loss["loss_obj"]) == pytest.approx((0.5 - 0.0341 / 0.0811) ** 2 + (0.2 - 1.0) ** 2)
    assert float(loss["loss_noobj"]) == pytest.approx(0.5 * (0.2**2 + 0.1**2 + 0.3**2 + 0.0**2 + 0.4**2 + 0.1**2))
    assert float(loss["loss_class"]) == pytest.approx(0.32 + (0.5 - 1) ** 2 + (0.5 - 0) ** 2)


def tiny_config(**overrides) -> YOLOConfig:
    return YOLOConfig(**{**YOLO_PRESETS["tiny"], "num_classes": 6, "id2label": {k: f"c{k}" for k in range(6)},
                         **overrides})


def non_square_batch() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 96, 160, generator=g), torch.rand(3, 128, 72, generator=g)]


def test_config_round_trip_and_clear_errors():
    config = tiny_config()
    d = config.to_dict()
    assert d["model_type"] == MODEL_TYPE == "cvdemo-yolo"
    assert from_config_dict(d).config == config
    with pytest.raises(ValueError, match="grid_size"):
        YOLOConfig(grid_size=0)
    with pytest.raises(ValueError, match="head"):
        YOLOConfig(head="dense")
    with pytest.raises(ValueError, match="Unknown YOLOConfig fields"):
        YOLOConfig.from_dict({**d, "anchors": 9})


def test_letterbox_keeps_the_aspect_ratio_and_pads_bottom_right():
    pixel_values, scales = letterbox([torch.full((3, 50, 100), 0.5)], 64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert pixel_values.shape == (1, 3, 64, 64)
    assert scales.tolist() == [pytest.approx([0.64, 0.64])]
    assert torch.all(pixel_values[0, :, 32:] == 0)  # padding: the mean colour
    with pytest.raises(ValueError, match="image 0"):
        letterbox([torch.zeros(1, 8, 8)], 64, (0, 0, 0), (1, 1, 1))


@pytest.mark.parametrize("head", ["fc", "conv"])
def test_eval_contract_on_non_square_images(head):
    torch.manual_seed(0)
    model = YOLO(tiny_config(head=head)).eval()
    images = non_square_batch()
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 2
    for det, image in zip(detections, images):
        h, w = image.shape[1:]
        n = len(det["scores"])
        assert 0 < n <= model.config.max_detections
        assert det["boxes"].shape == (n, 4) and det["labels"].dtype == torch.int64
        assert det["labels"].min() >= 0 and det["labels"].max() < 6
        assert torch.all(det["scores"][:-1] >= det["scores"][1:])  # best first
        assert torch.all(det["boxes"][:, 0::2] <= w) and torch.all(det["boxes"][:, 1::2] <= h)
        assert torch.all(det["boxes"] >= 0)


def test_training_contract():
    torch.manual_seed(0)
    model = YOLO(tiny_config()).train()
    targets = [target([[10, 20, 60, 50]], [2]), target([[5, 5, 40, 100], [30, 30, 70, 60]], [0, 5])]
    loss = model(non_square_batch(), targets)
    assert list(loss) == ["loss_coord", "loss_obj", "loss_noobj", "loss_class"]
    sum(loss.values()).backward()
    assert all(torch.isfinite(v) for v in loss.values())
    with pytest.raises(ValueError, match="needs targets"):
        model(non_square_batch())
    with pytest.raises(ValueError, match="class indices 0..5"):
        model(non_square_batch(), [target([[10, 20, 60, 50]], [6]), target([], [])])
    with pytest.raises(ValueError, match="x1 > x0"):
        model(non_square_batch(), [target([[60, 20, 10, 50]], [1]), target([], [])])


def test_inspect_shows_the_grid_responsible_boxes_and_nms():
    torch.manual_seed(0)
    model = YOLO(tiny_config(input_size=64, grid_size=4)).eval()
    image = torch.rand(3, 50, 100)  # letterboxed at scale 0.64: a cell is 16 / 0.64 = 25 input pixels
    # centre (90, 10) -> (57.6, 6.4) in the network input -> row 0, col 3
    targets = [target([[80, 0, 100, 20]], [4])]
    result = model.inspect([image], targets=targets, nms_iou=0.5, score_threshold=0.0)[0]
    assert result["grid_size"] == 4
    assert result["cell_size"] == pytest.approx((25.0, 25.0))
    assert result["cell_boxes"].shape == (4, 4, 2, 4)
    assert result["cell_confidence"].shape == (4, 4, 2)
    assert result["cell_class_probs"].shape == (4, 4, 6)
    assert result["responsible"]["cells"].tolist() == [[0, 3]]
    assert result["responsible"]["box_index"].item() in (0, 1)
    # every (box, class) pair scores above 0; boxes wholly on the padding are dropped
    before, after = result["detections_before_nms"], result["detections"]
    assert len(after["scores"]) < len(before["scores"]) <= 4 * 4 * 2 * 6
    no_nms = model.inspect([image], nms_iou=1.0, score_threshold=0.0)[0]
    assert len(no_nms["detections"]["scores"]) == min(len(before["scores"]), model.config.max_detections)
    assert "responsible" not in no_nms
    # scores are confidence x class probability
    best = model.inspect([image], score_threshold=0.0)[0]
    top = (best["cell_confidence"][..., None] * best["cell_class_probs"][:, :, None, :]).max()
    assert float(best["detections"]["scores"][0]) <= float(top) + 1e-6


def test_overfits_four_images():
    torch.manual_seed(0)
    dataset = ShapesDataset(4, seed=3, config=ShapesConfig(image_size=64))
    images = [image.float() / 255 for image, _ in dataset]
    targets = [{"boxes": t["boxes_xyxy"], "labels": t["labels"]} for _, t in dataset]
    model = YOLO(YOLOConfig(input_size=64, grid_size=4, num_classes=6, head_channels=16, fc_hidden=128))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    first = None
    for _ in range(150):
        total = sum(model(images, targets).values())
        first = float(total.detach()) if first is None else first
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert float(total.detach()) < first / 100
    model.eval()
    with torch.no_grad():
        detections = model(images)
    for det, t in zip(detections, targets):
        iou = box_iou(det["boxes"][:1], t["boxes"])[0]
        best = int(iou.argmax())
        assert iou[best] >= 0.5
        assert det["labels"][0] == t["labels"][best]


def test_save_load_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = YOLO(tiny_config()).eval()
    cvdemo.models.save(model, tmp_path / "yolo")
    loaded = cvdemo.models.load(tmp_path / "yolo")
    assert isinstance(loaded, YOLO) and loaded.config == model.config and not loaded.training
    with torch.no_grad():
        before, after = model(non_square_batch()), loaded(non_square_batch())
    for a, b in zip(before, after):
        for key in ("boxes", "labels", "scores"):
            assert torch.equal(a[key], b[key])


def test_corrupted_or_mismatched_checkpoints_give_clear_errors(tmp_path):
    model = YOLO(tiny_config(input_size=64, grid_size=4))
    directory = cvdemo.models.save(model, tmp_path / "yolo")
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        cvdemo.models.load(directory)

    other = cvdemo.models.save(model, tmp_path / "other")  # a config that no longer fits the weights
    config = tiny_config(input_size=64, grid_size=5).to_dict()
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="shape mismatches: head"):
        cvdemo.models.load(other)
