"""The training command lines behind ``python -m training.train_detr`` and ``python -m training.train_vit``.

Both parse the same options over a preset (`cvdemo.training.presets`), build the data (generated shapes in
memory, or COCO folders), the model (fresh, or ``--init`` from a checkpoint) and a `Trainer`, then consume
its events: a progress bar on stderr, a JSON-lines log of every metric, checkpoints. At the end the trained
model is written to ``--out`` as ``config.json`` + ``model.safetensors`` (loadable by
`cvdemo.models.load`), with ``metrics.json`` (the last evaluation) and the resumable state in
``--out/checkpoint``.

Ctrl-C asks the trainer to stop: it finishes the current step, saves a checkpoint and exits with status 130
(``--resume`` continues from there); a second Ctrl-C aborts at once. A diverged run (NaN/inf) prints the
reason and exits with status 1. Multi-GPU: ``torchrun --nproc_per_node N -m training.train_detr ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

import cvdemo.models
from cvdemo.datasets.structure import DatasetError
from cvdemo.images import ImageLoadError
from cvdemo.models.loading import CheckpointError
from cvdemo.training import distributed
from cvdemo.training.data import CocoFolderDataset
from cvdemo.training.detection import DetectionTask
from cvdemo.training.divergence import NonFiniteLossError
from cvdemo.training.engine import Trainer
from cvdemo.training.event_log import JsonLinesLog
from cvdemo.training.events import EvalEvent, RunFinished
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import TrainingPreset, build_vit, build_vit_task
from cvdemo.training.progress import ConsoleReporter

__all__ = ["build_parser", "run"]

log = logging.getLogger(__name__)


def build_parser(kind: str) -> argparse.ArgumentParser:
    """The argument parser of the ``detr`` or ``vit`` training CLI."""
    prog, title, presets = KINDS[kind].prog, KINDS[kind].title, KINDS[kind].presets
    preset_help = "; ".join(f"{p.name}: {p.description}" for p in presets.values())
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"{title} on generated shapes (default) or a COCO-format folder. Options left out take "
                    "the preset's value.",
        epilog="Multi-GPU: torchrun --nproc_per_node N -m " + prog.split()[-1] + " ... (gloo on CPUs).")
    parser.add_argument("--preset", choices=sorted(presets), default="tiny", help=preset_help)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder: the model, metrics.json, log.jsonl, checkpoint/ "
                             f"(default runs/{kind}-<preset>)")

    data = parser.add_argument_group("data (default: shapes generated in memory)")
    data.add_argument("--train", type=Path, metavar="DIR",
                      help="COCO folder to train on: DIR/annotations.json and DIR/images/ "
                           "(as `python -m cvdemo.datasets.shapes` writes)")
    data.add_argument("--val", type=Path, metavar="DIR", help="COCO folder to evaluate on (same categories)")
    counts = ", ".join(f"{p.name}: {p.num_train_images}/{p.num_val_images}" for p in presets.values())
    data.add_argument("--num-train-images", type=int, help=f"generated training images ({counts})")
    data.add_argument("--num-val-images", type=int, help="generated validation images")
    data.add_argument("--data-seed", type=int, help="seed of the generated training images, validation uses "
                                                      "seed + 1 (default 0)")

    model = parser.add_argument_group("model")
    model.add_argument("--init", type=str, metavar="MODEL",
                       help="start from these weights (a folder or hf:<id>) instead of a fresh model")
    if kind == "vit":
        hints = ", ".join(f"{p.name}: {(p.feature_hint or {}).get('teacher') or 'none'}" for p in presets.values())
        model.add_argument("--hint-from", type=str, metavar="MODEL",
                           help="a DETR (folder or hf:<id>) whose frozen backbone gives the feature-hint loss "
                                f"(cvdemo.training.feature_hint); 'none' for plain cross-entropy ({hints})")
    if kind == "detr":
        model.add_argument("--eos-coef", type=float, metavar="W",
                           help="weight of the no-object class in DETR's classification loss (DETR: 0.1); higher "
                                "pushes the unmatched queries, a duplicate's, harder toward no object")
    if kind != "vit":
        inits = ", ".join(f"{p.name}: {p.backbone_init or 'none'}" for p in presets.values())
        model.add_argument("--backbone-init", type=str, metavar="MODEL",
                           help="a DETR (folder or hf:<id>) whose backbone starts the fresh model's, as DETR "
                                f"starts from an ImageNet ResNet; 'none' for a random backbone ({inits})")

    def preset_values(field: str, text: str) -> str:
        values = ", ".join(f"{p.name}: {p.train_config().to_dict()[field]}" for p in presets.values())
        return f"{text} ({values})"

    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--steps", type=int, help=preset_values("total_steps", "optimizer updates"))
    opt.add_argument("--batch-size", type=int,
                     help=preset_values("batch_size", "images per update and process"))
    opt.add_argument("--lr", type=float, help=preset_values("lr", "AdamW learning rate"))
    if kind != "vit":
        opt.add_argument("--backbone-lr", type=float,
                         help=preset_values("backbone_lr", "backbone learning rate; None = --lr, for a "
                                            "backbone trained from scratch (DETR fine-tuning uses 1e-5)"))
    opt.add_argument("--weight-decay", type=float, help=preset_values("weight_decay", "AdamW weight decay"))
    opt.add_argument("--grad-clip", type=float, help=preset_values("grad_clip", "max gradient norm, 0 = off"))
    opt.add_argument("--schedule", choices=("cosine", "step", "constant"),
                     help=preset_values("schedule", "learning-rate schedule after the warm-up"))
    opt.add_argument("--warmup-steps", type=int, help=preset_values("warmup_steps", "linear warm-up updates"))
    opt.add_argument("--lr-drop-step", type=int, help="step schedule: lr x0.1 from this update")
    opt.add_argument("--hflip", type=float, help=preset_values("hflip", "probability of a horizontal flip"))
    opt.add_argument("--seed", type=int,
                     help=preset_values("seed", "seed of the initialisation, batch order and augmentation"))

    run = parser.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    run.add_argument("--no-bf16", action="store_true", help="no bf16 autocast on CUDA")
    run.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    run.add_argument("--num-workers", type=int, help="data-loading processes")
    run.add_argument("--eval-every", type=int, help="updates between evaluations (0: at the end only)")
    run.add_argument("--snapshot-every", type=int, help="updates between prediction snapshots in the log")
    run.add_argument("--checkpoint-every", type=int, help="updates between resumable checkpoints")
    run.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    run.add_argument("--log", type=Path, help="JSON-lines log of every event (default OUT/log.jsonl)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


_OVERRIDES = {"steps": "total_steps", "batch_size": "batch_size", "lr": "lr", "backbone_lr": "backbone_lr",
              "weight_decay": "weight_decay", "grad_clip": "grad_clip", "schedule": "schedule",
              "warmup_steps": "warmup_steps", "lr_drop_step": "lr_drop_step", "hflip": "hflip",
              "seed": "seed",
              "num_workers": "num_workers", "eval_every": "eval_every", "snapshot_every": "snapshot_every",
              "checkpoint_every": "checkpoint_every"}


def _datasets(args: argparse.Namespace, preset: TrainingPreset, task: str) -> tuple[Any, Any, dict[int, str]]:
    if args.train is None:
        if args.val is not None:
            raise DatasetError("--val needs --train (generated shapes bring their own validation set)")
        train, val = preset.datasets(args.num_train_images, args.num_val_images, args.data_seed)
        return train, val, {k: c.name for k, c in enumerate(train.categories)}
    train = CocoFolderDataset.from_folder(args.train, task)
    val = CocoFolderDataset.from_folder(args.val, task) if args.val is not None else None
    names = [c.name for c in train.categories]
    if val is not None and [c.name for c in val.categories] != names:
        raise DatasetError(f"{args.val}: categories {[c.name for c in val.categories]} differ from the "
                           f"training set's {names}")
    return train, val, dict(enumerate(names))


def _run_record(args: argparse.Namespace, preset: TrainingPreset, train, val) -> dict:
    """What the run trained on (``OUT/run.json``; `training.model_card` reads it): the preset, the data (generated
    shapes with their seeds, or the COCO folders), the initial weights and the command line."""
    if args.train is None:
        seed = preset.data_seed if args.data_seed is None else args.data_seed
        data = {"source": "shapes", "data_seed": seed, "val_seed": seed + 1,
                "num_train_images": len(train), "num_val_images": len(val)}
    else:
        data = {"source": "coco", "train": str(args.train), "val": None if args.val is None else str(args.val),
                "num_train_images": len(train), "num_val_images": None if val is None else len(val)}
    return {"preset": preset.name, "data": data, "init": args.init,
            "backbone_init": _backbone_init(args, preset) if hasattr(args, "backbone_init") else None,
            "hint_from": _hint_teacher(args, preset) if hasattr(args, "hint_from") else None,
            "resume": bool(args.resume), "eos_coef": getattr(args, "eos_coef", None),
            "argv": sys.argv[1:]}


def _chosen_model(given: str | None, default: str | None) -> str | None:
    """A ``--x MODEL|none`` option's value: the default when not given, None for 'none'."""
    if given is None:
        return default
    return None if given.lower() == "none" else given


def _hint_teacher(args: argparse.Namespace, preset: TrainingPreset) -> str | None:
    """The ViT's hint teacher: --hint-from, else the preset's."""
    return _chosen_model(getattr(args, "hint_from", None), (preset.feature_hint or {}).get("teacher"))


def _backbone_init(args: argparse.Namespace, preset: TrainingPreset) -> str | None:
    """The DETR backbone's source: --backbone-init, else the preset's; None with --init (whole weights)."""
    if args.init is not None:
        return None
    return _chosen_model(getattr(args, "backbone_init", None), preset.backbone_init)


def _model(kind: str, args: argparse.Namespace, preset: TrainingPreset, id2label: dict[int, str]):
    if args.init is None:
        if kind == "vit":
            return build_vit(preset, id2label)
        return KINDS[kind].build_model(preset, id2label, backbone_init=_backbone_init(args, preset))
    model = cvdemo.models.load(args.init)
    have = {int(k): v for k, v in model.config.id2label.items()}
    if have != id2label:
        raise CheckpointError(f"--init {args.init}: the model's classes {have} differ from the data's "
                              f"{id2label}")
    return model


def _resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available; use --device cpu")
    return name


def run(kind: str, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, train, write the results; returns the exit status."""
    parser = build_parser(kind)
    args = parser.parse_args(argv)
    presets, data_task = KINDS[kind].presets, KINDS[kind].data_task
    preset = presets[args.preset]
    out = args.out or Path("runs") / f"{kind}-{preset.name}"
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        info, device = distributed.init_from_environment(_resolve_device(args.device))
        overrides = {field: getattr(args, name) for name, field in _OVERRIDES.items()
                     if getattr(args, name, None) is not None}
        config = preset.train_config(**overrides, device=device, bf16=not args.no_bf16,
                                     checkpoint_dir=str(out / "checkpoint"))
        train, val, id2label = _datasets(args, preset, data_task)
        torch.manual_seed(config.seed)
        model = _model(kind, args, preset, id2label)
        if kind == "vit":
            task = build_vit_task(preset, model, _hint_teacher(args, preset))
        elif kind == "detr" and args.eos_coef is not None:
            task = DetectionTask(model.config, eos_coef=args.eos_coef)
        else:
            task = KINDS[kind].build_task(preset, model)
        resume = out / "checkpoint" if args.resume else None
        if resume is not None and not resume.is_dir():
            raise CheckpointError(f"--resume: {resume} does not exist; run once without --resume first")
    except (ValueError, DatasetError, CheckpointError, ImageLoadError) as e:
        parser.exit(2, f"error: {e}\n")

    trainer = Trainer(model, task, train, val, config, resume_from=resume)
    consumers = []
    log_file = None
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps(_run_record(args, preset, train, val), indent=2) + "\n")
        log_file = JsonLinesLog(args.log or out / "log.jsonl", append=bool(args.resume))
        consumers.append(log_file)
        if not args.no_progress:
            consumers.append(ConsoleReporter())

    def on_sigint(signum, frame):  # first Ctrl-C: stop cleanly; the second one aborts
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log.warning("stopping after this step (Ctrl-C again to abort)")
        trainer.request_stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    last_eval: EvalEvent | None = None
    finished: RunFinished | None = None
    try:
        for event in trainer.run():
            for consume in consumers:
                consume(event)
            if isinstance(event, EvalEvent):
                last_eval = event
            elif isinstance(event, RunFinished):
                finished = event
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        if log_file is not None:
            log_file.close()
        distributed.shutdown()

    if info.is_main:
        cvdemo.models.save(model, out)
        if last_eval is not None:
            (out / "metrics.json").write_text(json.dumps({"step": last_eval.step, **last_eval.metrics,
                                                          "per_class": last_eval.per_class}, indent=2) + "\n")
        print(f"model written to {out}", file=sys.stderr)
    return 130 if finished is not None and finished.reason == "stopped" else 0
