"""Extracting a zip only inside one folder: unsafe members are refused and reported.

A member whose name is absolute (``/x``, ``C:x``, ``\\\\server``) or has a ``..``
component would land outside the folder: it is not extracted, and its name is
returned. Each file is written to ``<name>.part`` then renamed, and a file
already present with the member's size is kept, so a killed extraction resumes.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from siscore.download.s3 import DownloadError
from siscore.utils.progress import progress_bar


@dataclass
class Extracted:
    """Counts of an extraction and the members refused (with the reason)."""

    written: int = 0
    kept: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def unsafe_reason(name: str) -> str | None:
    """Why a member name is not safe to extract, or None."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(text).parts:
        return "'..' in the path"
    if "\x00" in text:
        return "NUL in the name"
    return None


def extract_zip(path: Path, dest: Path, progress: bool | None = None) -> Extracted:
    """Extract ``path`` into ``dest`` (created), refusing members that would escape it."""
    result = Extracted()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DownloadError(f"{path}: not a readable zip ({exc}); delete it and download again") from None
    with archive:
        members = archive.infolist()
        bar = progress_bar(sum(m.file_size for m in members), f"unzip {path.name}", "B",
                           enabled=progress is not False, unit_scale=True, unit_divisor=1024)
        for info in members:
            reason = unsafe_reason(info.filename)
            target = (root / info.filename.replace("\\", "/")).resolve()
            if reason is None and target != root and root not in target.parents:
                reason = "resolves outside the folder"
            if reason is not None:
                result.refused.append((info.filename, reason))
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.is_file() and target.stat().st_size == info.file_size:
                result.kept += 1
                bar.update(info.file_size)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            try:
                with archive.open(info) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, zipfile.BadZipFile) as exc:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{path}: member {info.filename} cannot be extracted ({exc}); "
                                    "delete the zip and download again") from None
            os.replace(part, target)
            result.written += 1
            bar.update(info.file_size)
        bar.close()
    return result
