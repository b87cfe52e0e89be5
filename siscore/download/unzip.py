"""Extracting a zip only inside one folder: unsafe members are refused and reported.

A member is refused (not extracted; its name and the reason are returned) when
its name is absolute (``/x``, ``C:x``, ``\\\\server``), has a ``..`` component, a
NUL or a component over 255 bytes; when it is a symbolic link; when its path,
resolved, leaves the folder; when it would land on siscore's own files (the zip
itself, the download record); when a file of the zip is also the folder of
another member (``a`` then ``a/b``: the second is refused); or when something
already in the folder is in the way. Each file is written to a hidden temporary
file then renamed, and a file already present with the member's size is kept,
so an interrupted extraction resumes. A damaged member (bad deflate data, a CRC
mismatch) stops the extraction with "download it again"; a full disk with "free
some space and run again", as the zip is fine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from siscore.download.names import (
    PART,
    RESERVED,
    clashes,
    in_the_way,
    relative,
    resolves_outside,
    unsafe_reason,
)
from siscore.download.s3 import DownloadError
from siscore.utils.progress import progress_bar

#: What reading a damaged or unusual member raises (bad deflate data, CRC, truncation,
#: an unsupported compression method, encryption).
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


@dataclass
class Extracted:
    """Counts of an extraction and the members refused (with the reason)."""

    written: int = 0
    kept: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, ValueError, *DAMAGED) as exc:
        raise DownloadError(f"{path}: not a readable zip ({exc}); delete it and download "
                            "it again") from None


def _name_reason(info: zipfile.ZipInfo, root: Path, reserved: set[str],
                 resolved: dict[Path, Path]) -> str | None:
    """Why a member's name or kind cannot be extracted under ``root``, or None."""
    reason = unsafe_reason(info.filename)
    if reason is not None:
        return reason
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    rel = relative(info.filename)
    if rel.split("/", 1)[0] in reserved:
        return "the name of a file the download keeps in the folder"
    return resolves_outside(root, rel, resolved)


def _accepted(archive: zipfile.ZipFile, root: Path, name: str,
              result: Extracted) -> list[tuple[zipfile.ZipInfo, Path]]:
    """The members to extract with their targets; the others are added to ``result.refused``
    (checked in this order: the name, clashes within the zip, what is in the folder)."""
    reserved = set(RESERVED) | ({name, name + PART} if name else set())
    named: list[tuple[zipfile.ZipInfo, str]] = []
    resolved: dict[Path, Path] = {}
    for info in archive.infolist():
        reason = _name_reason(info, root, reserved, resolved)
        if reason is None:
            named.append((info, relative(info.filename) + ("/" if info.is_dir() else "")))
        else:
            result.refused.append((info.filename, reason))
    clash = clashes([(info.filename, rel) for info, rel in named])
    ok = []
    for info, rel in named:
        reason = clash.get(info.filename) or in_the_way(root, rel.rstrip("/"), info.is_dir())
        if reason is None:
            ok.append((info, root / rel))
        else:
            result.refused.append((info.filename, reason))
    return ok


def extract_zip(path: Path, dest: Path, progress: bool | None = None) -> Extracted:
    """Extract ``path`` into ``dest`` (created), refusing members that would escape it or
    cannot be written (see the module)."""
    result = Extracted()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with _open(path) as archive:
        members = _accepted(archive, root, path.name if path.parent.resolve() == root else "",
                            result)
        bar = progress_bar(sum(info.file_size for info, _ in members), f"unzip {path.name}", "B",
                           enabled=progress is not False, unit_scale=True, unit_divisor=1024)
        try:
            for info, target in members:
                with _said_in_one_line(path, info, target):
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                    elif target.is_file() and target.stat().st_size == info.file_size:
                        result.kept += 1
                    else:
                        _extract_one(archive, info, target)
                        result.written += 1
                bar.update(info.file_size)
        finally:
            bar.close()
    return result


def _extract_one(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """One file, through a hidden temporary file beside it (removed on any failure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".unzip-", suffix=PART, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as dst, archive.open(info) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _said_in_one_line(path: Path, info: zipfile.ZipInfo, target: Path) -> Iterator[None]:
    """A damaged member or a failed write, as one DownloadError line."""
    try:
        yield
    except DAMAGED as exc:
        raise DownloadError(f"{path}: member {info.filename} is damaged ({type(exc).__name__}: "
                            f"{exc}); delete the zip and download it again (if it matched its "
                            "ETag, the copy on the server is damaged)") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise DownloadError(f"{target}: no space left while unzipping {path.name} "
                                f"({exc.strerror}); the zip is fine: free some space and run "
                                "the same command again (files already unzipped are kept)"
                                ) from None
        raise DownloadError(f"{target}: cannot write it while unzipping {path.name} "
                            f"({exc.strerror or exc}); the zip is fine: fix that and run the "
                            "same command again") from None
