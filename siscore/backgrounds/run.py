"""The two commands as library calls: score a folder to CSV; filter a folder into a library.

``filter_folder(DIR, DIR2)`` leaves in ``DIR2``:

- the kept photos (copies, or hard/symbolic links with ``link``), under their own names;
- ``filter_report.csv``: one row per entry of ``DIR`` (decision, reason, scores);
- ``audit/contact_sheet.png`` (and ``_2``, ``_3``... for long runs) and
  ``audit/filter_settings.json`` (thresholds, model, counts).

Scores are cached in ``DIR2/.siscore-scores.jsonl``: an interrupted run resumes,
and re-running with other thresholds re-scores nothing. A re-run updates
``DIR2`` in place: photos it no longer keeps are removed from it.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from siscore import __version__
from siscore.backgrounds.contact_sheet import write_contact_sheets
from siscore.backgrounds.filtering import (
    KEPT,
    ModelJudge,
    Thresholds,
    counts,
    decide,
    reason_counts,
)
from siscore.backgrounds.metrics import SCORE_COLUMNS
from siscore.backgrounds.scan import folder_problem
from siscore.backgrounds.scoring import (
    SCORE_CSV_COLUMNS,
    SIZE_COLUMNS,
    Row,
    score_folder,
    write_csv,
)
from siscore.errors import SiscoreError
from siscore.formats.labels import formula_lead, formula_refusal
from siscore.utils.files import check_output_path

REPORT_NAME = "filter_report.csv"
AUDIT_DIR = "audit"
CACHE_NAME = ".siscore-scores.jsonl"
REPORT_COLUMNS: tuple[str, ...] = (
    "file", "decision", "reason", "duplicate_of", "hash_distance", "model_class", "model_prob",
    *SIZE_COLUMNS, *SCORE_COLUMNS, "phash",
)
LINK_MODES = ("hard", "sym")


class BackgroundsError(SiscoreError, ValueError):
    """A problem the user can fix (the message names the option or file)."""


def _check_folder(folder: Path, what: str) -> None:
    """A folder of photos to read, whose file names may go into the CSV outputs: one that is
    named like a spreadsheet formula is refused here, where it enters."""
    problem = folder_problem(folder)
    if problem is not None:
        raise BackgroundsError(f"{what} {folder}: {problem}")
    formula = next((e.name for e in sorted(os.scandir(folder), key=lambda e: e.name)
                    if formula_lead(e.name)), None)
    if formula is not None:
        raise BackgroundsError(f"{what} {folder}: photo {formula_refusal(formula)}")


@contextlib.contextmanager
def _writing(option: str, out: Path, *temp_dirs: Path) -> Iterator[None]:
    """Turn a failed write (disk full, read-only, a path under a file) into one BackgroundsError.

    The temporary files of this process in ``temp_dirs`` are removed; final files are only
    ever replaced whole, so nothing partial is left.
    """
    try:
        yield
    except OSError as exc:
        for folder in temp_dirs:
            for tmp in folder.glob(f".*.{os.getpid()}.tmp") if folder.is_dir() else ():
                with contextlib.suppress(OSError):
                    tmp.unlink()
        where = f": {exc.filename}" if exc.filename else ""
        raise BackgroundsError(f"{option} {out}: cannot write ({exc.strerror or exc}{where}); free "
                               "some space or choose another place, then run the same command "
                               "again to resume") from None


def score_to_csv(folder: str | Path, out: str | Path, *, jobs: int = 1,
                 progress: bool = False) -> list[Row]:
    """Score every file of ``folder`` and write ``out`` (CSV, one row per file).

    Progress is kept in ``out`` + ``.partial.jsonl`` until the CSV is written,
    so an interrupted run resumes.
    """
    folder, out = Path(folder), Path(out)
    _check_folder(folder, "DIR")
    if out.is_dir():
        raise BackgroundsError(f"--out {out}: is a folder; give a CSV file name such as scores.csv")
    if not out.parent.is_dir():
        raise BackgroundsError(f"--out {out}: the folder {out.parent} does not exist")
    check_output_path(out, folder=False)  # a device node (/dev/null) is never replaced
    partial = out.with_name(out.name + ".partial.jsonl")
    with _writing("--out", out, out.parent):
        rows = score_folder(folder, jobs=jobs, cache=partial, progress=progress)
        write_csv(out, rows, SCORE_CSV_COLUMNS)
        partial.unlink(missing_ok=True)
    return rows


@dataclass
class FilterResult:
    """What :func:`filter_folder` did."""

    out: Path
    rows: list[Row]
    report: Path
    sheets: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.rows)

    def summary(self) -> str:
        c = self.counts
        lines = [f"{len(self.rows)} files: kept {c['kept']}, rejected {c['rejected']}, "
                 f"near-duplicates {c['duplicate']}, bad input {c['bad_input']}"]
        for reason, n in reason_counts(self.rows).most_common():
            lines.append(f"  {n:5d}  {reason}")
        for row in self.rows:
            if row["decision"] == "bad_input":
                lines.append(f"  bad input: {row['file']}: {row['reason']}")
        if self.removed:
            lines.append(f"removed {len(self.removed)} photo(s) kept by an earlier run")
        lines.append(f"kept photos in {self.out}; report {self.report}")
        lines += [f"contact sheet {p}" for p in self.sheets]
        return "\n".join(lines)


def _previously_kept(report: Path) -> set[str]:
    if not report.exists():
        return set()
    try:
        with open(report, newline="", encoding="utf-8") as f:
            return {r["file"] for r in csv.DictReader(f) if r.get("decision") == KEPT}
    except (OSError, KeyError, csv.Error):
        return set()


def _up_to_date(src: Path, dst: Path, link: str | None) -> bool:
    if not dst.exists():  # absent, or a broken symbolic link
        return False
    if link == "sym":
        return dst.is_symlink() and os.path.samefile(src, dst)
    if dst.is_symlink():
        return False
    if link == "hard":
        return os.path.samefile(src, dst)
    s, d = src.stat(), dst.stat()
    return not os.path.samefile(src, dst) and (s.st_size, s.st_mtime_ns) == (d.st_size, d.st_mtime_ns)


def _place(src: Path, dst: Path, link: str | None) -> None:
    """Copy or link ``src`` to ``dst`` through a temporary name (skipped if already there)."""
    if _up_to_date(src, dst, link):
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    if link == "hard":
        try:
            os.link(os.path.realpath(src), tmp)  # link() itself would link a symlink
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise BackgroundsError(
                    f"--link hard: {src} and {dst.parent} are on different file systems, so no "
                    "hard link is possible; use --link sym, or copy (leave out --link)") from None
            raise
    elif link == "sym":
        os.symlink(src.resolve(), tmp)
    else:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def filter_folder(
    folder: str | Path, out: str | Path, thresholds: Thresholds | None = None, *,
    link: str | None = None, model: ModelJudge | None = None, jobs: int = 1,
    progress: bool = False, sheet: bool = True, per_page: int = 150,
) -> FilterResult:
    """Score, decide and de-duplicate the photos of ``folder``; build the library ``out``."""
    folder, out = Path(folder), Path(out)
    thresholds = thresholds or Thresholds()
    _check_folder(folder, "DIR")
    if link not in (None, *LINK_MODES):
        raise BackgroundsError(f"--link {link!r}: choose hard or sym")
    if out.exists() and not out.is_dir():
        raise BackgroundsError(f"--out {out}: exists and is not a folder")
    if out.resolve() == folder.resolve():
        raise BackgroundsError(f"--out {out}: must differ from DIR (the photos are copied into it)")
    with _writing("--out", out, out, out / AUDIT_DIR):
        return _filter_into(folder, out, thresholds, link=link, model=model, jobs=jobs,
                            progress=progress, sheet=sheet, per_page=per_page)


def _filter_into(folder: Path, out: Path, thresholds: Thresholds, *, link: str | None,
                 model: ModelJudge | None, jobs: int, progress: bool, sheet: bool,
                 per_page: int) -> FilterResult:
    out.mkdir(parents=True, exist_ok=True)
    rows = score_folder(folder, jobs=jobs, cache=out / CACHE_NAME, progress=progress)
    if (folder / out.name).resolve() == out.resolve():  # DIR2 inside DIR: not a photo
        rows = [r for r in rows if r["file"] != out.name]
    decided = decide(rows, thresholds, model)
    report = out / REPORT_NAME
    before = _previously_kept(report)
    kept = [r["file"] for r in decided if r["decision"] == KEPT]
    for name in kept:
        _place(folder / name, out / name, link)
    removed = sorted(before - set(kept))
    for name in removed:
        target = out / name
        if target.is_symlink() or target.is_file():
            target.unlink()
    write_csv(report, decided, REPORT_COLUMNS)
    audit = out / AUDIT_DIR
    audit.mkdir(exist_ok=True)
    settings = {"siscore_version": __version__, "source": str(folder.resolve()),
                "thresholds": thresholds.as_dict(), "link": link,
                "model": None if model is None else {"name": model.name, "max_prob": model.max_prob},
                "counts": counts(decided)}
    tmp = audit / f".filter_settings.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, audit / "filter_settings.json")
    sheets: list[Path] = []
    if sheet:
        title = f"siscore backgrounds filter: {folder} -> {out}"
        sheets = write_contact_sheets(decided, folder, audit, title=title, per_page=per_page)
    return FilterResult(out, decided, report, sheets, removed)
