"""The comparison of every shipped detector on one fresh evaluation set, and what it says of the study notes' claims.

``python -m training.compare_detectors`` measures the detectors and writes the comparison's JSON
(``examples/detectors-comparison.json``); `load_comparison` reads and validates it for the Detectors tab; and
`check_claims` sets the study notes' claims (§1.3 on R-CNN, Faster R-CNN, YOLO and SSD; §4 on DETR) against its
numbers, each with a verdict computed by a stated rule:

    "agrees"       the numbers go the claim's way by more than the margin;
    "disagrees"    they go the other way by more than the margin;
    "cannot_tell"  a detector it needs is missing, the data hold no such objects (COCO's -1), the difference is
                   within the margin, or the measurements are mixed.

Margins: AP differences of at most `AP_MARGIN` (0.02, about the spread of AP between evaluation seeds of 500
images) and speed ratios within `SPEED_MARGIN` (10 %: a shared CPU's noise) decide nothing. DETR "needs no NMS"
when its duplicates per object (score >= 0.5) are at most `DUPLICATE_LIMIT` (the issue's 10 %).

Nothing here words a sentence: a `ClaimCheck` carries message keys of the "detectors" catalog
(``detectors.claim_<name>``: the claim; ``detectors.evidence_<name>``: its numbers, with `ClaimCheck.fields`;
``detectors.verdict_<verdict>``; ``detectors.why_<reason>`` for a "cannot_tell"). Family names in the fields are
messages (``detectors.family_<family>``). No torch here: the UI may import this module.

The JSON (``"format": "cvdemo-detectors-comparison"``, ``"version": 1``): ``command``, ``machine`` {cpu, cores,
threads, torch, platform}, ``eval`` {distribution, seed, images, objects, iou_threshold, score_threshold},
``speed`` {batch_size, rounds, images_per_round, threads, statistic} and ``models``, one object per detector:
``name``, ``path``, ``family``, ``model_type``, the 12 COCO numbers (`COCO_KEYS`; -1: no object of that size),
``per_class``, ``tide`` {loc, cls, dupe, bkg, both, missed}, ``duplicates_per_object``,
``duplicates_before_nms_per_object`` (families) and ``duplicates_after_nms_per_object`` (DETR) or null,
``images_per_s``, ``num_parameters``, ``size_mb``, ``minutes_to_AP50``, ``steps_to_AP50``, ``train_minutes``
(from the checkpoint's card; null when unknown or, for the first two, never reached).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvdemo.messages import Message, UserError
from cvdemo.metrics.coco_eval import STAT_NAMES

__all__ = ["AP_MARGIN", "CLAIMS", "COCO_KEYS", "DUPLICATE_LIMIT", "FAMILIES", "ONE_STAGE", "SPEED_MARGIN",
           "TWO_STAGE", "VERDICTS", "ClaimCheck", "ComparisonError", "DetectorComparison", "DetectorRow",
           "check_claims", "comparison_from_dict", "family_of", "load_comparison"]

FORMAT, VERSION = "cvdemo-detectors-comparison", 1
COCO_KEYS = STAT_NAMES
FAMILIES = {"cvdemo-detr": "detr", "cvdemo-faster-rcnn": "fasterrcnn", "cvdemo-ssd": "ssd",
            "cvdemo-retinanet": "retinanet", "cvdemo-yolo": "yolo", "cvdemo-rcnn": "rcnn"}
"""config.json's model_type -> the family's short name (its UI name: the message ``detectors.family_<name>``)."""
ONE_STAGE = ("ssd", "yolo", "retinanet")
TWO_STAGE = ("fasterrcnn", "rcnn")
CNN = ONE_STAGE + TWO_STAGE
VERDICTS = ("agrees", "disagrees", "cannot_tell")
AP_MARGIN = 0.02
SPEED_MARGIN = 0.10
DUPLICATE_LIMIT = 0.10
TIDE_KEYS = ("loc", "cls", "dupe", "bkg", "both", "missed")


def family_of(model_type: str) -> str:
    """The family's short name of a config.json ``model_type``; ValueError for a model that is not a detector."""
    if model_type not in FAMILIES:
        raise ValueError(f"model_type {model_type!r} is not a detector this comparison knows "
                         f"({', '.join(sorted(FAMILIES))})")
    return FAMILIES[model_type]


class ComparisonError(UserError, ValueError):
    """The comparison file is missing or not a valid comparison (the message names the file and the problem)."""


@dataclass(frozen=True)
class DetectorRow:
    """One detector's numbers (see the module docstring for each field); ``metrics`` holds the 12 COCO numbers."""

    name: str
    family: str
    metrics: dict[str, float]
    per_class: dict[str, float]
    tide: dict[str, int]
    duplicates_per_object: float
    duplicates_before_nms_per_object: float | None
    duplicates_after_nms_per_object: float | None
    images_per_s: float
    num_parameters: int
    size_mb: float
    minutes_to_AP50: float | None = None
    steps_to_AP50: int | None = None
    train_minutes: float | None = None
    path: str = ""

    def ap(self, key: str = "AP") -> float | None:
        """A COCO number, None for COCO's -1 (no object of that size in the data)."""
        value = self.metrics[key]
        return None if value < 0 else value


@dataclass(frozen=True)
class DetectorComparison:
    """The detectors compared (``rows``, in the file's order) and how they were measured."""

    rows: tuple[DetectorRow, ...]
    eval: dict[str, Any] = field(default_factory=dict)
    speed: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    command: str = ""

    def row(self, family: str) -> DetectorRow | None:
        """The first detector of ``family``, or None."""
        return next((r for r in self.rows if r.family == family), None)

    def rows_of(self, families: tuple[str, ...]) -> list[DetectorRow]:
        """The first detector of each of ``families`` present, in that order."""
        return [r for r in (self.row(f) for f in families) if r is not None]


def _problem(path: Path | str, problem: str) -> ComparisonError:
    return ComparisonError(f"{path} is not a valid detector comparison: {problem}. Write it again with "
                           "python -m training.compare_detectors", key="detectors.error_bad_comparison",
                           path=str(path), problem=problem)


def _number(value: Any, what: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _row(d: Any, index: int) -> DetectorRow:
    where = f"models[{index}]"
    if not isinstance(d, Mapping):
        raise ValueError(f"{where} must be an object")
    missing = [k for k in ("name", "family", *COCO_KEYS, "tide", "duplicates_per_object", "images_per_s",
                           "num_parameters", "size_mb") if k not in d]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    if d["family"] not in FAMILIES.values():
        raise ValueError(f"{where}.family {d['family']!r} is not one of {', '.join(FAMILIES.values())}")
    tide = d["tide"]
    if not isinstance(tide, Mapping) or set(TIDE_KEYS) - set(tide):
        raise ValueError(f"{where}.tide must hold {', '.join(TIDE_KEYS)}")
    needed = "duplicates_after_nms_per_object" if d["family"] == "detr" else "duplicates_before_nms_per_object"
    if d.get(needed) is None:
        raise ValueError(f"{where} ({d['family']}) lacks {needed}")
    optional = {k: _number(d.get(k), f"{where}.{k}", optional=True)
                for k in ("duplicates_before_nms_per_object", "duplicates_after_nms_per_object", "minutes_to_AP50",
                          "steps_to_AP50", "train_minutes")}
    return DetectorRow(
        name=str(d["name"]), family=d["family"], path=str(d.get("path", "")),
        metrics={k: _number(d[k], f"{where}.{k}") for k in COCO_KEYS},
        per_class={str(k): _number(v, f"{where}.per_class.{k}") for k, v in dict(d.get("per_class") or {}).items()},
        tide={k: int(_number(tide[k], f"{where}.tide.{k}")) for k in TIDE_KEYS},
        duplicates_per_object=_number(d["duplicates_per_object"], f"{where}.duplicates_per_object"),
        images_per_s=_number(d["images_per_s"], f"{where}.images_per_s"),
        num_parameters=int(_number(d["num_parameters"], f"{where}.num_parameters")),
        size_mb=_number(d["size_mb"], f"{where}.size_mb"),
        **{**optional, "steps_to_AP50": None if optional["steps_to_AP50"] is None else int(optional["steps_to_AP50"])})


def comparison_from_dict(data: Any, source: str = "the comparison") -> DetectorComparison:
    """A validated `DetectorComparison` of the JSON's dict. Raises `ComparisonError` naming what is wrong."""
    try:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"its \"format\" is not {FORMAT!r}")
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, this cvdemo reads version {VERSION}")
        models = data.get("models")
        if not isinstance(models, list):
            raise ValueError("\"models\" must be a list")
        rows = tuple(_row(d, i) for i, d in enumerate(models))
    except (ValueError, TypeError) as e:
        raise _problem(source, str(e)) from e
    return DetectorComparison(rows=rows, eval=dict(data.get("eval") or {}), speed=dict(data.get("speed") or {}),
                              machine=dict(data.get("machine") or {}), command=str(data.get("command", "")))


def load_comparison(path: str | Path) -> DetectorComparison:
    """Read and validate a comparison file. Raises `ComparisonError` for a missing, unreadable or invalid one."""
    path = Path(path)
    if not path.is_file():
        raise ComparisonError(f"{path} does not exist: write it with python -m training.compare_detectors",
                              key="detectors.error_no_comparison", path=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _problem(path, f"not readable JSON ({e})") from e
    return comparison_from_dict(data, str(path))


# --- the claims -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of the notes against the numbers: ``name`` (its message keys end in it), ``verdict`` (one of
    `VERDICTS`), ``fields`` the numbers it rests on (the format fields of its evidence), ``reason`` why it cannot
    tell (a ``detectors.why_<reason>`` message), None otherwise."""

    name: str
    verdict: str
    fields: dict[str, Any] = field(default_factory=dict)
    reason: Message | None = None
    variant: str = ""  # the evidence's wording when the numbers differ in kind (e.g. "not_reached")

    @property
    def claim(self) -> Message:
        return Message(f"detectors.claim_{self.name}", dict(self.fields))

    @property
    def evidence(self) -> Message | None:
        """The numbers, worded: ``detectors.evidence_<name>`` (``..._<variant>`` if any) with `fields`; None without
        numbers (a family missing, no objects of the size: the reason says why)."""
        if not self.fields:
            return None
        suffix = f"_{self.variant}" if self.variant else ""
        return Message(f"detectors.evidence_{self.name}{suffix}", dict(self.fields))

    @property
    def verdict_message(self) -> Message:
        return Message(f"detectors.verdict_{self.verdict}")


def _family(name: str) -> Message:
    return Message(f"detectors.family_{name}")


def _missing(name: str, families: list[str]) -> ClaimCheck:
    """Cannot tell: the claim needs ``families[0]`` (the first missing one), which is not among the rows."""
    return ClaimCheck(name, "cannot_tell", {}, Message("detectors.why_missing", {"family": _family(families[0])}))


def _margin(name: str, fields: dict, margin: str) -> ClaimCheck:
    return ClaimCheck(name, "cannot_tell", fields, Message("detectors.why_within_margin", {"margin": margin}))


def _greater(name: str, a: float, b: float, fields: dict, relative: bool = False) -> ClaimCheck:
    """The claim "a > b": agrees beyond the margin (AP: absolute `AP_MARGIN`; speed: ratio `SPEED_MARGIN`),
    disagrees beyond it the other way, cannot tell within it."""
    if relative:
        diff = math.log(a / b) if a > 0 and b > 0 else a - b
        limit, text = math.log1p(SPEED_MARGIN), f"{SPEED_MARGIN:.0%}"
    else:
        diff, limit, text = a - b, AP_MARGIN, f"{AP_MARGIN:.2f}"
    if diff > limit:
        return ClaimCheck(name, "agrees", fields)
    if diff < -limit:
        return ClaimCheck(name, "disagrees", fields)
    return _margin(name, fields, text)


def _no_objects(name: str, size: str) -> ClaimCheck:
    """Cannot tell: COCO's ``size`` number is -1 (the data hold no object of that size), no numbers to show."""
    return ClaimCheck(name, "cannot_tell", {}, Message("detectors.why_no_objects_of_size", {"size": size}))


def _ap_claim(name: str, c: DetectorComparison, better: str, worse: str, key: str) -> ClaimCheck:
    """"``better``'s COCO ``key`` is higher than ``worse``'s"."""
    rows = {f: c.row(f) for f in (better, worse)}
    absent = [f for f, r in rows.items() if r is None]
    if absent:
        return _missing(name, absent)
    fields = {better: rows[better].metrics[key], worse: rows[worse].metrics[key]}
    if rows[better].ap(key) is None or rows[worse].ap(key) is None:
        return _no_objects(name, key)
    return _greater(name, fields[better], fields[worse], fields)


def _ssd_small_objects(c: DetectorComparison) -> ClaimCheck:
    return _ap_claim("ssd_small_objects", c, "ssd", "yolo", "APs")


def _yolo_faster_than_ssd(c: DetectorComparison) -> ClaimCheck:
    yolo, ssd = c.row("yolo"), c.row("ssd")
    if yolo is None or ssd is None:
        return _missing("yolo_faster_than_ssd", [f for f, r in (("yolo", yolo), ("ssd", ssd)) if r is None])
    fields = {"yolo": yolo.images_per_s, "ssd": ssd.images_per_s}
    return _greater("yolo_faster_than_ssd", yolo.images_per_s, ssd.images_per_s, fields, relative=True)


def _best(rows: list[DetectorRow], value: Callable[[DetectorRow], float]) -> DetectorRow:
    return max(rows, key=value)


def _yolo_accuracy_average(c: DetectorComparison) -> ClaimCheck:
    """"YOLO's accuracy is only average": the best other detector's AP is above YOLO's."""
    yolo, others = c.row("yolo"), [r for r in c.rows_of(("detr", *CNN)) if r.family != "yolo"]
    if yolo is None or not others:
        return _missing("yolo_accuracy_average", ["yolo"] if yolo is None else ["ssd"])
    best = _best(others, lambda r: r.metrics["AP"])
    fields = {"yolo": yolo.metrics["AP"], "best": _family(best.family), "best_AP": best.metrics["AP"]}
    return _greater("yolo_accuracy_average", best.metrics["AP"], yolo.metrics["AP"], fields)


def _two_stage_more_accurate(c: DetectorComparison) -> ClaimCheck:
    """"Two-stage detectors are more accurate": Faster R-CNN's AP above the best one-stage detector's."""
    two, ones = c.row("fasterrcnn"), c.rows_of(ONE_STAGE)
    if two is None or not ones:
        return _missing("two_stage_more_accurate", ["fasterrcnn"] if two is None else ["ssd", "yolo"])
    best = _best(ones, lambda r: r.metrics["AP"])
    fields = {"fasterrcnn": two.metrics["AP"], "one_stage": _family(best.family), "one_stage_AP": best.metrics["AP"]}
    return _greater("two_stage_more_accurate", two.metrics["AP"], best.metrics["AP"], fields)


def _one_stage_faster(c: DetectorComparison) -> ClaimCheck:
    """"One-stage detectors are faster": every one-stage detector faster than Faster R-CNN (all slower:
    disagrees; mixed or within the margin: cannot tell)."""
    name, two, ones = "one_stage_faster", c.row("fasterrcnn"), c.rows_of(ONE_STAGE)
    if two is None or not ones:
        return _missing(name, ["fasterrcnn"] if two is None else ["ssd", "yolo"])
    slow, fast = min(ones, key=lambda r: r.images_per_s), max(ones, key=lambda r: r.images_per_s)
    fields = {"fasterrcnn": two.images_per_s, "slowest": _family(slow.family), "slowest_ips": slow.images_per_s,
              "fastest": _family(fast.family), "fastest_ips": fast.images_per_s}
    low, high = (_greater(name, r.images_per_s, two.images_per_s, fields, relative=True) for r in (slow, fast))
    if low.verdict == "agrees" or high.verdict == "disagrees":
        return low if low.verdict == "agrees" else high
    if low.verdict == "disagrees" and high.verdict == "agrees":
        return ClaimCheck(name, "cannot_tell", fields, Message("detectors.why_mixed"))
    return _margin(name, fields, f"{SPEED_MARGIN:.0%}")


def _rcnn_slower(c: DetectorComparison) -> ClaimCheck:
    """"R-CNN is slow" (Faster R-CNN's reason to exist): Faster R-CNN's images/s above R-CNN's."""
    rcnn, faster = c.row("rcnn"), c.row("fasterrcnn")
    if rcnn is None or faster is None:
        return _missing("rcnn_slower", [f for f, r in (("rcnn", rcnn), ("fasterrcnn", faster)) if r is None])
    fields = {"rcnn": rcnn.images_per_s, "fasterrcnn": faster.images_per_s}
    return _greater("rcnn_slower", faster.images_per_s, rcnn.images_per_s, fields, relative=True)


def _cnn_need_nms(c: DetectorComparison) -> ClaimCheck:
    """The CNN families need NMS: their duplicates per object before NMS exceed those after by more than
    `DUPLICATE_LIMIT` / 2 for every family measured (none does: disagrees). Fields: the family NMS helps least."""
    name = "cnn_need_nms"
    rows = [r for r in c.rows_of(CNN) if r.duplicates_before_nms_per_object is not None]
    if not rows:
        return _missing(name, ["ssd", "yolo"])
    least = min(rows, key=lambda r: r.duplicates_before_nms_per_object - r.duplicates_per_object)
    removed = least.duplicates_before_nms_per_object - least.duplicates_per_object
    fields = {"family": _family(least.family), "before": least.duplicates_before_nms_per_object,
              "after": least.duplicates_per_object}
    if removed > DUPLICATE_LIMIT / 2:
        return ClaimCheck(name, "agrees", fields)
    most = max(r.duplicates_before_nms_per_object - r.duplicates_per_object for r in rows)
    if most <= DUPLICATE_LIMIT / 2:
        return ClaimCheck(name, "disagrees", fields)
    return ClaimCheck(name, "cannot_tell", fields, Message("detectors.why_mixed"))


def _detr_no_nms(c: DetectorComparison) -> ClaimCheck:
    """"DETR needs no NMS": its duplicates per object, without NMS, at most `DUPLICATE_LIMIT`."""
    detr = c.row("detr")
    if detr is None:
        return _missing("detr_no_nms", ["detr"])
    fields = {"detr": detr.duplicates_per_object, "limit": DUPLICATE_LIMIT,
              "detr_after_nms": detr.duplicates_after_nms_per_object}
    return ClaimCheck("detr_no_nms", "agrees" if detr.duplicates_per_object <= DUPLICATE_LIMIT else "disagrees",
                      fields)


def _detr_vs_cnn(name: str, c: DetectorComparison, key: str, detr_better: bool) -> ClaimCheck:
    """DETR's COCO ``key`` against the best CNN family's: above it (``detr_better``) or below it."""
    detr, cnns = c.row("detr"), c.rows_of(CNN)
    if detr is None or not cnns:
        return _missing(name, ["detr"] if detr is None else ["fasterrcnn", "ssd", "yolo"])
    best = _best(cnns, lambda r: r.metrics[key])
    fields = {"detr": detr.metrics[key], "best": _family(best.family), "best_value": best.metrics[key],
              "key": key}
    if detr.ap(key) is None or best.ap(key) is None:
        return _no_objects(name, key)
    a, b = (detr.metrics[key], best.metrics[key]) if detr_better else (best.metrics[key], detr.metrics[key])
    return _greater(name, a, b, fields)


def _detr_accuracy_good(c: DetectorComparison) -> ClaimCheck:
    """"DETR works well compared with the classic detectors": its AP at least the best CNN family's (within the
    margin: agrees); below the worst one's: disagrees; in between: cannot tell."""
    name, detr, cnns = "detr_accuracy_good", c.row("detr"), c.rows_of(CNN)
    if detr is None or not cnns:
        return _missing(name, ["detr"] if detr is None else ["fasterrcnn", "ssd", "yolo"])
    best, worst = (f(cnns, key=lambda r: r.metrics["AP"]) for f in (max, min))
    fields = {"detr": detr.metrics["AP"], "best": _family(best.family), "best_AP": best.metrics["AP"],
              "worst": _family(worst.family), "worst_AP": worst.metrics["AP"]}
    if detr.metrics["AP"] >= best.metrics["AP"] - AP_MARGIN:
        return ClaimCheck(name, "agrees", fields)
    if detr.metrics["AP"] < worst.metrics["AP"] - AP_MARGIN:
        return ClaimCheck(name, "disagrees", fields)
    return ClaimCheck(name, "cannot_tell", fields, Message("detectors.why_mixed"))


def _detr_small_weaker(c: DetectorComparison) -> ClaimCheck:
    return _detr_vs_cnn("detr_small_weaker", c, "APs", detr_better=False)


def _detr_small_gap(c: DetectorComparison) -> ClaimCheck:
    """"DETR is weaker on small objects" within one model: DETR's APm - APs above the CNN families' mean gap (so
    its small objects lag its larger ones more than theirs do, whatever each model's training)."""
    name, detr, cnns = "detr_small_gap", c.row("detr"), c.rows_of(CNN)
    if detr is None or not cnns:
        return _missing(name, ["detr"] if detr is None else ["fasterrcnn", "ssd", "yolo"])
    usable = [r for r in cnns if r.ap("APs") is not None and r.ap("APm") is not None]
    if detr.ap("APs") is None or detr.ap("APm") is None or not usable:
        return _no_objects(name, "APs")
    detr_gap = detr.metrics["APm"] - detr.metrics["APs"]
    cnn_gap = sum(r.metrics["APm"] - r.metrics["APs"] for r in usable) / len(usable)
    fields = {"detr_APs": detr.metrics["APs"], "detr_APm": detr.metrics["APm"], "detr_gap": detr_gap,
              "cnn_gap": cnn_gap, "cnn_count": len(usable)}
    return _greater(name, detr_gap, cnn_gap, fields)


def _detr_large_strong(c: DetectorComparison) -> ClaimCheck:
    return _detr_vs_cnn("detr_large_strong", c, "APl", detr_better=True)


def _time_to_ap50(row: DetectorRow) -> tuple[float | None, bool]:
    """(minutes to validation AP 0.5, reached): the card's time, else its whole training time as a lower bound
    (never reached), else (None, False): unknown."""
    if row.minutes_to_AP50 is not None:
        return row.minutes_to_AP50, True
    return row.train_minutes, False


def _detr_slow_to_converge(c: DetectorComparison) -> ClaimCheck:
    """"DETR is slow to converge": its training minutes to validation AP 0.5 (or its whole training, if it never
    got there) above every CNN family's that got there; below all of them: disagrees."""
    name, detr = "detr_slow_to_converge", c.row("detr")
    cnns = [r for r in c.rows_of(CNN) if r.minutes_to_AP50 is not None]
    if detr is None:
        return _missing(name, ["detr"])
    minutes, reached = _time_to_ap50(detr)
    if minutes is None or not cnns:
        return ClaimCheck(name, "cannot_tell", {}, Message("detectors.why_no_training_time"))
    slowest = max(cnns, key=lambda r: r.minutes_to_AP50)
    fastest = min(cnns, key=lambda r: r.minutes_to_AP50)
    fields = {"detr": minutes, "slowest": _family(slowest.family),
              "slowest_minutes": slowest.minutes_to_AP50, "fastest": _family(fastest.family),
              "fastest_minutes": fastest.minutes_to_AP50}
    variant = "" if reached else "not_reached"
    if _greater(name, minutes, slowest.minutes_to_AP50, fields, relative=True).verdict == "agrees":
        return ClaimCheck(name, "agrees", fields, variant=variant)
    if reached and _greater(name, fastest.minutes_to_AP50, minutes, fields, relative=True).verdict == "agrees":
        return ClaimCheck(name, "disagrees", fields)
    return ClaimCheck(name, "cannot_tell", fields, Message("detectors.why_mixed"), variant=variant)


CLAIMS: dict[str, Callable[[DetectorComparison], ClaimCheck]] = {
    # §1.3.1: two-stage detectors (R-CNN, Faster R-CNN)
    "rcnn_slower": _rcnn_slower,
    "two_stage_more_accurate": _two_stage_more_accurate,
    # §1.3.2: one-stage detectors (YOLO, SSD)
    "one_stage_faster": _one_stage_faster,
    "yolo_faster_than_ssd": _yolo_faster_than_ssd,
    "yolo_accuracy_average": _yolo_accuracy_average,
    "ssd_small_objects": _ssd_small_objects,
    # §4: DETR
    "cnn_need_nms": _cnn_need_nms,
    "detr_no_nms": _detr_no_nms,
    "detr_accuracy_good": _detr_accuracy_good,
    "detr_small_weaker": _detr_small_weaker,
    "detr_small_gap": _detr_small_gap,
    "detr_large_strong": _detr_large_strong,
    "detr_slow_to_converge": _detr_slow_to_converge,
}
"""Claim name -> its rule, in the notes' order."""


def check_claims(comparison: DetectorComparison) -> list[ClaimCheck]:
    """Every claim of `CLAIMS` checked against ``comparison``, in that order."""
    return [rule(comparison) for rule in CLAIMS.values()]
