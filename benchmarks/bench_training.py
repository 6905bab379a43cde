"""Training benchmarks on this machine (run by hand: ``python benchmarks/bench_training.py``).

1. throughput: images/s of the ``tiny`` presets (DETR and ViT), through the `Trainer` and through a bare
   loop (forward, loss, backward, clip, AdamW step) on the same batches, side by side: the ratio is the
   engine's overhead (events, logging values, seeded batching).
2. live demo (``--demo``, DETR ``tiny``): the loss over the first minute, and the time until the model
   puts a correct box (right class, IoU >= 0.5) as its top detection on at least half of a few easy
   validation images (one large shape each).

Options: ``--threads N`` (default 1: the machine is shared), ``--steps`` for the throughput runs,
``--demo-minutes`` to bound the live-demo run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import deque
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvdemo.boxes import box_iou_xyxy  # noqa: E402
from cvdemo.datasets.shapes import ShapesConfig, ShapesDataset  # noqa: E402
from cvdemo.training import ClassificationTask, DetectionTask, StepEvent, Trainer  # noqa: E402
from cvdemo.training.data import SeededSamples, epoch_batches  # noqa: E402
from cvdemo.training.presets import (  # noqa: E402
    DETR_TRAINING_PRESETS,
    VIT_TRAINING_PRESETS,
    build_detr,
    build_vit,
)


def bare_loop(model, task, dataset, config, steps: int) -> float:
    """images/s of the plain training step on the same batches (no events, no trainer)."""
    groups = task.param_groups(model, config.lr, config.backbone_lr, config.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    params = [p for g in groups for p in g["params"]]
    samples = SeededSamples(dataset)
    batches = epoch_batches(len(dataset), config.batch_size, config.seed, 0)[:steps + 1]
    model.train()
    start = None
    for i, indices in enumerate(batches):
        if i == 1:
            start = time.perf_counter()  # the first step warms up the allocator
        batch = task.collate([samples[k] for k in indices])
        total, _ = task.loss(model, batch, i + 1)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip or math.inf)
        optimizer.step()
    return steps * config.batch_size / (time.perf_counter() - start)


def trainer_loop(model, task, dataset, config, steps: int) -> float:
    """images/s through `Trainer.run()` (steady state: the first step is left out)."""
    events = Trainer(model, task, dataset, config=config).run()
    times = [e.step_time_s for e in events if isinstance(e, StepEvent)]
    return (len(times) - 1) * config.batch_size / sum(times[1:])


def throughput(steps: int) -> None:
    print(f"\n== throughput of the tiny presets, {steps} steps, {torch.get_num_threads()} thread(s) ==")
    for name, presets, build, task_cls in (("DETR tiny", DETR_TRAINING_PRESETS, build_detr, DetectionTask),
                                           ("ViT tiny", VIT_TRAINING_PRESETS, build_vit, ClassificationTask)):
        preset = presets["tiny"]
        config = preset.train_config(total_steps=steps + 1, eval_every=0, snapshot_every=0,
                                     checkpoint_every=0,
                                     hflip=0.0)
        dataset, _ = preset.datasets(num_train=(steps + 1) * config.batch_size, num_val=1)
        torch.manual_seed(0)
        model = build(preset)
        bare = bare_loop(model, task_cls(model.config), dataset, config, steps)
        torch.manual_seed(0)
        model = build(preset)
        engine = trainer_loop(model, task_cls(model.config), dataset, config, steps)
        print(f"{name:10s} batch {config.batch_size:3d}: bare loop {bare:7.1f} img/s, "
              f"Trainer {engine:7.1f} img/s, "
              f"Trainer / bare = {engine / bare:.3f}")


def easy_images(count: int, size: int) -> list:
    config = ShapesConfig(image_size=size, min_objects=1, max_objects=1, min_size=0.35, max_size=0.6)
    return [ShapesDataset(count, 12345, config)[i] for i in range(count)]


def live_demo(minutes: float) -> None:
    preset = DETR_TRAINING_PRESETS["tiny"]
    config = preset.train_config(eval_every=0, snapshot_every=50, checkpoint_every=0)
    train, _ = preset.datasets()
    easy = easy_images(8, preset.shapes["image_size"])
    torch.manual_seed(config.seed)
    model = build_detr(preset)
    trainer = Trainer(model, DetectionTask(model.config), train, easy, config)
    print(f"\n== live demo: DETR tiny, {torch.get_num_threads()} thread(s), at most {minutes} min ==")
    start = time.perf_counter()
    first_losses: list[float] = []
    recent: deque[float] = deque(maxlen=10)
    minute_reported = False
    for event in trainer.run():
        elapsed = time.perf_counter() - start
        if isinstance(event, StepEvent):
            if elapsed > 60 and not minute_reported:
                minute_reported = True
                print(f"first minute: mean loss of steps 1-10 {sum(first_losses) / len(first_losses):.3f}, "
                      f"of steps {event.step - len(recent)}-{event.step - 1} {sum(recent) / len(recent):.3f} "
                      f"({event.images_per_s:.1f} img/s)", flush=True)
            if event.step <= 10:
                first_losses.append(event.loss)
            recent.append(event.loss)
        elif event.kind == "snapshot" and event.step > 0:
            correct = 0
            for pred in event.predictions:
                top = torch.as_tensor(pred.boxes_xyxy[:1])
                iou = box_iou_xyxy(top, torch.as_tensor(pred.gt_boxes_xyxy))[0, 0].item()
                correct += int(pred.labels[0] == pred.gt_labels[0] and iou >= 0.5)
            print(f"  step {event.step:5d} at {elapsed / 60:5.2f} min: "
                  f"{correct}/{len(event.predictions)} easy "
                  "images with a correct top box", flush=True)
            if correct * 2 >= len(event.predictions):
                print(f"first correct boxes on easy images after {elapsed / 60:.2f} min (step {event.step})")
                trainer.request_stop()
        if elapsed > minutes * 60:
            trainer.request_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--demo", action="store_true", help="also run the live-demo timing (minutes)")
    parser.add_argument("--demo-minutes", type=float, default=20.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    throughput(args.steps)
    if args.demo:
        live_demo(args.demo_minutes)


if __name__ == "__main__":
    main()
