"""Safe extraction of an uploaded zip archive into a folder the caller owns (a per-session temp folder).

    files = extract_zip("upload.zip", session_dir / "dataset")   # -> the extracted file paths

An upload is untrusted, so everything is checked **from the central directory first**, before one
byte is decompressed, and refused with an `ArchiveError` that says what is wrong:

- not a zip at all (by its bytes, not its name), or a corrupt / encrypted one;
- names that would land outside the folder: absolute (``/etc/x``, ``C:\\x``, ``\\\\server\\x``), with
  ``..`` parts, backslashes, NUL bytes or drive letters; symbolic links (Unix mode in the entry);
- too many entries (``max_files``);
- a "zip bomb": a declared total uncompressed size over ``max_total_bytes``, or a member (or the
  whole archive) that declares a compression ratio over ``max_ratio`` (deflate reaches ~1000:1 on
  zeros; real data sets of images and text stay far below 100:1). A "2 GB" bomb is refused from
  its declared sizes, in milliseconds.

The declared sizes may lie (a forged central directory): extraction streams each member in
chunks, counts the bytes actually produced, and stops at the declared size and at the limits;
a member whose data does not match its declared size and CRC is refused as corrupt. Directory
entries are skipped; macOS ``__MACOSX/`` resource forks and ``.DS_Store`` files are dropped.
Nothing is written outside ``dest_dir``; on any error the partly extracted files are removed.
"""
from __future__ import annotations

import logging
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cvdemo.datasets.structure import DatasetError

__all__ = ["ArchiveError", "ArchiveLimits", "extract_zip", "is_zip"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SMALL_MEMBER = 1 << 16  # members below 64 KiB may compress as well as they like (a json of zeros...)


class ArchiveError(DatasetError):
    """An archive that is refused; the message says why (and names the entry)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What an extraction may produce. The defaults suit a demo's uploads (a few thousand images)."""

    max_files: int = 20_000  # entries in the central directory, folders included
    max_total_bytes: int = 1 << 30  # 1 GiB uncompressed in all
    max_ratio: float = 200.0  # uncompressed / compressed, per member (above 64 KiB) and overall


def is_zip(path: str | Path) -> bool:
    """True when the file starts like a zip (local header, or an empty archive's end record)."""
    with open(path, "rb") as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _safe_relative(name: str) -> PurePosixPath:
    """The entry name as a relative path inside the folder, or an ArchiveError saying why it is not."""
    shown = name if len(name) < 120 else name[:117] + "..."
    if "\x00" in name:
        raise ArchiveError(f"zip entry {shown!r}: the name contains a NUL byte")
    if "\\" in name:
        raise ArchiveError(f"zip entry {shown!r}: backslashes in names are refused (a Windows path could "
                           "escape the folder)")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"zip entry {shown!r}: absolute paths are refused (path traversal)")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ArchiveError(f"zip entry {shown!r}: '..' in a name is refused (path traversal)")
    parts = [p for p in parts if p not in ("", ".")]
    if not parts:
        raise ArchiveError(f"zip entry {shown!r}: an empty name")
    return PurePosixPath(*parts)


def _check_directory(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[tuple[zipfile.ZipInfo,
                                                                                       PurePosixPath]]:
    """Every check that the central directory alone allows; returns the members to extract."""
    if len(infos) > limits.max_files:
        raise ArchiveError(f"the zip has {len(infos):,} entries; at most {limits.max_files:,} are accepted")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise ArchiveError(f"the zip would expand to {total / 2**20:,.0f} MiB; at most "
                           f"{limits.max_total_bytes / 2**20:,.0f} MiB are accepted (zip bomb?)")
    packed = sum(i.compress_size for i in infos)
    if total > _SMALL_MEMBER and total > limits.max_ratio * max(packed, 1):
        raise ArchiveError(f"the zip expands {total / max(packed, 1):,.0f} times its compressed size; at most "
                           f"{limits.max_ratio:.0f}:1 is accepted (zip bomb?)")
    members, seen = [], set()
    for info in infos:
        rel = _safe_relative(info.filename)
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            raise ArchiveError(f"zip entry {info.filename!r}: symbolic links are refused")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"zip entry {info.filename!r} is encrypted; upload an unencrypted zip")
        if info.file_size > _SMALL_MEMBER and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveError(f"zip entry {info.filename!r} expands {info.file_size / max(info.compress_size, 1):,.0f}"
                               f" times its compressed size; at most {limits.max_ratio:.0f}:1 is accepted "
                               "(zip bomb?)")
        if info.is_dir() or rel.parts[0] == "__MACOSX" or rel.name == ".DS_Store":
            continue
        key = str(rel).casefold()
        if key in seen:
            raise ArchiveError(f"zip entry {info.filename!r} appears twice (names are compared ignoring case)")
        seen.add(key)
        members.append((info, rel))
    return members


def extract_zip(zip_path: str | Path, dest_dir: str | Path, limits: ArchiveLimits | None = None) -> list[Path]:
    """Check, then extract ``zip_path`` into ``dest_dir`` (created; must be empty or absent).

    Returns the extracted files' paths (folders are created as needed). Raises `ArchiveError`
    (a `DatasetError`) for anything refused; nothing is left behind in ``dest_dir`` then.
    """
    limits = limits or ArchiveLimits()
    zip_path, dest = Path(zip_path), Path(dest_dir)
    if not zip_path.is_file() or not is_zip(zip_path):
        raise ArchiveError(f"{zip_path.name}: not a zip archive (its first bytes are not a zip header); "
                           "upload a .zip, or the files themselves")
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:  # ValueError: a mangled central directory
        raise ArchiveError(f"{zip_path.name}: a corrupt zip archive ({e})") from None
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} must be empty")
    root = dest.resolve()
    written: list[Path] = []
    try:
        with archive:
            members = _check_directory(archive.infolist(), limits)
            produced = 0
            for info, rel in members:
                target = root.joinpath(*rel.parts)
                if root not in target.resolve().parents:  # belt and braces after _safe_relative
                    raise ArchiveError(f"zip entry {info.filename!r} would be written outside the folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                size = 0
                with archive.open(info) as src, open(target, "xb") as out:
                    written.append(target)
                    while chunk := src.read(_CHUNK):
                        size += len(chunk)
                        produced += len(chunk)
                        if size > info.file_size or produced > limits.max_total_bytes:
                            raise ArchiveError(f"zip entry {info.filename!r} expands beyond its declared size "
                                               "(a forged zip, refused)")
                        out.write(chunk)
                if size != info.file_size:
                    raise ArchiveError(f"zip entry {info.filename!r}: {size} bytes instead of the declared "
                                       f"{info.file_size} (a corrupt or forged zip)")
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"{zip_path.name}: a corrupt zip archive ({e})") from None
    except NotImplementedError as e:  # an unsupported compression method
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"{zip_path.name}: {e}; re-create the zip with the usual 'deflate' method") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    log.info("%s: extracted %d files into %s", zip_path.name, len(written), dest)
    return written
