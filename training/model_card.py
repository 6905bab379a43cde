"""Ship a trained run as a checkpoint folder with its model card.

    python -m training.model_card RUN_DIR --out checkpoints/yolo-shapes --dtype float16 \
        --command "python -m training.train_yolo --preset small ..."

Reads ``RUN_DIR`` (written by ``training.train_<kind>``: ``config.json``, ``model.safetensors``, ``log.jsonl``,
``run.json``) of a DETR, a ViT or a detector family (YOLO, Faster R-CNN, SSD, RetinaNet), writes ``OUT/config.json``
and ``OUT/model.safetensors`` (re-saved by `cvdemo.models.save`, in ``--dtype``), loads that checkpoint back and
evaluates *it* on a freshly generated shapes set whose seed the run never used (``--eval-seed``; training used the
data seed in ``RUN_DIR/run.json``, validation that seed + 1). Then ``OUT/README.md``: what the model is, data and
seeds, recipe and the exact commands, hardware and wall time, the time to reach validation AP 0.5, the 12 COCO
numbers, AP per class, TIDE errors, duplicates per object with and without NMS, the limitations; and
``OUT/metrics.json`` with those numbers (`training.compare_detectors` copies its training times).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import cvdemo.models
from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset
from cvdemo.detector_comparison import COCO_KEYS, family_of
from cvdemo.models.detr import DETR
from cvdemo.models.vit import ViT
from cvdemo.training import ClassificationTask, DetectionTask
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import TrainingPreset
from training.compare_detectors import DetectorEvaluation, evaluate_detector, make_eval_set

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float16": torch.float16}
AP_GOAL = 0.5  # "time to reach validation AP 0.5"


@dataclass
class RunLog:
    """A run's log.jsonl: the first start event (``total_steps`` the last segment's), step and eval events, the
    wall time summed over resumed segments, and the training time (s) at each eval event's step."""

    start: dict
    steps: list[dict]
    evals: list[dict]
    wall_s: float
    eval_elapsed_s: list[float]

    def time_to(self, goal: float, key: str = "AP") -> tuple[int | None, float | None]:
        """(step, minutes of training) of the first eval event with ``key`` >= ``goal``; (None, None) if never."""
        for event, elapsed in zip(self.evals, self.eval_elapsed_s):
            if event["metrics"].get(key, -1.0) >= goal:
                return int(event["step"]), elapsed / 60
        return None, None


def _read_log(path: Path) -> RunLog:
    """Parse ``path`` (see `RunLog`). A resumed segment's "elapsed_s" restarts at 0: earlier segments are added."""
    start, steps, evals, eval_elapsed, finishes = None, [], [], [], []
    offset = elapsed = 0.0
    for line in path.read_text().splitlines():
        event = json.loads(line)
        kind = event.get("event")
        if kind == "start":  # the first one, with the step count planned by the last (resumed) segment
            offset = elapsed
            start = event if start is None else {**start, "total_steps": event["total_steps"]}
        elif kind == "step":
            steps.append(event)
            elapsed = offset + event["elapsed_s"]
        elif kind == "eval":
            evals.append(event)
            eval_elapsed.append(elapsed)
        elif kind == "finished":
            finishes.append(event)
    if start is None or not steps:
        raise SystemExit(f"{path}: no training run recorded (no start or step events)")
    wall_s = sum(f["elapsed_s"] for f in finishes)
    if not finishes or finishes[-1]["step"] < steps[-1]["step"]:  # the last segment ended without its event
        wall_s += steps[-1]["elapsed_s"]
    return RunLog(start, steps, evals, wall_s, eval_elapsed)


def _hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared)"


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.model_card", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="output folder of a training run")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--name", help="model name in the card (default: the out folder's name)")
    parser.add_argument("--preset", default="small", help="the preset the run used (data of the evaluation)")
    parser.add_argument("--command", required=True, action="append",
                        help="the exact command that trained the run (repeat for a run continued with --init)")
    parser.add_argument("--eval-seed", type=int, default=777, help="seed of the fresh evaluation set")
    parser.add_argument("--eval-images", type=int, default=500, help="images in the fresh evaluation set")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                        help="floating-point type of the saved weights (float16: half the file; the card's "
                             "numbers are measured on the saved weights, loaded back)")
    parser.add_argument("--history", default="", help="how the run was trained, when not one plain command")
    parser.add_argument("--data-seed", type=int,
                        help="seed of the run's training images (default: from RUN/run.json, else the preset's)")
    parser.add_argument("--limitations", default="", help="extra limitations to state (Markdown)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the evaluation (1: on a shared CPU, more threads are slower)")
    return parser


def _kind(model: nn.Module) -> str:
    """"detr", "vit" or the detector family's short name (`cvdemo.detector_comparison.FAMILIES`)."""
    if isinstance(model, DETR):
        return "detr"
    if isinstance(model, ViT):
        return "vit"
    try:
        return family_of(getattr(model.config, "model_type", ""))
    except ValueError as e:
        raise SystemExit(f"no model card for a {type(model).__name__}: {e}") from e


def _preset(kind: str, name: str) -> TrainingPreset | None:
    """The training preset ``name`` of ``kind`` (None for a family without presets, e.g. RetinaNet)."""
    presets = KINDS[kind].presets if kind in KINDS else None
    if presets is None:
        return None
    if name not in presets:
        raise SystemExit(f"--preset {name}: {kind} has the presets {', '.join(presets)}")
    return presets[name]


def _save_and_reload(model: nn.Module, out: Path, dtype: str) -> tuple[nn.Module, float]:
    """Write the checkpoint (``dtype`` on disk), load it back; (the loaded model, its file's MB)."""
    cvdemo.models.save(model, out, dtype=DTYPES[dtype])
    size_mb = (out / "model.safetensors").stat().st_size / 2**20
    return cvdemo.models.load(out).eval(), size_mb


def _evaluate(kind: str, model: nn.Module, args: argparse.Namespace, preset: TrainingPreset | None
              ) -> tuple[dict, dict, DetectorEvaluation | None, float]:
    """(metrics, AP or accuracy per class, the detection evaluation (None for a ViT), seconds) on the fresh set."""
    config = preset.shapes_config() if preset is not None else SHARED_SHAPES
    t0 = time.perf_counter()
    if kind == "vit":
        val = ShapesDataset(args.eval_images, args.eval_seed, config)
        metrics, per_class = ClassificationTask(model.config).evaluate(model, val, torch.device("cpu"), batch_size=50)
        return metrics, per_class, None, time.perf_counter() - t0
    detection = evaluate_detector(model, make_eval_set(args.eval_images, args.eval_seed, config))
    metrics = dict(detection.metrics)
    if kind == "detr":  # DETR's validation loss too, as the card always had it
        val = ShapesDataset(args.eval_images, args.eval_seed, config)
        task_metrics, _ = DetectionTask(model.config).evaluate(model, val, torch.device("cpu"), batch_size=50)
        metrics["loss"] = task_metrics["loss"]
    return metrics, detection.per_class, detection, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    trained = cvdemo.models.load(args.run)
    kind = _kind(trained)
    preset = _preset(kind, args.preset)
    run_log = _read_log(args.run / "log.jsonl")
    data_seed = _data_seed(args.run, args.data_seed, preset.data_seed if preset is not None else 0)
    if args.eval_seed in (data_seed, data_seed + 1):
        raise SystemExit(f"--eval-seed {args.eval_seed} was used by the run; choose another")
    model, size_mb = _save_and_reload(trained, args.out, args.dtype)
    metrics, per_class, detection, eval_s = _evaluate(kind, model, args, preset)
    log.info("fresh evaluation (%d images, seed %d): %s", args.eval_images, args.eval_seed, metrics)
    card = Card(args, kind, preset, model, run_log, data_seed, size_mb)
    (args.out / "README.md").write_text(card.markdown(metrics, per_class, detection, eval_s))
    (args.out / "metrics.json").write_text(json.dumps(card.metrics_json(metrics, per_class, detection), indent=2)
                                           + "\n")
    log.info("wrote %s (%.1f MB)", args.out, size_mb)
    return 0


@dataclass
class Card:
    """Everything the card states besides the fresh evaluation."""

    args: argparse.Namespace
    kind: str
    preset: TrainingPreset | None
    model: nn.Module
    log: RunLog
    data_seed: int
    size_mb: float

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def record(self) -> dict:
        try:
            return json.loads((self.args.run / "run.json").read_text())
        except (OSError, ValueError):
            return {}

    def time_to_goal(self) -> tuple[int | None, float | None]:
        return (None, None) if self.kind == "vit" else self.log.time_to(AP_GOAL)

    def metrics_json(self, metrics: dict, per_class: dict, detection: DetectorEvaluation | None) -> dict:
        steps, minutes = self.time_to_goal()
        extra = {} if detection is None else {
            k: v for k, v in detection.as_dict().items() if k not in metrics and k != "per_class"}
        return {"eval_seed": self.args.eval_seed, "eval_images": self.args.eval_images, **metrics,
                "per_class": per_class, **extra, "num_parameters": self.num_parameters, "size_mb": self.size_mb,
                "dtype": self.args.dtype, "train_minutes": self.log.wall_s / 60,
                **({} if self.kind == "vit" else {"steps_to_AP50": steps, "minutes_to_AP50": minutes}),
                "init": self.record.get("init")}

    def markdown(self, metrics: dict, per_class: dict, detection: DetectorEvaluation | None, eval_s: float) -> str:
        name = self.args.name or self.args.out.name
        lines = [f"# {name}", "", describe_model(self.kind, self.model, self.num_parameters, self.size_mb,
                                                 self.args.dtype), "",
                 "Load it with `cvdemo.models.load(\"checkpoints/" + self.args.out.name + "\")`.", "",
                 "## Data", "", self._data(), "", "## Recipe", "", "```bash", *self.args.command, "```", "",
                 self._recipe(), "", "## Hardware and time", "", self._hardware(eval_s)]
        if self.kind != "vit":
            lines += ["", self._time_to_goal_sentence()]
        lines += ["", "## Results on the fresh set", "", *self._results(metrics, per_class, detection)]
        lines += ["", "## Limitations", "",
                  "Trained only on synthetic, flat-coloured shapes over synthetic backgrounds: it knows nothing of "
                  "photographs and will give meaningless outputs on them (use the Hub models for real images). "
                  "Small and trained briefly on a CPU, it is a teaching model, not a benchmark."]
        if self.args.limitations:
            lines += ["", self.args.limitations]
        return "\n".join(lines) + "\n"

    def _data(self) -> str:
        preset = self.preset
        steps, start = self.log.steps, self.log.start
        images = steps[-1]["step"] * start["batch_size"]
        shapes = preset.shapes if preset is not None else {
            k: getattr(SHARED_SHAPES, k) for k in ("image_size", "min_objects", "max_objects", "min_size", "max_size")}
        where = (f"the `{preset.name}` preset ({preset.description})" if preset is not None
                 else "the shared distribution (`SHARED_SHAPES`)")
        epoch = (f", from an epoch of {preset.num_train_images:,} generated images" if preset is not None else "")
        return (f"Generated in memory by `cvdemo.datasets.shapes` with {where}: "
                f"`ShapesConfig({', '.join(f'{k}={v!r}' for k, v in shapes.items())})`. "
                f"Training images: seed {self.data_seed} ({images:,} images seen{epoch}); validation during "
                f"training: seed {self.data_seed + 1}. The metrics below use a fresh set of {self.args.eval_images} "
                f"images with seed {self.args.eval_seed}, never used in training, evaluated on the checkpoint as "
                f"saved here ({self.args.dtype} weights, loaded back).")

    def _recipe(self) -> str:
        steps, start = self.log.steps, self.log.start
        return (("The last command: " if len(self.args.command) > 1 else "")
                + recipe_sentence(start["config"], start["batch_size"], steps[-1]["step"], self.kind)
                + _init_sentence(self.args.run, self.preset)
                + (f" Stopped at step {steps[-1]['step']:,} of the {start['total_steps']:,} its schedule was planned "
                   "for (the learning rate had not decayed to its end)."
                   if steps[-1]["step"] < start["total_steps"] else "")
                + (f" {self.args.history}" if self.args.history else ""))

    def _hardware(self, eval_s: float) -> str:
        steps, start = self.log.steps, self.log.start
        config = start["config"]
        rates = sorted(s["images_per_s"] for s in steps[len(steps) // 10:])
        compute = _compute_line(steps, start["batch_size"], start["world_size"], config["device"])
        return (f"{_hardware()}, {config['device']}, torch {torch.__version__}. Wall time "
                f"{self.log.wall_s / 60:.0f} min (median {rates[len(rates) // 2]:.0f} images/s"
                + (", shared with other work" if config["device"] == "cpu" else "") + "), evaluation of the fresh "
                f"set {eval_s:.0f} s." + (f" {compute}" if compute else ""))

    def _time_to_goal_sentence(self) -> str:
        step, minutes = self.time_to_goal()
        init = self.record.get("init")
        start = f" (this run started from the weights of `{init}`)" if init else ""
        if step is None:
            best = max(self.log.evals, key=lambda e: e["metrics"].get("AP", -1.0), default=None)
            seen = (f"; best {_fmt(best['metrics']['AP'])} at step {best['step']:,}" if best is not None
                    else "; no validation during training")
            return f"**Time to validation AP {AP_GOAL}**: not reached in {self.log.wall_s / 60:.0f} min{seen}{start}."
        first = step == self.log.evals[0]["step"]  # reached at the first evaluation: it may have been reached earlier
        return (f"**Time to validation AP {AP_GOAL}**: step {step:,}, after {minutes:.0f} min of training (wall time "
                f"of the step events, evaluations included)"
                + (" at the run's first evaluation, so at most that" if first else "") + f"{start}.")

    def _results(self, metrics: dict, per_class: dict, detection: DetectorEvaluation | None) -> list[str]:
        if self.kind == "vit":
            lines = [f"Top-1 accuracy **{_fmt(metrics['accuracy'], 4)}** (mean CE {_fmt(metrics['loss'])}).", "",
                     "Per class accuracy: " + ", ".join(f"{k} {_fmt(v)}" for k, v in per_class.items()) + "."]
        else:
            lines = detection_results(self.kind, metrics, per_class, detection)
        if self.log.evals:
            key = "accuracy" if self.kind == "vit" else "AP"
            lines += ["", f"Validation {key} during training (seed {self.data_seed + 1}): "
                      + ", ".join(f"step {e['step']}: {_fmt(e['metrics'][key])}" for e in self.log.evals) + "."]
        return lines


def _maps(model: nn.Module, size: int) -> str:
    """The feature maps' sizes a torchvision-built family sees on a ``size`` px square image ("16x16, 8x8, ..."),
    "" for a model without torchvision's transform and backbone."""
    try:
        with torch.no_grad():
            image_list, _ = model.transform([torch.zeros(3, size, size)])
            maps = model.backbone(image_list.tensors)
    except (AttributeError, TypeError, RuntimeError):
        return ""
    maps = maps.values() if isinstance(maps, dict) else [maps]
    return ", ".join(f"{m.shape[-2]}x{m.shape[-1]}" for m in maps)


def _family_sentence(kind: str, model: nn.Module) -> str:
    """The network of a detector family, from its config."""
    c = model.config
    if kind == "yolo":
        return (f"A YOLO (v1) grid detector: backbone {c.backbone} up to layer{c.backbone_stages} (BatchNorm), a 3x3 "
                f"convolution of {c.head_channels} channels average-pooled to the {c.grid_size}x{c.grid_size} grid, "
                f"the '{c.head}' head" + (f" (hidden width {c.fc_hidden})" if c.head == "fc" else "")
                + f", {c.boxes_per_cell} boxes per cell with a confidence each and one class distribution per cell; "
                f"images letterboxed into {c.input_size} px (cells of {c.input_size / c.grid_size:g} px). "
                f"Detections: confidence x class probability above {c.score_threshold:g}, class-wise NMS at IoU "
                f"{c.nms_iou:g}, at most {c.max_detections} per image.")
    maps = _maps(model, SHARED_SHAPES.image_size)
    at = f" (maps {maps} at {SHARED_SHAPES.image_size} px)" if maps else ""
    if kind == "fasterrcnn":
        return (f"torchvision's Faster R-CNN (two-stage): backbone {c.backbone} stages {list(c.returned_layers)} "
                f"with a {c.fpn_channels}-channel FPN{at}; RPN anchors {[list(a) for a in c.anchor_sizes]} px per "
                f"level x aspect ratios {list(c.aspect_ratios)}, {c.rpn_post_nms_top_n_test} proposals kept after "
                f"the RPN's NMS at IoU {c.rpn_nms_thresh:g}; RoIAlign {c.roi_output_size}x{c.roi_output_size}, box "
                f"head {c.representation_size} wide; images resized to a short side of {c.min_size} px (long side "
                f"<= {c.max_size}). Detections above {c.box_score_thresh:g}, class-wise NMS at IoU "
                f"{c.box_nms_thresh:g}, at most {c.box_detections_per_img} per image.")
    if kind == "ssd":
        return (f"torchvision's SSD (one-stage): backbone {c.backbone} stages {list(c.returned_layers)} and extra "
                f"blocks {list(c.extra_channels)}: {len(c.aspect_ratios)} feature maps{at}, default boxes of scales "
                f"{list(c.scales)} with aspect ratios {[list(a) for a in c.aspect_ratios]} per map; images resized to "
                f"{c.size[0]}x{c.size[1]} px. Detections above {c.score_thresh:g} (at most {c.topk_candidates} per "
                f"class), class-wise NMS at IoU {c.nms_thresh:g}, at most {c.detections_per_img} per image.")
    if kind == "retinanet":
        return (f"torchvision's RetinaNet (one-stage, focal loss): backbone {c.backbone} stages "
                f"{list(c.returned_layers)} with a {c.fpn_channels}-channel FPN{at}; anchors "
                f"{[list(a) for a in c.anchor_sizes]} px per level x aspect ratios {list(c.aspect_ratios)}; images "
                f"resized to a short side of {c.min_size} px. Detections above {c.score_thresh:g}, class-wise NMS "
                f"at IoU {c.nms_thresh:g}, at most {c.detections_per_img} per image.")
    settings = {k: v for k, v in c.to_dict().items() if k not in ("id2label", "label2id")}
    return f"A {type(model).__name__} detector; its config: `{json.dumps(settings)}`."


def describe_model(kind: str, model: nn.Module, num_parameters: int, size_mb: float, dtype: str) -> str:
    """The card's first paragraph: what the model is."""
    c = model.config
    classes = f"{len(c.id2label)} classes: {', '.join(c.id2label.values())}"
    size = (f"{num_parameters / 1e6:.2f} M parameters, {size_mb:.1f} MB"
            + (f" ({dtype} on disk; `cvdemo.models.load` copies them into float32)" if dtype != "float32" else "")
            + ".")
    if kind == "detr":
        return (f"A small DETR trained from scratch on cvdemo's synthetic shapes ({classes}). Backbone {c.backbone} "
                f"up to layer{c.backbone_stages} (BatchNorm, output stride {model.backbone.stride}), transformer "
                f"d_model {c.d_model}, {c.encoder_layers} encoder + {c.decoder_layers} decoder layers, "
                f"{c.num_heads} heads, {c.num_queries} queries, input {c.shortest_edge} px. {size}")
    if kind == "vit":
        return (f"A small Vision Transformer trained from scratch to classify one synthetic shape per image "
                f"({classes}). {c.image_size} px input, {c.patch_size} px patches ({c.grid_size[0]}x{c.grid_size[1]} "
                f"tokens), {c.depth} blocks of width {c.embed_dim}, {c.num_heads} heads, pooling '{c.global_pool}'. "
                f"{size}")
    return f"A detector trained on cvdemo's synthetic shapes ({classes}). {_family_sentence(kind, model)} {size}"


def recipe_sentence(config: dict, batch_size: int, steps: int, kind: str) -> str:
    """The optimiser, schedule and data order of the run's (last) command, from its start event's config."""
    backbone_lr = config.get("backbone_lr") or config["lr"]
    return (f"AdamW (lr {config['lr']:g}" + (f", backbone lr {backbone_lr:g}" if kind != "vit" else "")
            + f", weight decay {config['weight_decay']:g}), {config['schedule']} schedule with "
            f"{config['warmup_steps']} warm-up steps, gradient clipping {config['grad_clip']:g}, batch {batch_size}, "
            f"{steps:,} steps, horizontal flips p={config['hflip']:g}, seed {config['seed']}.")


def _coco_table(metrics: dict) -> list[str]:
    return ["| " + " | ".join(COCO_KEYS) + " |", "|" + "---|" * len(COCO_KEYS),
            "| " + " | ".join(_fmt(metrics[k]) for k in COCO_KEYS) + " |"]


def _rate(rate: float) -> str:
    """Duplicates per object: a percentage up to 100 %, else "2.35 per object"."""
    return f"{rate:.1%}" if rate <= 1 else f"{rate:.2f} per object"


def _duplicates_sentence(kind: str, d: DetectorEvaluation) -> str:
    c = d.duplicates
    shipped = (f"{_rate(c.duplicate_rate)} ({c.duplicates} duplicate boxes on {c.num_objects} objects of "
               f"{c.num_images} images)")
    if kind == "detr":
        after = d.duplicates_after_nms
        return (f"**Duplicates per object** (score >= 0.5, IoU >= 0.5, `cvdemo.metrics.duplicates`): {shipped} "
                f"without NMS, as DETR ships (the issue asks <= 10 %); {_rate(after.duplicate_rate)} after a "
                f"class-wise NMS at IoU 0.5, which DETR's one-to-one matching should make unnecessary.")
    before = d.duplicates_before_nms
    return (f"**Duplicates per object** (score >= 0.5, IoU >= 0.5, `cvdemo.metrics.duplicates`): {shipped} after its "
            f"NMS, as shipped; {_rate(before.duplicate_rate)} ({before.duplicates} boxes) before it "
            "(`model.inspect(...)[\"detections_before_nms\"]`): what NMS removes.")


def detection_results(kind: str, metrics: dict, per_class: dict, d: DetectorEvaluation) -> list[str]:
    """The results section of a detector: COCO table, AP per class, TIDE errors, duplicates."""
    protocol = ("COCO evaluation as in DETR's official protocol (all queries, best non-background class):"
                if kind == "detr" else "COCO evaluation of the detections as shipped (the model's own score "
                                       "threshold and NMS), one image at a time:")
    t = d.tide
    return [protocol, "", *_coco_table(metrics), "",
            "Per class AP: " + ", ".join(f"{k} {_fmt(v)}" for k, v in per_class.items()) + ".", "",
            f"**TIDE errors** (`cvdemo.metrics.tide`) of the detections scoring >= 0.5 at IoU 0.5, on the "
            f"{d.num_objects} objects of the fresh set: {t['loc']} poorly localised, {t['cls']} wrong class, "
            f"{t['dupe']} duplicates, {t['bkg']} on background, {t['both']} both wrong class and poorly localised, "
            f"{t['missed']} objects missed.", "", _duplicates_sentence(kind, d)]


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


def _init_sentence(run: Path, preset: TrainingPreset | None) -> str:
    """What run.json says about a backbone init or a ViT feature hint, as a sentence ("" if neither)."""
    try:
        record = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        return ""
    parts = []
    if record.get("init"):
        parts.append(f" The whole model started from the weights of `{record['init']}` (`--init`).")
    if record.get("backbone_init"):
        parts.append(f" The backbone started from `{record['backbone_init']}`'s (the rest from scratch).")
    if record.get("hint_from"):
        spec = (preset.feature_hint if preset is not None else None) or {}
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
