"""Scoring a folder of photographs: one row per file, resumable, optionally parallel.

Each row holds the file name, its pixel size, the scores of
:mod:`siscore.backgrounds.metrics`, its perceptual hash, and ``error`` (empty
for a usable image; else why the file cannot be used). Rows are appended to a
cache file (JSON lines) as they are computed, so an interrupted run resumes,
and a re-run on an unchanged folder (same names, sizes and modification
times) costs nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from siscore.backgrounds import metrics
from siscore.backgrounds.phash import to_hex
from siscore.backgrounds.scan import BadImage, decode_with_hash, list_folder
from siscore.utils.files import atomic_text
from siscore.utils.parallel import is_parallel, run_tasks
from siscore.utils.progress import progress_bar

#: Bump when a score's definition changes: cached rows of another version are recomputed.
METRICS_VERSION = 2  # 2: phash is imagehash.phash of the full image

SIZE_COLUMNS: tuple[str, ...] = ("width", "height", "aspect", "megapixels")
SCORE_CSV_COLUMNS: tuple[str, ...] = ("file", *SIZE_COLUMNS, *metrics.SCORE_COLUMNS, "phash", "error")

Row = dict[str, Any]


def score_file(path: str | Path) -> Row:
    """All scores of one file; a file that cannot be decoded gets ``error`` and no scores."""
    path = Path(path)
    row: Row = {"file": path.name, "error": ""}
    try:
        rgb, (w, h), digest_int = decode_with_hash(path, metrics.WORK_SIDE)
    except BadImage as exc:
        row["error"] = str(exc)
        return row
    try:
        scores = metrics.measure(rgb)
        digest = to_hex(digest_int)
    except Exception as exc:  # one odd file must not stop a run over thousands
        row["error"] = f"could not be scored ({type(exc).__name__}: {exc})"
        return row
    row.update(width=w, height=h, aspect=max(w, h) / min(w, h), megapixels=w * h / 1e6)
    row.update(scores)
    row["phash"] = digest
    return row


def _key(path: Path) -> list[Any]:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns, METRICS_VERSION]


class ScoreCache:
    """Rows already computed, keyed by file name, size, modification time and metrics version."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.rows: dict[str, tuple[list[Any], Row]] = {}
        if self.path is not None and self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:  # a line cut short by an interruption is simply recomputed
                        entry = json.loads(line)
                        self.rows[entry["key"][0]] = (entry["key"], entry["row"])
                    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                        continue

    def get(self, path: Path) -> Row | None:
        hit = self.rows.get(path.name)
        return dict(hit[1]) if hit is not None and hit[0] == _key(path) else None

    def add(self, path: Path, row: Row) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": _key(path), "row": row}) + "\n")


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled or total == 0:
        return None
    return progress_bar(total, desc, "img")


def _score_batch(_: None, paths: list[Path]) -> list[Row]:
    return [score_file(p) for p in paths]


def _compute(paths: Sequence[Path], jobs: int) -> Iterator[tuple[Path, Row]]:
    """(path, row) as rows are computed; the pool section is siscore.utils.parallel (local
    processes, or the scheduler of :func:`siscore.utils.parallel.scheduling`)."""
    per_task = 4 if is_parallel(jobs, None, len(paths)) else 1
    batches = [list(paths[i:i + per_task]) for i in range(0, len(paths), per_task)]
    for i, rows in run_tasks(_score_batch, batches, jobs=jobs):
        yield from zip(batches[i], rows)


def score_folder(
    folder: str | Path,
    *,
    jobs: int = 1,
    cache: str | Path | None = None,
    progress: bool = False,
) -> list[Row]:
    """Score every entry of a flat ``folder``: one row per file, sorted by name.

    Files that are not images, cannot be decoded, and sub-folders get a row
    with ``error`` set; nothing is fatal. ``cache`` (a JSON-lines file) makes
    the run resumable; ``jobs`` > 1 scores in that many processes.
    """
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: must be at least 1")
    images, bad = list_folder(folder)
    store = ScoreCache(cache)
    rows: dict[str, Row] = {b.file: {"file": b.file, "error": b.reason} for b in bad}
    todo = []
    for path in images:
        hit = store.get(path)
        if hit is not None:
            rows[path.name] = hit
        else:
            todo.append(path)
    bar = _progress(len(todo), progress, "scoring")
    try:
        for path, row in _compute(todo, jobs):
            rows[path.name] = row
            store.add(path, row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [rows[name] for name in sorted(rows)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def csv_text(rows: Iterable[Row], columns: Sequence[str]) -> str:
    """Rows as CSV text with the given columns (missing cells empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def write_csv(path: str | Path, rows: Iterable[Row], columns: Sequence[str]) -> None:
    """Write rows as CSV through a temporary file and a rename (never a partial file)."""
    atomic_text(Path(path), csv_text(rows, columns))
