"""A bounded, thread-safe memory of the random map's faithfulness curves.

The random order's deletion and insertion curves do not depend on the map being judged, and they are 3/4 of the
model runs of a faithfulness measurement: the Attention and Detect tabs' explanation services
(`cvdemo.vit_explanation`, `cvdemo.detr_explanation`) keep them here so that another method explained for the
same target costs only its own two curves.

An entry is stored under a key the caller builds (what the curves depend on) and an owner object held by weak
reference (the model or the run): it counts only for that very object, so an ``id`` reused by another object
never hits. Least recently used entries are dropped first beyond ``max_entries``.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

__all__ = ["RandomCurveCache"]


class RandomCurveCache:
    """key -> {curve name: `faithfulness.PerturbationCurve`} for one owner object; see the module docstring."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = int(max_entries)
        self._entries: OrderedDict[tuple, tuple[weakref.ref, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: object, key: tuple) -> dict | None:
        """The curves kept under ``key`` for ``owner``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0]() is not owner:
                return None
            self._entries.move_to_end(key)
            return dict(entry[1])

    def put(self, owner: object, key: tuple, curves: dict) -> None:
        with self._lock:
            self._entries[key] = (weakref.ref(owner), dict(curves))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
