"""The Hungarian algorithm (Kuhn-Munkres), step by step, for teaching.

``hungarian_steps(cost)`` solves the same problem as ``scipy.optimize.linear_sum_assignment``
(pick one column for each row, or one row for each column when there are fewer columns, so
that the summed cost is minimal) with Munkres' algorithm of starred and primed zeros and
covering lines, and records every step as plain data (:class:`HungarianStep`) for display.
Production matching uses scipy (``cvdemo.matching``); this is the readable version.

The algorithm, as a learner sees it (``k = min(n, m)``; the *short side* is the rows when
``n <= m``, the columns otherwise):

1. ``row_reduction``: subtract from each line of the short side its minimum. Every
   assignment uses each of those lines exactly once, so this changes every assignment's cost
   by the same amount and never changes which one is best. On a square matrix,
   ``column_reduction`` does the same for columns. On a rectangular one it is skipped: not
   every line of the long side is used, so subtracting from one would favour it.
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
the original orientation, with the explanations naming rows and columns as the user sees them.
Only the short side is reduced, which keeps the result optimal (the dual values of unused
long-side lines stay 0).

Floating point: values within ``tol`` of zero after a subtraction are set to exactly 0, with
``tol = 8 * k * eps * (max - min of the cost)``, and ``tol = 0`` for integer-valued matrices
(their arithmetic is exact). So costs closer than ``tol`` count as ties, and the total cost is
optimal to within ``k * tol``. Matrices whose magnitude exceeds 2**800 are first multiplied by
a power of two (exact) so that no sum overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["HungarianStep", "hungarian_steps"]

STEP_KINDS = (
    "start",
    "row_reduction",
    "column_reduction",
    "star",
    "cover",
    "prime",
    "adjust",
    "augment",
    "done",
)


@dataclass
class HungarianStep:
    """One step of :func:`hungarian_steps`, in the cost matrix's own orientation ``[n, m]``.

    Attributes:
        kind: one of ``STEP_KINDS``.
        explanation: one line for a learner; indices are 0-based ``(row, column)``.
        matrix: ``float64[n, m]``, the reduced matrix after this step (read-only; steps that do
            not change it share the same array).
        starred: ``bool[n, m]``, starred zeros (the current partial assignment).
        primed: ``bool[n, m]``, primed zeros.
        covered_rows: ``bool[n]``.
        covered_cols: ``bool[m]``.
        min_uncovered: for ``adjust``, the smallest uncovered value that was moved.
        path: for ``augment``, the alternating path ``[(row, column), ...]``: primed, starred,
            primed, ..., primed.
    """

    kind: str
    explanation: str
    matrix: np.ndarray
    starred: np.ndarray
    primed: np.ndarray
    covered_rows: np.ndarray
    covered_cols: np.ndarray
    min_uncovered: float | None = None
    path: list[tuple[int, int]] | None = None


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
        self.scale_note = ""
        peak = float(np.abs(work).max()) if work.size else 0.0
        if peak > 2.0**800:
            shift = math.ceil(math.log2(peak)) - 800
            work = np.ldexp(work, -shift)
            self.scale_note = f" Values were multiplied by 2^-{shift} (exact) so that no sum overflows."
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

    def record(self, kind: str, explanation: str, **extra) -> None:
        if self._snapshot is None:
            self._snapshot = self._orient(self.matrix)
            self._snapshot.flags.writeable = False
        rows, cols = (self.col_cov, self.row_cov) if self.transposed else (self.row_cov, self.col_cov)
        self.steps.append(
            HungarianStep(
                kind=kind,
                explanation=explanation,
                matrix=self._snapshot,
                starred=self._orient(self.star),
                primed=self._orient(self.prime),
                covered_rows=rows.copy(),
                covered_cols=cols.copy(),
                **extra,
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
        self.matrix -= self.matrix.min(axis=1, keepdims=True)
        self._changed()
        self.record(
            "row_reduction",
            f"Subtract each {self.short}'s smallest value from that {self.short}: every {self.short} now has "
            f"a zero, and every assignment's cost drops by the same amount.",
        )
        if self.k == self.m:
            self.matrix -= self.matrix.min(axis=0, keepdims=True)
            self._changed()
            self.record(
                "column_reduction",
                f"Subtract each {self.long}'s smallest value from that {self.long}: the matrix is square, so "
                f"every {self.long} is used once too.",
            )

    def star_initial(self) -> None:
        col_has_star = np.zeros(self.m, dtype=bool)
        for i in range(self.k):
            free = np.flatnonzero((self.matrix[i] == 0) & ~col_has_star)
            if free.size:
                self.star[i, free[0]] = True
                col_has_star[free[0]] = True
        count = int(self.star.sum())
        self.record(
            "star",
            f"Star a zero in each {self.short} if no other star shares its {self.long}: "
            f"{count} starred zeros, "
            f"no two in the same row or column (a partial assignment).",
        )

    def cover_starred(self) -> bool:
        """Step 3; returns True when the assignment is complete."""
        self.col_cov[:] = self.star.any(axis=0)
        count = int(self.col_cov.sum())
        if count == self.k:
            tail = "every " + self.short + " has a starred zero: that is an optimal assignment."
        else:
            tail = f"{self.k} are needed, so look for more zeros."
        self.record("cover", f"Cover each {self.long} that holds a starred zero: {count} covered; {tail}")
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
        self.record(
            "adjust",
            f"No uncovered zero: the smallest uncovered value is {h:.6g}. Subtract it from every uncovered "
            "value and add it to every value covered twice: stars and primes stay zero, a new zero appears.",
            min_uncovered=h,
        )

    def prime_zero(self, i: int, j: int) -> bool:
        """Step 4 on the zero (i, j); returns True when an augmenting path starts there."""
        self.prime[i, j] = True
        r, c = self.at(i, j)
        star_cols = np.flatnonzero(self.star[i])
        if star_cols.size:
            s = int(star_cols[0])
            self.row_cov[i] = True
            self.col_cov[s] = False
            sr, sc = self.at(i, s)
            self.record(
                "prime",
                f"Prime the uncovered zero at ({r}, {c}). Its {self.short} has a star at ({sr}, {sc}): cover "
                f"this {self.short} and uncover that star's {self.long}.",
            )
            return False
        self.record(
            "prime",
            f"Prime the uncovered zero at ({r}, {c}). Its {self.short} has no star: "
            "an augmenting path starts here.",
        )
        return True

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
        user_path = [self.at(pi, pj) for pi, pj in path]
        shown = " -> ".join(f"({r}, {c})" for r, c in user_path)
        self.record(
            "augment",
            f"Augmenting path {shown}: star its primed zeros, unstar its starred ones "
            f"({int(self.star.sum())} stars now), erase all primes and uncover every line.",
            path=user_path,
        )

    def run(self) -> None:
        orientation = (
            "There are more rows than columns, so each column gets a row; rows are not reduced."
            if self.transposed
            else "Each row gets a column"
            + ("." if self.k == self.m else "; there are more columns than rows, so columns are not reduced.")
        )
        self.record("start", f"The cost matrix, {self.k} assignments to make. {orientation}{self.scale_note}")
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
    pairs = sorted(solver.at(i, j) for i, j in np.argwhere(solver.star))
    rows = np.array([r for r, _ in pairs], dtype=np.int64)
    cols = np.array([c for _, c in pairs], dtype=np.int64)
    total = float(cost[rows, cols].sum()) if rows.size else 0.0
    shown = ", ".join(f"({r}, {c})" for r, c in pairs[:12]) + (" ..." if len(pairs) > 12 else "")
    solver.record(
        "done", f"Optimal assignment {shown or '(empty)'}: total cost {total:.6g} in the original matrix."
    )
    return rows, cols, solver.steps
