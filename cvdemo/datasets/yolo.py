"""YOLO txt: one label file per image, normalised ``class cx cy w h`` (+ ``conf`` for predictions).

Layouts read (``split`` picks a sub-folder):

- Ultralytics: ``ROOT/images[/split]/x.jpg`` with ``ROOT/labels[/split]/x.txt`` (sub-folders
  mirrored); also Roboflow's ``ROOT/split/images`` + ``ROOT/split/labels``. A label file with
  no image is an error; an image with no label file has no objects (YOLO's "background").
- Darknet: images and their ``.txt`` side by side in ``ROOT[/split]``; other ``.txt`` files
  there (``classes.txt``, image lists) are not labels and are left alone.
- Labels only: no images at all, when ``image_sizes`` gives every image's size.

A label line is ``class cx cy w h``: ``class`` the 0-based index into the class names,
``cx cy w h`` the box centre and size divided by the image width / height, each in [0, 1],
``w, h > 0``. Blank lines are skipped; anything else is an error naming file, line and field
(polygons, i.e. segmentation labels, included: this reads boxes). Prediction lines add a
confidence, ``class cx cy w h conf`` with ``conf`` in [0, 1] (Ultralytics' ``save_conf``).

Classes: ``classes.txt`` (one name per line) or ``data.yaml`` (``names: [a, b]`` or
``names: {0: a, 1: b}``, read with ``yaml.safe_load``), looked for in ``ROOT`` then its
parent, or given. Class index ``k`` is category id ``k + 1`` (what Ultralytics writes in its
COCO json for non-COCO data sets).

Image sizes come from the image headers (Pillow opens lazily: no pixels are decoded), with the
EXIF orientation applied for JPEG/TIFF/WebP (width and height swap for a quarter turn, as
Ultralytics does), or from ``image_sizes``. Image ids are ``1..I`` in path order; ``file_name``
is the path relative to the images folder; annotation ids ``1..N`` in reading order;
``areas`` are ``w * h`` in pixels. Boxes are not clipped to the image.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from cvdemo.datasets.structure import Category, DatasetError, Detections, GroundTruth, ImageInfo, short_repr
from cvdemo.images import ImageLoadError, image_size

__all__ = [
    "IMAGE_SUFFIXES", "load_yolo_detections", "load_yolo_ground_truth", "read_yolo_classes",
    "write_yolo_detections", "write_yolo_labels",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_MAX_CLASSES_BYTES = 1024 * 1024
_BOX_FIELDS = ("cx", "cy", "w", "h")


def read_yolo_classes(path: str | Path) -> list[str]:
    """Class names from ``classes.txt`` (one per line) or a ``.yaml`` file's ``names``.

    Raises:
        DatasetError: unreadable file, no names, duplicate names, or ``names`` neither a list
            nor a dict ``{0: name, 1: name, ...}`` with keys ``0..K-1``.
    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_CLASSES_BYTES:
            raise DatasetError(f"{path}: too large for a class list")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read class names: {e}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        names = _yaml_names(path, text)
    else:
        names = [line.strip() for line in text.splitlines()]
        while names and not names[-1]:
            names.pop()
        if "" in names:
            raise DatasetError(f"{path}:{names.index('') + 1}: empty class name")
    if not names:
        raise DatasetError(f"{path}: no class names")
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            raise DatasetError(f"{path}: class {k} {name!r} has the same name as class {seen[name]}")
        seen[name] = k
    return names


def _yaml_names(path: Path, text: str) -> list[str]:
    try:
        import yaml  # PyYAML, only for data.yaml; safe_load builds plain lists, dicts and scalars
    except ImportError:
        raise DatasetError(f"{path}: reading .yaml needs PyYAML (pip install pyyaml), "
                           "or give the names in a classes.txt") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DatasetError(f"{path}: malformed YAML: {e}") from None
    except RecursionError:
        raise DatasetError(f"{path}: YAML nested too deeply") from None
    if not isinstance(data, dict) or "names" not in data:
        raise DatasetError(f"{path}: missing key 'names'")
    names = data["names"]
    if isinstance(names, dict):
        if set(names) != set(range(len(names))):
            raise DatasetError(f"{path}: 'names' keys must be the class indices 0..{len(names) - 1}, "
                               f"got {short_repr(list(names))}")
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not all(isinstance(n, (str, int)) and n != "" for n in names):
        raise DatasetError(f"{path}: 'names' must be a list of class names or a dict {{index: name}}")
    names = [str(n) for n in names]
    if "nc" in data and data["nc"] != len(names):
        raise DatasetError(f"{path}: 'nc' is {short_repr(data['nc'])} but 'names' has {len(names)} entries")
    return names


def _find_classes(root: Path) -> list[str]:
    for folder in (root, root.parent):
        for name in ("classes.txt", "data.yaml", "data.yml"):
            if (folder / name).is_file():
                log.info("class names from %s", folder / name)
                return read_yolo_classes(folder / name)
    raise DatasetError(f"{root}: no class names: put a classes.txt (one name per line) or a data.yaml "
                       "with 'names' in it, or pass classes=[...]")


def _folders(root: Path, split: str | None) -> tuple[Path | None, Path, bool]:
    """``(images folder or None, labels folder, darknet layout?)``."""
    sub = (lambda p: p / split) if split else (lambda p: p)
    candidates = [(sub(root / "images"), sub(root / "labels"))]
    if split:
        candidates.append((root / split / "images", root / split / "labels"))
    for images, labels in candidates:
        if images.is_dir() or labels.is_dir():
            return (images if images.is_dir() else None), labels, False
    flat = sub(root)
    if not flat.is_dir():
        raise DatasetError(f"{flat}: no such folder")
    return flat, flat, True


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the header, after EXIF orientation (`cvdemo.images.image_size`)."""
    try:
        return image_size(path)
    except ImageLoadError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise DatasetError(f"{path}: cannot read the image size: {reason}") from None


def _key(relative: PurePosixPath) -> str:
    return str(relative.with_suffix(""))


def _parse_lines(path: Path, columns: int, num_classes: int) -> np.ndarray:
    """``float64[n, columns]`` rows of a label file, every field checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read: {e}") from None
    fields = ("class", *_BOX_FIELDS, "conf")[:columns]
    layout = " ".join(fields)
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{line_no}"
        if len(parts) != columns:
            hint = " (a segmentation polygon? only boxes are read)" if len(parts) > 6 and columns == 5 else ""
            raise DatasetError(f"{where}: expected {columns} columns ({layout}), got {len(parts)}{hint}")
        values = []
        for name, token in zip(fields, parts):
            try:
                value = float(token)
            except ValueError:
                raise DatasetError(f"{where}: '{name}' must be a number, got {token!r}") from None
            if not np.isfinite(value):
                raise DatasetError(f"{where}: '{name}' must be a finite number, got {token!r}")
            values.append(value)
        cls = values[0]
        if cls != int(cls) or not 0 <= cls < num_classes:
            raise DatasetError(f"{where}: 'class' {parts[0]} is not a class index 0..{num_classes - 1} "
                               f"({num_classes} class names)")
        for name, value in zip(fields[1:], values[1:]):
            if not 0.0 <= value <= 1.0:
                raise DatasetError(f"{where}: '{name}' must be in [0, 1] (normalised), got {value:g}")
        for name, value in zip(("w", "h"), values[3:5]):
            if value <= 0:
                raise DatasetError(f"{where}: '{name}' must be > 0, got {value:g}")
        rows.append(values)
    return np.array(rows, np.float64).reshape(-1, columns)


def _to_pixels_xywh(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    scale = np.array([width, height, width, height], np.float64)
    cxcywh = rows[:, 1:5] * scale
    return np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, 2:]], axis=1)


def load_yolo_ground_truth(root: str | Path, classes: Sequence[str] | str | Path | None = None, *,
                           split: str | None = None,
                           image_sizes: Mapping[str, tuple[int, int]] | None = None) -> GroundTruth:
    """Load YOLO labels (see the module docstring for layouts and conventions).

    Args:
        root: the data set folder.
        classes: the class names in index order, or the path of a classes.txt / data.yaml;
            default: found in ``root`` or its parent.
        split: sub-folder, e.g. ``"val"`` (``images/val`` + ``labels/val``).
        image_sizes: ``{file name relative to the images folder: (width, height)}``; used
            instead of reading those images' headers. Without an images folder, its keys are
            the images (and label ``x.txt`` belongs to key ``x.<any suffix>``).

    Raises:
        DatasetError: naming the file, the line and the field.
    """
    root = Path(root)
    if classes is None:
        names = _find_classes(root)
    elif isinstance(classes, (str, Path)):
        names = read_yolo_classes(classes)
    else:
        names = [str(c) for c in classes]
        if not names or len(set(names)) != len(names) or "" in names:
            raise DatasetError(f"classes must be distinct, non-empty names, got {names}")
    images_dir, labels_dir, darknet = _folders(root, split)
    sizes = {str(PurePosixPath(k)): v for k, v in (image_sizes or {}).items()}
    for name, size in sizes.items():
        if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size):
            raise DatasetError(f"image_sizes[{name!r}] must be (width, height), whole numbers > 0, "
                               f"got {size!r}")
    if images_dir is not None:
        files = sorted(PurePosixPath(p.relative_to(images_dir).as_posix()) for p in images_dir.rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DatasetError(f"{images_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    elif sizes:
        files = sorted(PurePosixPath(k) for k in sizes)
    else:
        raise DatasetError(f"{root}: no images folder; pass image_sizes={{file name: (width, height)}} "
                           "to read labels without images")
    by_key: dict[str, PurePosixPath] = {}
    for rel in files:
        if _key(rel) in by_key:
            raise DatasetError(f"{images_dir or root}: images {by_key[_key(rel)]} and {rel} would share "
                               f"the label file {_key(rel)}.txt")
        by_key[_key(rel)] = rel
    if not darknet and labels_dir.is_dir():
        for txt in sorted(labels_dir.rglob("*.txt")):
            key = _key(PurePosixPath(txt.relative_to(labels_dir).as_posix()))
            if key not in by_key and key != "classes":
                raise DatasetError(f"{txt}: label file without an image (looked for {key}.* in "
                                   f"{images_dir or 'image_sizes'})")

    images, image_ids, cat_ids, boxes = [], [], [], []
    for image_id, rel in enumerate(files, start=1):
        if str(rel) in sizes:
            width, height = (int(v) for v in sizes[str(rel)])
        elif images_dir is not None:
            width, height = _image_size(images_dir / rel)
        else:
            raise DatasetError(f"image_sizes has no size for {rel}")
        images.append(ImageInfo(image_id, str(rel), width, height))
        label = labels_dir / f"{_key(rel)}.txt"
        if label.is_file():
            rows = _parse_lines(label, 5, len(names))
            image_ids += [image_id] * len(rows)
            cat_ids.append(rows[:, 0].astype(np.int64) + 1)
            boxes.append(_to_pixels_xywh(rows, width, height))
    xywh = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    log.info("%s: %d images, %d objects, %d classes", root, len(images), len(xywh), len(names))
    return GroundTruth(
        images=images,
        categories=[Category(k + 1, name) for k, name in enumerate(names)],
        ann_ids=np.arange(1, len(xywh) + 1), image_ids=image_ids,
        category_ids=np.concatenate(cat_ids) if cat_ids else np.zeros(0, np.int64),
        boxes_xywh=xywh, areas=xywh[:, 2] * xywh[:, 3])


def load_yolo_detections(labels_dir: str | Path, ground_truth: GroundTruth) -> Detections:
    """Load YOLO predictions (``class cx cy w h conf`` per line, one file per image).

    ``labels_dir/x.txt`` (sub-folders allowed) belongs to the ground-truth image whose
    ``file_name`` without suffix is ``x``, or, when that is unique, whose base name is; class
    index ``k`` is ``ground_truth.categories[k]``; boxes are scaled by that image's size.
    Images without a file have no detections.

    Raises:
        DatasetError: a file for an image the ground truth lacks, an image without a size, or
            a bad line (file, line number, field).
    """
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise DatasetError(f"{labels_dir}: no such folder")
    by_key = {_key(PurePosixPath(im.file_name)): im for im in ground_truth.images}
    by_stem: dict[str, list[ImageInfo]] = {}
    for im in ground_truth.images:
        by_stem.setdefault(PurePosixPath(im.file_name).stem, []).append(im)
    cat_ids = ground_truth.category_id_array
    image_ids, classes, boxes, scores = [], [], [], []
    for txt in sorted(labels_dir.rglob("*.txt")):
        key = _key(PurePosixPath(txt.relative_to(labels_dir).as_posix()))
        image = by_key.get(key)
        if image is None and len(by_stem.get(PurePosixPath(key).name, [])) == 1:
            image = by_stem[PurePosixPath(key).name][0]
        if image is None:
            raise DatasetError(f"{txt}: no image {key!r} in the ground truth")
        if image.width <= 0 or image.height <= 0:
            raise DatasetError(f"{txt}: image {image.file_name!r} has no width/height to scale the boxes by")
        rows = _parse_lines(txt, 6, len(cat_ids))
        image_ids += [image.id] * len(rows)
        classes.append(cat_ids[rows[:, 0].astype(np.int64)])
        boxes.append(_to_pixels_xywh(rows, image.width, image.height))
        scores.append(rows[:, 5])
    if not boxes:
        return Detections.empty()
    return Detections(image_ids=image_ids, category_ids=np.concatenate(classes),
                      boxes_xywh=np.concatenate(boxes), scores=np.concatenate(scores))


def _yolo_rows(image_ids: np.ndarray, category_ids: np.ndarray, boxes_xywh: np.ndarray,
               ground_truth: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """``(class indices int64[n], normalised cx cy w h float64[n, 4])``."""
    index = {c.id: k for k, c in enumerate(ground_truth.categories)}
    try:
        classes = np.array([index[c] for c in category_ids.tolist()], np.int64)
    except KeyError as e:
        raise DatasetError(f"category id {e.args[0]} is not one of the ground truth's categories") from None
    sizes = {im.id: (im.width, im.height) for im in ground_truth.images}
    wh = np.array([sizes[i] for i in image_ids.tolist()], np.float64).reshape(-1, 2)
    if (wh <= 0).any():
        raise DatasetError("every image needs its width and height to write normalised YOLO boxes")
    cxcy = boxes_xywh[:, :2] + boxes_xywh[:, 2:] / 2
    return classes, np.concatenate([cxcy / wh, boxes_xywh[:, 2:] / wh], axis=1)


def _write_files(out: Path, ground_truth: GroundTruth, image_ids: np.ndarray, lines: list[str]) -> None:
    per_image: dict[int, list[str]] = {}
    for image_id, line in zip(image_ids.tolist(), lines):
        per_image.setdefault(image_id, []).append(line)
    for im in ground_truth.images:
        path = out / f"{_key(PurePosixPath(im.file_name or str(im.id)))}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = per_image.get(im.id, [])
        path.write_text("".join(f"{line}\n" for line in body), encoding="utf-8")


def write_yolo_labels(ground_truth: GroundTruth, root: str | Path, *, drop_ignored: bool = False) -> None:
    """Write ``ground_truth`` as YOLO labels: ``root/labels/<image path without suffix>.txt``
    for every image (empty for images without objects) and ``root/classes.txt``; the images
    belong in ``root/images``.

    Class index ``k`` is ``ground_truth.categories[k]``. Coordinates are written with full
    float precision, so reading them back gives the same boxes to ~1e-12 pixel.

    Raises:
        DatasetError: crowd or ignored objects (YOLO cannot mark them) unless ``drop_ignored``
            leaves them out; an image without width/height.
    """
    out = Path(root)
    keep = ~(ground_truth.iscrowd | ground_truth.ignore)
    if not keep.all():
        if not drop_ignored:
            raise DatasetError(f"{int((~keep).sum())} crowd/ignored objects cannot be marked in YOLO labels; "
                               "pass drop_ignored=True to leave them out")
        log.warning("left out %d crowd/ignored objects", int((~keep).sum()))
    classes, cxcywh = _yolo_rows(ground_truth.image_ids[keep], ground_truth.category_ids[keep],
                                 ground_truth.boxes_xywh[keep], ground_truth)
    lines = [" ".join([str(c)] + [repr(v) for v in row]) for c, row in zip(classes.tolist(), cxcywh.tolist())]
    _write_files(out / "labels", ground_truth, ground_truth.image_ids[keep], lines)
    names = "".join(f"{c.name}\n" for c in ground_truth.categories)
    (out / "classes.txt").write_text(names, encoding="utf-8")


def write_yolo_detections(detections: Detections, ground_truth: GroundTruth, labels_dir: str | Path) -> None:
    """Write ``detections`` as YOLO prediction files (``class cx cy w h conf``), one per image
    of ``ground_truth`` (which gives the image sizes and the class order)."""
    classes, cxcywh = _yolo_rows(detections.image_ids, detections.category_ids, detections.boxes_xywh,
                                 ground_truth)
    lines = [" ".join([str(c)] + [repr(v) for v in row] + [repr(s)])
             for c, row, s in zip(classes.tolist(), cxcywh.tolist(), detections.scores.tolist())]
    _write_files(Path(labels_dir), ground_truth, detections.image_ids, lines)
