"""`cvdemo.vit_explanation`: every method's map over the patch grid of a run, its faithfulness curves, the verdict
of the deletion test, and the mean attention distance, on tiny random ViTs (CLS, average pooling, DeiT with a
distillation token, a non-square grid). The maps are those of `cvdemo.explain` and `cvdemo.vit_run` on the very
input the run saw; the curves are those of `cvdemo.explain.faithfulness`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cvdemo import vit_explanation as ve
from cvdemo.explain import faithfulness, gradient_rollout, mean_attention_distance, vit_relevance
from cvdemo.explain.faithfulness import PerturbationCurve
from cvdemo.explain.in_flight import InFlight
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.vit_run import layer_attention_heatmap, rollout_heatmap, run_vit

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KINDS = {
    "cls": {},
    "gap": {"class_token": False, "global_pool": "avg"},
    "deit": {"distilled": True},
    "non_square": {"image_size": (24, 40)},
}


def tiny_vit(kind: str = "cls", seed: int = 0) -> ViT:
    torch.manual_seed(seed)
    settings = {"image_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 3, "num_heads": 2, "num_classes": 4,
                "image_mean": (0.5,) * 3, "image_std": (0.5,) * 3, **KINDS[kind]}
    return ViT(ViTConfig(**settings)).eval()


def image(height: int = 48, width: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module", params=list(KINDS))
def model_and_run(request):
    model = tiny_vit(request.param)
    return model, run_vit(model, image(), "tiny")


def test_every_method_gives_a_map_over_the_grid_and_its_curves(model_and_run):
    model, run = model_and_run
    for method in ve.METHODS:
        e = ve.explain_vit(model, run, method, steps=4, seeds=(0,), cache=None)
        assert e.grid_map.shape == run.grid_size and e.grid_map.dtype == np.float32
        assert e.heatmap.shape == run.display_size and 0.0 <= e.heatmap.min() <= e.heatmap.max() <= 1.0
        assert e.target_class == int(np.argmax(run.probs)) and e.predicted
        assert set(e.curves) == set(ve.CURVE_NAMES) and e.curve_runs == ve.curve_model_runs(4, (0,)) == 2 * 5 * 2
        for name, curve in e.curves.items():
            assert curve.kind == name.removeprefix("random_") and curve.scores.shape == (5,)
            assert np.all((0 <= curve.scores) & (curve.scores <= 1))
        assert e.verdict in ("beats_random", "not_better", "inconclusive")


def test_the_maps_are_the_library_maps_on_the_input_the_run_saw(model_and_run):
    model, run = model_and_run
    pixels = vit_transform(run.model_input, model.config, size=run.input_size)
    assert torch.equal(ve.model_pixels(model, run), pixels)
    with torch.no_grad():  # the stored uint8 input is the run's input, to within rounding
        assert np.allclose(model(pixels)["logits"][0].softmax(-1).numpy(), run.probs, atol=0.05)
    for target in range(4):
        expected = vit_relevance(model, pixels, target)[0].numpy()
        got = ve.explain_vit(model, run, "relevance", target, measure=False)
        np.testing.assert_allclose(got.grid_map, expected, rtol=1e-6, atol=1e-7)
        assert got.target_class == target and got.curves == {} and got.verdict is None
        expected = gradient_rollout(model, pixels, target, discard_ratio=0.3)[0].numpy()
        np.testing.assert_allclose(ve.explain_vit(model, run, "gradient_rollout", target, discard_ratio=0.3,
                                                  measure=False).grid_map, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(
        ve.explain_vit(model, run, "rollout", head_fusion="max", discard_ratio=0.2, start_layer=1,
                       measure=False).grid_map, rollout_heatmap(run, "max", 0.2, 1))
    np.testing.assert_array_equal(ve.explain_vit(model, run, "attention", layer=1, head=0, measure=False).grid_map,
                                  layer_attention_heatmap(run, 1, 0))
    np.testing.assert_array_equal(ve.explain_vit(model, run, "attention", measure=False).grid_map,
                                  layer_attention_heatmap(run, run.num_layers - 1, None))  # default: last, mean


def test_the_class_changes_the_relevance_but_not_the_rollout():
    model = tiny_vit("cls", seed=3)
    run = run_vit(model, image(seed=5))
    relevance = [ve.explain_vit(model, run, "relevance", c, measure=False).grid_map for c in range(4)]
    gradient = [ve.explain_vit(model, run, "gradient_rollout", c, measure=False).grid_map for c in range(4)]
    rollout = [ve.explain_vit(model, run, "rollout", c, measure=False).grid_map for c in range(4)]
    attention = [ve.explain_vit(model, run, "attention", c, measure=False).grid_map for c in range(4)]
    assert any(not np.allclose(relevance[0], r, atol=1e-6) for r in relevance[1:])
    assert any(not np.allclose(gradient[0], g, atol=1e-6) for g in gradient[1:])
    for maps in (rollout, attention):
        assert all(np.array_equal(maps[0], m) for m in maps[1:])


def test_the_curves_are_the_faithfulness_curves_of_the_map_for_the_target():
    model = tiny_vit("non_square")
    run = run_vit(model, image(30, 50))
    e = ve.explain_vit(model, run, "relevance", 2, steps=5, seeds=(0, 1))
    pixels = ve.model_pixels(model, run)[0]
    score = faithfulness.vit_class_score(model, 2)
    deletion = faithfulness.deletion_curve(score, pixels, e.grid_map, steps=5, baseline="blur")
    insertion = faithfulness.insertion_curve(score, pixels, e.grid_map, steps=5, baseline="blur")
    random = faithfulness.random_curve(score, pixels, (3, 5), "deletion", steps=5, baseline="blur", seeds=(0, 1))
    for name, expected in (("deletion", deletion), ("insertion", insertion), ("random_deletion", random)):
        np.testing.assert_allclose(e.curves[name].scores, expected.scores, atol=1e-6)
        assert e.auc(name) == pytest.approx(expected.auc, abs=1e-6)
    assert e.curves["deletion"].scores[0] == pytest.approx(e.curves["insertion"].scores[-1], abs=1e-6)
    assert e.curve_seconds > 0 and e.map_seconds > 0


def test_measuring_later_fills_the_same_curves():
    model = tiny_vit("gap")
    run = run_vit(model, image())
    later = ve.explain_vit(model, run, "gradient_rollout", 1, steps=3, seeds=(0,), measure=False, cache=None)
    assert not later.measured and later.curve_runs == 16 and later.curve_seconds == 0
    assert later.estimated_seconds == pytest.approx(16 * run.model_ms / 1000)
    ve.measure_faithfulness(model, run, later, steps=3, seeds=(0,))
    at_once = ve.explain_vit(model, run, "gradient_rollout", 1, steps=3, seeds=(0,), cache=None)
    for name in ve.CURVE_NAMES:
        np.testing.assert_allclose(later.curves[name].scores, at_once.curves[name].scores, atol=1e-6)
    assert ve.estimated_curve_seconds(run) == pytest.approx(ve.curve_model_runs() * run.model_ms / 1000)
    assert ve.curve_model_runs() == 2 * 17 * 4


def test_the_random_curves_are_measured_once_per_model_input_and_class():
    model = tiny_vit("cls")
    run = run_vit(model, image())
    cache = ve.RandomCurveCache(max_entries=2)
    first = ve.explain_vit(model, run, "relevance", 1, steps=3, seeds=(0, 1), cache=cache)
    assert first.curve_runs == 2 * 4 * 3 and len(cache) == 1
    second = ve.explain_vit(model, run, "rollout", 1, steps=3, seeds=(0, 1), cache=cache)
    assert second.curve_runs == 2 * 4  # only the map's own deletion and insertion
    for name in ve.RANDOM_CURVE_NAMES:
        np.testing.assert_array_equal(second.curves[name].scores, first.curves[name].scores)
    assert ve.explain_vit(model, run, "rollout", 2, steps=3, seeds=(0, 1), cache=cache).curve_runs == 24  # class
    assert ve.explain_vit(model, run, "rollout", 1, steps=4, seeds=(0, 1), cache=cache).curve_runs == 30  # steps
    assert len(cache) == 2  # bounded: the oldest went
    other = tiny_vit("cls")  # the same weights, another model object
    assert ve.explain_vit(other, run, "rollout", 2, steps=3, seeds=(0, 1), cache=cache).curve_runs == 24
    moved = run_vit(model, image(seed=9))  # another input
    assert ve.explain_vit(model, moved, "rollout", 2, steps=3, seeds=(0, 1), cache=cache).curve_runs == 24


def test_measure_none_measures_within_the_budget_only():
    model = tiny_vit("cls")
    run = run_vit(model, image())
    run.model_ms = 100.0  # 136 runs of 0.1 s
    e = ve.explain_vit(model, run, "relevance", measure=None, budget_seconds=5.0, cache=None)
    assert not e.measured and e.estimated_seconds == pytest.approx(13.6) and e.curve_runs == 136
    assert ve.explain_vit(model, run, "relevance", measure=None, budget_seconds=20.0, cache=None).measured


def curve(scores, kind="deletion") -> PerturbationCurve:
    s = np.asarray(scores, dtype=np.float64)
    f = np.linspace(0, 1, len(s))
    return PerturbationCurve(f, s, float(np.trapezoid(s, f)), kind)


@pytest.mark.parametrize("ours, rand, verdict", [
    ([0.9, 0.2, 0.1], [0.9, 0.6, 0.1], "beats_random"),
    ([0.9, 0.6, 0.1], [0.9, 0.6, 0.1], "not_better"),  # a tie is not lower
    ([0.9, 0.595, 0.1], [0.9, 0.6, 0.1], "not_better"),  # lower by less than the margin
    ([0.9, 0.8, 0.1], [0.9, 0.6, 0.1], "not_better"),
    ([1.0, 1.0, 0.99], [1.0, 0.98, 0.97], "inconclusive"),  # blurring barely changes the score, in any order
    ([0.9, 0.9, 0.88], [0.9, 0.5, 0.88], "not_better"),  # the ends agree, but a random order drops it on the way
])
def test_the_verdict_of_the_deletion_test(ours, rand, verdict):
    e = ve.ViTExplanation("relevance", 0, True, np.zeros((2, 2), np.float32), np.zeros((4, 4), np.float32),
                          curves={"deletion": curve(ours), "random_deletion": curve(rand),
                                  "insertion": curve(ours[::-1], "insertion"),
                                  "random_insertion": curve(rand[::-1], "insertion")})
    assert e.verdict == verdict
    assert e.beats_random is (verdict == "beats_random")


def test_attention_distance_is_the_library_distance_of_the_run(model_and_run):
    model, run = model_and_run
    got = ve.attention_distance(run)
    assert got.shape == (run.num_layers, run.num_heads) and got.dtype == np.float32
    expected = mean_attention_distance([torch.from_numpy(a)[None] for a in run.attentions], run.grid_size,
                                       run.patch_size, run.num_prefix_tokens)
    np.testing.assert_array_equal(got, expected.numpy())
    assert (got >= 0).all() and (got <= np.hypot(*run.input_size)).all()


def test_bad_methods_and_classes_are_refused():
    model = tiny_vit()
    run = run_vit(model, image())
    with pytest.raises(ValueError, match="method must be one of"):
        ve.explain_vit(model, run, "saliency")
    with pytest.raises(ValueError, match=r"target_class must be in \[0, 4\)"):
        ve.explain_vit(model, run, "relevance", 4)
    with pytest.raises(RuntimeError, match="outside torch.inference_mode"), torch.inference_mode():
        ve.explain_vit(model, run, "relevance", measure=False)


def test_the_interpreter_waits_at_exit_for_an_explanation_being_computed(monkeypatch):
    """A process that exits while a server thread is inside torch aborts; `RUNNING` counts the explanations
    being computed and is waited for at exit (an `atexit` hook)."""
    model = tiny_vit()
    run = run_vit(model, image())
    seen = []
    real = ve.grid_map

    def counting(*args, **kwargs):
        seen.append(ve.RUNNING.count)
        assert not ve.RUNNING.wait(timeout_s=0.01)  # one is running: the wait would go on
        return real(*args, **kwargs)

    monkeypatch.setattr(ve, "grid_map", counting)
    ve.explain_vit(model, run, "rollout", measure=False)
    assert seen == [1] and ve.RUNNING.count == 0 and ve.RUNNING.wait(timeout_s=0.01)
    with pytest.raises(ValueError, match="method must be one of"):
        ve.explain_vit(model, run, "saliency")
    assert ve.RUNNING.count == 0  # a failure counts out too


def test_at_exit_no_explanation_starts_and_the_curves_stop(monkeypatch):
    model = tiny_vit()
    run = run_vit(model, image())
    running = InFlight()
    monkeypatch.setattr(ve, "RUNNING", running)
    running.at_exit()  # nothing in flight: returns at once
    with pytest.raises(RuntimeError, match="the process is exiting: no new explanation"):
        ve.explain_vit(model, run, "rollout")
    with pytest.raises(RuntimeError, match="the process is exiting: faithfulness not measured"):
        ve.faithfulness_curves(model, run, np.ones(run.grid_size, np.float32), 0, steps=2)
