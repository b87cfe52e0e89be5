"""Load a scores CSV written by ``siscore score``, check it, and tell its factors apart.

The CSV is tidy: one row per (model, cell), the factor columns by their metadata
names, then ``n, correct, accuracy, ci_low, ci_high, normalized, normalize, topk`` and,
when a baseline was chosen at scoring time, ``baseline, diff_accuracy, diff_ci_low,
diff_ci_high, diff_normalized``. An optional ``<stem>.summary.json`` beside it holds
per-model summary numbers and the scoring options. Which figure a file gets is
:mod:`siscore.report.layout`'s choice: no grid is refused for its shape.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.errors import SiscoreError
from siscore.formats.checks import shown_cell
from siscore.formats.labels import formula_lead, formula_refusal
from siscore.report.layout import Layout, LayoutError, choose_layout
from siscore.report.measure import Measure, main_measure
from siscore.score.stats import clopper_pearson  # the one exact binomial interval

METRIC_COLUMNS = (
    "n", "correct", "accuracy", "ci_low", "ci_high", "normalized", "normalize", "topk",
    "objects", "baseline", "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized",
    "random_init",
)
GEOMETRY = ("x_coord", "y_coord", "area", "rotation")
#: Per-image ids and measurements of the metadata: never a factor of a scores file.
RECORDS = frozenset({"image_id", "foreground_instance", "pct_inside_image",
                     "pct_object_visible", "imagenet", "path", "file_name"})
#: Factors that are names even when every value reads as a number.
CATEGORICAL = frozenset({"label", "background_name", "background", "foreground_class"})
REQUIRED = ("model", "n", "correct", "accuracy")
NUMERIC = ("n", "correct", "accuracy", "ci_low", "ci_high", "normalized", "topk", "objects",
           "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized")
KINDS = ("location", "rotation", "size", "heatmap", "lines", "bars", "breakdown", "models")


@cache
def record_columns() -> frozenset[str]:
    """Columns that record what happened to an image rather than define its cell: the
    metadata's ids and measurements, and every record an intervention declares (such as
    ``blend_fallback``)."""
    names = set(RECORDS)
    try:
        from siscore.generate.interventions.registry import get_intervention, list_interventions

        for name in list_interventions():
            names.update(get_intervention(name).records)
    except Exception:  # noqa: BLE001 - a broken plugin must not stop a report
        pass
    return frozenset(names)


class ReportError(SiscoreError, ValueError):
    """A scores file or a report option that cannot be used; the message says how to fix it."""


@dataclass
class Scores:
    """One scores table: its rows, its factor columns and the figure it gets by default.

    ``factors`` are the grouping columns (record columns such as ``blend_fallback`` never
    are: they are listed in ``records`` and pooled over); ``numeric`` those whose values
    are numbers; ``by`` the others (classes, backgrounds, named intervention values).
    ``kind`` is the default layout's kind (:mod:`siscore.report.layout`).
    """

    frame: pd.DataFrame
    kind: str
    factors: list[str]
    by: list[str] = field(default_factory=list)
    source: str = "<DataFrame>"
    summary: dict[str, Any] | None = None
    numeric: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """Model names in the order they first appear in the file."""
        return list(dict.fromkeys(self.frame["model"]))

    @property
    def varied(self) -> list[str]:
        """The factors with more than one value in the file, in column order."""
        return [f for f in self.factors if self.frame[f].nunique(dropna=False) > 1]

    def levels(self, column: str) -> list[Any]:
        """The values of a factor, sorted (numbers numerically, names by text)."""
        values = self.frame[column].dropna().unique().tolist()
        numeric = column in self.numeric
        return sorted(values, key=lambda v: float(v) if numeric else str(v))

    @property
    def subset(self) -> str | None:
        """The paper subset the scores record (summary JSON), if any."""
        value = (self.summary or {}).get("subset")
        return value if isinstance(value, str) else None

    def layout(self, x: str | None = None, y: str | None = None,
               facets: Sequence[str] | None = None) -> Layout:
        """The figure layout: the default rules, or the one chosen with x, y and facets."""
        levels = {f: int(self.frame[f].nunique(dropna=False)) for f in self.factors}
        try:
            return choose_layout(self.factors, self.varied, set(self.numeric), levels,
                                 n_models=len(self.models), subset=self.subset, x=x, y=y,
                                 facets=facets)
        except LayoutError as exc:
            raise ReportError(f"{self.source}: {exc}.") from None

    def measure(self, pooled: Sequence[str] = ()) -> Measure:
        """What the figures plot, named from the file's normaliser record."""
        return main_measure(self.frame, self.summary, self.factors, self.topk, pooled)

    @property
    def baseline_in_file(self) -> str | None:
        """The baseline chosen at scoring time, if the file has diff columns."""
        if "baseline" not in self.frame or "diff_normalized" not in self.frame:
            return None
        values = self.frame["baseline"].dropna().astype(str).unique()
        return str(values[0]) if len(values) == 1 else None

    @property
    def topk(self) -> int:
        """The k of top-k accuracy (1 when the file does not say)."""
        if "topk" in self.frame and self.frame["topk"].notna().any():
            return int(self.frame["topk"].dropna().iloc[0])
        return 1

    @property
    def accuracy_label(self) -> str:
        return f"top-{self.topk} accuracy"


def split_factors(frame: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """(factors, numeric factors, record columns) of a scores table, by its columns."""
    records = record_columns()
    factors, numeric, skipped = [], [], []
    for col in frame.columns:
        if col == "model" or col in METRIC_COLUMNS:
            continue
        if col in records:
            skipped.append(col)
            continue
        factors.append(col)
        values = frame[col]
        if col in CATEGORICAL or pd.api.types.is_bool_dtype(values):
            continue
        if col in GEOMETRY or pd.to_numeric(values, errors="coerce").notna().all():
            numeric.append(col)
    return factors, numeric, skipped


def _check_columns(frame: pd.DataFrame, source: str) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ReportError(
            f"{source}: missing column(s) {', '.join(missing)}; a scores file needs "
            f"{', '.join(REQUIRED)} (write it with `siscore score`).")
    if frame.empty:
        raise ReportError(f"{source}: no rows; score at least one model first.")
    for col in (c for c in NUMERIC if c in frame.columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ReportError(
                f"{source}: row {row + 2}, column {col}: {frame[col].iloc[row]!r} is not a "
                "number; fix or delete that row.")
        frame[col] = values
    _check_ranges(frame, source)
    for col in (c for c in GEOMETRY if c in frame.columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ReportError(
                f"{source}: row {row + 2}, column {col}: {frame[col].iloc[row]!r} is not a "
                "number; fix or delete that row.")
        frame[col] = values


#: (column, lowest, highest) that a scores file may hold; NaN is allowed except in n.
RANGES = (("n", 0, np.inf), ("objects", 0, np.inf), ("correct", 0, np.inf), ("accuracy", 0, 1), ("ci_low", 0, 1),
          ("ci_high", 0, 1), ("normalized", 0, np.inf), ("diff_accuracy", -1, 1),
          ("diff_ci_low", -1, 1), ("diff_ci_high", -1, 1), ("diff_normalized", -np.inf, np.inf))


def _check_ranges(frame: pd.DataFrame, source: str) -> None:
    """Every number finite and in its range, ``correct <= n``: a row that is not is named."""
    def bad_row(mask: np.ndarray, col: str, why: str) -> None:
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            shown = shown_cell(frame[col].iloc[row])
            raise ReportError(f"{source}: row {row + 2}, column {col}: {shown} {why}; fix "
                              "or delete that row (or re-run siscore score).")

    for col, low, high in RANGES:
        if col not in frame:
            continue
        v = frame[col].to_numpy(dtype=float)
        if col == "n":
            bad_row(np.isnan(v), col, "is empty: every row needs its number of images")
        bad_row(np.isinf(v), col, "is infinite")
        with np.errstate(invalid="ignore"):
            bad_row((v < low) | (v > high), col, f"is outside {low:g}..{high:g}")
    n = frame["n"].to_numpy(dtype=float)
    bad_row(n != np.round(n), "n", "is not a whole number of images")
    bad_row(n > 2**53, "n", "is more images than a count can hold exactly (2**53)")
    correct, acc = frame["correct"].to_numpy(dtype=float), frame["accuracy"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bad_row(correct > n + 1e-6, "correct", "is more than n (the images in the cell)")
        bad_row((n > 0) & np.isnan(acc), "accuracy", "where n > 0 (a cell with images has an accuracy)")
        bad_row((n > 0) & (np.abs(correct / n - acc) > 1e-6), "accuracy",
                "is not correct / n (the counts contradict it)")


def _check_text(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    """No empty model name or factor value, no infinite factor value, no text that a
    spreadsheet would read as a formula (it would reach the report's CSV tables)."""
    for col in columns:
        values = frame[col]
        where = f"{source}: row {{}}, column {col}: "
        empty = values.isna().to_numpy()
        if empty.any():
            raise ReportError(where.format(int(np.flatnonzero(empty)[0]) + 2) + "is empty; "
                              "every row needs it (re-run siscore score).")
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
            inf = np.isinf(values.to_numpy(dtype=float))
            if inf.any():
                raise ReportError(where.format(int(np.flatnonzero(inf)[0]) + 2) + "is infinite; "
                                  "fix or delete that row (or re-run siscore score).")
            continue
        for i, text in enumerate(values.astype(str).tolist()):
            if not text.strip() or formula_lead(text) and pd.isna(pd.to_numeric(text, errors="coerce")):
                why = formula_refusal(text) if text.strip() else f"{text!r} is empty"
                raise ReportError(where.format(i + 2) + why + " (or re-run siscore score).")


def default_min_count(scores: Scores) -> int:
    """The default ``--min-count`` of a scores file: half the median number of images per
    cell (cells that lost more than half the usual images to filters are marked), at
    least 1."""
    n = scores.frame["n"].to_numpy(dtype=float)
    n = n[n > 0]
    return max(1, int(np.median(n) // 2)) if n.size else 1


def _check_duplicates(scores: Scores) -> None:
    key = ["model", *scores.factors, *scores.records]
    dup = scores.frame.duplicated(key, keep="first")
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        cell = ", ".join(f"{k}={scores.frame[k].iloc[row]}" for k in key)
        raise ReportError(
            f"{scores.source}: row {row + 2} repeats the cell {cell}; each (model, cell) must "
            "appear once (did you concatenate two scores files?).")


def _fill_intervals(frame: pd.DataFrame) -> None:
    if "ci_low" not in frame or "ci_high" not in frame:
        low, high = clopper_pearson(frame["correct"].to_numpy(), frame["n"].to_numpy())
        frame["ci_low"], frame["ci_high"] = low, high


def load_summary(csv_path: Path) -> dict[str, Any] | None:
    """Read ``<stem>.summary.json`` beside a scores CSV, or return None when there is none."""
    path = csv_path.with_name(csv_path.stem + ".summary.json")
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc}); fix it or delete it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise ReportError(f"{path}: expected an object with a 'models' mapping; fix or delete it.")
    return data


def from_frame(frame: pd.DataFrame, source: str = "<DataFrame>",
               summary: dict[str, Any] | None = None) -> Scores:
    """Check a scores table and wrap it as :class:`Scores` (the frame is copied)."""
    frame = frame.copy()
    _check_columns(frame, source)
    factors, numeric, records = split_factors(frame)
    _check_text(frame, ["model", *factors], source)
    frame["model"] = frame["model"].astype(str)
    by = [c for c in factors if c not in numeric]
    for col in by:
        frame[col] = frame[col].astype(str)
    for col in numeric:
        frame[col] = pd.to_numeric(frame[col])
    _fill_intervals(frame)
    scores = Scores(frame.reset_index(drop=True), "", factors, by, source, summary, numeric,
                    records)
    _check_duplicates(scores)
    scores.kind = scores.layout().kind
    return scores


def load_scores(path: str | Path) -> Scores:
    """Read and check a scores CSV (and its ``.summary.json`` when present)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such scores file; write one with `siscore score --out`.")
    try:
        # only an empty cell is missing: a model called NA or None stays that name
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype={"model": str, "baseline": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not a readable CSV ({exc}).") from None
    return from_frame(frame, str(path), load_summary(path))


def as_scores(scores: Scores | pd.DataFrame | str | Path) -> Scores:
    """Accept a :class:`Scores`, a DataFrame or a CSV path."""
    if isinstance(scores, Scores):
        return scores
    if isinstance(scores, pd.DataFrame):
        return from_frame(scores)
    return load_scores(scores)


def check_baseline(scores: Scores, baseline: str | None) -> str | None:
    """Return the baseline to compare against: the one given, else the file's own, else None."""
    if baseline is None:
        return scores.baseline_in_file
    if baseline not in scores.models:
        raise ReportError(
            f"{scores.source}: --baseline {baseline!r} is not a model in this file; "
            f"models: {', '.join(scores.models)}.")
    return baseline


def with_difference(scores: Scores, baseline: str, value: str = "normalized") -> pd.DataFrame:
    """Rows of every model with ``diff`` = its ``value`` minus the baseline's, per cell.

    Uses the file's ``diff_<value>`` column when the file was scored against the same
    baseline; otherwise computes it by matching cells on the factor columns.
    """
    frame = scores.frame
    if value not in frame:
        raise ReportError(f"{scores.source}: no '{value}' column; re-run `siscore score`.")
    if scores.baseline_in_file == baseline and f"diff_{value}" in frame:
        out = frame.copy()
        out["diff"] = out[f"diff_{value}"]
        return out
    cell = [*scores.factors, *scores.records]
    base = frame.loc[frame["model"] == baseline, [*cell, value]]
    out = frame.merge(base.rename(columns={value: "_base"}), on=cell, how="left")
    out["diff"] = out[value] - out["_base"]
    return out.drop(columns="_base")


def aggregate(scores: Scores, keys: list[str]) -> pd.DataFrame:
    """Pool cells over every factor not in ``keys``: sums of n and correct, exact intervals."""
    grouped = scores.frame.groupby(["model", *keys], sort=False, dropna=False)
    out = grouped[["n", "correct"]].sum().reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["accuracy"] = np.where(out["n"] > 0, out["correct"] / out["n"], np.nan)
    out["ci_low"], out["ci_high"] = clopper_pearson(out["correct"].to_numpy(), out["n"].to_numpy())
    return out

