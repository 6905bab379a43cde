"""`bind`: a module-level event handler with some keyword-only arguments fixed (the registry, a model runner),
in a form Gradio still reads.

`functools.partial` does not do: Gradio finds the `gr.Request`, `gr.Progress` and `gr.SelectData` parameters
from a function's type hints, and a partial object has none, so the request would not be injected. `bind` returns
a plain function with the handler's name, module, annotations and docstring, and the signature without the fixed
arguments (so Gradio counts only the inputs it must pass).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["bind"]


def bind(fn: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    """``fn`` with the keyword-only arguments ``fixed`` given; everything else is passed through."""
    signature = inspect.signature(fn)
    unknown = [name for name in fixed if signature.parameters.get(name) is None
               or signature.parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY]
    if unknown:
        raise TypeError(f"{fn.__name__} has no keyword-only parameters {unknown}")

    if inspect.isgeneratorfunction(fn):  # stays a generator function, for `answers` and Gradio's streaming
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            yield from fn(*args, **kwargs, **fixed)
    else:
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs, **fixed)

    handler.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name not in fixed])
    return handler
