"""A data set or a set of predictions as a user uploads them: one zip, or loose files.

    root = stage_upload([("val.zip", "/tmp/upload/val.zip")], session_dir / "dataset")
    ds = load_dataset_folder(root)                    # COCO json, VOC xml or YOLO txt, recognised
    dt = load_predictions_folder(stage_upload(files, session_dir / "predictions"), ds.ground_truth)

`stage_upload` puts the upload into a folder the caller owns (a per-session temporary folder): a
zip is extracted safely (`cvdemo.datasets.archive`), loose files are copied under their base
names into the layout their format expects (``Annotations/`` + ``JPEGImages/`` for VOC xml,
``labels/`` + ``images/`` for YOLO txt). Nothing is written anywhere else.

`load_dataset_folder` recognises the format by what the folder holds, in this order: a json
with ``annotations`` (COCO instances), ``.xml`` files (Pascal VOC), ``.txt`` labels with a
``classes.txt`` / ``data.yaml`` (YOLO). It finds the image files and pairs them with the
ground truth's images: either every annotated image is there, or none is (boxes are then drawn
on a blank canvas of the image's size); some but not all is an error naming a missing file.
YOLO boxes are stored relative to the image size, so a YOLO data set needs its images.

`load_predictions_folder` reads a COCO results json (one ``.json``) or YOLO prediction files
(``class cx cy w h conf`` per line). Predictions for images or classes the ground truth does
not have are errors, from the loaders. Every error is a `DatasetError` with a message a user
can act on.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cvdemo.datasets.archive import ArchiveLimits, extract_zip, is_zip
from cvdemo.datasets.coco import load_coco_detections, load_coco_ground_truth, read_json
from cvdemo.datasets.structure import DatasetError, Detections, GroundTruth
from cvdemo.messages import Message

__all__ = ["IMAGE_SUFFIXES", "LoadedDataset", "stage_upload", "load_dataset_folder", "load_predictions_folder"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
_CLASS_FILES = ("classes.txt", "data.yaml", "data.yml")
_LOOSE_SUFFIXES = (".json", ".xml", ".txt", ".yaml", ".yml", *IMAGE_SUFFIXES)
# the note of a data set uploaded without its images (boxes are then drawn on a blank canvas of each size)
NO_IMAGES_UPLOADED = Message("evaluate.note_no_images_uploaded")


@dataclass
class LoadedDataset:
    """Ground truth, the format it came in, and each image's file (None: no pixels were uploaded)."""

    ground_truth: GroundTruth
    format: str  # "COCO json", "Pascal VOC xml" or "YOLO txt"
    image_files: dict[int, Path | None]  # image id -> file
    notes: list[Message] = field(default_factory=list)  # remarks for the UI to word (keys of its catalogs)

    @property
    def has_images(self) -> bool:
        return any(p is not None for p in self.image_files.values())


def stage_upload(files: list[tuple[str, str | Path]], dest: str | Path,
                 limits: ArchiveLimits | None = None) -> Path:
    """Put an upload (``[(original name, local path), ...]``) into ``dest``; returns the folder to load.

    One zip is extracted (a single top-level folder inside it is entered); loose files are copied
    by base name into their format's layout. A zip among other files, a name used twice, or a file
    type no loader reads is refused.
    """
    dest = Path(dest)
    if not files:
        raise DatasetError("nothing was uploaded")
    zips = [(n, p) for n, p in files if n.lower().endswith(".zip") or is_zip(p)]
    if zips:
        if len(files) > 1:
            raise DatasetError(f"upload either one zip or the files themselves, not {len(zips)} zip(s) "
                               f"among {len(files)} files")
        extract_zip(zips[0][1], dest, limits)
        return _enter_single_folder(dest)
    names = [PurePosixPath(n.replace("\\", "/")).name for n, _ in files]
    bad = [n for n in names if not n.lower().endswith(_LOOSE_SUFFIXES) or n.startswith(".")]
    if bad:
        raise DatasetError(f"{bad[0]!r}: not a file this tab reads (.json, .xml, .txt, .yaml, images, or one .zip)")
    if len({n.casefold() for n in names}) != len(names):
        raise DatasetError("two uploaded files have the same name; upload a zip to keep folders apart")
    suffixes = {PurePosixPath(n).suffix.lower() for n in names}
    labels = [n for n in names if n.endswith(".txt") and n not in _CLASS_FILES]
    for name, (_, src) in zip(names, files):
        suffix = PurePosixPath(name).suffix.lower()
        if ".xml" in suffixes:  # Pascal VOC devkit layout
            sub = "Annotations" if suffix == ".xml" else "JPEGImages" if suffix in IMAGE_SUFFIXES else ""
        elif labels:  # YOLO (Ultralytics) layout
            sub = "labels" if name in labels else "images" if suffix in IMAGE_SUFFIXES else ""
        else:
            sub = "images" if suffix in IMAGE_SUFFIXES else ""
        target = dest / sub / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return dest


def _enter_single_folder(root: Path) -> Path:
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    while len(entries) == 1 and entries[0].is_dir():
        root = entries[0]
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    return root


def _image_index(root: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Every image file under ``root``: by path relative to ``root`` and by base name."""
    by_rel, by_name = {}, {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            by_rel[p.relative_to(root).as_posix()] = p
            by_name.setdefault(p.name, []).append(p)
    return by_rel, by_name


def _pair_images(gt: GroundTruth, root: Path, image_root: Path | None = None) -> dict[int, Path | None]:
    """Image id -> file: all annotated images found, or none uploaded; anything between is an error."""
    by_rel, by_name = _image_index(root)
    if not by_rel:
        return {im.id: None for im in gt.images}
    image_root = image_root or root
    found, missing = {}, []
    for im in gt.images:
        rel = PurePosixPath(im.file_name.replace("\\", "/"))
        direct = image_root / rel
        candidates = by_name.get(rel.name, [])
        if ".." not in rel.parts and direct.is_file() and root.resolve() in direct.resolve().parents:
            found[im.id] = direct
        elif len(candidates) == 1:
            found[im.id] = candidates[0]
        else:
            missing.append(im.file_name or f"image id {im.id}")
    if missing:
        raise DatasetError(f"the annotations reference {len(missing)} image(s) that are not in the upload "
                           f"(first: {missing[0]!r}); upload every image, or none (boxes are then drawn on a "
                           "blank canvas)")
    return found


def _coco_files(root: Path) -> list[tuple[Path, dict]]:
    out = []
    for p in sorted(root.rglob("*.json")):
        obj = read_json(p)
        if isinstance(obj, dict) and "annotations" in obj:
            out.append((p, obj))
    return out


def load_dataset_folder(root: str | Path) -> LoadedDataset:
    """Recognise and load the data set in ``root`` (see the module docstring). Raises `DatasetError`."""
    root = Path(root)
    coco = _coco_files(root)
    if len(coco) > 1:
        raise DatasetError(f"several COCO annotation files: {', '.join(p.name for p, _ in coco)}; upload one")
    if coco:
        path, obj = coco[0]
        gt = load_coco_ground_truth(obj)
        return _finish(LoadedDataset(gt, "COCO json", _pair_images(gt, root, path.parent)), root)
    xmls = sorted(root.rglob("*.xml"))
    if xmls:
        from cvdemo.datasets.voc import load_voc_ground_truth
        ann_dirs = {p.parent for p in xmls}
        if len(ann_dirs) > 1:
            raise DatasetError(f"VOC .xml files in {len(ann_dirs)} folders; put them all in one Annotations/")
        ann_dir = ann_dirs.pop()
        voc_root = ann_dir.parent if ann_dir.name == "Annotations" else ann_dir
        gt = load_voc_ground_truth(voc_root)
        jpeg = voc_root / "JPEGImages"
        return _finish(LoadedDataset(gt, "Pascal VOC xml", _pair_images(gt, root, jpeg if jpeg.is_dir() else None)),
                       root)
    if any(p.name not in _CLASS_FILES for p in root.rglob("*.txt")):
        from cvdemo.datasets.yolo import load_yolo_ground_truth
        yolo_root = _yolo_root(root)
        by_rel, _ = _image_index(root)
        if not by_rel:
            raise DatasetError("YOLO labels give boxes relative to the image size: upload the images too "
                               "(images/ and labels/ folders, or images beside their .txt files)")
        gt = load_yolo_ground_truth(yolo_root)
        images_dir = yolo_root / "images"
        return _finish(LoadedDataset(gt, "YOLO txt", _pair_images(gt, root, images_dir if images_dir.is_dir()
                                                                  else yolo_root)), root)
    raise DatasetError("no annotations found: upload a COCO instances .json, Pascal VOC .xml files, or YOLO "
                       ".txt labels with a classes.txt (and their images), loose or in one .zip")


def _yolo_root(root: Path) -> Path:
    """The folder holding ``labels/`` (Ultralytics) or the class names file."""
    for p in [root, *sorted(d for d in root.rglob("*") if d.is_dir())]:
        if (p / "labels").is_dir() or any((p / n).is_file() for n in _CLASS_FILES):
            return p
    return root


def _finish(ds: LoadedDataset, root: Path) -> LoadedDataset:
    gt = ds.ground_truth
    if not len(gt):
        raise DatasetError(f"the {ds.format} annotations hold no objects at all")
    if not ds.has_images:
        ds.notes.append(NO_IMAGES_UPLOADED)
    return ds


def load_predictions_folder(root: str | Path, ground_truth: GroundTruth) -> Detections:
    """COCO results json or YOLO prediction txt files in ``root``, checked against ``ground_truth``."""
    root = Path(root)
    jsons = sorted(root.rglob("*.json"))
    if len(jsons) > 1:
        raise DatasetError(f"several .json files among the predictions: {', '.join(p.name for p in jsons)}; "
                           "upload one COCO results file")
    if jsons:
        obj = read_json(jsons[0])
        try:
            return load_coco_detections(obj, ground_truth)
        except DatasetError as e:
            raise DatasetError(f"{jsons[0].name}: {e}") from None
    txts = [p for p in root.rglob("*.txt") if p.name not in _CLASS_FILES]
    if txts:
        from cvdemo.datasets.yolo import load_yolo_detections
        folders = {p.parent for p in txts}
        folder = folders.pop() if len(folders) == 1 else root
        return load_yolo_detections(folder, ground_truth)
    raise DatasetError("no predictions found: upload a COCO results .json ([{image_id, category_id, bbox, "
                       "score}, ...]) or YOLO .txt files with a confidence column, loose or in one .zip")
