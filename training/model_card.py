"""Ship a trained run as a checkpoint folder with its model card.

    python -m training.model_card RUN_DIR --out checkpoints/detr-shapes --command "python -m training..."

Reads ``RUN_DIR`` (written by ``training.train_detr`` / ``training.train_vit``: ``config.json``,
``model.safetensors``, ``log.jsonl``), evaluates the model on a freshly generated shapes set whose seed the
run never used (``--eval-seed``; training used the data seed in ``RUN_DIR/run.json``, validation that seed + 1),
and writes ``OUT/config.json``, ``OUT/model.safetensors`` (the weights, re-saved by `cvdemo.models.save`) and
``OUT/README.md``: data and seeds, recipe and the exact command, hardware and wall time, throughput, the
validation curve, the final metrics and the model's limitations.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import cvdemo.models
from cvdemo.datasets.shapes import ShapesDataset
from cvdemo.models.detr import DETR
from cvdemo.training import ClassificationTask, DetectionTask
from cvdemo.training.presets import DETR_TRAINING_PRESETS, VIT_TRAINING_PRESETS

log = logging.getLogger(__name__)

COCO_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _read_log(path: Path) -> tuple[dict, list[dict], list[dict], float]:
    """(first start event (its ``total_steps`` the last segment's), step events, eval events, wall time summed
    over the log's resumed segments)."""
    start, steps, evals, finishes = None, [], [], []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        kind = event.get("event")
        if kind == "start":  # the first one, with the step count planned by the last (resumed) segment
            start = event if start is None else {**start, "total_steps": event["total_steps"]}
        elif kind == "step":
            steps.append(event)
        elif kind == "eval":
            evals.append(event)
        elif kind == "finished":
            finishes.append(event)
    if start is None or not steps:
        raise SystemExit(f"{path}: no training run recorded (no start or step events)")
    wall_s = sum(f["elapsed_s"] for f in finishes)
    if not finishes or finishes[-1]["step"] < steps[-1]["step"]:  # the last segment ended without its event
        wall_s += steps[-1]["elapsed_s"]
    return start, steps, evals, wall_s


def _hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared)"


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.model_card", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="output folder of a training run")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--name", help="model name in the card (default: the out folder's name)")
    parser.add_argument("--preset", default="small", help="the preset the run used (data of the evaluation)")
    parser.add_argument("--command", required=True, action="append",
                        help="the exact command that trained the run (repeat for a run continued with --init)")
    parser.add_argument("--eval-seed", type=int, default=777, help="seed of the fresh evaluation set")
    parser.add_argument("--eval-images", type=int, default=500, help="images in the fresh evaluation set")
    parser.add_argument("--history", default="", help="how the run was trained, when not one plain command")
    parser.add_argument("--data-seed", type=int,
                        help="seed of the run's training images (default: from RUN/run.json, else the preset's)")
    parser.add_argument("--limitations", default="", help="extra limitations to state (Markdown)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    model = cvdemo.models.load(args.run)
    is_detr = isinstance(model, DETR)
    preset = (DETR_TRAINING_PRESETS if is_detr else VIT_TRAINING_PRESETS)[args.preset]
    start, steps, evals, wall_s = _read_log(args.run / "log.jsonl")
    data_seed = _data_seed(args.run, args.data_seed, preset.data_seed)
    if args.eval_seed in (data_seed, data_seed + 1):
        raise SystemExit(f"--eval-seed {args.eval_seed} was used by the run; choose another")

    val = ShapesDataset(args.eval_images, args.eval_seed, preset.shapes_config())
    task = DetectionTask(model.config) if is_detr else ClassificationTask(model.config)
    t0 = time.perf_counter()
    metrics, per_class = task.evaluate(model.eval(), val, torch.device("cpu"), batch_size=50)
    eval_s = time.perf_counter() - t0
    log.info("fresh evaluation (%d images, seed %d): %s", args.eval_images, args.eval_seed, metrics)

    args.out.mkdir(parents=True, exist_ok=True)
    cvdemo.models.save(model, args.out)
    size_mb = (args.out / "model.safetensors").stat().st_size / 2**20
    name = args.name or args.out.name
    config = start["config"]
    images = steps[-1]["step"] * start["batch_size"]
    rates = sorted(s["images_per_s"] for s in steps[len(steps) // 10:])
    median_rate = rates[len(rates) // 2]
    num_params = start["num_parameters"]
    compute = _compute_line(steps, start["batch_size"], start["world_size"], config["device"])

    lines = [f"# {name}", ""]
    if is_detr:
        c = model.config
        lines += [f"A small DETR trained from scratch on cvdemo's synthetic shapes ({len(c.id2label)} classes: "
                  f"{', '.join(c.id2label.values())}). Backbone {c.backbone} up to layer{c.backbone_stages} "
                  f"(BatchNorm, output stride {model.backbone.stride}), transformer d_model {c.d_model}, "
                  f"{c.encoder_layers} encoder + {c.decoder_layers} decoder layers, {c.num_heads} heads, "
                  f"{c.num_queries} queries, input {c.shortest_edge} px. {num_params / 1e6:.2f} M parameters, "
                  f"{size_mb:.1f} MB."]
    else:
        c = model.config
        lines += [f"A small Vision Transformer trained from scratch to classify one synthetic shape per image "
                  f"({len(c.id2label)} classes: {', '.join(c.id2label.values())}). {c.image_size} px input, "
                  f"{c.patch_size} px patches ({c.grid_size[0]}x{c.grid_size[1]} tokens), {c.depth} blocks of "
                  f"width {c.embed_dim}, {c.num_heads} heads, pooling '{c.global_pool}'. "
                  f"{num_params / 1e6:.2f} M parameters, {size_mb:.1f} MB."]
    lines += ["", "Load it with `cvdemo.models.load(\"checkpoints/" + args.out.name + "\")`.", "",
              "## Data", "",
              f"Generated in memory by `cvdemo.datasets.shapes` with the `{preset.name}` preset "
              f"({preset.description}): `ShapesConfig({', '.join(f'{k}={v!r}' for k, v in preset.shapes.items())})`. "
              f"Training images: seed {data_seed} ({images:,} images seen, from an epoch of "
              f"{preset.num_train_images:,} generated images); validation during training: seed "
              f"{data_seed + 1}. The metrics below use a fresh set of {args.eval_images} images with seed "
              f"{args.eval_seed}, never used in training.", "",
              "## Recipe", "",
              "```bash", *args.command, "```", "",
              ("The last command: " if len(args.command) > 1 else "")
              + f"AdamW (lr {config['lr']:g}"
              + (f", backbone lr {config['backbone_lr'] or config['lr']:g}" if is_detr else "")
              + f", weight decay {config['weight_decay']:g}), {config['schedule']} schedule with "
              f"{config['warmup_steps']} warm-up steps, gradient clipping {config['grad_clip']:g}, "
              f"batch {start['batch_size']}, "
              f"{steps[-1]['step']:,} steps, horizontal flips p={config['hflip']:g}, seed {config['seed']}."
              + _init_sentence(args.run, preset)
              + (f" Stopped at step {steps[-1]['step']:,} of the {start['total_steps']:,} its schedule was planned for "
                 "(the learning rate had not decayed to its end)."
                 if steps[-1]["step"] < start["total_steps"] else "")
              + (f" {args.history}" if args.history else ""), "",
              "## Hardware and time", "",
              f"{_hardware()}, {config['device']}, torch {torch.__version__}. Wall time {wall_s / 60:.0f} min "
              f"(median {median_rate:.0f} images/s"
              + (", shared with other work" if config["device"] == "cpu" else "") + "), evaluation of the fresh set "
              f"{eval_s:.0f} s." + (f" {compute}" if compute else ""), "",
              "## Results on the fresh set", ""]
    if is_detr:
        lines += ["COCO evaluation as in DETR's official protocol (all queries, best non-background class):", "",
                  "| " + " | ".join(COCO_KEYS) + " |", "|" + "---|" * len(COCO_KEYS),
                  "| " + " | ".join(_fmt(metrics[k]) for k in COCO_KEYS) + " |", "",
                  "Per class AP: " + ", ".join(f"{k} {_fmt(v)}" for k, v in per_class.items()) + "."]
    else:
        lines += [f"Top-1 accuracy **{_fmt(metrics['accuracy'], 4)}** (mean CE {_fmt(metrics['loss'])}).", "",
                  "Per class accuracy: " + ", ".join(f"{k} {_fmt(v)}" for k, v in per_class.items()) + "."]
    if evals:
        key = "AP" if is_detr else "accuracy"
        lines += ["", f"Validation {key} during training (seed {data_seed + 1}): "
                  + ", ".join(f"step {e['step']}: {_fmt(e['metrics'][key])}" for e in evals) + "."]
    lines += ["", "## Limitations", "",
              "Trained only on synthetic, flat-coloured shapes over synthetic backgrounds: it knows nothing of "
              "photographs and will give meaningless outputs on them (use the Hub models for real images). "
              "Small and trained briefly on a CPU, it is a teaching model, not a benchmark."]
    if args.limitations:
        lines += ["", args.limitations]
    (args.out / "README.md").write_text("\n".join(lines) + "\n")
    (args.out / "metrics.json").write_text(json.dumps({
        "eval_seed": args.eval_seed, "eval_images": args.eval_images, **metrics, "per_class": per_class},
        indent=2) + "\n")
    log.info("wrote %s (%.1f MB)", args.out, size_mb)
    return 0


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def _compute_line(steps: list[dict], batch_size: int, world_size: int, device: str) -> str:
    """Training FLOPs per image, achieved TFLOP/s and MFU (median after the first tenth of the steps) and peak
    memory, from the log's step events; "" for a log without FLOP figures (older runs)."""
    late = steps[len(steps) // 10:]
    tflops = [s["tflops_per_s"] for s in late if s.get("tflops_per_s")]
    if not tflops:
        return ""
    rates = [s["images_per_s"] for s in late if s.get("tflops_per_s")]
    per_image = _median([t * 1e12 / (r / world_size) for t, r in zip(tflops, rates)])  # FLOPs per image
    mfus = [s["mfu"] for s in late if s.get("mfu") is not None]
    memory = max(s["memory_mib"] for s in steps)
    where = "peak CUDA memory" if device.startswith("cuda") else "peak resident memory of the process"
    return (f"Training compute {per_image / 1e9:.2f} GFLOP per image (forward + backward, counted), "
            f"{_median(tflops):.2f} TFLOP/s per device"
            + (f", MFU {100 * _median(mfus):.1f} %" if mfus else " (no peak known for this device: no MFU)")
            + f"; {where} {memory:,.0f} MiB.")


def _init_sentence(run: Path, preset) -> str:
    """What run.json says about a DETR backbone init or a ViT feature hint, as a sentence ("" if neither)."""
    try:
        record = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        return ""
    parts = []
    if record.get("backbone_init"):
        parts.append(f" The backbone started from `{record['backbone_init']}`'s (the rest from scratch).")
    if record.get("hint_from"):
        spec = preset.feature_hint or {}
        parts.append(f" Feature hint (`cvdemo.training.feature_hint`): the tokens after block {spec.get('block', 1)} "
                     f"predict the frozen `{record['hint_from']}` backbone's feature map through a linear head "
                     f"(loss weight {spec.get('weight', 1.0):g}) used only in training; the model shipped here is "
                     "a plain ViT.")
    return "".join(parts)


def _data_seed(run: Path, given: int | None, preset_seed: int) -> int:
    """The seed of the run's generated training images: ``given``, else ``run/run.json``'s, else the preset's."""
    if given is not None:
        return given
    try:
        data = json.loads((run / "run.json").read_text())["data"]
    except (OSError, ValueError, KeyError):
        log.warning("%s has no run.json (a run of an older version): assuming the preset's data seed %d; "
                    "pass --data-seed if the run used another", run, preset_seed)
        return preset_seed
    if data.get("source") != "shapes":
        raise SystemExit(f"{run} was trained on a COCO folder ({data.get('train')}), not on generated shapes: "
                         "its card cannot be evaluated on fresh shapes")
    return int(data["data_seed"])


if __name__ == "__main__":
    raise SystemExit(main())
