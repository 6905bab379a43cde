"""What the core says to a person: message keys with fields, worded by the UI in the user's language.

The core never composes finished UI sentences. A service returns data plus `Message`s (a catalog key such as
``"match.step_cover"`` and its format fields); an error a user can act on is a `UserError`, which carries the same
key and fields beside an English text for logs and command-line tools. `cvdemo.ui.errors.translate` words both
from the catalogs in `cvdemo/ui/texts/` (``"<namespace>.<name>"``); a key the catalogs lack falls back to English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message", "UserError"]


@dataclass(frozen=True)
class Message:
    """A message for the UI to word: ``key`` is ``"<catalog namespace>.<text name>"``; ``fields`` fill its
    ``str.format`` fields; ``english``, when given, is the same message in English for logs and command lines
    (``str(message)``)."""

    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    english: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.english or self.key


class UserError(Exception):
    """An error the user can act on (a bad file, a value out of range, a model that cannot load).

    Args:
        english: the whole message in English (``str(error)``; logs and CLIs print it).
        key: ``"<namespace>.<name>"`` of the same text in the UI's catalogs, or None to show ``english`` as is.
        **fields: the format fields of that text.
    """

    def __init__(self, english: str, *, key: str | None = None, **fields: Any) -> None:
        super().__init__(english)
        self.key = key
        self.fields = fields

    @property
    def message(self) -> Message | None:
        """The catalog message, or None when there is only the English text."""
        return Message(self.key, dict(self.fields)) if self.key else None
