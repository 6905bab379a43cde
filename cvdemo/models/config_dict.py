"""config.json <-> model config dataclasses: the one round trip of DETR's and every detector family's config.

`config_to_dict(config)`: the dataclass's fields, ``id2label`` keys as strings, ``"model_type"`` first.
`config_from_dict(cls, d, tuples=..., nested_tuples=...)`: the inverse; JSON's lists become tuples again for the
named fields (``nested_tuples``: tuples of tuples, e.g. anchor sizes per level; a None value stays None), and a key
that is no field raises ValueError naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["config_from_dict", "config_to_dict"]

C = TypeVar("C")


def config_to_dict(config: Any) -> dict:
    d = dataclasses.asdict(config)
    d["id2label"] = {str(k): v for k, v in config.id2label.items()}
    return {"model_type": config.model_type, **d}


def config_from_dict(cls: type[C], d: dict, tuples: Iterable[str] = ("image_mean", "image_std"),
                     nested_tuples: Iterable[str] = ()) -> C:
    d = dict(d)
    d.pop("model_type", None)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} fields {unknown}; known fields are {sorted(known)}")
    d["id2label"] = {int(k): v for k, v in d.get("id2label", {}).items()}
    for key in tuples:
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    for key in nested_tuples:
        if d.get(key) is not None:
            d[key] = tuple(tuple(level) for level in d[key])
    return cls(**d)
