"""What a plotted number is, in words taken from the scores file's own record.

``siscore score`` writes the normaliser it used (``normalize``: ``none``, ``p95`` or
``max``) in each row and in ``<stem>.summary.json`` (with ``normalize_over``). A figure
of a file scored with ``none`` says "accuracy"; one scored with ``p95`` says
"normalised accuracy (divided by the model's 95th-percentile cell)". A file that records
nothing is read from its numbers: ``normalized`` equal to ``accuracy`` everywhere is
plain accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from siscore.formats.values import factor_text

#: Words for factor columns in labels (others are shown by their column name).
NAMES = {"x_coord": "object centre x", "y_coord": "object centre y", "area": "object area",
         "rotation": "rotation angle", "label": "object class", "background_name": "background",
         "background": "background", "foreground_class": "object class"}


def factor_name(column: str) -> str:
    """``area`` -> ``object area``; an intervention keeps its own name."""
    return NAMES.get(column, column)


def _names(columns: Sequence[str]) -> str:
    return " and ".join(factor_name(c) for c in columns)


@dataclass(frozen=True)
class Measure:
    """A plotted value: its column, its name and, when normalised, what it was divided by."""

    column: str  # "accuracy" or "normalized"
    name: str  # "top-1 accuracy", "normalised top-1 accuracy"
    normaliser: str | None = None  # "the model's 95th-percentile cell"

    @property
    def percent(self) -> bool:
        """Accuracies are shown in percent; normalised values as ratios."""
        return self.column == "accuracy"

    @property
    def long(self) -> str:
        """The name with what was divided by, for titles and captions."""
        return self.name + (f" (divided by {self.normaliser})" if self.normaliser else "")

    @property
    def axis(self) -> str:
        """A colour bar or axis label."""
        return self.name + (" (%)" if self.percent else "")

    def diff_axis(self, baseline: str) -> str:
        """The label of differences from ``baseline``."""
        return f"{self.name} minus {baseline}'s" + (" (points)" if self.percent else "")

    def text(self, value: float, signed: bool = False) -> str:
        """A value written in a cell: ``85`` (percent), ``0.93`` or ``+0.12``."""
        if not np.isfinite(value):
            return ""
        scale, digits = (100.0, 0) if self.percent else (1.0, 2)
        shown = round(value * scale, digits) + 0.0  # -0.004 rounds to 0: no sign
        return f"{shown:+.{digits}f}" if signed and shown else f"{shown:.{digits}f}"


def normaliser_record(frame: pd.DataFrame, summary: dict[str, Any] | None
                      ) -> tuple[str | None, list[str] | None]:
    """(method, columns it ran over) as the file records them: the ``normalize`` column,
    else the summary JSON; (None, None) when neither says."""
    summary = summary or {}
    method = None
    if "normalize" in frame and frame["normalize"].notna().any():
        values = frame["normalize"].dropna().astype(str).unique()
        method = str(values[0]) if len(values) == 1 else None
    if method is None and isinstance(summary.get("normalize"), str):
        method = summary["normalize"]
    over = summary.get("normalize_over") if summary.get("normalize", method) == method else None
    over = [str(c) for c in over] if isinstance(over, list) else None
    return method, over


def normaliser_words(method: str, over: Sequence[str] | None, factors: Sequence[str]) -> str:
    """``p95`` over every factor -> "the model's 95th-percentile cell"; ``max`` over
    ``rotation`` of ``area, rotation`` -> "the model's best rotation angle for each object
    area"."""
    rest = [f for f in factors if f not in (over or factors)]
    if method == "p95":
        what = "95th-percentile cell" if not rest else f"95th percentile over {_names(over or [])}"
    elif method == "max":
        what = "best cell" if not rest else f"best {_names(over or [])}"
    else:
        return f"its '{method}' normaliser"
    return f"the model's {what}" + (f" for each {_names(rest)}" if rest else "")


def main_measure(frame: pd.DataFrame, summary: dict[str, Any] | None, factors: Sequence[str],
                 topk: int, pooled: Sequence[str] = ()) -> Measure:
    """The measure a figure of this file plots: accuracy when nothing was normalised (or
    cells are pooled, which a normaliser does not survive), else normalised accuracy."""
    accuracy = Measure("accuracy", f"top-{topk} accuracy")
    if pooled or "normalized" not in frame or frame["normalized"].isna().all():
        return accuracy
    method, over = normaliser_record(frame, summary)
    if method == "none":
        return accuracy
    if method is None:
        same = np.allclose(frame["normalized"].to_numpy(float), frame["accuracy"].to_numpy(float),
                           equal_nan=True, rtol=0, atol=1e-12)
        if same:
            return accuracy
        return Measure("normalized", f"normalised top-{topk} accuracy",
                       "a normaliser this file does not record")
    return Measure("normalized", f"normalised top-{topk} accuracy",
                   normaliser_words(method, over, factors))


def fixed_text(frame: pd.DataFrame, factors: Sequence[str]) -> str:
    """The factors that have one value in the file: ``object area 0.2, resolution 256``."""
    parts = []
    for f in factors:
        values = frame[f].dropna().unique()
        if len(values) == 1:
            parts.append(f"{factor_name(f)} {factor_text(values[0])}")
    return ", ".join(parts)
