"""`gpu_task`: marks functions that run a model. On a Hugging Face ZeroGPU Space it is `spaces.GPU`, which
attaches a GPU for the call; everywhere else (the `spaces` package absent) it leaves the function as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

try:  # only installed on Hugging Face Spaces
    import spaces  # type: ignore[import-not-found]
except ImportError:
    spaces = None


def gpu_task(fn: F) -> F:
    """`spaces.GPU(duration=60)(fn)` on ZeroGPU, else `fn` unchanged."""
    if spaces is None:
        return fn
    return spaces.GPU(duration=60)(fn)
