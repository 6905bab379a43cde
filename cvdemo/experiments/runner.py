"""Runs a claim's experiment through the real training engine: every variant x seed, one run at a time,
each finished run appended to the claim's JSON-lines log (`cvdemo.experiments.run_records`) so that a rerun
skips what is done (an interrupted run starts again from its beginning).

    records = run_claim(CLAIMS["vit-class-token-vs-gap"], "experiments/results")

One run (`prepare_run`) is built as ``python -m training.train_vit|train_detr`` builds it (`cvdemo.training.cli`):
the preset of the claim's kind, its generated data (the preset's data seed: the same images for every variant and
seed), the preset's `TrainConfig` with the spec's steps, seed and evaluation interval (no snapshots, no
checkpoints), then the spec's ``base`` and the variant's overrides of the model config, the TrainConfig and the
task. A classify claim's variant builds the model its ``architecture`` names (`build_classifier`: the preset's ViT,
or a ResNet / hybrid ViT of the ViT's parameter count). Python's, NumPy's and torch's random generators are seeded
with the run's seed before the model is built, so a variant's seed-s run differs from another variant's seed-s run
only by the variant's overrides.

Variants that differ only in evaluation options (e.g. DETR's ``nms_iou``) share one training
(`cvdemo.experiments.shared_training`): the model is trained once and evaluated as each of them; their records say
so in ``extra["shared_training"]``.

Order: seed by seed, every variant within a seed, so that an interrupted experiment has as many runs of each
variant as possible. A progress line per run goes to `logging` (the CLI shows it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cvdemo.experiments.run_records import RunRecord, append_record, normalized, read_records, runs_path
from cvdemo.experiments.shared_training import SharedEvaluationTask, metric_key, training_groups
from cvdemo.experiments.spec import ARCHITECTURES, ClaimSpec
from cvdemo.models.hybrid_vit import HybridViT, matched_hybrid_config
from cvdemo.models.resnet_classifier import ResNetClassifier, matched_resnet_config
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.training.classification import ClassificationTask
from cvdemo.training.detection import DetectionTask
from cvdemo.training.divergence import NonFiniteLossError
from cvdemo.training.engine import TrainConfig, Trainer
from cvdemo.training.events import EvalEvent, RunFinished, RunStarted, StepEvent, TrainingEvent
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import build_vit_task

__all__ = ["PreparedRun", "build_classifier", "finished_records", "hardware", "prepare_run", "run_claim",
           "run_settings", "train_one", "train_variants"]

log = logging.getLogger(__name__)

StopRequest = threading.Event | Callable[[], bool] | None
EventHook = Callable[[str, int, TrainingEvent], None] | None  # (variant, seed, event): e.g. a progress bar


@dataclass
class PreparedRun:
    """Everything one run needs: the fresh model, its task, the data and the TrainConfig. ``metric_keys``: each
    variant the run is evaluated as -> the key of the claim's metric in its EvalEvent metrics."""

    model: nn.Module
    task: Any
    train: Any
    val: Any
    config: TrainConfig
    metric_keys: dict[str, str] = field(default_factory=dict)


def hardware(device: str = "cpu") -> dict[str, Any]:
    """The machine a run ran on: device (with the GPU's name on CUDA), CPU model and cores, torch threads and
    versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = torch.device(device)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" and torch.cuda.is_available() else None
    return {"device": str(dev), "gpu": gpu, "cpu": cpu, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def run_settings(spec: ClaimSpec, variant: str, steps: int | None = None) -> dict[str, Any]:
    """What makes a run of ``variant`` (as stored in its record): a record counts only when these are equal."""
    return normalized({"kind": spec.kind, "preset": spec.preset, "overrides": spec.overrides_of(variant).to_dict(),
                       "steps": steps or spec.steps, "eval_every": spec.eval_every, "metric": spec.metric,
                       "num_train_images": spec.num_train_images, "num_val_images": spec.num_val_images,
                       "hint": spec.hint, "backbone_init": spec.backbone_init})


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_run(spec: ClaimSpec, variant: str, seed: int, *, also: Sequence[str] = (), steps: int | None = None,
                device: str = "cpu") -> PreparedRun:
    """Build one run of ``variant`` with ``seed`` (see the module docstring), evaluated also as each variant of
    ``also`` (variants of the same training: `training_groups`). Raises `ClaimNeedsOptionError` for a claim that
    needs model options that do not exist yet, KeyError for an unknown variant or preset, ValueError for an ``also``
    variant that trains differently."""
    spec.require_runnable()
    if also:
        group = next((g for g in training_groups(spec) if variant in g), ())
        strangers = [v for v in also if v not in group or v == variant]
        if strangers:
            raise ValueError(f"claim {spec.name!r}: {strangers} cannot be evaluated on {variant!r}'s training: "
                             f"only the other variants of its training group {list(group)} (they differ in "
                             "evaluation options only)")
    kind = KINDS[spec.kind]
    if spec.preset not in kind.presets:
        raise KeyError(f"claim {spec.name!r}: no {spec.kind} preset {spec.preset!r}; known: {sorted(kind.presets)}")
    over = spec.overrides_of(variant)
    base = kind.presets[spec.preset]
    fields = {**base.model, **over.model}
    architecture = fields.pop("architecture", "vit")
    preset = dataclasses.replace(base, model=fields, shapes={**base.shapes, **over.shapes})
    train, val = preset.datasets(spec.num_train_images, spec.num_val_images)
    id2label = {k: c.name for k, c in enumerate(train.categories)}
    config = preset.train_config(**{**dict(over.train), "total_steps": steps or spec.steps, "seed": seed,
                                    "device": device, "eval_every": spec.eval_every, "snapshot_every": 0,
                                    "checkpoint_every": 0, "checkpoint_dir": None})
    _seed_everything(seed)
    if spec.kind == "vit":
        model = build_classifier(architecture, preset.model, id2label)
    else:
        model = kind.build_model(preset, id2label, backbone_init=preset.backbone_init if spec.backbone_init else None)
    task = _task(spec, preset, model, over.task)
    if also:
        task = SharedEvaluationTask(task, {v: _task(spec, preset, model, spec.overrides_of(v).task) for v in also})
    keys = {v: metric_key(v, spec.metric, variant) for v in (variant, *also)}
    return PreparedRun(model, task, train, val, config, keys)


def _task(spec: ClaimSpec, preset, model: nn.Module, options: Mapping[str, Any]) -> Any:
    """The preset's task for ``model``, or the task with the variant's ``options`` (keyword arguments)."""
    if spec.kind == "vit":
        teacher = (preset.feature_hint or {}).get("teacher") if spec.hint else None
        task = build_vit_task(preset, model, teacher)
        return ClassificationTask(model.config, hint=task.hint, **options) if options else task
    return DetectionTask(model.config, **options) if options else KINDS[spec.kind].build_task(preset, model)


def build_classifier(architecture: str, fields: dict[str, Any], id2label: dict[int, str]) -> nn.Module:
    """A fresh classifier for a classify claim: the ViT of ``fields`` (ViTConfig fields, e.g. a preset's
    ``model``), or a ResNet / hybrid ViT of about that ViT's parameter count (`matched_resnet_config`,
    `matched_hybrid_config`: same input size, classes and normalisation; the hybrid keeps the ViT's transformer).
    Keys of ``fields`` that are no ViTConfig field are the matching's options (resnet: ``depths``,
    ``stem_stride``; hybrid: ``stem_depth``). Raises ValueError for an unknown architecture or option."""
    known = {f.name for f in dataclasses.fields(ViTConfig)}
    options = {k: v for k, v in fields.items() if k not in known}
    vit_config = ViTConfig(**{k: v for k, v in fields.items() if k in known}, num_classes=len(id2label),
                           id2label=id2label)
    matchers = {"resnet": (matched_resnet_config, ResNetClassifier), "hybrid": (matched_hybrid_config, HybridViT)}
    if architecture == "vit":
        if options:
            raise ValueError(f"{sorted(options)} are no ViTConfig fields (known: {sorted(known)})")
        return ViT(vit_config)
    if architecture not in matchers:
        raise ValueError(f"unknown architecture {architecture!r}: one of {ARCHITECTURES}")
    match, model_class = matchers[architecture]
    try:
        config = match(vit_config, **options)
    except TypeError as e:
        raise ValueError(f"{sorted(options)}: not options of the {architecture} matching ({e})") from e
    return model_class(config)


def _final_and_curve(metric: str, key: str, evals: list[EvalEvent], losses: list[tuple[int, float]],
                     window: int) -> tuple[float, list[tuple[int, float]]]:
    """The metric at the end and its curve: the EvalEvents' values under ``key``, or for "train_loss" the mean
    training loss of each ``window`` updates."""
    if metric == "train_loss":
        curve = []
        for start in range(0, len(losses), window):
            chunk = losses[start:start + window]
            curve.append((chunk[-1][0], sum(v for _, v in chunk) / len(chunk)))
        if not curve:
            raise RuntimeError("the run took no step: no training loss to report")
        return curve[-1][1], curve
    if not evals:
        raise RuntimeError(f"the run was never evaluated: no {metric!r} (does the claim give validation images?)")
    if key not in evals[-1].metrics:
        raise KeyError(f"metric {key!r} is not among the evaluation's {sorted(evals[-1].metrics)}")
    return float(evals[-1].metrics[key]), [(e.step, float(e.metrics[key])) for e in evals]


def train_one(spec: ClaimSpec, variant: str, seed: int, *, steps: int | None = None, device: str = "cpu",
              stop: StopRequest = None, on_event: EventHook = None) -> RunRecord | None:
    """Train one run and return its record; None when a stop request ended it early (nothing to keep). A run
    that diverges (NaN/inf) gives a record with ``status`` "diverged" and ``final`` None. ``on_event`` sees every
    training event of the run (with the variant and seed), as it comes."""
    records = train_variants(spec, (variant,), seed, steps=steps, device=device, stop=stop, on_event=on_event)
    return None if records is None else records[0]


def train_variants(spec: ClaimSpec, variants: Sequence[str], seed: int, *, steps: int | None = None,
                   device: str = "cpu", stop: StopRequest = None,
                   on_event: EventHook = None) -> list[RunRecord] | None:
    """Train ``variants`` (of one training group: `training_groups`) with one training, evaluated as each of
    them; one record per variant, in order (as `train_one`; with more than one variant each record's
    ``extra["shared_training"]`` names them all, and ``seconds`` is the shared run's)."""
    t0 = time.perf_counter()
    trained, *also = variants
    run = prepare_run(spec, trained, seed, also=also, steps=steps, device=device)
    trainer = Trainer(run.model, run.task, run.train, run.val, run.config, stop=stop)
    evals: list[EvalEvent] = []
    losses: list[tuple[int, float]] = []
    num_parameters = sum(p.numel() for p in run.model.parameters())
    status, error, results = "finished", "", {v: (None, []) for v in variants}
    try:
        for event in trainer.run():
            if on_event is not None:
                on_event(trained, seed, event)
            if isinstance(event, StepEvent):
                losses.append((event.step, event.loss))
            elif isinstance(event, EvalEvent):
                evals.append(event)
            elif isinstance(event, RunStarted):
                num_parameters = event.num_parameters
            elif isinstance(event, RunFinished) and event.reason != "completed":
                return None
        results = {v: _final_and_curve(spec.metric, run.metric_keys[v], evals, losses, spec.eval_every)
                   for v in variants}
    except NonFiniteLossError as e:
        status, error = "diverged", str(e)
        log.warning("%s / %s / seed %d diverged: %s", spec.name, trained, seed, e)
    seconds, machine = time.perf_counter() - t0, hardware(device)
    finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    extra = {"shared_training": list(variants)} if also else {}
    return [RunRecord(claim=spec.name, variant=v, seed=seed, final=results[v][0], curve=results[v][1],
                      seconds=seconds, num_parameters=num_parameters, settings=run_settings(spec, v, steps),
                      hardware=machine, status=status, error=error, finished_at=finished_at, extra=extra)
            for v in variants]


def _should_stop(stop: StopRequest) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


def finished_records(spec: ClaimSpec, out_dir: str | Path, steps: int | None = None) -> list[RunRecord]:
    """The claim's logged runs made with the current settings (the last record of each (variant, seed))."""
    latest: dict[tuple[str, int], RunRecord] = {}
    for record in read_records(runs_path(out_dir, spec.name)):
        if record.variant in spec.variants and record.settings == run_settings(spec, record.variant, steps):
            latest[(record.variant, record.seed)] = record
    return list(latest.values())


def run_claim(spec: ClaimSpec, out_dir: str | Path, *, seeds: Sequence[int] | None = None,
              steps: int | None = None, device: str = "cpu", stop: StopRequest = None,
              on_record: Callable[[RunRecord], None] | None = None, on_event: EventHook = None) -> list[RunRecord]:
    """Run every variant x seed of ``spec`` not yet in ``<out_dir>/<claim>.runs.jsonl`` (with these settings),
    appending each finished run; returns the records of the requested seeds (old and new), seed by seed.

    seeds: default the spec's; steps: default the spec's; stop: checked before each run and within it (a run cut
    short is not recorded); on_record: called after each new record is written; on_event: every training event
    of every run, with its variant and seed (`train_one`).
    Raises `ClaimNeedsOptionError` for a claim that needs model options that do not exist yet."""
    spec.require_runnable()
    seeds = tuple(spec.seeds if seeds is None else seeds)
    path = runs_path(out_dir, spec.name)
    done = {(r.variant, r.seed): r for r in finished_records(spec, out_dir, steps)}
    todo = [(tuple(v for v in group if (v, seed) not in done), seed)
            for seed in seeds for group in training_groups(spec)]
    todo = [(variants, seed) for variants, seed in todo if variants]  # trainings, each of one or more runs
    total, runs = len(seeds) * len(spec.variants), sum(len(variants) for variants, _ in todo)
    if runs < total:
        log.info("%s: %d of %d runs already in %s; running the other %d", spec.name, total - runs, total, path, runs)
    spent: list[float] = []
    i = 0
    for k, (variants, seed) in enumerate(todo, 1):
        if _should_stop(stop):
            log.info("%s: stopped before run %d of %d", spec.name, i + 1, runs)
            break
        records = train_variants(spec, variants, seed, steps=steps, device=device, stop=stop, on_event=on_event)
        if records is None:
            log.info("%s: %s / seed %d stopped; not recorded", spec.name, " + ".join(variants), seed)
            break
        spent.append(records[0].seconds)
        eta = sum(spent) / len(spent) * (len(todo) - k)
        for record in records:
            i += 1
            append_record(path, record)
            done[(record.variant, seed)] = record
            shown = "diverged" if record.final is None else f"{spec.metric} {record.final:.4f}"
            log.info("%s [%d/%d] %s seed %d: %s in %.0f s (about %.0f s left)", spec.name, i, runs, record.variant,
                     seed, shown, record.seconds, eta)
            if on_record is not None:
                on_record(record)
    return [done[(v, s)] for s in seeds for v in spec.variants if (v, s) in done]
