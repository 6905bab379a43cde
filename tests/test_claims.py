"""The claims lab (issue 16): specs, the resumable runner over the real engine, the statistics (against a hand
computation) and the verdict rule, the results files and the command line."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from scipy import stats

import training.run_claims as run_claims_cli
from cvdemo.experiments import runner as runner_module
from cvdemo.experiments.claims import CLAIMS, runnable_claims
from cvdemo.experiments.results import read_claim_results, recomputed_verdict, write_claim_results
from cvdemo.experiments.run_records import RunRecord, append_record, read_records, runs_path
from cvdemo.experiments.runner import finished_records, prepare_run, run_claim, train_one
from cvdemo.experiments.shared_training import SharedEvaluationTask, metric_key, training_groups
from cvdemo.experiments.spec import MIN_SEEDS, ClaimNeedsOptionError, ClaimSpec, Overrides
from cvdemo.experiments.statistics import VERDICTS, VerdictRule, compare, summarize, verdict, welch_interval
from cvdemo.training.engine import Trainer
from cvdemo.training.events import EvalEvent

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SUPPORTED, CONTRADICTED, UNCLEAR = VERDICTS

# a ViT of 32 px with one block of width 32 on 16 generated images, 3 updates, evaluated once on 8 images
TINY = ClaimSpec(
    name="tiny-pos-embed", section="3.3", claim_en="sin-cos and learned are about the same", claim_zh="差不多",
    task="classify", preset="tiny", varied="ViTConfig.pos_embed",
    variants={"learned": Overrides(model={"pos_embed": "learn"}), "sin-cos": Overrides(model={"pos_embed": "sincos"})},
    metric="accuracy", direction="higher", relation="equal", margin=0.05, steps=3, eval_every=3, seeds=(0, 1),
    num_train_images=16, num_val_images=8, hint=False,
    base=Overrides(model=dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2),
                   shapes=dict(image_size=32), train=dict(batch_size=4, eval_batch_size=8, warmup_steps=0)))


class CountingTrainer(Trainer):
    """The engine, counting the runs it starts."""

    started = 0

    def run(self):
        type(self).started += 1
        yield from super().run()


@pytest.fixture
def counted(monkeypatch):
    CountingTrainer.started = 0
    monkeypatch.setattr(runner_module, "Trainer", CountingTrainer)
    return CountingTrainer


# --- the runner ------------------------------------------------------------------------------------------------


def test_runner_runs_every_variant_and_seed_and_writes_results(tmp_path, counted):
    seen = []
    records = run_claim(TINY, tmp_path, on_event=lambda variant, seed, event: seen.append((variant, seed, event.kind)))
    assert counted.started == 4
    assert seen.count(("sin-cos", 1, "step")) == 3 and seen.count(("learned", 0, "finished")) == 1
    assert [(r.variant, r.seed) for r in records] == [("learned", 0), ("sin-cos", 0), ("learned", 1), ("sin-cos", 1)]
    for r in records:
        assert r.status == "finished" and 0.0 <= r.final <= 1.0
        assert r.curve == [(3, r.final)] and r.seconds > 0 and r.num_parameters > 0
        assert r.hardware["device"] == "cpu" and r.settings["steps"] == 3
    assert len(read_records(runs_path(tmp_path, TINY.name))) == 4

    path = write_claim_results(tmp_path, TINY, records, ["python -m training.run_claims --claim tiny-pos-embed"])
    doc = read_claim_results(path)
    assert path.name == "tiny-pos-embed.json" and doc["complete"] is True
    assert doc["claim_zh"] == "差不多" and doc["commands"] == ["python -m training.run_claims --claim tiny-pos-embed"]
    assert set(doc["variants"]) == {"learned", "sin-cos"}
    for name, entry in doc["variants"].items():
        assert entry["seeds"] == [0, 1] and len(entry["final"]) == 2 and len(entry["curves"]) == 2
        assert entry["final"] == [r.final for r in records if r.variant == name]
    assert doc["verdict"] in VERDICTS and doc["verdict"] == recomputed_verdict(doc)
    assert doc["hardware"] and doc["hardware"][0]["torch_threads"] == 1


def test_same_seed_same_run_and_variants_differ_only_by_their_overrides():
    a, b = (train_one(TINY, "learned", 1) for _ in range(2))
    assert a.final == b.final and a.curve == b.curve
    learned, sincos = prepare_run(TINY, "learned", 0), prepare_run(TINY, "sin-cos", 0)
    assert learned.model.config.pos_embed == "learn" and sincos.model.config.pos_embed == "sincos"
    assert learned.config.seed == 0 and learned.config.total_steps == 3 and learned.config.checkpoint_dir is None
    assert [learned.train[i][1]["label"] for i in range(16)] == [sincos.train[i][1]["label"] for i in range(16)]


def test_an_interrupted_experiment_resumes_without_repeating_finished_runs(tmp_path, counted):
    def crash_after_first(record):
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        run_claim(TINY, tmp_path, on_record=crash_after_first)
    assert counted.started == 1 and len(read_records(runs_path(tmp_path, TINY.name))) == 1

    records = run_claim(TINY, tmp_path)
    assert counted.started == 4  # 1 + the 3 missing runs
    assert len(records) == 4 and len({(r.variant, r.seed) for r in records}) == 4
    run_claim(TINY, tmp_path)
    assert counted.started == 4  # all done: nothing runs again


def test_a_run_stopped_midway_is_not_recorded_and_restarts(tmp_path, counted):
    checks = {"n": 0}

    def stop_during_first_run():
        checks["n"] += 1
        return checks["n"] > 2  # the runner's check before the run, then the engine's before updates 1 and 2

    assert run_claim(TINY, tmp_path, stop=stop_during_first_run) == []
    assert counted.started == 1 and read_records(runs_path(tmp_path, TINY.name)) == []
    assert len(run_claim(TINY, tmp_path, seeds=(0,))) == 2
    assert counted.started == 3


def test_records_of_other_settings_do_not_count(tmp_path):
    record = RunRecord(claim=TINY.name, variant="learned", seed=0, final=0.5, curve=[(3, 0.5)], seconds=1.0,
                       num_parameters=1, settings=runner_module.run_settings(TINY, "learned", steps=99), hardware={})
    append_record(runs_path(tmp_path, TINY.name), record)
    with runs_path(tmp_path, TINY.name).open("a") as f:
        f.write('{"claim": "tiny-pos-embed", "vari\n')  # a line cut short by a killed run
    assert finished_records(TINY, tmp_path) == []
    assert finished_records(TINY, tmp_path, steps=99) == [record]


def test_a_claim_that_needs_a_new_model_option_is_refused(tmp_path, monkeypatch, capsys):
    spec = dataclasses.replace(TINY, name="tiny-needs", needs=("ViTConfig.swiglu (a gated MLP)",))
    monkeypatch.setattr(run_claims_cli, "CLAIMS", {spec.name: spec})
    with pytest.raises(ClaimNeedsOptionError, match="swiglu") as caught:
        run_claim(spec, tmp_path)
    assert caught.value.key == "claims.needs_option" and caught.value.claim == "tiny-needs"
    assert not runs_path(tmp_path, spec.name).exists()
    with pytest.raises(SystemExit) as exit_info:
        run_claims_cli.main(["--claim", spec.name, "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "swiglu" in capsys.readouterr().err


def test_the_command_line_runs_resumes_and_writes_the_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_claims_cli, "CLAIMS", {TINY.name: TINY})
    argv = ["--claim", TINY.name, "--seeds", "2", "--steps", "2", "--out", str(tmp_path)]
    assert run_claims_cli.main(argv) == 0
    doc = json.loads((tmp_path / "tiny-pos-embed.json").read_text())
    assert doc["steps"] == 2 and doc["complete"] and doc["commands"][0].startswith("python -m training.run_claims")
    assert run_claims_cli.main(argv) == 0  # resumed: nothing left to run, same results
    assert json.loads((tmp_path / "tiny-pos-embed.json").read_text())["variants"] == doc["variants"]
    assert len(read_records(runs_path(tmp_path, TINY.name))) == 4
    assert run_claims_cli.main(["--list"]) == 0 and TINY.name in capsys.readouterr().out


def test_every_shipped_claim_file_is_complete_and_its_verdict_follows_the_rule():
    """experiments/results/<claim>.json: all variants x seeds, the commands and hardware, the rule's verdict (none
    is shipped yet: this holds for every file that will be)."""
    for path in sorted((Path(__file__).resolve().parents[1] / "experiments" / "results").glob("*.json")):
        doc = read_claim_results(path)
        spec = CLAIMS[doc["claim"]]
        assert path.stem == spec.name and doc["complete"] and doc["commands"] and doc["hardware"], path
        assert set(doc["variants"]) == set(spec.variants), path
        for entry in doc["variants"].values():
            assert entry["seeds"] == doc["seeds"] and len(entry["final"]) == len(doc["seeds"]) >= MIN_SEEDS, path
            assert len(entry["curves"]) == len(doc["seeds"]), path
        assert doc["verdict"] == recomputed_verdict(doc), path


# --- the catalogue of claims -------------------------------------------------------------------------------------


def test_every_claim_is_complete_and_runnable_ones_build_every_variant():
    assert len(CLAIMS) >= 8
    for name, spec in CLAIMS.items():
        assert spec.name == name and spec.claim_en and spec.claim_zh and spec.section[0] in "34"
        assert len(spec.seeds) >= MIN_SEEDS and spec.why_may_differ_en and spec.why_may_differ_zh
    runnable = runnable_claims()
    assert {"vit-pos-embed-sincos-vs-learned", "vit-pos-embed-1d-vs-2d", "vit-class-token-vs-gap", "vit-gelu-vs-relu",
            "vit-layernorm-vs-batchnorm", "vit-heads", "detr-aux-loss", "detr-position-encoding",
            "cnn-vs-vit-small-data", "hybrid-vs-vit"} <= set(runnable)
    assert all(spec.needs for name, spec in CLAIMS.items() if name not in runnable)
    for spec in runnable.values():
        weights = set()
        for variant in spec.variants:
            run = prepare_run(spec, variant, 0)
            assert run.config.total_steps == spec.steps and run.config.eval_every == spec.eval_every
            weights.add(sum(p.numel() for p in run.model.parameters()))
        if spec.name in ("vit-heads", "detr-aux-loss", "vit-gelu-vs-relu", "vit-layernorm-vs-batchnorm"):
            assert len(weights) == 1  # same weights: only heads / the loss / the activation / the norm change
    aux = {v: prepare_run(CLAIMS["detr-aux-loss"], v, 0).task.aux_loss for v in ("aux loss on", "aux loss off")}
    assert aux == {"aux loss on": True, "aux loss off": False}


def test_the_claims_of_the_new_vit_options_build_what_they_compare():
    """GELU vs ReLU and LayerNorm vs BatchNorm: the same weights by name and shape, only the module differs;
    1-D vs 2-D learned vs no position embedding: the models differ exactly by their position tables."""
    def built(claim):
        spec = CLAIMS[claim]
        assert spec.runnable and spec.seeds == CLAIMS["vit-heads"].seeds and spec.steps == CLAIMS["vit-heads"].steps
        return {variant: prepare_run(spec, variant, 0).model for variant in spec.variants}

    def shapes(model):
        return {n: tuple(p.shape) for n, p in model.named_parameters()}

    act = built("vit-gelu-vs-relu")
    assert shapes(act["GELU"]) == shapes(act["ReLU"])
    assert [type(act[v].blocks[0].mlp.act).__name__ for v in ("GELU", "ReLU")] == ["GELU", "ReLU"]
    norm = built("vit-layernorm-vs-batchnorm")
    assert shapes(norm["LayerNorm"]) == shapes(norm["BatchNorm"])
    assert norm["BatchNorm"].config.norm_layer == "batchnorm"
    assert "blocks.0.norm1.running_mean" in norm["BatchNorm"].state_dict()
    pos = built("vit-pos-embed-1d-vs-2d")
    one_d, two_d, none = (shapes(pos[v]) for v in ("1-D learned", "2-D learned", "none"))
    (gh, gw), p, dim = pos["none"].config.grid_size, pos["none"].config.num_prefix_tokens, pos["none"].config.embed_dim
    assert one_d.pop("pos_embed") == (1, p + gh * gw, dim) and one_d == none
    assert (two_d.pop("pos_embed_row"), two_d.pop("pos_embed_col")) == ((gh, dim // 2), (gw, dim // 2))
    assert two_d == none and pos["none"].patch_position_table() is None


def test_a_spec_rejects_what_would_spoil_the_comparison():
    good = dict(name="x", section="3.4", claim_en="e", claim_zh="z", task="classify", preset="tiny", varied="v",
                metric="accuracy", direction="higher", relation="better", steps=1, eval_every=1,
                variants={"a": Overrides(), "b": Overrides()})
    ClaimSpec(**good)
    with pytest.raises(ValueError, match="data"):
        ClaimSpec(**{**good, "variants": {"a": Overrides(shapes={"image_size": 32}), "b": Overrides()}})
    with pytest.raises(ValueError, match="margin"):
        ClaimSpec(**{**good, "relation": "equal"})
    with pytest.raises(ValueError, match="unknown variants"):
        ClaimSpec(**{**good, "comparisons": (("a", "c"),)})
    with pytest.raises(ValueError, match="metric 'AP'"):
        ClaimSpec(**{**good, "metric": "AP"})  # a classifier reports no COCO AP
    with pytest.raises(ValueError, match="steps and seeds"):
        Overrides(train={"total_steps": 5})


def test_the_real_recipes_run_through_the_engine():
    """One DETR and three ViT claims (the preset's backbone init and feature hint) for 2 updates on a few images."""
    for name, variant in (("detr-position-encoding", "learned"), ("vit-class-token-vs-gap", "class token"),
                          ("vit-layernorm-vs-batchnorm", "BatchNorm"), ("vit-pos-embed-1d-vs-2d", "2-D learned")):
        spec = CLAIMS[name]
        short = dataclasses.replace(spec, steps=2, eval_every=1, num_val_images=2,
                                    base=spec.base.merged(Overrides(train={"batch_size": 2, "eval_batch_size": 2})))
        record = train_one(short, variant, 0)
        assert record.status == "finished" and [s for s, _ in record.curve] == [1, 2]
        assert record.final == record.curve[-1][1] and record.settings["overrides"]["model"]


def test_train_loss_metric_is_the_mean_loss_of_each_window():
    spec = dataclasses.replace(TINY, metric="train_loss", direction="lower", steps=4, eval_every=2)
    record = train_one(spec, "learned", 0)
    assert [s for s, _ in record.curve] == [2, 4] and record.final == record.curve[-1][1] > 0


# --- variants that share one training (evaluation options only) ----------------------------------------------------


class _FixedTask:
    """A task whose evaluation gives fixed metrics (or None: stopped)."""

    name = "fixed"

    def __init__(self, metrics):
        self.metrics = metrics

    def evaluate(self, model, dataset, device, batch_size, autocast, should_stop):
        return None if self.metrics is None else (dict(self.metrics), {"circle": self.metrics.get("AP", 0.0)})


def test_a_shared_evaluation_adds_each_variant_under_its_prefix():
    shared = SharedEvaluationTask(_FixedTask({"AP": 0.1, "loss": 2.0}), {"nms": _FixedTask({"AP": 0.3, "loss": 2.0})})
    metrics, per_class = shared.evaluate(None, None, "cpu", 1, None, lambda: False)
    assert metrics == {"AP": 0.1, "loss": 2.0, "nms/AP": 0.3, "nms/loss": 2.0} and per_class == {"circle": 0.1}
    assert shared.name == "fixed"  # everything else is the trained variant's task
    assert SharedEvaluationTask(_FixedTask({"AP": 0.1}), {"nms": _FixedTask(None)}).evaluate(
        None, None, "cpu", 1, None, lambda: False) is None
    assert metric_key("nms", "AP", "nms") == "AP" and metric_key("nms", "AP", "plain") == "nms/AP"


def test_only_variants_that_differ_in_evaluation_share_a_training():
    groups = {name: training_groups(spec) for name, spec in runnable_claims().items()}
    assert groups.pop("detr-one-to-one-no-nms") == (("one-to-one",), ("one-to-many, no NMS", "one-to-many + NMS"))
    assert all(len(group) == 1 for claim in groups.values() for group in claim)  # e.g. aux_loss changes the training
    with pytest.raises(ValueError, match="cannot be evaluated on 'one-to-one'"):
        prepare_run(CLAIMS["detr-one-to-one-no-nms"], "one-to-one", 0, also=["one-to-many + NMS"])


def test_nms_variants_are_trained_once_and_evaluated_as_each(tmp_path, counted):
    """3 variants, 2 trainings: the one-to-many model, evaluated without and with NMS, is the model a run of the
    NMS variant alone trains (the same validation loss at every evaluation) and its records say it was shared."""
    spec = CLAIMS["detr-one-to-one-no-nms"]
    short = dataclasses.replace(spec, steps=2, eval_every=1, num_val_images=2, seeds=(0, 1),
                                base=spec.base.merged(Overrides(train={"batch_size": 2, "eval_batch_size": 2})))
    evals = []
    records = run_claim(short, tmp_path, seeds=[0],
                        on_event=lambda v, s, e: evals.append((v, e)) if isinstance(e, EvalEvent) else None)
    assert counted.started == 2 and [r.variant for r in records] == list(spec.variants)
    plain, nms = records[1:]
    assert plain.extra == nms.extra == {"shared_training": ["one-to-many, no NMS", "one-to-many + NMS"]}
    assert plain.seconds == nms.seconds and not records[0].extra
    shared = [e.metrics for v, e in evals if v == "one-to-many, no NMS"]
    assert [(s, m["one-to-many + NMS/AP"]) for s, m in zip((1, 2), shared)] == nms.curve
    assert [(s, m["AP"]) for s, m in zip((1, 2), shared)] == plain.curve

    alone = []
    record = train_one(short, "one-to-many + NMS", 0, on_event=lambda v, s, e: alone.append(e.metrics)
                       if isinstance(e, EvalEvent) else None)
    assert record.curve == nms.curve and [m["loss"] for m in alone] == [m["one-to-many + NMS/loss"] for m in shared]
    assert counted.started == 3

    doc = read_claim_results(write_claim_results(tmp_path, short, records, ["x"], seeds=[0]))
    assert doc["wall_seconds"] == pytest.approx(records[0].seconds + nms.seconds, abs=0.1)  # the shared one once
    assert run_claim(short, tmp_path, seeds=[0]) and counted.started == 3  # resumes: nothing left to train


# --- statistics against a hand computation -------------------------------------------------------------------------

A = [0.30, 0.34, 0.32]
B = [0.25, 0.27, 0.20]


def test_statistics_equal_a_hand_computation():
    # by hand: mean(A) = 0.32, s_A^2 = (0.02^2 + 0.02^2 + 0) / 2 = 0.0004; mean(B) = 0.24,
    # s_B^2 = (0.01^2 + 0.03^2 + 0.04^2) / 2 = 0.0013
    sa, sb = summarize("A", A), summarize("B", B)
    assert (sa.n, sa.mean, sa.std) == (3, pytest.approx(0.32), pytest.approx(0.02))
    assert (sb.mean, sb.std) == (pytest.approx(0.24), pytest.approx(math.sqrt(0.0013)))
    # se^2 = 0.0004/3 + 0.0013/3 = 0.0017/3; Welch df = (0.0017/3)^2 / ((0.0004/3)^2/2 + (0.0013/3)^2/2)
    #      = 2 * 0.0017^2 / (0.0004^2 + 0.0013^2) = 5.78e-6 / 1.85e-6 = 3.124324...
    se, df = math.sqrt(0.0017 / 3), 5.78e-6 / 1.85e-6
    assert se == pytest.approx(0.0238048, abs=1e-7) and df == pytest.approx(3.124324, abs=1e-6)
    half = stats.t.ppf(0.975, df) * se  # the t quantile: 3.1030... (between 3.182 at 3 df and 2.776 at 4 df)
    assert 2.776 < stats.t.ppf(0.975, df) < 3.182
    d = welch_interval(A, B, names=("A", "B"))
    assert (d.a, d.b) == ("A", "B") and d.difference == pytest.approx(0.08)
    assert d.se == pytest.approx(se) and d.df == pytest.approx(df)
    assert (d.low, d.high) == (pytest.approx(0.08 - half), pytest.approx(0.08 + half))
    assert d.low == pytest.approx(0.0061, abs=2e-4) and d.high == pytest.approx(0.1539, abs=2e-4)
    assert compare({"A": A, "B": B}, [("A", "B")]) == [d]


def test_statistics_edge_cases():
    same = welch_interval([0.5, 0.5], [0.25, 0.25])
    assert (same.low, same.high, same.se) == (0.25, 0.25, 0.0)  # no spread: the interval is the point
    one = welch_interval([0.5], [0.1, 0.2])
    assert one.low == -math.inf and one.high == math.inf
    assert summarize("x", [0.4, None, 0.6]).n == 2  # a diverged run (None) is left out
    assert math.isnan(summarize("x", [0.4]).std)


# --- the verdict rule on synthetic results --------------------------------------------------------------------------


def rule(relation, direction="higher", margin=0.05, pairs=(("a", "b"),)):
    return VerdictRule(relation, direction, margin, pairs)


WIN = {"a": [0.50, 0.52, 0.51], "b": [0.30, 0.31, 0.29]}


def test_verdict_better():
    assert verdict(rule("better"), WIN) == SUPPORTED  # clear win
    assert verdict(rule("better"), {"a": WIN["b"], "b": WIN["a"]}) == CONTRADICTED  # clear loss
    overlap = {"a": [0.30, 0.50, 0.40], "b": [0.35, 0.45, 0.38]}
    assert verdict(rule("better"), overlap) == UNCLEAR
    assert verdict(rule("better"), {"a": A, "b": B}) == SUPPORTED  # the hand-computed interval lies above 0
    losses = {"a": [1.00, 1.10, 1.05], "b": [2.00, 2.10, 2.05]}  # lower is better: a's smaller loss wins
    assert verdict(rule("better", "lower"), losses) == SUPPORTED
    assert verdict(rule("better", "higher"), losses) == CONTRADICTED


def test_verdict_equal():
    within = {"a": [0.40, 0.41, 0.40], "b": [0.40, 0.405, 0.41]}
    assert verdict(rule("equal"), within) == SUPPORTED  # equal within the margin
    assert verdict(rule("equal"), WIN) == CONTRADICTED  # 0.21 apart: the interval excludes +/- 0.05
    assert verdict(rule("equal"), {"a": [0.30, 0.50, 0.40], "b": [0.35, 0.45, 0.38]}) == UNCLEAR  # too wide
    assert verdict(rule("equal", margin=0.5), WIN) == SUPPORTED


def test_verdict_of_several_comparisons_and_of_a_spec():
    results = {"a": [0.50, 0.52, 0.51], "b": [0.30, 0.31, 0.29], "c": [0.70, 0.71, 0.72]}
    assert verdict(rule("better", pairs=(("a", "b"), ("c", "b"))), results) == SUPPORTED
    assert verdict(rule("better", pairs=(("a", "b"), ("a", "c"))), results) == CONTRADICTED  # any loss
    assert verdict(rule("better", pairs=(("a", "b"), ("a", "a"))), results) == UNCLEAR
    spec = CLAIMS["vit-heads"]
    heads = {"1 head": [0.2, 0.21, 0.22], "2 heads": [0.3, 0.31, 0.3], "4 heads": [0.3, 0.32, 0.31],
             "8 heads": [0.29, 0.3, 0.31]}
    assert verdict(spec, heads) == SUPPORTED
