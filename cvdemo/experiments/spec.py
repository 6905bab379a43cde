"""A claim of the study notes as a controlled experiment: `ClaimSpec`, plain data that the runner
(`cvdemo.experiments.runner`) trains and the statistics (`cvdemo.experiments.statistics`) judge.

A spec names the claim (in the notes' words, English and Simplified Chinese, with the notes' section), the
training recipe it starts from (a preset of `cvdemo.training.presets`, by kind and name), the one thing that varies
(``variants``: name -> `Overrides` of the model config, the `TrainConfig` and the task), what is measured (``metric``,
better ``direction``), what the notes expect (``relation`` over ``comparisons``, with a ``margin`` for "equal"), the
seeds and the budget (``steps``). Everything else is the same for every variant: the generated data (the preset's
data seed), the seeds, the steps, the evaluation set. A spec whose variants need a model option that does not exist
yet lists it in ``needs``; the runner refuses such a spec with `ClaimNeedsOptionError`.

Architecture claims: a classify variant may choose its model class with ``Overrides.model["architecture"]``
("vit", the default; "resnet"; "hybrid"): the runner then builds a ResNet or a hybrid ViT of the ViT's parameter
count (`cvdemo.experiments.runner.build_classifier`), with the same data, seeds and TrainConfig. The ViT feature hint
(``hint``) goes to every variant or to none: a spec with a ResNet variant must set ``hint=False``
(`ClaimSpec.hint_problem`; the runner refuses it otherwise).

Metrics: any key of the last `EvalEvent.metrics` of a run ("accuracy" for classification, "AP", "AP50", ... for
detection, "loss" for both: the validation loss), or ``"train_loss"``: the mean training loss of the last
``eval_every`` updates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cvdemo.messages import UserError
from cvdemo.metrics.coco_eval import STAT_NAMES

__all__ = ["ARCHITECTURES", "DIRECTIONS", "HINTABLE_ARCHITECTURES", "METRICS", "MIN_SEEDS", "RELATIONS", "TASKS",
           "ClaimNeedsOptionError", "ClaimSpec", "Overrides"]

TASKS = {"classify": "vit", "detect": "detr"}  # a claim's task -> the training kind (`cvdemo.training.kinds`)
RELATIONS = ("equal", "better")  # equal: within +/- margin; better: comparison a beats b
DIRECTIONS = ("higher", "lower")  # which way the metric is better
# what each task's runs can report: its EvalEvent metrics, and the training loss
METRICS = {"classify": ("accuracy", "loss", "train_loss"), "detect": (*STAT_NAMES, "loss", "train_loss")}
# a classify claim's model classes (``Overrides.model["architecture"]``, default "vit"): the preset's ViT, a ResNet
# (`cvdemo.models.resnet_classifier`) or a hybrid ViT (`cvdemo.models.hybrid_vit`) of the ViT's parameter count
ARCHITECTURES = ("vit", "resnet", "hybrid")
HINTABLE_ARCHITECTURES = ("vit", "hybrid")  # token models: the feature hint can train their blocks' tokens
MIN_SEEDS = 3  # the least number of seeds a shipped claim runs (tests/test_claims.py checks the catalogue)
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class ClaimNeedsOptionError(UserError):
    """The claim needs a model option that does not exist yet (``needs``): it cannot be run."""

    def __init__(self, claim: str, needs: tuple[str, ...]) -> None:
        listed = "; ".join(needs)
        super().__init__(f"claim {claim!r} cannot run yet: it needs {listed}. Add the option(s) to the model "
                         "(default unchanged), then remove them from the spec's `needs`.",
                         key="claims.needs_option", claim=claim, needs=listed)
        self.claim = claim
        self.needs = needs


@dataclass(frozen=True)
class Overrides:
    """What one variant (or every variant: `ClaimSpec.base`) changes in the preset's recipe.

    model: ViTConfig / DETRConfig fields, and for a classify claim ``"architecture"`` (`ARCHITECTURES`, default
    "vit"): "resnet" / "hybrid" build a model of the ViT's parameter count from the ViTConfig these fields give
    (`cvdemo.experiments.runner.build_classifier`); keys that are no ViTConfig field go to that matching
    (resnet: ``depths``, ``stem_stride``; hybrid: ``stem_depth``);
    train: TrainConfig fields (never ``total_steps`` or ``seed``: the spec's steps and seeds);
    task: keyword arguments of the task (`DetectionTask(aux_loss=...)`, `ClassificationTask(label_smoothing=...)`);
    shapes: ShapesConfig fields of the generated data (`ClaimSpec.base` only, so that every variant sees the same
    images).
    """

    model: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    task: Mapping[str, Any] = field(default_factory=dict)
    shapes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fixed = sorted({"total_steps", "seed"} & set(self.train))
        if fixed:
            raise ValueError(f"Overrides.train may not set {fixed}: the spec's steps and seeds fix them")

    def merged(self, other: Overrides) -> Overrides:
        """These overrides, then ``other``'s on top (field by field)."""
        return Overrides(model={**self.model, **other.model}, train={**self.train, **other.train},
                         task={**self.task, **other.task}, shapes={**self.shapes, **other.shapes})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {"model": dict(self.model), "train": dict(self.train), "task": dict(self.task),
                "shapes": dict(self.shapes)}


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the notes as an experiment; see the module docstring.

    comparisons: pairs (a, b) of variant names judged by the verdict, the difference is mean(a) - mean(b);
    for "better" a is the variant the notes expect to win; empty: every variant against the first.
    why_may_differ_en / _zh: one paragraph on why this scale may not reproduce the paper's result.
    """

    name: str  # slug: the results file experiments/results/<name>.json
    section: str  # the notes' section, e.g. "3.4"
    claim_en: str
    claim_zh: str  # the notes' own sentence(s)
    task: str  # "classify" (ViT) | "detect" (DETR)
    preset: str  # a preset name of the kind's presets ("tiny", "small")
    varied: str  # what varies, e.g. "ViTConfig.pos_embed"
    variants: Mapping[str, Overrides]
    metric: str  # an EvalEvent metric ("accuracy", "AP", "loss") or "train_loss"
    direction: str  # "higher" | "lower"
    relation: str  # "equal" | "better"
    steps: int  # optimizer updates per run
    eval_every: int  # updates between evaluations: the points of each learning curve
    comparisons: tuple[tuple[str, str], ...] = ()
    margin: float = 0.0  # "equal": differences within +/- margin count as equal (metric units)
    seeds: tuple[int, ...] = (0, 1, 2)
    num_train_images: int | None = None  # None: the preset's
    num_val_images: int | None = None
    base: Overrides = field(default_factory=Overrides)  # applied to every variant, before its own overrides
    hint: bool = True  # ViT: the preset's feature hint (False: plain cross-entropy)
    backbone_init: bool = True  # DETR: the preset's backbone initialisation (False: a random backbone)
    needs: tuple[str, ...] = ()  # model options that do not exist yet; non-empty: the runner refuses the spec
    why_may_differ_en: str = ""
    why_may_differ_zh: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not _SLUG.match(self.name):
            problems.append(f"name {self.name!r} is not a slug (lower-case words joined by '-')")
        if self.task not in TASKS:
            problems.append(f"task must be one of {sorted(TASKS)}")
        elif self.metric not in METRICS[self.task]:
            problems.append(f"metric {self.metric!r} is not one of the {self.task} task's {METRICS[self.task]}")
        if self.direction not in DIRECTIONS:
            problems.append(f"direction must be one of {DIRECTIONS}")
        if self.relation not in RELATIONS:
            problems.append(f"relation must be one of {RELATIONS}")
        if len(self.variants) < 2:
            problems.append("a claim compares at least 2 variants")
        if any(v.shapes for v in self.variants.values()):
            problems.append("variants may not change the data (shapes): put data changes in `base`")
        unknown = sorted({n for pair in self.comparisons for n in pair} - set(self.variants))
        if unknown:
            problems.append(f"comparisons name unknown variants {unknown}")
        unknown_arch = {v.model.get("architecture", "vit") for v in (self.base, *self.variants.values())}
        unknown_arch -= set(ARCHITECTURES)
        if self.task == "classify" and unknown_arch:
            problems.append(f"architecture must be one of {ARCHITECTURES}, got {sorted(unknown_arch)}")
        if self.task != "classify" and any("architecture" in v.model for v in (self.base, *self.variants.values())):
            problems.append("only a classify claim may choose the architecture")
        if self.relation == "equal" and self.margin <= 0:
            problems.append('relation "equal" needs a margin > 0')
        if len(set(self.seeds)) != len(self.seeds) or len(self.seeds) < 2 or min(self.seeds) < 0:
            problems.append("seeds must be >= 2 distinct non-negative integers")
        if self.steps < 1 or self.eval_every < 1:
            problems.append("steps and eval_every must be >= 1")
        if problems:
            raise ValueError(f"invalid ClaimSpec {self.name!r}: " + "; ".join(problems))

    @property
    def kind(self) -> str:
        """The training kind: "vit" or "detr" (`cvdemo.training.kinds.KINDS`)."""
        return TASKS[self.task]

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The judged comparisons: ``comparisons``, or every variant against the first."""
        if self.comparisons:
            return tuple(self.comparisons)
        names = list(self.variants)
        return tuple((name, names[0]) for name in names[1:])

    @property
    def runnable(self) -> bool:
        return not self.needs

    def overrides_of(self, variant: str) -> Overrides:
        """``base`` then the variant's own overrides. Raises KeyError with the known names."""
        if variant not in self.variants:
            raise KeyError(f"claim {self.name!r} has no variant {variant!r}; it has {list(self.variants)}")
        return self.base.merged(self.variants[variant])

    def architecture_of(self, variant: str) -> str:
        """The variant's model class: "vit", "resnet" or "hybrid" (a detect claim's: "detr")."""
        if self.task != "classify":
            return self.kind
        return str(self.overrides_of(variant).model.get("architecture", "vit"))

    def require_runnable(self) -> None:
        """Raise `ClaimNeedsOptionError` when the claim needs model options that do not exist yet, ValueError when
        the feature hint could not be given to every variant alike (see `hint_problem`)."""
        if self.needs:
            raise ClaimNeedsOptionError(self.name, tuple(self.needs))
        problem = self.hint_problem()
        if problem:
            raise ValueError(problem)

    def hint_problem(self) -> str:
        """Why this spec's feature hint would spoil the comparison ("" when it does not).

        The hint (`cvdemo.training.feature_hint`) trains a token model's block output to predict a trained CNN's
        features: it is given to every variant or to none. A ResNet has no tokens to hint, so a claim with a
        "resnet" variant must set ``hint=False`` (then no variant gets it)."""
        if self.task != "classify" or not self.hint:
            return ""
        unhintable = sorted(v for v in self.variants if self.architecture_of(v) not in HINTABLE_ARCHITECTURES)
        if not unhintable:
            return ""
        return (f"claim {self.name!r}: the feature hint cannot be given to {unhintable} (no tokens), and giving it "
                "to the other variants only would favour them; set hint=False so that no variant gets it")
