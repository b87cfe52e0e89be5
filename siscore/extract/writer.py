"""The output library: resume journal, final CSVs, label map.

Layout::

    OUT/<label>/<ImageID>_<BoxID>.png   tightly cropped RGBA cut-outs
    OUT/foregrounds.csv                 one row per cut-out (manifest)
    OUT/extract_report.csv              one row per candidate, kept or dropped, with the reason
    OUT/label_map.csv                   the labels in OUT and their ImageNet-1k indices
    OUT/.extract/                       resume state (journal.csv, options.json, tmp/)

Each worker result is appended to ``.extract/journal.csv`` after its PNG is in
place, so a re-run skips every object already decided. The final CSVs are
rewritten from the journal (sorted by key) at the end of every run, through a
temporary file and a rename. The library accumulates: runs with other classes
or sources into the same OUT add to it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from siscore.extract.records import (
    COLUMNS,
    FINAL_PIXEL_REASONS,
    KEPT,
    MANIFEST_COLUMNS,
    ExtractError,
)
from siscore.formats.labels import write_label_map

STATE_DIR = ".extract"


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _csv_text(columns: list[str], rows: Iterable[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def discard_temp(root: str | Path) -> None:
    """Remove the temporary files a failed run left in ``root`` (final files are never partial)."""
    root = Path(root)
    for tmp in [*root.glob(".*.tmp"), *(root / STATE_DIR / "tmp").glob("*")]:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_error(root: str | Path, exc: OSError) -> ExtractError:
    """The one-line error for a write that failed under ``root`` (disk full, no permission)."""
    where = f": {exc.filename}" if exc.filename else ""
    return ExtractError(f"--out {root}: cannot write ({exc.strerror or exc}{where}); free some "
                        "space or choose another --out, then run the same command again to resume")


class Library:
    """A foreground library being extracted into ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.state = self.root / STATE_DIR
        self.tmp = self.state / "tmp"
        self.journal = self.state / "journal.csv"
        self.rows: dict[str, dict[str, str]] = {}

    def open(self, options: dict[str, Any]) -> None:
        """Create the folders; check ``options`` against an earlier run; load the journal."""
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExtractError(f"--out {self.root}: cannot write there ({exc.strerror})") from None
        for stale in self.tmp.iterdir():  # left by a killed run
            stale.unlink()
        opt_file = self.state / "options.json"
        if opt_file.exists():
            previous = json.loads(opt_file.read_text("utf-8"))
            if previous != options:
                changed = sorted(k for k in set(options) | set(previous)
                                 if options.get(k) != previous.get(k))
                raise ExtractError(
                    f"--out {self.root}: was extracted with other quality or cleaning options "
                    f"(differs in: {', '.join(changed)}); use another --out, or delete "
                    f"{self.root} to start over")
        else:
            _atomic_text(opt_file, json.dumps(options, indent=1, sort_keys=True))
        self.rows = self._read_journal()

    def _read_journal(self) -> dict[str, dict[str, str]]:
        if not self.journal.exists():
            self.journal.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
            return {}
        data = self.journal.read_bytes()
        if data and not data.endswith(b"\n"):  # a killed run left half a line: drop it
            data = data[: data.rfind(b"\n") + 1]
            with open(self.journal, "r+b") as f:
                f.truncate(len(data))
        reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
        if reader.fieldnames != COLUMNS:
            raise ExtractError(f"{self.journal}: written by another siscore version; "
                               f"use another --out, or delete {self.root} to start over")
        return {row["key"]: row for row in reader if None not in row.values()}

    def done(self, key: str) -> bool:
        """True if a worker decided ``key`` before for good (and its PNG is still there if kept).

        Rows decided while reading the annotations, and missing or unreadable
        files, are decided again on every run.
        """
        row = self.rows.get(key)
        if row is None or row["reason"] not in FINAL_PIXEL_REASONS:
            return False
        return row["status"] != KEPT or (self.root / row["path"]).is_file()

    def record(self, rows: list[dict[str, str]]) -> None:
        """Append changed rows to the journal; a formerly kept object now dropped loses its PNG."""
        changed = [r for r in rows if self.rows.get(r["key"]) != r]
        if not changed:
            return
        for r in changed:
            old = self.rows.get(r["key"])
            if old is not None and old["status"] == KEPT and r["status"] != KEPT:
                (self.root / old["path"]).unlink(missing_ok=True)
            self.rows[r["key"]] = r
        with open(self.journal, "a", encoding="utf-8", newline="") as f:
            csv.DictWriter(f, COLUMNS, lineterminator="\n").writerows(changed)
            f.flush()

    def finalize(self) -> None:
        """Write foregrounds.csv, extract_report.csv and label_map.csv from the journal."""
        rows = [self.rows[k] for k in sorted(self.rows)]
        kept = [r for r in rows if r["status"] == KEPT]
        _atomic_text(self.root / "extract_report.csv", _csv_text(COLUMNS, rows))
        _atomic_text(self.root / "foregrounds.csv", _csv_text(MANIFEST_COLUMNS, kept))
        labels = {r["label"]: tuple(int(i) for i in r["imagenet_index"].split()) for r in kept}
        tmp = self.root / f".label_map.csv.{os.getpid()}.tmp"
        write_label_map(tmp, labels)
        os.replace(tmp, self.root / "label_map.csv")
