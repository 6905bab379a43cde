"""What the image classifiers' configs share: the trained input size, its grid, and the pixel normalisation.

`ImageInput` is a mixin with no dataclass fields of its own, for a config dataclass that has the fields
``image_size`` (``int`` or ``(H, W)``), ``in_chans``, ``image_mean``, ``image_std`` (one value per input channel),
``id2label`` and a ``patch_size`` (a field or a property). ``__post_init__`` calls `normalise_image_fields` (JSON
lists and string keys back to tuples and ints) and adds `image_problems` to its own checks.
"""

from __future__ import annotations

__all__ = ["ImageInput"]


class ImageInput:
    """Input size and normalisation of a classifier config (see the module docstring)."""

    image_size: int | tuple[int, int]
    in_chans: int
    patch_size: int
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]
    id2label: dict[int, str]

    def normalise_image_fields(self) -> None:
        """``image_size`` an int or an ``(H, W)`` tuple of ints, mean/std tuples of floats, ``id2label`` int keys."""
        if isinstance(self.image_size, (list, tuple)):
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        self.id2label = {int(k): str(v) for k, v in self.id2label.items()}

    def image_problems(self, stride_name: str = "patch_size") -> list[str]:
        """What is wrong with the normalisation's length or the size's multiple of ``patch_size`` (empty: nothing);
        ``stride_name`` names ``patch_size`` in the message."""
        problems = []
        if len(self.image_mean) != self.in_chans or len(self.image_std) != self.in_chans:
            problems.append(f"image_mean/image_std need {self.in_chans} values (one per input channel)")
        h, w = self.image_hw
        if self.patch_size > 0 and (h % self.patch_size or w % self.patch_size):
            problems.append(f"image_size {self.image_size} is not a multiple of {stride_name} {self.patch_size}")
        return problems

    @property
    def image_hw(self) -> tuple[int, int]:
        """Trained input size as (H, W)."""
        s = self.image_size
        return (s, s) if isinstance(s, int) else (s[0], s[1])

    @property
    def grid_size(self) -> tuple[int, int]:
        """Trained token grid (gh, gw) = (H // patch_size, W // patch_size): what a learned position table fits."""
        h, w = self.image_hw
        return h // self.patch_size, w // self.patch_size
