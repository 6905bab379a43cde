"""Bounded storage of per-session results (a DETR run, a matching run, an evaluation) for a public server.

A Gradio `gr.State` lives as long as its session, however many sessions there are: a public Space can be filled
by anyone. A `RunStore` holds the results instead, under three caps, and hands the session a token (a str) to keep
in its `gr.State`:
    per_session  runs one session keeps (its oldest goes first);
    max_runs     runs of all sessions together;
    max_bytes    bytes of all runs together (numpy arrays counted by `nbytes`, or a size given to `put`).
Beyond a cap the least recently used runs are evicted; `get` on an evicted token raises `StateDroppedError`, a
`UserError` that asks the user to run again. A run larger than ``max_bytes`` alone is refused
(`RunTooLargeError`). Thread-safe: handlers run in Gradio's worker threads.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import numpy as np

from cvdemo.messages import UserError

__all__ = ["RunStore", "RunTooLargeError", "StateDroppedError", "nbytes"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class StateDroppedError(UserError):
    """The run a token names is gone (evicted to bound memory, its session ended, or a token never issued)."""


class RunTooLargeError(UserError):
    """A single run needs more memory than the whole store may hold."""


def nbytes(obj: Any, _depth: int = 0) -> int:
    """Bytes held by the numpy arrays (and bytes/str) inside a dataclass, mapping, list or tuple tree; an object
    may also report its own size with an ``nbytes`` attribute or ``memory_bytes()``."""
    if _depth > 8 or obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, (bytes, bytearray, str)):
        return len(obj)
    sizer = getattr(obj, "memory_bytes", None)
    if callable(sizer):
        return int(sizer())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, Mapping):
        return sum(nbytes(v, _depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v, _depth + 1) for v in obj)
    size = getattr(obj, "nbytes", None)
    return int(size) if isinstance(size, (int, np.integer)) else 0


@dataclasses.dataclass
class _Entry:
    session: str
    run: Any
    size: int


class RunStore(Generic[T]):
    """Runs of many sessions under a count cap, a byte cap and a per-session cap; least recently used out first.

    Args:
        name: for logs and messages ("detect", "evaluation").
        max_runs, max_bytes, per_session: the caps (see the module docstring).
        on_evict: called with each run that leaves the store (evicted, replaced or dropped with its session),
            e.g. to delete files the run owns.
    """

    def __init__(self, name: str, *, max_runs: int, max_bytes: int, per_session: int,
                 on_evict: Callable[[Any], None] | None = None) -> None:
        if min(max_runs, max_bytes, per_session) < 1:
            raise ValueError("max_runs, max_bytes and per_session must be >= 1")
        self.name = name
        self.max_runs, self.max_bytes, self.per_session = max_runs, max_bytes, per_session
        self.on_evict = on_evict
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # token -> entry, least recently used first
        self._bytes = 0
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def put(self, session: str, run: T, size: int | None = None) -> str:
        """Keep ``run`` for ``session``; returns its token. ``size``: its bytes (default `nbytes(run)`)."""
        size = nbytes(run) if size is None else int(size)
        if size > self.max_bytes:
            raise RunTooLargeError(
                f"This result needs {size / 2**20:.0f} MB, more than this server keeps for all users together "
                f"({self.max_bytes / 2**20:.0f} MB). Use a smaller input.", key="shared.run_too_large",
                size_mb=round(size / 2**20), limit_mb=round(self.max_bytes / 2**20))
        token = f"{self.name}:{session}:{next(self._counter)}"
        with self._lock:
            self._entries[token] = _Entry(session, run, size)
            self._bytes += size
            mine = [t for t, e in self._entries.items() if e.session == session]
            evicted = [self._pop(t) for t in mine[:-self.per_session]]
            while len(self._entries) > self.max_runs or self._bytes > self.max_bytes:
                evicted.append(self._pop(next(iter(self._entries))))
        self._evicted(evicted)
        return token

    def get(self, token: str | None) -> T:
        """The run of ``token`` (marked as recently used). StateDroppedError when it is no longer kept."""
        with self._lock:
            entry = self._entries.get(token) if isinstance(token, str) else None
            if entry is not None:
                self._entries.move_to_end(token)
                return entry.run
        raise StateDroppedError(
            "The result this view needs is no longer kept on the server (memory is shared by all users, and "
            "older results are dropped first). Run it again.", key="shared.state_dropped")

    def drop(self, token: str | None) -> None:
        """Forget one run (unknown tokens are ignored)."""
        with self._lock:
            evicted = [self._pop(token)] if token in self._entries else []
        self._evicted(evicted)

    def drop_session(self, session: str) -> None:
        """Forget every run of ``session`` (its browser tab was closed)."""
        with self._lock:
            evicted = [self._pop(t) for t, e in list(self._entries.items()) if e.session == session]
        self._evicted(evicted)

    def stats(self) -> dict[str, int]:
        """{"runs", "bytes", "sessions"} held now."""
        with self._lock:
            return {"runs": len(self._entries), "bytes": self._bytes,
                    "sessions": len({e.session for e in self._entries.values()})}

    def _pop(self, token: str) -> Any:
        entry = self._entries.pop(token)
        self._bytes -= entry.size
        return entry.run

    def _evicted(self, runs: list[Any]) -> None:
        if runs:
            logger.info("%s store: %d run(s) dropped; now %s", self.name, len(runs), self.stats())
        if self.on_evict is not None:
            for run in runs:
                try:
                    self.on_evict(run)
                except Exception:  # cleaning up must not break the request that caused the eviction
                    logger.exception("%s store: on_evict failed", self.name)
