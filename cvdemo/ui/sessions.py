"""Browser sessions: who is asking, the bounded stores of their results, and what happens when a session ends.

`session_of(request)` names the session of a request (Gradio's ``session_hash``) and notes that it is alive. Each
tab keeps its per-session results in a `RunStore` made with `store(...)`, so that ending a session drops them;
other clean-up (training folders, saved models) registers with `on_session_end`. A session ends when its browser
tab closes (`end_session`, wired by app.py to ``demo.unload``) or when it has sent no request for `IDLE_SECONDS`
(API clients never close, and Gradio forgets the oldest sessions beyond its capacity without telling anyone):
idle sessions are ended by the next request that comes after a sweep interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gradio as gr

from cvdemo.session_store import RunStore

__all__ = ["IDLE_SECONDS", "STATE_SECONDS", "end", "end_session", "on_session_end", "session_of", "store", "stores"]

logger = logging.getLogger(__name__)
ANONYMOUS = "anonymous"
IDLE_SECONDS = 3600  # a session that sent no request for an hour has ended
SWEEP_SECONDS = 60  # how often requests look for idle sessions
MAX_TRACKED = 100_000  # sessions whose last request is remembered; beyond, the oldest is ended
STATE_SECONDS = 1800  # a page's token is forgotten after 30 minutes without use (its store may drop the run sooner)

_callbacks: list[Callable[[str], None]] = []
_stores: dict[str, RunStore] = {}
_lock = threading.Lock()
_last_seen: OrderedDict[str, float] = OrderedDict()  # session -> time of its last request, oldest first
_last_sweep = 0.0


def session_of(request: Any) -> str:
    """The session of a `gr.Request` (its ``session_hash``), or "anonymous" without one; the session is noted as
    alive, and sessions idle for `IDLE_SECONDS` are ended."""
    session = str(getattr(request, "session_hash", None) or ANONYMOUS)
    if session != ANONYMOUS:
        _seen(session, time.monotonic())
    return session


def _seen(session: str, now: float) -> None:
    global _last_sweep
    with _lock:
        _last_seen[session] = now
        _last_seen.move_to_end(session)
        idle = []
        if now - _last_sweep >= SWEEP_SECONDS:
            _last_sweep = now
            while _last_seen and now - next(iter(_last_seen.values())) > IDLE_SECONDS:
                idle.append(_last_seen.popitem(last=False)[0])
        while len(_last_seen) > MAX_TRACKED:
            idle.append(_last_seen.popitem(last=False)[0])
    for old in idle:
        logger.info("session %s idle for over %d s: ended", old[:8], IDLE_SECONDS)
        end(old)


def store(name: str, **caps: Any) -> RunStore:
    """The process-wide `RunStore` called ``name`` (made on first call with ``caps``: max_runs, max_bytes,
    per_session, on_evict); its runs are dropped when their session ends. The environment variable
    ``CVDEMO_<NAME>_STORE_MB`` (e.g. CVDEMO_DETECT_STORE_MB) sets its byte cap on a server with more or less
    memory."""
    override = os.environ.get(f"CVDEMO_{name.upper()}_STORE_MB")
    if override:
        try:
            caps["max_bytes"] = int(float(override) * 2**20)
        except ValueError:
            raise ValueError(f"CVDEMO_{name.upper()}_STORE_MB must be a number of MB, got {override!r}") from None
    with _lock:
        if name not in _stores:
            _stores[name] = RunStore(name, **caps)
        return _stores[name]


def stores() -> dict[str, RunStore]:
    """Every store made with `store`, by name."""
    with _lock:
        return dict(_stores)


def on_session_end(callback: Callable[[str], None]) -> None:
    """Call ``callback(session)`` when a session ends (registered once per callback)."""
    with _lock:
        if callback not in _callbacks:
            _callbacks.append(callback)


def end_session(request: gr.Request) -> None:
    """Drop everything a session holds (for ``demo.unload``; Gradio injects the request)."""
    session = str(getattr(request, "session_hash", None) or ANONYMOUS)
    if session != ANONYMOUS:
        end(session)


def end(session: str) -> None:
    """Drop everything ``session`` holds: its runs in every store, then every `on_session_end` callback."""
    with _lock:
        _last_seen.pop(session, None)
        callbacks, all_stores = list(_callbacks), list(_stores.values())
    for s in all_stores:
        s.drop_session(session)
    for callback in callbacks:
        try:
            callback(session)
        except Exception:
            logger.exception("clean-up of session %s failed in %r", session, callback)
