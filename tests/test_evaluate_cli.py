"""`python -m cvdemo.evaluate`: the published numbers, pycocotools' to 1e-9, clean errors."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cvdemo.evaluate import main
from cvdemo.metrics import STAT_NAMES

FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
GT = FIXTURE / "instances_val2014_100.json"
DT = FIXTURE / "instances_val2014_fakebbox100_results.json"
ROOT = Path(__file__).parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvdemo.evaluate", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, list[str]]:
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        coco_gt = COCO(str(GT))
        ev = COCOeval(coco_gt, coco_gt.loadRes(str(DT)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats, [line for line in printed.getvalue().splitlines() if line.startswith(" Average")]


def test_cli_prints_pycocotools_summary_and_the_published_numbers(reference):
    done = run_cli(GT, DT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == reference[1]
    published = ["0.505", "0.697", "0.573", "0.586", "0.519", "0.501", "0.387", "0.594", "0.595", "0.640",
                 "0.566", "0.564"]
    assert [line.rsplit("= ", 1)[1] for line in lines] == published


def test_cli_json_agrees_with_pycocotools_to_1e9(reference):
    done = run_cli(GT, DT, "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert list(stats) == list(STAT_NAMES)
    np.testing.assert_allclose([stats[k] for k in STAT_NAMES], reference[0], rtol=0, atol=1e-9)


def test_cli_voc_and_per_class(capsys):
    assert main([str(GT), str(DT), "--voc", "--per-class"]) == 0
    out = capsys.readouterr().out
    assert "person" in out and "VOC07" in out and "VOC12" in out
    mean = [line for line in out.splitlines() if line.startswith("mean")]
    assert len(mean) == 1 and len(mean[0].split()) == 3
    assert main([str(GT), str(DT), "--json", "--voc", "--per-class"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert 0 < data["voc"]["VOC07"] < 1 and "person" in data["per_class"]
    assert data["per_class"]["fire hydrant"]["AP"] == -1  # no ground truth of that class here


NEGATIVE_WIDTH = {"images": [{"id": 1}], "categories": [{"id": 1}],
                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 2]}]}


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("{not json"), "not valid JSON"),
    (lambda p: p.write_text("[]"), "expected a JSON object"),
    (lambda p: p.write_text(json.dumps(NEGATIVE_WIDTH)), "annotations[0]: 'bbox' width"),
])
def test_cli_bad_ground_truth_is_one_line_and_exit_2(tmp_path, make, message):
    bad = tmp_path / "gt.json"
    make(bad)
    done = run_cli(bad, DT)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_bad_detections_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "dt.json"
    bad.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]))
    assert main([str(GT), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "results[0]: 'image_id' 1 is not an image" in err
    assert main([str(GT), str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err
