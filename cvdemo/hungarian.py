"""The Hungarian algorithm (Kuhn-Munkres), step by step, for teaching.

``hungarian_steps(cost)`` solves the same problem as ``scipy.optimize.linear_sum_assignment``
(pick one column for each row, or one row for each column when there are fewer columns, so
that the summed cost is minimal) with Munkres' algorithm of starred and primed zeros and
covering lines, and records every step as plain data (:class:`HungarianStep`) for display.
Production matching uses scipy (``cvdemo.matching``); this is the readable version.

The algorithm, as a learner sees it (``k = min(n, m)``; the *short side* is the rows when
``n <= m``, the columns otherwise):

1. ``reduce_rows`` (``reduce_columns`` when the columns are the short side): subtract from each
   line of the short side its minimum. Every assignment uses each of those lines exactly once,
   so this changes every assignment's cost by the same amount and never changes which one is
   best. On a square matrix, ``reduce_columns`` follows and does the same for columns. On a
   rectangular one the long side is not reduced: not every line of it is used, so subtracting
   from one would favour it.
2. ``star``: star zeros, at most one per row and per column. Starred zeros are the
   current partial assignment.
3. ``cover``: cover every long-side line that holds a star. When ``k`` lines are covered the
   stars form a complete assignment of zero reduced cost: ``done``.
4. ``prime``: prime an uncovered zero. If its short-side line holds a star, cover that line and
   uncover the star's long-side line, then look again. If not, go to 5.
5. ``augment``: from the primed zero, alternate star (same long-side line) and prime (same
   short-side line) until a primed zero whose long-side line has no star; star the primes and
   unstar the stars of that path (one more star), erase primes, uncover everything, go to 3.
6. ``adjust``: no uncovered zero is left. Let ``h`` be the smallest uncovered value: subtract
   it from every uncovered value and add it to every value covered twice. Every starred and
   primed zero stays zero, the matrix stays non-negative, and a new uncovered zero appears;
   go back to 4.

Rectangular matrices are handled without padding: the algorithm runs on the short side as
described (internally on the transpose when ``n > m``), while every recorded step is given in
the original orientation: its kind, its numbers and its text name rows and columns as the user
sees them. Only the short side is reduced, which keeps the result optimal (the dual values of
unused long-side lines stay 0).

Each step is structured data: a ``kind``, the numbers of that step in ``fields`` (see
:class:`HungarianStep`), and the matrix state. Its text is derived from those fields in one
place, :meth:`HungarianStep.messages`: catalog keys with format fields (``cvdemo.messages.Message``,
worded in any language by the UI's catalog ``cvdemo/ui/texts/match.py``, whose English is
``STEP_TEXTS``), and :attr:`HungarianStep.explanation`, the same sentences in English.

Floating point: values within ``tol`` of zero after a subtraction are set to exactly 0, with
``tol = 8 * k * eps * (max - min of the cost)``, and ``tol = 0`` for integer-valued matrices
(their arithmetic is exact). So costs closer than ``tol`` count as ties, and the total cost is
optimal to within ``k * tol``. Matrices whose magnitude exceeds 2**800 are first multiplied by
a power of two (exact) so that no sum overflows.

A trained DETR's costs are often solved by the reductions alone (``done`` then says why, its field
``direct``). To show the whole algorithm, :func:`hard_example` and :func:`random_cost_matrix` (seeded,
deterministic) give matrices whose steps cover, adjust and augment (:func:`shows_every_step`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvdemo.messages import Message

__all__ = ["HARD_EXAMPLE", "STEP_KINDS", "STEP_TEXTS", "HungarianStep", "hard_example", "hungarian_steps",
           "random_cost_matrix", "shows_every_step"]

STEP_KINDS = (
    "start",
    "reduce_rows",
    "reduce_columns",
    "star",
    "cover",
    "prime",
    "adjust",
    "augment",
    "done",
)

TEXT_NAMESPACE = "match"  # the UI catalog that words the steps: key "match.<name>" for each name below
MAX_PAIRS_SHOWN = 12  # pairs of the final assignment written out in its text

# The English text of every sentence a step can say, by catalog name; format fields as in `HungarianStep.messages`.
STEP_TEXTS: dict[str, str] = {
    "step_start_wide": "The cost matrix, {k} assignments to make. Each row gets a column; there are more columns "
    "than rows, so columns are not reduced.",
    "step_start_square": "The cost matrix, {k} assignments to make. Each row gets a column.",
    "step_start_tall": "The cost matrix, {k} assignments to make. There are more rows than columns, so each column "
    "gets a row; rows are not reduced.",
    "step_rescaled": "Values were multiplied by 2^-{shift} (exact) so that no sum overflows.",
    "step_reduce_rows": "Subtract each row's smallest value from that row: every row now has a zero, and every "
    "assignment's cost drops by the same amount.",
    "step_reduce_columns": "Subtract each column's smallest value from that column: every column now has a zero, "
    "and every assignment's cost drops by the same amount.",
    "step_reduce_columns_square": "Subtract each column's smallest value from that column: the matrix is square, "
    "so every column is used once too.",
    "step_star_in_rows": "Star a zero in each row if no other star shares its column: {count} starred zeros, no two "
    "in the same row or column (a partial assignment).",
    "step_star_in_columns": "Star a zero in each column if no other star shares its row: {count} starred zeros, no "
    "two in the same row or column (a partial assignment).",
    "step_cover_columns_done": "Cover each column that holds a starred zero: {count} covered; every row has a "
    "starred zero: that is an optimal assignment.",
    "step_cover_columns_more": "Cover each column that holds a starred zero: {count} covered; {k} are needed, so "
    "look for more zeros.",
    "step_cover_rows_done": "Cover each row that holds a starred zero: {count} covered; every column has a starred "
    "zero: that is an optimal assignment.",
    "step_cover_rows_more": "Cover each row that holds a starred zero: {count} covered; {k} are needed, so look for "
    "more zeros.",
    "step_prime_row_star": "Prime the uncovered zero at ({r}, {c}). Its row has a star at ({sr}, {sc}): cover this "
    "row and uncover that star's column.",
    "step_prime_row_free": "Prime the uncovered zero at ({r}, {c}). Its row has no star: an augmenting path starts "
    "here.",
    "step_prime_column_star": "Prime the uncovered zero at ({r}, {c}). Its column has a star at ({sr}, {sc}): cover "
    "this column and uncover that star's row.",
    "step_prime_column_free": "Prime the uncovered zero at ({r}, {c}). Its column has no star: an augmenting path "
    "starts here.",
    "step_adjust": "No uncovered zero: the smallest uncovered value is {h:.6g}. Subtract it from every uncovered "
    "value and add it to every value covered twice: stars and primes stay zero, a new zero appears.",
    "step_augment": "Augmenting path {path}: star its primed zeros, unstar its starred ones ({stars} stars now), "
    "erase all primes and uncover every line.",
    "step_done": "Optimal assignment {pairs}: total cost {total:.6g} in the original matrix.",
    "step_done_empty": "Optimal assignment (empty): total cost {total:.6g} in the original matrix.",
    "step_done_direct": "Why so few steps: after the reductions the starred zeros were already a full assignment "
    "({k} stars, no two in the same row or column), so no covering lines, no adjustment and no augmenting path "
    "were needed. A trained model's costs often look like this: each object has one clearly cheapest query. The "
    "hard example or a random matrix shows the whole algorithm.",
}


def _cells(cells) -> str:
    """Cells ``[(row, column), ...]`` as a learner reads them: ``(0, 1), (2, 3)``."""
    return ", ".join(f"({r}, {c})" for r, c in cells)


@dataclass(frozen=True)
class HungarianStep:
    """One step of :func:`hungarian_steps`, in the cost matrix's own orientation ``[n, m]``.

    Attributes:
        kind: one of ``STEP_KINDS``; ``reduce_rows`` / ``reduce_columns`` name the lines that were reduced
            as the user sees them (a matrix with more rows than columns has its columns reduced).
        fields: the numbers of this step; indices are 0-based ``(row, column)``:

            * ``start``: ``rows`` n, ``columns`` m, ``k`` = min(n, m) assignments to make, ``shift``: the
              values were multiplied by ``2**-shift`` so that no sum overflows (0: not rescaled).
            * ``reduce_rows`` / ``reduce_columns``: ``minima`` (``float64[n]`` / ``float64[m]``, the value
              subtracted from each line), ``square``: True for the columns of a square matrix, reduced after
              its rows.
            * ``star``: ``count`` starred zeros, ``cells`` ``[(row, column), ...]``; ``lines``: "rows" or
              "columns", the short side that was scanned.
            * ``cover``: ``lines`` ("columns" or "rows": the long side), ``count`` covered, ``k`` needed.
            * ``prime``: ``cell`` (row, column) primed; ``line`` ("row" or "column", the short side it lies
              on); ``star``: the (row, column) of the star on that line, or None (an augmenting path starts).
            * ``adjust``: ``h``, the smallest uncovered value, moved.
            * ``augment``: ``path`` ``[(row, column), ...]``: primed, starred, primed, ..., primed; ``stars``
              now.
            * ``done``: ``pairs`` ``[(row, column), ...]`` of the optimal assignment, ``total`` its cost in
              the original matrix; ``direct``: True when the stars of the first ``star`` step were already
              the whole assignment (no cover beyond the first, no adjustment, no augmenting path; the text
              then says why the steps were so few), False otherwise (absent for an empty matrix).
        matrix: ``float64[n, m]``, the reduced matrix after this step (read-only; steps that do
            not change it share the same array).
        starred: ``bool[n, m]``, starred zeros (the current partial assignment).
        primed: ``bool[n, m]``, primed zeros.
        covered_rows: ``bool[n]``.
        covered_cols: ``bool[m]``.
    """

    kind: str
    matrix: np.ndarray
    starred: np.ndarray
    primed: np.ndarray
    covered_rows: np.ndarray
    covered_cols: np.ndarray
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def min_uncovered(self) -> float | None:
        """For ``adjust``, the smallest uncovered value that was moved; else None."""
        return self.fields["h"] if self.kind == "adjust" else None

    @property
    def path(self) -> list[tuple[int, int]] | None:
        """For ``augment``, the alternating path ``[(row, column), ...]``; else None."""
        return self.fields["path"] if self.kind == "augment" else None

    def messages(self) -> tuple[Message, ...]:
        """What this step says, as catalog keys (``"match.step_..."``) with their format fields; its
        sentences in order. The only place where a step's fields become text."""
        f = self.fields

        def say(name: str, **values: Any) -> Message:
            return Message(f"{TEXT_NAMESPACE}.step_{name}", values)

        kind = self.kind
        if kind == "start":
            shape = "tall" if f["rows"] > f["columns"] else "square" if f["rows"] == f["columns"] else "wide"
            start = say(f"start_{shape}", k=f["k"])
            return (start, say("rescaled", shift=f["shift"])) if f["shift"] else (start,)
        if kind in ("reduce_rows", "reduce_columns"):
            return (say(kind + ("_square" if f["square"] else "")),)
        if kind == "star":
            return (say(f"star_in_{f['lines']}", count=f["count"]),)
        if kind == "cover":
            return (say(f"cover_{f['lines']}_{'done' if f['count'] == f['k'] else 'more'}", count=f["count"],
                        k=f["k"]),)
        if kind == "prime":
            (r, c), star = f["cell"], f["star"]
            if star is None:
                return (say(f"prime_{f['line']}_free", r=r, c=c),)
            return (say(f"prime_{f['line']}_star", r=r, c=c, sr=star[0], sc=star[1]),)
        if kind == "adjust":
            return (say("adjust", h=f["h"]),)
        if kind == "augment":
            return (say("augment", path=" -> ".join(f"({r}, {c})" for r, c in f["path"]), stars=f["stars"]),)
        if kind == "done":
            pairs = f["pairs"]
            if not pairs:
                return (say("done_empty", total=f["total"]),)
            shown = _cells(pairs[:MAX_PAIRS_SHOWN]) + (" ..." if len(pairs) > MAX_PAIRS_SHOWN else "")
            done = say("done", pairs=shown, total=f["total"])
            return (done, say("done_direct", k=len(pairs))) if f.get("direct") else (done,)
        raise ValueError(f"unknown step kind {kind!r}; expected one of {STEP_KINDS}")

    @property
    def explanation(self) -> str:
        """This step in one line of English for a learner (the sentences of :meth:`messages`)."""
        prefix = TEXT_NAMESPACE + "."
        return " ".join(STEP_TEXTS[m.key.removeprefix(prefix)].format(**m.fields) for m in self.messages())


def _check_cost(cost) -> np.ndarray:
    cost = np.asarray(cost)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix [n, m], got shape {cost.shape}")
    if not (np.issubdtype(cost.dtype, np.number) or cost.dtype == bool) or np.iscomplexobj(cost):
        raise ValueError(f"cost must hold real numbers, got dtype {cost.dtype}")
    cost = cost.astype(np.float64)
    if not np.isfinite(cost).all():
        bad = np.argwhere(~np.isfinite(cost))[:5].tolist()
        raise ValueError(
            f"cost contains NaN or inf (first at (row, column) {bad}); replace them by finite costs"
        )
    return cost


class _Munkres:
    """Munkres on a ``[k, m]`` matrix with ``k <= m`` (the short side is the rows), recording steps."""

    def __init__(self, cost: np.ndarray):
        self.transposed = cost.shape[0] > cost.shape[1]
        work = cost.T.copy() if self.transposed else cost.copy()
        self.k, self.m = work.shape
        self.shift = 0  # the values are multiplied by 2**-shift
        peak = float(np.abs(work).max()) if work.size else 0.0
        if peak > 2.0**800:
            self.shift = math.ceil(math.log2(peak)) - 800
            work = np.ldexp(work, -self.shift)
        integral = bool(np.all(work == np.round(work))) and float(np.abs(work).max(initial=0)) < 2.0**50
        spread = float(work.max() - work.min()) if work.size else 0.0
        self.tol = 0.0 if integral else 8.0 * max(self.k, 1) * np.finfo(np.float64).eps * spread
        self.matrix = work
        self.star = np.zeros((self.k, self.m), dtype=bool)
        self.prime = np.zeros((self.k, self.m), dtype=bool)
        self.row_cov = np.zeros(self.k, dtype=bool)
        self.col_cov = np.zeros(self.m, dtype=bool)
        # The user's names for our internal rows (the short side) and columns.
        self.short, self.long = ("column", "row") if self.transposed else ("row", "column")
        self.steps: list[HungarianStep] = []
        self._snapshot: np.ndarray | None = None

    # --- recording, in the user's orientation ---------------------------------------

    def _orient(self, a: np.ndarray) -> np.ndarray:
        return a.T.copy() if self.transposed else a.copy()

    def at(self, i: int, j: int) -> tuple[int, int]:
        """Internal (short, long) indices -> the user's (row, column)."""
        return (int(j), int(i)) if self.transposed else (int(i), int(j))

    def stars(self) -> list[tuple[int, int]]:
        """The starred cells as the user's (row, column), sorted."""
        return sorted(self.at(i, j) for i, j in np.argwhere(self.star))

    def record(self, kind: str, **fields) -> None:
        if self._snapshot is None:
            self._snapshot = self._orient(self.matrix)
            self._snapshot.flags.writeable = False
        rows, cols = (self.col_cov, self.row_cov) if self.transposed else (self.row_cov, self.col_cov)
        self.steps.append(
            HungarianStep(
                kind=kind,
                matrix=self._snapshot,
                starred=self._orient(self.star),
                primed=self._orient(self.prime),
                covered_rows=rows.copy(),
                covered_cols=cols.copy(),
                fields=fields,
            )
        )

    def _changed(self, region: np.ndarray | None = None) -> None:
        """Snap near-zeros (rounding residue) to exact zeros, and mark the matrix as changed."""
        if self.tol > 0:
            target = self.matrix if region is None else self.matrix[region]
            target[target <= self.tol] = 0.0
            if region is not None:
                self.matrix[region] = target
        self._snapshot = None

    # --- the algorithm --------------------------------------------------------------

    def reduce(self) -> None:
        minima = self.matrix.min(axis=1, keepdims=True)
        self.matrix -= minima
        self._changed()
        self.record(f"reduce_{self.short}s", minima=minima[:, 0].copy(), square=False)
        if self.k == self.m:
            minima = self.matrix.min(axis=0, keepdims=True)
            self.matrix -= minima
            self._changed()
            self.record(f"reduce_{self.long}s", minima=minima[0].copy(), square=True)

    def star_initial(self) -> None:
        col_has_star = np.zeros(self.m, dtype=bool)
        for i in range(self.k):
            free = np.flatnonzero((self.matrix[i] == 0) & ~col_has_star)
            if free.size:
                self.star[i, free[0]] = True
                col_has_star[free[0]] = True
        self.record("star", count=int(self.star.sum()), cells=self.stars(), lines=self.short + "s")

    def cover_starred(self) -> bool:
        """Step 3; returns True when the assignment is complete."""
        self.col_cov[:] = self.star.any(axis=0)
        count = int(self.col_cov.sum())
        self.record("cover", lines=self.long + "s", count=count, k=self.k)
        return count == self.k

    def find_uncovered_zero(self) -> tuple[int, int] | None:
        free_rows = np.flatnonzero(~self.row_cov)
        free_cols = np.flatnonzero(~self.col_cov)
        if free_rows.size == 0 or free_cols.size == 0:
            return None
        hits = np.argwhere(self.matrix[np.ix_(free_rows, free_cols)] == 0)
        if hits.size == 0:
            return None
        return int(free_rows[hits[0, 0]]), int(free_cols[hits[0, 1]])

    def adjust(self) -> None:
        free_rows, free_cols = ~self.row_cov, ~self.col_cov
        h = float(self.matrix[np.ix_(free_rows, free_cols)].min())
        uncovered = np.ix_(free_rows, free_cols)
        self.matrix[uncovered] -= h
        self.matrix[np.ix_(self.row_cov, self.col_cov)] += h
        self._changed(uncovered)
        self.record("adjust", h=h)

    def prime_zero(self, i: int, j: int) -> bool:
        """Step 4 on the zero (i, j); returns True when an augmenting path starts there."""
        self.prime[i, j] = True
        star_cols = np.flatnonzero(self.star[i])
        star = None
        if star_cols.size:
            s = int(star_cols[0])
            self.row_cov[i] = True
            self.col_cov[s] = False
            star = self.at(i, s)
        self.record("prime", cell=self.at(i, j), line=self.short, star=star)
        return star is None

    def augment(self, i: int, j: int) -> None:
        path = [(i, j)]
        while True:
            star_rows = np.flatnonzero(self.star[:, j])
            if star_rows.size == 0:
                break
            i = int(star_rows[0])
            path.append((i, j))
            j = int(np.flatnonzero(self.prime[i])[0])
            path.append((i, j))
        for step, (pi, pj) in enumerate(path):
            self.star[pi, pj] = step % 2 == 0  # primes become stars, stars are removed
        self.prime[:] = False
        self.row_cov[:] = False
        self.col_cov[:] = False
        self.record("augment", path=[self.at(pi, pj) for pi, pj in path], stars=int(self.star.sum()))

    def run(self) -> None:
        rows, columns = (self.m, self.k) if self.transposed else (self.k, self.m)
        self.record("start", rows=rows, columns=columns, k=self.k, shift=self.shift)
        if self.k == 0:
            return
        self.reduce()
        self.star_initial()
        while not self.cover_starred():
            while True:
                zero = self.find_uncovered_zero()
                if zero is None:
                    self.adjust()
                elif self.prime_zero(*zero):
                    self.augment(*zero)
                    break


def hungarian_steps(cost) -> tuple[np.ndarray, np.ndarray, list[HungarianStep]]:
    """Solve the assignment problem on ``cost`` and record every step of Munkres' algorithm.

    Args:
        cost: ``[n, m]`` finite real matrix (any shape, including 0-size and 1x1; negative
            values and ties are fine).

    Returns:
        ``(rows, cols, steps)``: ``int64[min(n, m)]`` arrays as ``linear_sum_assignment`` returns
        them (``rows`` increasing; row ``rows[t]`` gets column ``cols[t]``), optimal and one-to-one,
        and the list of :class:`HungarianStep`, from ``start`` to ``done``.

    Raises:
        ValueError: if ``cost`` is not 2-D, not real, or holds NaN/inf.
    """
    cost = _check_cost(cost)
    solver = _Munkres(cost)
    solver.run()
    pairs = solver.stars()
    rows = np.array([r for r, _ in pairs], dtype=np.int64)
    cols = np.array([c for _, c in pairs], dtype=np.int64)
    total = float(cost[rows, cols].sum()) if rows.size else 0.0
    if pairs:
        direct = not any(step.kind == "augment" for step in solver.steps)
        solver.record("done", pairs=pairs, total=total, direct=direct)
    else:
        solver.record("done", pairs=pairs, total=total)
    return rows, cols, solver.steps


# --- matrices that show the whole algorithm -----------------------------------------------------------

# A 5x5 integer cost (the worked example of Wikipedia's "Hungarian algorithm" article) whose reductions leave
# too few independent zeros: its steps cover lines, adjust twice by the smallest uncovered value and follow an
# augmenting path. Optimum: rows 0..4 -> columns 0, 3, 2, 1, 4, total 1075.
HARD_EXAMPLE = ((7, 53, 183, 439, 863),
                (497, 383, 563, 79, 973),
                (287, 63, 343, 169, 583),
                (627, 343, 773, 959, 943),
                (767, 473, 103, 699, 303))
MAX_RANDOM_DRAWS = 64  # matrices `random_cost_matrix` draws, at most, to find one that shows every step


def hard_example() -> np.ndarray:
    """float64 [5, 5]: a cost matrix whose Hungarian steps include every kind: ``cover`` lines that are not yet
    enough, ``adjust`` by the smallest uncovered value, ``prime`` and an ``augment``ing path (unlike most
    costs of a trained DETR, solved by the reductions alone). A new array at each call."""
    return np.array(HARD_EXAMPLE, dtype=np.float64)


def shows_every_step(steps: list[HungarianStep]) -> bool:
    """True when ``steps`` include a cover that is not yet enough, an adjustment and an augmenting path."""
    kinds = {step.kind for step in steps}
    more = any(s.kind == "cover" and s.fields["count"] < s.fields["k"] for s in steps)
    return more and {"adjust", "augment"} <= kinds


def random_cost_matrix(n: int = 5, m: int = 5, seed: int = 0, *, high: int = 20) -> np.ndarray:
    """float64 [n, m] of integers in [0, high): a random assignment problem, the same for the same arguments.

    The generator (``np.random.default_rng(seed)``) draws up to ``MAX_RANDOM_DRAWS`` matrices and returns the
    first whose Hungarian steps show every kind of step (`shows_every_step`), so that stepping through it
    teaches covering, adjustment and augmenting paths; shapes where no draw does (e.g. 1 x m or 2 x 2, always
    solved by the reductions) give the last draw. Integers keep every step's numbers exact and short.

    Raises:
        ValueError: if n or m is negative or high < 1.
    """
    if n < 0 or m < 0 or high < 1:
        raise ValueError(f"random_cost_matrix needs n, m >= 0 and high >= 1, got n={n}, m={m}, high={high}")
    rng = np.random.default_rng(seed)
    cost = np.zeros((n, m))
    for _ in range(MAX_RANDOM_DRAWS):
        cost = rng.integers(0, high, (n, m)).astype(np.float64)
        if min(n, m) < 2 or shows_every_step(hungarian_steps(cost)[2]):
            break
    return cost
