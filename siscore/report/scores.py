"""Load a scores CSV written by ``siscore score``, check it, and infer what it measures.

The CSV is tidy: one row per (model, cell), the factor columns by their metadata
names, then ``n, correct, accuracy, ci_low, ci_high, normalized, topk`` and, when a
baseline was chosen at scoring time, ``baseline, diff_accuracy, diff_ci_low,
diff_ci_high, diff_normalized``. An optional ``<stem>.summary.json`` beside it
holds per-model summary numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta

from siscore.errors import SiscoreError

METRIC_COLUMNS = (
    "n", "correct", "accuracy", "ci_low", "ci_high", "normalized", "topk", "objects",
    "baseline", "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized",
)
GEOMETRY = ("x_coord", "y_coord", "area", "rotation")
REQUIRED = ("model", "n", "correct", "accuracy")
NUMERIC = ("n", "correct", "accuracy", "ci_low", "ci_high", "normalized", "topk", "objects",
           "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized")
KINDS = ("location", "rotation", "size", "breakdown")


class ReportError(SiscoreError, ValueError):
    """A scores file or a report option that cannot be used; the message says how to fix it."""


@dataclass
class Scores:
    """One scores table: the rows, the kind of figure it makes, and its factor columns.

    ``kind`` is ``location`` (x_coord and y_coord), ``rotation``, ``size`` (area only)
    or ``breakdown`` (any other factor, e.g. ``label`` or ``background_name``; then
    ``by`` lists those columns).
    """

    frame: pd.DataFrame
    kind: str
    factors: list[str]
    by: list[str] = field(default_factory=list)
    source: str = "<DataFrame>"
    summary: dict[str, Any] | None = None

    @property
    def models(self) -> list[str]:
        """Model names in the order they first appear in the file."""
        return list(dict.fromkeys(self.frame["model"]))

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


def clopper_pearson(correct: np.ndarray, n: np.ndarray, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial (Clopper-Pearson) interval for ``correct`` successes out of ``n``."""
    correct = np.asarray(correct, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(correct > 0, beta.ppf(alpha / 2, correct, n - correct + 1), 0.0)
        high = np.where(correct < n, beta.ppf(1 - alpha / 2, correct + 1, n - correct), 1.0)
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def infer_kind(columns: list[str], source: str = "<DataFrame>") -> tuple[str, list[str], list[str]]:
    """Return ``(kind, factor columns, breakdown columns)`` from a scores table's columns."""
    factors = [c for c in columns if c != "model" and c not in METRIC_COLUMNS]
    by = [c for c in factors if c not in GEOMETRY]
    if by:
        return "breakdown", factors, by
    if "x_coord" in factors and "y_coord" in factors:
        return "location", factors, []
    if "rotation" in factors:
        return "rotation", factors, []
    if "area" in factors:
        return "size", factors, []
    raise ReportError(
        f"{source}: cannot tell what these scores measure: no factor column found "
        f"(columns: {', '.join(columns)}). Expected x_coord and y_coord (location), "
        "rotation (rotation), area (size) or a breakdown column such as label or "
        "background_name; write the file with `siscore score`.")


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
            value = frame[col].iloc[row]
            value = value.item() if isinstance(value, np.generic) else value
            raise ReportError(f"{source}: row {row + 2}, column {col}: {value!r} {why}; fix "
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
    with np.errstate(invalid="ignore"):
        bad_row(frame["correct"].to_numpy(dtype=float) > n + 1e-6, "correct",
                "is more than n (the images in the cell)")


def default_min_count(scores: Scores) -> int:
    """The default ``--min-count`` of a scores file: half the median number of images per
    cell (cells that lost more than half the usual images to filters are marked), at
    least 1."""
    n = scores.frame["n"].to_numpy(dtype=float)
    n = n[n > 0]
    return max(1, int(np.median(n) // 2)) if n.size else 1


def _check_geometry(scores: Scores) -> None:
    frame, kind = scores.frame, scores.kind
    main = {"location": {"x_coord", "y_coord"}, "rotation": {"area", "rotation"},
            "size": {"area"}}.get(kind, set())
    for col in scores.factors:
        if col in main or col in scores.by:
            continue
        values = sorted(frame[col].unique())
        if kind != "breakdown" and len(values) > 1:
            raise ReportError(
                f"{scores.source}: {kind} scores vary {col} too ({len(values)} values: "
                f"{', '.join(map(str, values[:5]))}{', ...' if len(values) > 5 else ''}); "
                f"score each {col} into its own file, or drop {col} when scoring.")


def _check_duplicates(scores: Scores) -> None:
    key = ["model", *scores.factors]
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
    frame["model"] = frame["model"].astype(str)
    kind, factors, by = infer_kind(list(frame.columns), source)
    for col in by:
        frame[col] = frame[col].astype(str)
    _fill_intervals(frame)
    scores = Scores(frame.reset_index(drop=True), kind, factors, by, source, summary)
    _check_geometry(scores)
    _check_duplicates(scores)
    return scores


def load_scores(path: str | Path) -> Scores:
    """Read and check a scores CSV (and its ``.summary.json`` when present)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such scores file; write one with `siscore score --out`.")
    try:
        frame = pd.read_csv(path, keep_default_na=True, dtype={"model": str, "baseline": str})
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
    base = frame.loc[frame["model"] == baseline, [*scores.factors, value]]
    out = frame.merge(base.rename(columns={value: "_base"}), on=scores.factors, how="left")
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
