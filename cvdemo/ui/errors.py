"""Every event handler answers: `answers` turns any failure into a readable message in the user's language.

- `gr.Error` raised by a handler passes through unchanged (it is already worded for the user).
- `cvdemo.messages.UserError` (a bad file, a value out of range, a model that cannot load, a dropped result)
  becomes a `gr.Error` with its text from the catalogs (`translate`), or its English text when it has no key.
- Anything else is a bug or an unforeseen input: the traceback goes to the server log with a short error id, and
  the user gets a short message with the same id (so a report can be matched with the log), never Gradio's
  generic "upstream app has raised an exception".
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from cvdemo.messages import Message, UserError
from cvdemo.ui.i18n import DEFAULT_LOCALE, catalogs, locale_of
from cvdemo.ui.texts.common import T

__all__ = ["answers", "is_answering", "translate", "user_error"]

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def translate(item: Message | UserError, locale: str = DEFAULT_LOCALE) -> str:
    """The text of a Message or UserError in ``locale``; English (the error's own text) when no catalog has
    its key or its fields do not fit. A field that is itself a Message is translated first (a kind of model, a
    unit: words of the same language inside the sentence)."""
    message = item.message if isinstance(item, UserError) else item
    fallback = str(item)
    if message is None:
        return fallback
    namespace, _, name = message.key.partition(".")
    catalog = catalogs().get(namespace)
    if catalog is None or name not in catalog.texts:
        logger.warning("no catalog text for message key %r", message.key)
        return fallback
    try:
        fields = {k: translate(v, locale) if isinstance(v, Message) else v for k, v in message.fields.items()}
        return catalog.text(name, locale, **fields)
    except (KeyError, IndexError, ValueError):
        logger.warning("message %r: fields %r do not fit its text", message.key, message.fields)
        return fallback


def _locale(args: tuple, kwargs: dict) -> str:
    for value in (*args, *kwargs.values()):
        if isinstance(value, gr.Request):
            return locale_of(value)
    return DEFAULT_LOCALE


def user_error(error: BaseException, locale: str = DEFAULT_LOCALE) -> gr.Error:
    """The `gr.Error` a user sees for ``error`` (see the module docstring); unexpected errors are logged here."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, UserError):
        return gr.Error(html.escape(translate(error, locale), quote=False),
                        title=T.text("cannot_do_title", locale), print_exception=False)
    error_id = uuid.uuid4().hex[:8]
    logger.error("unexpected error (error id %s): %s: %s", error_id, type(error).__name__, error,
                 exc_info=(type(error), error, error.__traceback__))
    return gr.Error(T.text("unexpected", locale, error_id=error_id), title=T.text("unexpected_title", locale),
                    print_exception=False)


def answers(fn: F) -> F:
    """Wrap an event handler (plain or generator function) so that every failure is a readable `gr.Error`.
    The signature is kept (`functools.wraps`), so Gradio still injects `gr.Request` and `gr.Progress`."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise user_error(e, _locale(args, kwargs)) from None
        stream.__cvdemo_answers__ = True  # type: ignore[attr-defined]
        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise user_error(e, _locale(args, kwargs)) from None
    call.__cvdemo_answers__ = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


def is_answering(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` (or a function it wraps, e.g. through `functools.partial` or `spaces.GPU`) is wrapped by
    `answers`."""
    seen = 0
    while fn is not None and seen < 10:
        if getattr(fn, "__cvdemo_answers__", False):
            return True
        fn = getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)
        seen += 1
    return False
