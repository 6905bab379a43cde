"""Browser sessions: who is asking, the bounded stores of their results, and what happens when a session ends.

`session_of(request)` names the session of a request (Gradio's ``session_hash``). Each tab keeps its per-session
results in a `RunStore` made with `store(...)`, so that `end_session` (wired by app.py to ``demo.unload``, which
Gradio calls when a browser tab closes) drops them; other clean-up (training folders, saved models) registers with
`on_session_end`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr

from cvdemo.session_store import RunStore

__all__ = ["STATE_SECONDS", "end_session", "on_session_end", "session_of", "store", "stores"]

logger = logging.getLogger(__name__)
ANONYMOUS = "anonymous"
STATE_SECONDS = 1800  # a page's token is forgotten after 30 minutes without use (its store may drop the run sooner)

_callbacks: list[Callable[[str], None]] = []
_stores: dict[str, RunStore] = {}
_lock = threading.Lock()


def session_of(request: Any) -> str:
    """The session of a `gr.Request` (its ``session_hash``), or "anonymous" without one."""
    return str(getattr(request, "session_hash", None) or ANONYMOUS)


def store(name: str, **caps: Any) -> RunStore:
    """The process-wide `RunStore` called ``name`` (made on first call with ``caps``: max_runs, max_bytes,
    per_session, on_evict); its runs are dropped when their session ends."""
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
    session = session_of(request)
    if session == ANONYMOUS:
        return
    with _lock:
        callbacks, all_stores = list(_callbacks), list(_stores.values())
    for s in all_stores:
        s.drop_session(session)
    for callback in callbacks:
        try:
            callback(session)
        except Exception:
            logger.exception("clean-up of session %s failed in %r", session, callback)
