"""The step-by-step Hungarian solver: optimal like scipy, one-to-one, and every recorded step consistent."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from cvdemo.hungarian import (
    STEP_KINDS,
    STEP_TEXTS,
    HungarianStep,
    hard_example,
    hungarian_steps,
    random_cost_matrix,
    shows_every_step,
)
from cvdemo.messages import Message


def random_cost(rng: np.random.Generator, n: int, m: int, family: int) -> np.ndarray:
    """Matrices of the kinds that break naive implementations."""
    if family == 0:  # continuous
        return rng.random((n, m))
    if family == 1:  # integers with many ties
        return rng.integers(0, 3, (n, m)).astype(np.float64)
    if family == 2:  # negative integers, wider range
        return rng.integers(-50, 50, (n, m)).astype(np.float64)
    if family == 3:  # huge magnitudes with small differences on top
        return rng.integers(-5, 5, (n, m)) * 1e12 + rng.random((n, m))
    if family == 4:  # large integer offset: exact arithmetic needed
        return 1e15 + rng.integers(0, 4, (n, m)).astype(np.float64)
    if family == 5:  # mixed scales, negative
        return rng.normal(size=(n, m)) * 10.0 ** rng.integers(-8, 9)
    # constant rows/columns and an all-equal block
    cost = np.full((n, m), 7.0)
    cost[: n // 2] += rng.integers(0, 2, (n // 2, m))
    return cost


def check_assignment(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    n, m = cost.shape
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert len(rows) == len(cols) == min(n, m)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert np.all(np.diff(rows) > 0)
    ref_rows, ref_cols = linear_sum_assignment(cost)
    ours, ref = cost[rows, cols].sum(), cost[ref_rows, ref_cols].sum()
    spread = float(np.ptp(cost)) if cost.size else 0.0
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-9 * spread + 1e-12), (cost, rows, cols)


def check_steps(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray, steps: list[HungarianStep]) -> None:
    n, m = cost.shape
    k = min(n, m)
    assert steps[0].kind == "start" and steps[-1].kind == "done"
    np.testing.assert_array_equal(steps[0].matrix, cost)
    final = np.zeros((n, m), dtype=bool)
    final[rows, cols] = True
    if k:
        np.testing.assert_array_equal(steps[-1].starred, final)
    spread = float(np.ptp(cost)) if cost.size else 0.0
    previous = None
    for step in steps:
        assert step.kind in STEP_KINDS
        assert isinstance(step.explanation, str) and step.explanation and "\n" not in step.explanation
        mat, star, prime = step.matrix, step.starred, step.primed
        assert mat.shape == star.shape == prime.shape == (n, m)
        assert step.covered_rows.shape == (n,) and step.covered_cols.shape == (m,)
        if step.kind != "start" and cost.size:
            assert (mat >= 0).all(), step.kind  # the reduced matrix never goes negative
            # A reduction only ever subtracts row and column constants: cost - mat = u_i + v_j.
            diff = cost - mat
            additive = diff - diff[:, :1] - diff[:1, :] + diff[0, 0]
            assert np.abs(additive).max(initial=0) <= 1e-9 * spread + 1e-9
        # starred zeros are independent zeros; primes are zeros, at most one per line
        assert (mat[star] == 0).all() and (mat[prime] == 0).all()
        assert (star.sum(0) <= 1).all() and (star.sum(1) <= 1).all()
        assert not (star & prime).any()
        lines = int(step.covered_rows.sum() + step.covered_cols.sum())
        assert lines <= k
        if step.kind in ("cover", "prime"):
            assert lines == int(star.sum())  # each covering line holds exactly one star
        if step.kind == "adjust":
            free = np.ix_(~previous.covered_rows, ~previous.covered_cols)
            assert step.min_uncovered == pytest.approx(previous.matrix[free].min(), abs=1e-9 * spread)
            assert step.min_uncovered > 0
        check_fields(cost, step, previous)
        if step.kind == "augment":
            path = step.path
            assert len(path) % 2 == 1
            for a, b in itertools.pairwise(path):
                assert a[0] == b[0] or a[1] == b[1]  # consecutive entries share a line
            assert all(star[r, c] for r, c in path[::2])  # primes became stars
            assert int(star.sum()) == int(previous.starred.sum()) + 1
        previous = step


def check_fields(cost: np.ndarray, step: HungarianStep, previous: HungarianStep | None) -> None:
    """A step's numbers (its ``fields``) agree with its matrices, and its text is made of them alone."""
    n, m = cost.shape
    f = step.fields
    if step.kind == "start":
        assert (f["rows"], f["columns"], f["k"]) == (n, m, min(n, m))
    elif step.kind in ("reduce_rows", "reduce_columns"):
        axis = 1 if step.kind == "reduce_rows" else 0
        assert len(f["minima"]) == (n if axis == 1 else m)
        assert f["square"] == (n == m and step.kind == "reduce_columns")
        before = previous.matrix.min(axis=axis)
        np.testing.assert_allclose(f["minima"], before, rtol=0, atol=1e-9 * (np.ptp(cost) + 1))
    elif step.kind == "star":
        assert f["count"] == int(step.starred.sum()) and f["cells"] == [tuple(c) for c in np.argwhere(step.starred)]
        assert f["lines"] == ("columns" if n > m else "rows")
    elif step.kind == "cover":
        covered = step.covered_rows if f["lines"] == "rows" else step.covered_cols
        assert f["count"] == int(covered.sum()) and f["k"] == min(n, m)
        assert f["lines"] == ("rows" if n > m else "columns")
    elif step.kind == "prime":
        r, c = f["cell"]
        assert step.primed[r, c] and not previous.primed[r, c] and step.matrix[r, c] == 0
        assert f["line"] == ("column" if n > m else "row")
        if f["star"] is not None:
            sr, sc = f["star"]
            assert step.starred[sr, sc] and (sr == r if f["line"] == "row" else sc == c)
    elif step.kind == "augment":
        assert f["stars"] == int(step.starred.sum())
    elif step.kind == "done":
        pairs = [tuple(c) for c in np.argwhere(step.starred)] if min(n, m) else []
        assert f["pairs"] == pairs
        assert f["total"] == pytest.approx(sum(cost[r, c] for r, c in pairs), rel=1e-12, abs=1e-300)
        assert ("direct" in f) == bool(pairs)
    messages = step.messages()
    assert messages and all(isinstance(msg, Message) and msg.key.startswith("match.step_") for msg in messages)
    english = [STEP_TEXTS[msg.key.removeprefix("match.")].format(**msg.fields) for msg in messages]
    assert step.explanation == " ".join(english)


def test_random_matrices_match_scipy_and_steps_are_consistent():
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    count = 0
    for trial in range(4000):
        n, m = (int(v) for v in rng.integers(0, 10, 2))
        cost = random_cost(rng, n, m, trial % 7)
        rows, cols, steps = hungarian_steps(cost)
        check_assignment(cost, rows, cols)
        if trial % 3 == 0:  # full step audit on a third of them keeps this fast
            check_steps(cost, rows, cols, steps)
        count += 1
    assert count == 4000
    assert time.perf_counter() - start < 60


def test_against_brute_force_permutations():
    """An independent reference: enumerate every injective assignment of small matrices."""
    rng = np.random.default_rng(1)
    for trial in range(200):
        n, m = (int(v) for v in rng.integers(1, 5, 2))
        cost = random_cost(rng, n, m, trial % 7)
        rows, cols, _ = hungarian_steps(cost)
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        else:
            best = min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
        assert cost[rows, cols].sum() == pytest.approx(best, rel=1e-12, abs=1e-9 * np.ptp(cost) + 1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (3, 9), (9, 3), (0, 0), (0, 4), (4, 0), (12, 12)])
def test_shapes(shape):
    rng = np.random.default_rng(2)
    cost = rng.integers(-3, 3, shape).astype(np.float64)
    rows, cols, steps = hungarian_steps(cost)
    check_assignment(cost, rows, cols)
    check_steps(cost, rows, cols, steps)


def test_known_example_and_orientation_of_steps():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols, steps = hungarian_steps(cost)
    np.testing.assert_array_equal(cols, [1, 0, 2])  # 1 + 2 + 2 = 5 is the unique optimum
    kinds = [s.kind for s in steps]
    assert kinds[:3] == ["start", "reduce_rows", "reduce_columns"]
    np.testing.assert_array_equal(steps[1].matrix, cost - cost.min(1, keepdims=True))
    # Tall matrix: each column gets a row; steps are reported in the caller's orientation.
    tall = np.array([[5.0, 9.0], [1.0, 7.0], [8.0, 2.0], [6.0, 6.0]])
    rows, cols, steps = hungarian_steps(tall)
    np.testing.assert_array_equal(rows, [1, 2])
    np.testing.assert_array_equal(cols, [0, 1])
    assert all(s.matrix.shape == (4, 2) for s in steps)
    # only the short side (columns here) is reduced, and the step says so in the caller's orientation
    assert steps[1].kind == "reduce_columns" and "reduce_rows" not in [s.kind for s in steps]
    np.testing.assert_array_equal(steps[1].matrix, tall - tall.min(0, keepdims=True))
    np.testing.assert_array_equal(steps[1].fields["minima"], tall.min(0))


def test_extreme_magnitudes():
    cost = np.array([[1e300, -1e300, 3e299], [2e300, 5e299, -1e308], [1e-300, 0.0, 1e308]])
    rows, cols, steps = hungarian_steps(cost)
    best = min(sum(cost[i, p[i]] for i in range(3)) for p in itertools.permutations(range(3)))
    assert cost[rows, cols].sum() == best
    assert all(np.isfinite(s.matrix).all() for s in steps)
    # Exact integers far above 2**53 / eps: differences of 1 must still count.
    big = 2.0**52 + np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    rows, cols, _ = hungarian_steps(big)
    np.testing.assert_array_equal(cols, [0, 1, 2])


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN or inf"):
        hungarian_steps(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        hungarian_steps(np.array([[np.inf]]))
    with pytest.raises(ValueError, match="2-D"):
        hungarian_steps(np.zeros(3))
    with pytest.raises(ValueError, match="real"):
        hungarian_steps(np.array([["a", "b"]]))


def test_detr_sized_problem_is_interactive():
    """Budget: 100 ms for 100x10 on a 2-core machine; a generous bound here, figures in the benchmark."""
    rng = np.random.default_rng(3)
    cost = -rng.random((100, 10)) + 5 * rng.random((100, 10))
    start = time.perf_counter()
    rows, cols, steps = hungarian_steps(cost)
    elapsed = time.perf_counter() - start
    check_assignment(cost, rows, cols)
    check_steps(cost, rows, cols, steps)
    assert elapsed < 0.5


def test_decimal_costs_give_no_rounding_residue_steps():
    """0.1 + 0.2 != 0.3 in floats: without a scale-aware zero test the solver would show learners
    spurious 'adjust by 5.6e-17' steps. Every adjustment here must be a real cost difference (>= 0.01)."""
    rng = np.random.default_rng(4)
    adjusts = 0
    for _ in range(300):
        n, m = (int(v) for v in rng.integers(2, 9, 2))
        cost = rng.integers(0, 10, (n, m)) * 0.1 + rng.integers(0, 10, (n, m)) * 0.01 + 0.7
        rows, cols, steps = hungarian_steps(cost)
        check_assignment(cost, rows, cols)
        for step in steps:
            if step.kind == "adjust":
                adjusts += 1
                assert step.min_uncovered > 0.005
    assert adjusts > 100  # the case is actually exercised


def test_every_step_text_is_said_and_the_text_follows_the_fields():
    """Every sentence of STEP_TEXTS occurs on small matrices, and a step's text changes only with its fields."""
    rng = np.random.default_rng(5)
    said = set()
    for trial in range(600):
        n, m = (int(v) for v in rng.integers(0, 6, 2))
        cost = random_cost(rng, n, m, trial % 7)
        said |= {msg.key for step in hungarian_steps(cost)[2] for msg in step.messages()}
    said |= {msg.key for msg in hungarian_steps(np.ones((2, 3)) * 2.0**900)[2][0].messages()}
    assert said == {f"match.{name}" for name in STEP_TEXTS}
    steps = hungarian_steps(np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]]) * 2.0**900)[2]
    assert steps[0].fields["shift"] == 102 and steps[0].explanation.endswith(
        "Values were multiplied by 2^-102 (exact) so that no sum overflows.")
    done = hungarian_steps(np.array([[5.0, 1.0], [1.0, 5.0], [9.0, 9.0]]))[2][-1]
    assert done.kind == "done" and done.fields == {"pairs": [(0, 1), (1, 0)], "total": 2.0, "direct": True}
    assert done.explanation.startswith("Optimal assignment (0, 1), (1, 0): total cost 2 in the original matrix. "
                                       "Why so few steps:")
    big = hungarian_steps(np.eye(14))[2][-1]
    first = STEP_TEXTS["step_done"].format(**big.messages()[0].fields)
    assert len(big.fields["pairs"]) == 14 and first.count("(") == 12 and " ..." in first
    empty = hungarian_steps(np.zeros((0, 3)))[2]
    assert [s.kind for s in empty] == ["start", "done"]
    assert empty[-1].explanation == "Optimal assignment (empty): total cost 0 in the original matrix."


# --- matrices that show the whole algorithm, and why a real cost takes few steps ---------------------------


def test_the_hard_example_covers_adjusts_augments_and_ends_at_scipys_optimum():
    cost = hard_example()
    rows, cols, steps = hungarian_steps(cost)
    kinds = [step.kind for step in steps]
    assert kinds.count("adjust") >= 1 and kinds.count("augment") >= 1 and shows_every_step(steps)
    assert any(s.kind == "cover" and s.fields["count"] < s.fields["k"] for s in steps)  # a cover not yet enough
    assert all(s.fields["h"] > 0 for s in steps if s.kind == "adjust")
    ref_rows, ref_cols = linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == cost[ref_rows, ref_cols].sum() == steps[-1].fields["total"] == 1075
    check_assignment(cost, rows, cols)
    check_steps(cost, rows, cols, steps)
    assert steps[-1].fields["direct"] is False and "Why so few steps" not in steps[-1].explanation
    assert hard_example() is not hard_example()  # a new array each time: callers may change it


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (5, 5), (8, 8), (3, 7), (8, 2)])
def test_the_seeded_random_matrix_is_deterministic_and_shows_every_step(shape):
    n, m = shape
    first = random_cost_matrix(n, m, seed=7)
    np.testing.assert_array_equal(first, random_cost_matrix(n, m, seed=7))
    assert first.shape == shape and first.dtype == np.float64 and np.all(first == np.round(first))
    assert any(not np.array_equal(first, random_cost_matrix(n, m, seed=s)) for s in range(8, 12))
    rows, cols, steps = hungarian_steps(first)
    assert shows_every_step(steps)
    check_assignment(first, rows, cols)


def test_random_matrices_of_shapes_that_cannot_show_every_step_and_bad_sizes():
    for n, m in ((2, 2), (1, 5), (0, 3)):
        cost = random_cost_matrix(n, m, seed=3)
        assert cost.shape == (n, m)
        np.testing.assert_array_equal(cost, random_cost_matrix(n, m, seed=3))
    with pytest.raises(ValueError, match="n, m >= 0"):
        random_cost_matrix(-1, 3)


def test_few_steps_say_why_from_a_message_in_both_languages():
    """A cost whose reductions already give a full assignment (like most of a trained DETR's): the last step
    says why there was no cover, adjustment or augmenting path; its text comes from a Message."""
    from cvdemo.ui.texts.match import T

    steps = hungarian_steps(np.array([[0.2, 3.0, 4.0], [2.5, 0.1, 5.0], [4.0, 2.0, 0.3], [3.0, 3.0, 3.0]]))[2]
    assert [s.kind for s in steps] == ["start", "reduce_columns", "star", "cover", "done"]
    done = steps[-1]
    assert done.fields["direct"] is True
    why = done.messages()[-1]
    assert why == Message("match.step_done_direct", {"k": 3})
    assert "already a full assignment" in done.explanation
    assert "已经构成一个完整的分配" in T.text("step_done_direct", "zh-CN", **why.fields)
