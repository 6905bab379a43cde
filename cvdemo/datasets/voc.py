"""Pascal VOC xml: a folder of ``Annotations/*.xml`` loaded as a `GroundTruth`, and written back.

Layout (the devkit's)::

    ROOT/Annotations/2007_000027.xml   one file per image
    ROOT/JPEGImages/2007_000027.jpg    optional; when present, every <filename> must exist in it
    ROOT/ImageSets/Main/val.txt        optional; ``split="val"`` loads only the ids listed there

``ROOT`` may also be the ``Annotations`` folder itself.

Coordinates: VOC corners are **1-based and inclusive**: ``xmin = 1`` is the first pixel column
and ``xmax = width`` the last, so a box is ``xmax - xmin + 1`` pixels wide. We convert to the
0-based continuous ``x, y, w, h`` of `cvdemo.datasets.structure` the way Detectron does::

    x = xmin - 1      w = xmax - xmin + 1      (the same for y, h)

so the box covering the whole image is ``[0, 0, width, height]``. Corners must satisfy
``1 <= xmin <= xmax <= width`` (and the same for y); files from 0-based tools (``xmin = 0``)
are refused with a message, unless ``clip_boxes=True`` clips such boxes into the image
(with a logged warning saying how many).

Per object: ``name`` (the class; required), ``bndbox/xmin, ymin, xmax, ymax`` (required,
numbers), ``difficult`` (optional 0/1) -> `GroundTruth.ignore`. ``truncated``, ``pose``,
``occluded`` and ``part`` are read past. ``areas`` are ``w * h``. Image ids are ``1..I`` in
file-name order (or ``split`` order), annotation ids ``1..N`` in reading order, category
ids ``1..K`` in ``classes`` order (default: the class names found, sorted).

XML is parsed with ``defusedxml`` with DTDs, entities and external references forbidden, so
an "XML bomb" (billion laughs, quadratic blow-up, external entity) is refused, never expanded.
Every error is a `DatasetError` naming the file, the object index and the field.
"""
from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as StdET  # only to *write* xml; user files are parsed by defusedxml
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from cvdemo.datasets.structure import Category, DatasetError, GroundTruth, ImageInfo

__all__ = ["VOC_CLASSES", "load_voc_ground_truth", "write_voc_annotations"]

log = logging.getLogger(__name__)

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
"""The 20 Pascal VOC classes, in the devkit's (alphabetical) order."""

MAX_XML_BYTES = 8 * 1024 * 1024  # a VOC annotation is a few kB; refuse anything absurd before parsing

_CORNERS = ("xmin", "ymin", "xmax", "ymax")


@dataclass
class _VocObject:
    name: str
    corners: list[float]  # xmin, ymin, xmax, ymax: 1-based inclusive
    difficult: bool


@dataclass
class _VocFile:
    path: Path
    file_name: str
    width: int
    height: int
    objects: list[_VocObject]


def _text(parent, tag: str, where: str, required: bool = True) -> str | None:
    node = parent.find(tag)
    if node is None or node.text is None or not node.text.strip():
        if required:
            raise DatasetError(f"{where}: missing '{tag}'")
        return None
    return node.text.strip()


def _number(parent, tag: str, where: str) -> float:
    text = _text(parent, tag, where)
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{where}: '{tag}' must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise DatasetError(f"{where}: '{tag}' must be a finite number, got {text!r}")
    return value


def _positive_int(parent, tag: str, where: str) -> int:
    value = _number(parent, tag, where)
    if value != int(value) or value <= 0:
        raise DatasetError(f"{where}: '{tag}' must be a whole number > 0, got {value:g}")
    return int(value)


def _parse_file(path: Path) -> _VocFile:
    """One annotation file; structural errors name the file and the field."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise DatasetError(f"{name}: cannot read: {e.strerror or e}") from None
    if size > MAX_XML_BYTES:
        raise DatasetError(f"{name}: {size} bytes is too large for a VOC annotation (limit {MAX_XML_BYTES})")
    try:
        root = SafeET.parse(path, forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as e:
        raise DatasetError(f"{name}: refused: {e}; VOC annotations need no DTD or entities "
                           "(this file may be an XML bomb)") from None
    except SafeET.ParseError as e:
        raise DatasetError(f"{name}: malformed XML: {e}") from None
    if root.tag != "annotation":
        raise DatasetError(f"{name}: root element is <{root.tag}>, expected <annotation> (Pascal VOC)")
    size_node = root.find("size")
    if size_node is None:
        raise DatasetError(f"{name}: missing 'size' (<size><width>W</width><height>H</height></size>)")
    width = _positive_int(size_node, "width", f"{name}: size")
    height = _positive_int(size_node, "height", f"{name}: size")
    file_name = _text(root, "filename", name, required=False) or path.stem + ".jpg"
    objects = []
    for i, obj in enumerate(root.findall("object")):
        where = f"{name}: object[{i}]"
        cls = _text(obj, "name", where)
        box = obj.find("bndbox")
        if box is None:
            raise DatasetError(f"{where}: missing 'bndbox'")
        corners = [_number(box, tag, f"{where}: bndbox") for tag in _CORNERS]
        if corners[2] < corners[0]:
            raise DatasetError(f"{where}: bndbox 'xmax' {corners[2]:g} is less than 'xmin' {corners[0]:g}")
        if corners[3] < corners[1]:
            raise DatasetError(f"{where}: bndbox 'ymax' {corners[3]:g} is less than 'ymin' {corners[1]:g}")
        difficult = _text(obj, "difficult", where, required=False) or "0"
        if difficult not in ("0", "1"):
            raise DatasetError(f"{where}: 'difficult' must be 0 or 1, got {difficult!r}")
        objects.append(_VocObject(cls, corners, difficult == "1"))
    return _VocFile(path, file_name, width, height, objects)


def _check_inside(ann: _VocFile, clip: bool) -> int:
    """Check (or clip) every object's corners to ``1..width`` / ``1..height``; returns the number clipped."""
    clipped = 0
    for i, obj in enumerate(ann.objects):
        limits = (ann.width, ann.height, ann.width, ann.height)
        outside = [(tag, v, lim) for tag, v, lim in zip(_CORNERS, obj.corners, limits) if not 1 <= v <= lim]
        if not outside:
            continue
        if not clip:
            tag, value, limit = outside[0]
            raise DatasetError(
                f"{ann.path}: object[{i}]: bndbox '{tag}' {value:g} is outside the image: VOC corners are "
                f"1-based, 1..{limit} for this {ann.width}x{ann.height} image (a 0-based file? "
                "pass clip_boxes=True to clip boxes into the image)")
        obj.corners = [min(max(v, 1.0), float(lim)) for v, lim in zip(obj.corners, limits)]
        clipped += 1
    return clipped


def _annotation_files(root: Path, split: str | None) -> tuple[list[Path], Path | None]:
    ann_dir = root / "Annotations" if (root / "Annotations").is_dir() else root
    if not ann_dir.is_dir():
        raise DatasetError(f"{root}: no such folder")
    image_dir = ann_dir.parent / "JPEGImages"
    image_dir = image_dir if image_dir.is_dir() else None
    if split is None:
        files = sorted(ann_dir.glob("*.xml"))
        if not files:
            raise DatasetError(f"{ann_dir}: no .xml files (expected a Pascal VOC folder: Annotations/*.xml)")
        return files, image_dir
    split_file = ann_dir.parent / "ImageSets" / "Main" / f"{split}.txt"
    if not split_file.is_file():
        raise DatasetError(f"{split_file}: no such file (split {split!r})")
    files = []
    for line_no, line in enumerate(split_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        image_key = line.split()[0]
        xml = ann_dir / f"{image_key}.xml"
        if not xml.is_file():
            raise DatasetError(f"{split_file}:{line_no}: image id {image_key!r} has no annotation {xml}")
        files.append(xml)
    return files, image_dir


def load_voc_ground_truth(root: str | Path, classes: Sequence[str] | None = None, *,
                          split: str | None = None, clip_boxes: bool = False) -> GroundTruth:
    """Load a Pascal VOC folder (see the module docstring for layout and conventions).

    Args:
        root: the folder holding ``Annotations/`` (or the ``Annotations`` folder itself).
        classes: the class names, in category-id order (ids ``1..K``); an object of another
            class is an error. Default: every name found, sorted. `VOC_CLASSES` is the standard list.
        split: load only the image ids listed in ``ImageSets/Main/{split}.txt``, in its order.
        clip_boxes: clip corners outside ``1..width`` / ``1..height`` into the image (logged)
            instead of refusing the file.

    Raises:
        DatasetError: naming the file, the object index and the field.
    """
    files, image_dir = _annotation_files(Path(root), split)
    parsed = [_parse_file(p) for p in files]
    clipped = sum(_check_inside(ann, clip_boxes) for ann in parsed)
    if clipped:
        log.warning("%s: clipped %d boxes that reached outside their image", root, clipped)
    if classes is None:
        classes = sorted({obj.name for ann in parsed for obj in ann.objects})
    elif len(set(classes)) != len(classes):
        raise DatasetError(f"classes must be unique names, got {list(classes)}")
    class_ids = {name: k + 1 for k, name in enumerate(classes)}

    images, image_ids, cat_ids, boxes, ignore, seen_names = [], [], [], [], [], {}
    for image_id, ann in enumerate(parsed, start=1):
        if ann.file_name in seen_names:
            raise DatasetError(f"{ann.path}: 'filename' {ann.file_name!r} is also the image of "
                               f"{seen_names[ann.file_name]}")
        seen_names[ann.file_name] = ann.path
        if image_dir is not None and not (image_dir / ann.file_name).is_file():
            raise DatasetError(f"{ann.path}: 'filename' {ann.file_name!r} is not in {image_dir}")
        images.append(ImageInfo(image_id, ann.file_name, ann.width, ann.height))
        for i, obj in enumerate(ann.objects):
            if obj.name not in class_ids:
                raise DatasetError(f"{ann.path}: object[{i}]: 'name' {obj.name!r} is not one of the classes "
                                   f"{list(classes)}")
            xmin, ymin, xmax, ymax = obj.corners
            image_ids.append(image_id)
            cat_ids.append(class_ids[obj.name])
            boxes.append((xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1))
            ignore.append(obj.difficult)
    n = len(boxes)
    log.info("%s: %d images, %d objects, %d classes", root, len(images), n, len(classes))
    return GroundTruth(
        images=images,
        categories=[Category(class_ids[c], c) for c in classes],
        ann_ids=list(range(1, n + 1)), image_ids=image_ids, category_ids=cat_ids,
        boxes_xywh=boxes, areas=[w * h for _, _, w, h in boxes], ignore=ignore)


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_voc_annotations(gt: GroundTruth, out_dir: str | Path) -> list[Path]:
    """Write ``gt`` as ``out_dir/Annotations/<image stem>.xml``, one file per image.

    The inverse of `load_voc_ground_truth`: ``xmin = x + 1``, ``xmax = x + w`` (1-based,
    inclusive); ``ignore`` becomes ``difficult``. Returns the files written.

    Raises:
        DatasetError: a crowd region (VOC has none), an image without width/height, or two
            images whose file names share a stem.
    """
    if gt.iscrowd.any():
        first = int(gt.ann_ids[gt.iscrowd.argmax()])
        raise DatasetError(f"annotation id {first} is a crowd region: Pascal VOC has no crowd regions")
    names = gt.category_names()
    ann_dir = Path(out_dir) / "Annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    rows_by_image: dict[int, list[int]] = {}
    for row, image_id in enumerate(gt.image_ids.tolist()):
        rows_by_image.setdefault(image_id, []).append(row)
    written: dict[str, int] = {}
    for image in gt.images:
        stem = Path(image.file_name).stem or str(image.id)
        if stem in written:
            raise DatasetError(f"images {written[stem]} and {image.id} would both be written to {stem}.xml")
        if image.width <= 0 or image.height <= 0:
            raise DatasetError(f"image {image.id} ({image.file_name!r}) has no width/height; VOC needs them")
        written[stem] = image.id
        root = StdET.Element("annotation")
        StdET.SubElement(root, "filename").text = image.file_name
        size = StdET.SubElement(root, "size")
        for tag, value in (("width", image.width), ("height", image.height), ("depth", 3)):
            StdET.SubElement(size, tag).text = str(value)
        for row in rows_by_image.get(image.id, []):
            x, y, w, h = gt.boxes_xywh[row].tolist()
            obj = StdET.SubElement(root, "object")
            StdET.SubElement(obj, "name").text = names[int(gt.category_ids[row])]
            StdET.SubElement(obj, "difficult").text = "1" if gt.ignore[row] else "0"
            box = StdET.SubElement(obj, "bndbox")
            for tag, value in zip(_CORNERS, (x + 1, y + 1, x + w, y + h)):
                StdET.SubElement(box, tag).text = _format(value)
        StdET.indent(root)
        StdET.ElementTree(root).write(ann_dir / f"{stem}.xml", encoding="utf-8", xml_declaration=False)
    return [ann_dir / f"{stem}.xml" for stem in written]
