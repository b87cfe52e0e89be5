"""The predictions file: its columns, side files, and the one strict reader of it.

``siscore evaluate`` writes it (:mod:`siscore.evaluate.predictions`) and ``siscore score``
reads it (:mod:`siscore.score.io`); both read it with :func:`read_predictions`, which
needs no torch. For ``preds.csv`` the side files are ``preds.csv.meta.json`` (the run's
fingerprint and the model's ImageNet top-1, see :func:`recorded_top1`),
``preds.csv.logits.npz``, ``preds.csv.dataset/`` and, while a run is unfinished,
``preds.csv.partial/``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siscore.errors import SiscoreError

COLUMNS = ["image_id", "top1", "top5", "label", "correct1", "correct5", "model"]
INT64_MAX = 2**63 - 1
INTEGER_COLUMNS = ("image_id", "top1", "correct1", "correct5")
_INTEGER = r"\s*[-+]?[0-9]+\s*"


class PredictionsError(SiscoreError, ValueError):
    """A predictions file that cannot be read; the message names the file, row and field."""


@dataclass(frozen=True)
class SidePaths:
    """Every file that belongs to one predictions file."""

    out: Path

    @property
    def meta(self) -> Path:
        return self.out.with_name(self.out.name + ".meta.json")

    @property
    def logits(self) -> Path:
        return self.out.with_name(self.out.name + ".logits.npz")

    @property
    def dataset(self) -> Path:
        return self.out.with_name(self.out.name + ".dataset")

    @property
    def partial(self) -> Path:
        return self.out.with_name(self.out.name + ".partial")

    def all(self) -> list[Path]:
        return [self.out, self.meta, self.logits, self.dataset, self.partial]


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predictions CSV; every column but the integer ones stays text (``top5`` too).

    Every row must have as many fields as the header, and the integer columns
    (``image_id``, ``top1``, ``correct1``, ``correct5``, where present) must hold
    integers that fit 64 bits; otherwise :class:`PredictionsError` names the file,
    row and field. Read by pandas' C parser; a file it cannot take as it is, row for row,
    is read again by :func:`_read_checked`, which finds the row and field to name.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), [])
        text = {c: str for c in header if c not in INTEGER_COLUMNS}  # the rest: inferred
        frame = pd.read_csv(path, dtype=text, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, csv.Error, ValueError):  # ParserError: a ValueError
        return _read_checked(path)
    # a row with fewer fields leaves NaN; more fields in every row turn column 1 into the index;
    # an integer column is inferred as something else when a cell is no 64-bit integer
    if (not isinstance(frame.index, pd.RangeIndex) or frame.isna().to_numpy().any()
            or any(frame[c].dtype != np.int64 for c in INTEGER_COLUMNS if c in frame.columns)
            or list(frame.columns) != header):
        return _read_checked(path)
    return frame


def _read_checked(path: Path) -> pd.DataFrame:
    """:func:`read_predictions` row by row with the csv module, naming the first bad row."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PredictionsError(f"{path}: cannot read it as a CSV ({exc})") from None
    if not rows:
        raise PredictionsError(f"{path}: empty; expected the header {','.join(COLUMNS)}")
    header = rows[0]
    lines = [n for n, row in enumerate(rows[1:], start=2) if row]
    for n in lines:
        row = rows[n - 1]
        if len(row) != len(header):
            what = (f"extra field(s) {row[len(header):]!r} after {header[-1]!r}"
                    if len(row) > len(header) else f"no {header[len(row)]!r} field")
            raise PredictionsError(f"{path}, row {n}: {len(row)} fields but the header has "
                                   f"{len(header)}: {what}; fix or delete the row")
    frame = pd.DataFrame([rows[n - 1] for n in lines], columns=header, dtype=str)
    for col in INTEGER_COLUMNS:
        if col in frame.columns:
            frame[col] = _integers(frame[col], col, path, lines)
    return frame


def _integers(text: pd.Series, column: str, path: Path, lines: list[int]) -> pd.Series:
    """The column as int64, or an error naming the first row that is not a 64-bit integer."""
    bad = ~text.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PredictionsError(f"{path}, row {lines[i]}: {column} = {text.iloc[i]!r} is not an "
                               "integer; fix or delete the row")
    digits = text.str.strip().str.lstrip("+-")
    for i in np.flatnonzero((digits.str.len() > 18).to_numpy()):
        if int(digits.iloc[i]) > INT64_MAX:
            raise PredictionsError(f"{path}, row {lines[i]}: {column} = {text.iloc[i].strip()} "
                                   f"does not fit a 64-bit integer (at most {INT64_MAX}); fix or "
                                   "delete the row")
    return text.map(int).astype(np.int64)


def recorded_top1(path: str | Path) -> float | None:
    """The ImageNet-1k top-1 (percent) that ``siscore evaluate`` recorded for a predictions file.

    Read from ``<path>.meta.json`` (the model library's value, or ``--imagenet-acc``);
    None when the file has no meta or the value is unknown. For effective robustness.
    """
    meta = SidePaths(Path(path)).meta
    try:
        value = json.loads(meta.read_text("utf-8")).get("imagenet_top1")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 < value < 100 else None
