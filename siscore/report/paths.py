"""Safe output paths: file names derived from data are sanitised, and every path a report
writes is checked to lie inside its output folder."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from siscore.report.scores import ReportError
from siscore.utils.files import safe_name  # noqa: F401 - the report names files as the writers do


def inside(out: Path, path: Path) -> Path:
    """``path`` if it lies inside ``out`` (after resolving ``..`` and links), else an error."""
    root = out.resolve()
    target = path.resolve()
    if target != root and root not in target.parents:
        raise ReportError(f"refusing to write {path}: it is outside --out {out}")
    return path


def href(out: Path, path: Path) -> str:
    """A relative link from ``out/index.html`` to ``path``: ``./`` first (never read as a
    URL scheme such as ``javascript:``) and percent-encoded."""
    rel = inside(out, path).resolve().relative_to(out.resolve()).as_posix()
    return "./" + urllib.parse.quote(rel)


def check_folder(out: Path) -> None:
    """Refuse an ``out`` that cannot be the report's folder (a file, a device, a path under a
    file, an unwritable parent), as every command checks its ``--out``."""
    from siscore.errors import ParamError
    from siscore.utils.files import check_output_path

    try:
        check_output_path(out, folder=True)
    except ParamError as exc:
        raise ReportError(exc.cli_message()) from None
