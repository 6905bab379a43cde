"""The detectors' comparison (issue 14, Deliver 4-5): the study notes' claims checked by rule on synthetic rows,
the comparison file's validation, ``training.compare_detectors`` on two tiny random models (its AP is an
independent evaluation's) and ``training.model_card`` on a tiny family run and a tiny DETR run."""

from __future__ import annotations

import json
import math

import pytest
import torch

import cvdemo.models
from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset
from cvdemo.detector_comparison import (
    AP_MARGIN,
    CLAIMS,
    COCO_KEYS,
    FORMAT,
    VERSION,
    ComparisonError,
    check_claims,
    comparison_from_dict,
    load_comparison,
)
from cvdemo.messages import Message
from cvdemo.training import DetectionTask
from cvdemo.training.cli import run as train_cli
from cvdemo.training.family_detection import FamilyDetectionTask
from cvdemo.training.kinds import KINDS
from training import compare_detectors, model_card

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- claims on synthetic rows ----------------------------------------------------------------------------------

def row(family: str, ap: float = 0.6, aps: float = 0.55, apm: float = 0.65, ips: float = 20.0, dupes: float = 0.02,
        before: float | None = 0.4, minutes: float | None = 30.0, train: float | None = 60.0, **extra) -> dict:
    metrics = {k: 0.5 for k in COCO_KEYS} | {"AP": ap, "APs": aps, "APm": apm, "APl": -1.0, "ARl": -1.0}
    return {"name": f"{family}-shapes", "family": family, **metrics, "per_class": {"circle": ap},
            "tide": {"loc": 1, "cls": 2, "dupe": 3, "bkg": 0, "both": 0, "missed": 4},
            "duplicates_per_object": dupes, "duplicates_before_nms_per_object": None if family == "detr" else before,
            "duplicates_after_nms_per_object": 0.0 if family == "detr" else None, "images_per_s": ips,
            "num_parameters": 1_000_000, "size_mb": 3.0, "minutes_to_AP50": minutes, "steps_to_AP50": None,
            "train_minutes": train, **extra}


def comparison(*rows: dict):
    return comparison_from_dict({"format": FORMAT, "version": VERSION, "models": list(rows)})


def verdicts(*rows: dict) -> dict[str, str]:
    return {c.name: c.verdict for c in check_claims(comparison(*rows))}


def test_every_claim_is_checked_with_message_keys_of_the_detectors_catalog():
    checks = check_claims(comparison(row("detr"), row("yolo"), row("ssd"), row("fasterrcnn")))
    assert [c.name for c in checks] == list(CLAIMS)
    for c in checks:
        assert c.verdict in ("agrees", "disagrees", "cannot_tell")
        assert c.claim.key == f"detectors.claim_{c.name}"
        assert c.evidence is None or c.evidence.key.startswith(f"detectors.evidence_{c.name}")
        assert c.verdict_message.key == f"detectors.verdict_{c.verdict}"
        assert (c.reason is not None) == (c.verdict == "cannot_tell")


def test_ssd_small_objects_agrees_disagrees_or_cannot_tell_within_the_margin():
    def ssd_vs_yolo(ssd_aps, yolo_aps):
        return verdicts(row("ssd", aps=ssd_aps), row("yolo", aps=yolo_aps))["ssd_small_objects"]

    assert ssd_vs_yolo(0.60, 0.50) == "agrees"
    assert ssd_vs_yolo(0.50, 0.60) == "disagrees"
    assert ssd_vs_yolo(0.50, 0.50 + AP_MARGIN / 2) == "cannot_tell"
    check = next(c for c in check_claims(comparison(row("ssd", aps=0.6), row("yolo", aps=0.5)))
                 if c.name == "ssd_small_objects")
    assert check.fields == {"ssd": 0.6, "yolo": 0.5}


def test_a_missing_family_cannot_tell_and_names_it():
    checks = {c.name: c for c in check_claims(comparison(row("yolo"), row("detr")))}
    ssd = checks["ssd_small_objects"]
    assert ssd.verdict == "cannot_tell"
    assert ssd.reason == Message("detectors.why_missing", {"family": Message("detectors.family_ssd")})
    assert checks["rcnn_slower"].verdict == "cannot_tell"
    assert all(c.verdict == "cannot_tell" for c in check_claims(comparison()))


def test_speed_claims_use_a_relative_margin():
    assert verdicts(row("yolo", ips=40.0), row("ssd", ips=20.0))["yolo_faster_than_ssd"] == "agrees"
    assert verdicts(row("yolo", ips=20.0), row("ssd", ips=40.0))["yolo_faster_than_ssd"] == "disagrees"
    assert verdicts(row("yolo", ips=21.0), row("ssd", ips=20.0))["yolo_faster_than_ssd"] == "cannot_tell"
    two = row("fasterrcnn", ips=10.0)
    assert verdicts(two, row("yolo", ips=30.0), row("ssd", ips=20.0))["one_stage_faster"] == "agrees"
    assert verdicts(two, row("yolo", ips=5.0), row("ssd", ips=4.0))["one_stage_faster"] == "disagrees"
    assert verdicts(two, row("yolo", ips=30.0), row("ssd", ips=5.0))["one_stage_faster"] == "cannot_tell"
    assert verdicts(two, row("rcnn", ips=1.0))["rcnn_slower"] == "agrees"


def test_accuracy_claims_of_two_stage_and_yolo():
    assert verdicts(row("fasterrcnn", ap=0.7), row("ssd", ap=0.6), row("yolo", ap=0.5))[
        "two_stage_more_accurate"] == "agrees"
    assert verdicts(row("fasterrcnn", ap=0.5), row("ssd", ap=0.6))["two_stage_more_accurate"] == "disagrees"
    assert verdicts(row("yolo", ap=0.5), row("ssd", ap=0.6))["yolo_accuracy_average"] == "agrees"
    assert verdicts(row("yolo", ap=0.7), row("ssd", ap=0.6))["yolo_accuracy_average"] == "disagrees"


def test_detr_duplicates_against_the_issue_limit_and_nms_on_the_cnn_families():
    assert verdicts(row("detr", dupes=0.05))["detr_no_nms"] == "agrees"
    assert verdicts(row("detr", dupes=0.15))["detr_no_nms"] == "disagrees"
    assert verdicts(row("ssd", before=0.5, dupes=0.01), row("yolo", before=0.3, dupes=0.0))["cnn_need_nms"] == "agrees"
    assert verdicts(row("ssd", before=0.01, dupes=0.01))["cnn_need_nms"] == "disagrees"
    assert verdicts(row("ssd", before=0.5, dupes=0.0), row("yolo", before=0.0, dupes=0.0))[
        "cnn_need_nms"] == "cannot_tell"


def test_detr_size_claims_and_the_missing_large_objects():
    checks = {c.name: c for c in check_claims(comparison(row("detr", aps=0.5), row("ssd", aps=0.6)))}
    assert checks["detr_small_weaker"].verdict == "agrees"
    assert checks["detr_small_weaker"].fields["best"] == Message("detectors.family_ssd")
    large = checks["detr_large_strong"]  # the shapes hold no object above 96 x 96 pixels: COCO's APl is -1
    assert large.verdict == "cannot_tell" and large.reason.key == "detectors.why_no_objects_of_size"
    assert verdicts(row("detr", aps=0.7), row("ssd", aps=0.6))["detr_small_weaker"] == "disagrees"
    # the gap within each model: DETR's APm - APs (0.2) against the CNN families' mean (0.0)
    assert verdicts(row("detr", aps=0.5, apm=0.7), row("ssd", aps=0.6, apm=0.6))["detr_small_gap"] == "agrees"
    assert verdicts(row("detr", aps=0.7, apm=0.7), row("ssd", aps=0.4, apm=0.6))["detr_small_gap"] == "disagrees"
    assert verdicts(row("detr", ap=0.7), row("ssd", ap=0.6))["detr_accuracy_good"] == "agrees"
    assert verdicts(row("detr", ap=0.4), row("ssd", ap=0.6))["detr_accuracy_good"] == "disagrees"


def test_detr_convergence_from_the_cards_training_times():
    assert verdicts(row("detr", minutes=90.0), row("yolo", minutes=20.0))["detr_slow_to_converge"] == "agrees"
    # never reached AP 0.5 in 120 minutes, where YOLO took 20: slower still
    assert verdicts(row("detr", minutes=None, train=120.0), row("yolo", minutes=20.0))[
        "detr_slow_to_converge"] == "agrees"
    never = next(c for c in check_claims(comparison(row("detr", minutes=None, train=120.0), row("yolo", minutes=20.0)))
                 if c.name == "detr_slow_to_converge")
    assert never.evidence.key == "detectors.evidence_detr_slow_to_converge_not_reached"
    assert never.fields["detr"] == 120.0 and never.fields["fastest_minutes"] == 20.0
    assert verdicts(row("detr", minutes=10.0), row("yolo", minutes=20.0))["detr_slow_to_converge"] == "disagrees"
    unknown = verdicts(row("detr", minutes=None, train=None), row("yolo", minutes=20.0))
    assert unknown["detr_slow_to_converge"] == "cannot_tell"


# --- the comparison file ---------------------------------------------------------------------------------------

def test_load_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(ComparisonError, match="does not exist") as missing:
        load_comparison(tmp_path / "none.json")
    assert missing.value.key == "detectors.error_no_comparison"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ComparisonError, match="not readable JSON") as corrupt:
        load_comparison(bad)
    assert corrupt.value.key == "detectors.error_bad_comparison" and corrupt.value.fields["path"] == str(bad)
    cases = [({"format": "other"}, "format"), ({"format": FORMAT, "version": 99}, "version"),
             ({"format": FORMAT, "version": VERSION, "models": [{"name": "x"}]}, r"models\[0\] lacks family"),
             ({"format": FORMAT, "version": VERSION, "models": [row("ssd", ap=math.nan)]}, "finite"),
             ({"format": FORMAT, "version": VERSION, "models": [row("ssd") | {"family": "ufo"}]}, "ufo"),
             ({"format": FORMAT, "version": VERSION, "models": [row("ssd", before=None)]}, "before_nms")]
    for data, problem in cases:
        bad.write_text(json.dumps(data))
        with pytest.raises(ComparisonError, match=problem):
            load_comparison(bad)


def test_a_written_comparison_loads_back(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "models": [row("ssd"), row("detr")],
                                "machine": {"cpu": "x"}}))
    loaded = load_comparison(path)
    assert [r.family for r in loaded.rows] == ["ssd", "detr"] and loaded.machine == {"cpu": "x"}
    assert loaded.row("ssd").ap("APl") is None and loaded.row("detr").duplicates_after_nms_per_object == 0.0


# --- training.compare_detectors on tiny random models ----------------------------------------------------------

def tiny(kind: str):
    torch.manual_seed(0)
    return KINDS[kind].build_model(KINDS[kind].presets["tiny"], None, backbone_init=None).eval()


def test_compare_detectors_writes_every_field_and_evaluates_as_the_training_tasks(tmp_path):
    for kind in ("detr", "yolo"):
        cvdemo.models.save(tiny(kind), tmp_path / kind)
    out = tmp_path / "comparison.json"
    status = compare_detectors.main(["--models", str(tmp_path / "detr"), str(tmp_path / "yolo"),
                                     str(tmp_path / "absent"), "--images", "6", "--seed", "777", "--rounds", "2",
                                     "--speed-images", "2", "--out", str(out)])
    assert status == 0
    data = json.loads(out.read_text())
    assert data["eval"]["seed"] == 777 and data["eval"]["images"] == 6 and data["speed"]["batch_size"] == 1
    assert {"cpu", "threads", "torch"} <= set(data["machine"]) and "compare_detectors" in data["command"]
    rows = {r["family"]: r for r in data["models"]}
    assert set(rows) == {"detr", "yolo"}  # the absent folder is skipped
    val = ShapesDataset(6, 777, SHARED_SHAPES)
    for family, task in (("detr", DetectionTask), ("yolo", FamilyDetectionTask)):
        r = rows[family]
        assert r["images_per_s"] > 0 and r["num_parameters"] > 0 and r["size_mb"] > 0
        assert set(r["tide"]) == {"loc", "cls", "dupe", "bkg", "both", "missed"}
        assert r["minutes_to_AP50"] is None and r["train_minutes"] is None  # no card
        model = cvdemo.models.load(tmp_path / family).eval()
        metrics, per_class = task(model.config).evaluate(model, val, torch.device("cpu"), batch_size=3)
        assert {k: r[k] for k in COCO_KEYS} == pytest.approx({k: metrics[k] for k in COCO_KEYS}, abs=1e-6)
        assert r["per_class"] == pytest.approx(per_class, abs=1e-6)
    assert rows["yolo"]["duplicates_before_nms_per_object"] is not None
    assert rows["detr"]["duplicates_after_nms_per_object"] is not None
    assert [r.family for r in load_comparison(out).rows] == ["detr", "yolo"]


# --- training.model_card on tiny runs --------------------------------------------------------------------------

def train(kind: str, out, *extra: str) -> None:
    args = ["--preset", "tiny", "--steps", "3", "--batch-size", "2", "--num-train-images", "6", "--num-val-images",
            "2", "--eval-every", "0", "--snapshot-every", "0", "--backbone-init", "none", "--no-progress", "--out",
            str(out), *extra]
    assert train_cli(kind, args) == 0


CARD_KEYS = {*COCO_KEYS, "per_class", "tide", "duplicates_per_object", "num_parameters", "size_mb", "train_minutes",
             "steps_to_AP50", "minutes_to_AP50", "eval_seed", "eval_images"}


def test_model_card_of_a_family_run_in_half_precision(tmp_path):
    run, out = tmp_path / "run", tmp_path / "yolo-shapes"
    train("yolo", run)
    status = model_card.main([str(run), "--out", str(out), "--preset", "tiny", "--dtype", "float16",
                              "--eval-images", "4", "--command", "python -m training.train_yolo --preset tiny"])
    assert status == 0
    assert {"config.json", "model.safetensors", "README.md", "metrics.json"} <= {p.name for p in out.iterdir()}
    ratio = (out / "model.safetensors").stat().st_size / (run / "model.safetensors").stat().st_size
    assert 0.45 < ratio < 0.52
    metrics = json.loads((out / "metrics.json").read_text())
    assert CARD_KEYS <= set(metrics) and set(metrics["tide"]) == {"loc", "cls", "dupe", "bkg", "both", "missed"}
    assert metrics["minutes_to_AP50"] is None and metrics["steps_to_AP50"] is None  # 3 steps: far from AP 0.5
    assert metrics["eval_images"] == 4 and metrics["dtype"] == "float16"
    card = (out / "README.md").read_text()
    for text in ("YOLO (v1)", "8x8 grid", "python -m training.train_yolo", "Time to validation AP 0.5",
                 "not reached", "TIDE errors", "Duplicates per object", "before it", "float16", "Limitations"):
        assert text in card, text
    loaded = cvdemo.models.load(out)
    assert next(loaded.parameters()).dtype == torch.float32


def test_model_card_of_a_detr_run_keeps_its_output(tmp_path):
    run, out = tmp_path / "run", tmp_path / "detr-shapes"
    train("detr", run)
    assert model_card.main([str(run), "--out", str(out), "--preset", "tiny", "--eval-images", "3",
                            "--command", "python -m training.train_detr --preset tiny"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert CARD_KEYS | {"loss"} <= set(metrics)
    assert metrics["duplicates_after_nms_per_object"] is not None
    card = (out / "README.md").read_text()
    assert "A small DETR" in card and "DETR's official protocol" in card and "without NMS" in card


def test_time_to_ap50_reads_the_first_eval_reaching_it_across_resumed_segments(tmp_path):
    events = [{"event": "start", "total_steps": 4, "batch_size": 2},
              {"event": "step", "step": 1, "elapsed_s": 60.0}, {"event": "eval", "step": 1, "metrics": {"AP": 0.3}},
              {"event": "step", "step": 2, "elapsed_s": 120.0},
              {"event": "start", "total_steps": 4, "batch_size": 2},  # resumed: elapsed restarts
              {"event": "step", "step": 3, "elapsed_s": 60.0}, {"event": "eval", "step": 3, "metrics": {"AP": 0.55}},
              {"event": "step", "step": 4, "elapsed_s": 90.0}, {"event": "eval", "step": 4, "metrics": {"AP": 0.6}}]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events))
    log = model_card._read_log(path)
    assert log.time_to(0.5) == (3, pytest.approx(3.0))
    assert log.time_to(0.9) == (None, None)
