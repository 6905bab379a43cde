"""The Evaluate tab's evaluation code (`cvdemo.metrics.browse` and its view module) on a COCO-val-sized workload:
is a slider move or a page turn under 1 s?

    python benchmarks/bench_evaluate_tab.py [--workload DIR] [--repeats 5]

Makes (once) the workload of ../shared/tools/make_coco_workload.py (5,000 images, ~35k objects, 500k
detections) under DIR (default /tmp/cvdemo_coco_workload), then times, in this process, what each event of
the tab runs (the handler's own work; Gradio adds ~70-120 ms per queued event on top):

- ``/evaluate``: staging the upload, loading, `evaluate_coco`, `evaluate_voc`, the `ObjectAssigner` cache;
- a slider move (new thresholds, nothing cached): re-assign, per-image counts, filter and sort, the page
  table, the image drawn, its objects table; side by side with what it replaces, a full `evaluate_coco`;
- a page turn (thresholds cached), a click on a box, the slider-release event (confusion matrix + TIDE),
  the CSV/JSON export.

The machine is shared and noisy: the median of ``--repeats`` runs is printed, and the ratios matter more.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MAKE_WORKLOAD = ROOT.parent / "shared" / "tools" / "make_coco_workload.py"

from cvdemo.metrics import evaluate_coco  # noqa: E402
from cvdemo.metrics.browse import ERROR_FILTERS, SORTS, load_evaluation  # noqa: E402
from cvdemo.ui.evaluation_viewer import describe_object, object_at, object_table, render_image  # noqa: E402

BUDGET_S = 1.0


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", type=Path, default=Path(tempfile.gettempdir()) / "cvdemo_coco_workload")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gt_path, dt_path = args.workload / "gt.json", args.workload / "dt.json"
    if not (gt_path.is_file() and dt_path.is_file()):
        subprocess.run([sys.executable, str(MAKE_WORKLOAD), str(args.workload)], check=True)

    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp:
        start = time.perf_counter()
        session = load_evaluation(Path(tmp) / "session", [("gt.json", str(gt_path))], [("dt.json", str(dt_path))])
        create_s = time.perf_counter() - start
        print(f"workload: {len(session.gt.images):,} images, {len(session.gt):,} objects, "
              f"{len(session.dt):,} detections")
        print(f"/evaluate (stage + load + COCO + VOC + assigner cache): {create_s:6.2f} s  (once per upload); "
              f"peak memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB; "
              f"held by the evaluation (its estimate for the store) {session.memory_bytes() / 2**20:,.0f} MiB")
        coco_s, _ = median_time(lambda: evaluate_coco(session.gt, session.dt), 1)

        thresholds = iter([(i, s) for s in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8) for i in (0.3, 0.45, 0.6, 0.75, 0.9)])

        def slider_move(error=ERROR_FILTERS[0], sort=SORTS[3]):
            iou, score = next(thresholds)  # never seen before: nothing cached
            view = session.browse(iou, score, None, error, sort)
            rows = session.page_rows(view, 0)
            image_id = rows[0].image_id
            render_image(session, image_id, view.assignment)
            object_table(session.object_rows(image_id, view.assignment))
            return view

        slider_s, view = median_time(slider_move, args.repeats)
        filter_s, _ = median_time(lambda: slider_move(ERROR_FILTERS[3], SORTS[1]), args.repeats)

        def page_turn(page=[0]):  # noqa: B006 - a counter across calls
            page[0] += 1
            v = session.browse(0.5, 0.3, None, ERROR_FILTERS[0], SORTS[2])
            rows = session.page_rows(v, page[0])
            render_image(session, rows[0].image_id, v.assignment)
            object_table(session.object_rows(rows[0].image_id, v.assignment))

        session.assignment(0.5, 0.3)
        page_s, _ = median_time(page_turn, args.repeats)

        a = session.assignment(0.5, 0.3)
        image_id = int(session.dt.image_ids[0])

        def click():
            img, scale, _ = render_image(session, image_id, a)
            x, y, w, h = session.dt.boxes_xywh[0]
            hit = object_at(session, image_id, a, None, (x + w / 2) * scale, (y + h / 2) * scale, scale)
            render_image(session, image_id, a, None, hit)
            return describe_object(session, a, *hit) if hit else ""

        click_s, _ = median_time(click, args.repeats)
        released = iter([(0.55, 0.25), (0.65, 0.15), (0.35, 0.45)])

        def release():  # new thresholds each time: nothing cached
            iou, score = next(released)
            return session.confusion(iou, score), session.tide(iou, score)

        release_s, _ = median_time(release, 2)
        tide_filter_s, _ = median_time(lambda: slider_move("FP: duplicate"), 2)
        export_s, _ = median_time(lambda: (session.write_objects_csv(0.5, 0.3), session.write_metrics_json(0.5, 0.3)),
                                  1)
        session.close()

    print(f"\n{'event (handler time, median)':<58} {'seconds':>8}  {'budget 1 s':>10}")
    for name, s, budgeted in [
            ("slider move: re-assign 500k + counts + page + image + table", slider_s, True),
            ("slider move with 'FP or FN' filter, sorted by FPs", filter_s, True),
            ("page turn (thresholds cached)", page_s, True),
            ("click on a box (find, redraw, describe)", click_s, True),
            ("slider move with a TIDE filter (computes TIDE first)", tide_filter_s, True),
            ("after a move: confusion matrix + TIDE (own event, after)", release_s, False),
            ("export CSV (535k rows) + JSON (button)", export_s, False)]:
        verdict = ("ok" if s <= BUDGET_S else "OVER") if budgeted else "n/a"
        print(f"{name:<58} {s:8.3f}  {verdict:>10}")
    print(f"\nside by side: a full evaluate_coco takes {coco_s:.2f} s; a slider move {slider_s:.3f} s "
          f"({coco_s / slider_s:.0f}x faster than re-running COCO evaluation per move)")


if __name__ == "__main__":
    main()
