"""Regenerate the shapes example images: `python -m examples.make_shape_examples` (from the repository root).

`shapes/` holds detection scenes like those the shipped `detr-shapes` was trained on (128 px, 1-4 shapes) and
`shapes-classify/` single shapes like `vit-shapes`'s (64 px), from seeds the training sets never use.
"""

from pathlib import Path

from PIL import Image

from cvdemo.datasets.shapes import CATEGORIES, SHARED_SHAPES, ShapesConfig, generate_sample

HERE = Path(__file__).resolve().parent
DETECT = SHARED_SHAPES  # the shipped detectors' distribution (detr-shapes')
CLASSIFY = ShapesConfig(image_size=64, task="classify", min_size=0.35, max_size=0.85)  # vit-shapes' training sizes


def main() -> None:
    out = HERE / "shapes"
    out.mkdir(exist_ok=True)
    for i in range(6):
        image = generate_sample([2024, i], DETECT)[0]
        Image.fromarray(image).save(out / f"shapes-{i}.png", optimize=True)
    out = HERE / "shapes-classify"
    out.mkdir(exist_ok=True)
    done: set[int] = set()
    i = 0
    while len(done) < len(CATEGORIES):  # one image of each class
        image, _, labels = generate_sample([2025, i], CLASSIFY)
        i += 1
        if int(labels[0]) not in done:
            done.add(int(labels[0]))
            name = CATEGORIES[int(labels[0])].name
            Image.fromarray(image).save(out / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
