"""Pre-processing for cvdemo's ViT: an RGB image -> a normalised pixel tensor.

Deliberately simple: the whole image is resized (aspect ratio not kept, no crop) to the
model's input size with bicubic resampling (Pillow), scaled to [0, 1] and normalised with
the config's mean/std. Keeping the whole image means an attention heatmap over the patch
grid lines up with the full picture. (timm's eval transform instead resizes the short side
to size / crop_pct and centre-crops; transformers' ViTImageProcessor resizes to 224x224
bilinearly. Predictions differ slightly between the three; none is "the" right one.)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from cvdemo.models.vit import ViTConfig


def vit_transform(image: Image.Image | np.ndarray, config: ViTConfig,
                  size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Image -> pixel_values [1, 3, H, W] float32, normalised with config.image_mean / image_std.

    image: a PIL image (converted to RGB) or a uint8 array, HxWx3 (RGB) or HxW (grey), of any aspect ratio (an
        8000x12 banner or a single pixel too: the whole image is stretched to the input size).
    size: output (H, W) or side; default config.image_size. Must be a multiple of the patch size
        (a larger size gives a larger patch grid; the model resamples its position embedding).
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 image array, got dtype {image.dtype}; "
                             "scale it to 0..255 first")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 RGB (or HxW grey) array, got shape {image.shape}")
        if 0 in image.shape:
            raise ValueError(f"the image has no pixels (shape {image.shape})")
        image = Image.fromarray(np.ascontiguousarray(image))  # uint8 HxWx3 -> RGB
    elif not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image or a numpy uint8 array, got {type(image).__name__}")
    if config.in_chans != 3:
        raise ValueError(f"vit_transform makes RGB input; this model expects {config.in_chans} channels")

    size = config.image_size if size is None else size
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h % config.patch_size or w % config.patch_size:
        raise ValueError(f"size {h}x{w} is not a multiple of the patch size {config.patch_size}")
    image = image.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)  # (H, W, 3) in [0, 1]
    mean = torch.tensor(config.image_mean, dtype=torch.float32)
    std = torch.tensor(config.image_std, dtype=torch.float32)
    pixels = (pixels - mean) / std
    return pixels.permute(2, 0, 1).unsqueeze(0).contiguous()  # (1, 3, H, W)
