"""CSV input: column checks, chunked streaming, class names, image-id tables.

The OpenImages train CSVs have millions of rows, so they are read in chunks
(only the columns needed, as text) and filtered while streaming; nothing holds
a whole file. Columns are always looked up by name, so the V6 train box file's
extra ``XClick*`` columns and any column order work.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from siscore.extract.records import ExtractError

CHUNK_ROWS = 100_000

# OpenImages image-id table column -> manifest column (first present wins)
INFO_SOURCES = {
    "author": ("Author",),
    "license": ("License",),
    "original_url": ("OriginalLandingURL", "OriginalURL"),
    "title": ("Title",),
}


def header(path: str | Path, option: str) -> list[str]:
    """The header row of a CSV file; ExtractError naming ``option`` if unreadable or empty."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = next(csv.reader(f), None)
    except OSError as exc:
        raise ExtractError(f"{option} {path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ExtractError(f"{option} {path}: not a UTF-8 CSV file ({exc})") from None
    if not first:
        raise ExtractError(f"{option} {path}: the file is empty (expected a CSV with a header row)")
    return [c.strip() for c in first]


def require(path: str | Path, option: str, required: Iterable[str], what: str) -> list[str]:
    """Check that the CSV header has every ``required`` column; returns the header."""
    cols = header(path, option)
    missing = [c for c in required if c not in cols]
    if missing:
        raise ExtractError(
            f"{option} {path}: missing column(s) {', '.join(missing)} (found: {', '.join(cols)}); "
            f"expected {what}")
    return cols


def stream(path: str | Path, option: str, columns: list[str],
           chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Yield chunks of ``columns`` as text; a row's file line is ``index + 2``."""
    try:
        reader = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False,
                             chunksize=chunk_rows, encoding="utf-8-sig")
        with reader:
            for chunk in reader:
                chunk.columns = [c.strip() for c in chunk.columns]
                yield chunk
                del chunk  # let it go before the next one is parsed (peak: one chunk)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ExtractError(f"{option} {path}: cannot parse the CSV ({exc})") from None


def read_classes(path: str | Path) -> dict[str, str]:
    """``class-descriptions-boxable.csv``: LabelName (MID) -> DisplayName.

    V5 has no header, V6/V7 have ``LabelName,DisplayName``; names may contain
    commas and parentheses (read with a CSV parser).
    """
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise ExtractError(f"--class-descriptions {path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ExtractError(f"--class-descriptions {path}: not a UTF-8 CSV file ({exc})") from None
    if rows and [c.strip() for c in rows[0][:2]] in (["LabelName", "DisplayName"], ["MID", "DisplayName"]):
        rows = rows[1:]
    for line, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ExtractError(f"--class-descriptions {path}, line {line}: expected 'LabelName,DisplayName' "
                               f"(e.g. /m/01j61q,Bagel), got {row}")
        out[row[0].strip()] = row[1].strip()
    if not out:
        raise ExtractError(f"--class-descriptions {path}: no class rows")
    return out


def read_image_info(path: str | Path, image_ids: set[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Author, licence, URL and title of ``image_ids`` from an OpenImages image-id table.

    Streams the file (the train table has 9 million rows) and keeps only the
    wanted ids. Returns the info and notes about missing columns.
    """
    cols = require(path, "--image-info", ["ImageID"], "an OpenImages image-id table "
                   "(ImageID,Subset,OriginalURL,OriginalLandingURL,License,AuthorProfileURL,Author,Title,...)")
    present = {k: next((s for s in srcs if s in cols), None) for k, srcs in INFO_SOURCES.items()}
    notes = [f"--image-info {path}: no {'/'.join(INFO_SOURCES[k])} column; '{k}' left empty"
             for k, v in present.items() if v is None]
    use = ["ImageID", *sorted({v for v in present.values() if v})]
    info: dict[str, dict[str, str]] = {}
    if not image_ids:
        return info, notes
    for chunk in stream(path, "--image-info", use):
        hit = chunk[chunk["ImageID"].isin(image_ids)]
        for rec in hit.to_dict("records"):
            info[rec["ImageID"]] = {k: rec[v] for k, v in present.items() if v}
    return info, notes
