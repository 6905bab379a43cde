"""The one duration formatter: seconds -> "42 s", "3 min 05 s" (words) or "03:05" (a clock), in any language.

    format_duration(185)              -> "3 min 05 s"
    format_duration(3725, CLOCK)      -> "1:02:05"
    format_duration(185, DurationStyle(seconds="{s} 秒", minutes="{m} 分钟", minutes_seconds="{m} 分 {s:02d} 秒"))

A `DurationStyle` holds the templates (``str.format`` with the fields ``h``, ``m``, ``s``); the training CLI's
progress bar uses `CLOCK`, the app builds a style from its catalog in the user's language. An unknown duration
(NaN, infinite or negative) is ``style.unknown``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CLOCK", "WORDS", "DurationStyle", "format_duration"]


@dataclass(frozen=True)
class DurationStyle:
    """Templates for one way of writing durations; fields ``h``, ``m``, ``s`` (ints)."""

    seconds: str  # under a minute: "{s} s"
    minutes: str  # whole minutes: "{m} min"
    minutes_seconds: str  # "{m} min {s:02d} s"
    hours: str | None = None  # from an hour on, e.g. "{h}:{m:02d}:{s:02d}"; None: the minutes go on counting
    unknown: str = "--:--"  # NaN, inf or a negative duration (an ETA that cannot be estimated yet)


WORDS = DurationStyle(seconds="{s} s", minutes="{m} min", minutes_seconds="{m} min {s:02d} s", unknown="?")
CLOCK = DurationStyle(seconds="00:{s:02d}", minutes="{m:02d}:00", minutes_seconds="{m:02d}:{s:02d}",
                      hours="{h}:{m:02d}:{s:02d}")


def format_duration(seconds: float, style: DurationStyle = WORDS) -> str:
    """``seconds`` rounded to the second, written in ``style`` ("42 s", "3 min 05 s", "10 min" by default)."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return style.unknown
    total = int(round(seconds))
    minutes, s = divmod(total, 60)
    if style.hours is not None and minutes >= 60:
        h, m = divmod(minutes, 60)
        return style.hours.format(h=h, m=m, s=s)
    if not minutes:
        return style.seconds.format(h=0, m=0, s=s)
    template = style.minutes_seconds if s else style.minutes
    return template.format(h=0, m=minutes, s=s)
