"""Per-model summary numbers of a scores table, and the JSON file that holds them."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.score.stats import clopper_pearson


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def center_border_gap(stats: pd.DataFrame) -> float:
    """Mean accuracy of the central cells minus that of the outer ring of the location grid.

    Central: x and y both within the middle half of the grid's range (0.25..0.75 for the
    paper's 0..1 grid). Outer ring: x or y at the grid's minimum or maximum.
    """
    x, y = stats["x_coord"].to_numpy(float), stats["y_coord"].to_numpy(float)
    acc = stats["accuracy"].to_numpy(float)
    lo_x, hi_x, lo_y, hi_y = x.min(), x.max(), y.min(), y.max()
    eps = 1e-9
    centre = ((np.abs(x - (lo_x + hi_x) / 2) <= (hi_x - lo_x) / 4 + eps)
              & (np.abs(y - (lo_y + hi_y) / 2) <= (hi_y - lo_y) / 4 + eps))
    border = (x <= lo_x + eps) | (x >= hi_x - eps) | (y <= lo_y + eps) | (y >= hi_y - eps)
    centre &= ~border
    if not centre.any() or not border.any():
        return float("nan")
    return float(acc[centre].mean() - acc[border].mean())


def rotation_auc(stats: pd.DataFrame, by: Sequence[str]) -> float:
    """Area under the normalised accuracy-versus-angle curve (trapezoids over the angles
    present, divided by the angle range, so a flat curve at 1 scores 1), averaged over
    the groups of the other grouping columns (the areas)."""
    rest = [c for c in by if c != "rotation"]
    groups = stats.groupby(rest, dropna=False) if rest else [(None, stats)]
    aucs = []
    for _, group in groups:  # one curve per area: a handful
        g = group.sort_values("rotation")
        angle, value = g["rotation"].to_numpy(float), g["normalized"].to_numpy(float)
        if len(angle) < 2 or np.isnan(value).any():
            continue
        area = ((value[1:] + value[:-1]) / 2 * np.diff(angle)).sum()
        aucs.append(area / (angle[-1] - angle[0]))
    return float(np.mean(aucs)) if aucs else float("nan")


def model_summary(stats: pd.DataFrame, by: Sequence[str], n_images: int, n_dataset: int,
                  level: float = 0.95) -> dict[str, Any]:
    """Summary numbers for one model's cells (``stats`` has the scores columns)."""
    acc = stats["accuracy"].to_numpy(float)
    n, correct = stats["n"].to_numpy(float), stats["correct"].to_numpy(float)
    low, high = clopper_pearson(correct.sum(), n.sum(), level)
    p5, p95 = np.percentile(acc, [5, 95])
    worst = stats.iloc[int(np.argmin(acc))]
    out: dict[str, Any] = {
        "n_images": int(n_images),
        "coverage": n_images / n_dataset if n_dataset else float("nan"),
        "n_cells": len(stats),
        "mean_accuracy": float(acc.mean()),
        "overall_accuracy": float(correct.sum() / n.sum()),
        "overall_ci": [float(low), float(high)],
        "worst_cell": {**{c: worst[c] for c in by}, "accuracy": float(worst["accuracy"]),
                       "n": int(worst["n"])},
        "p5_p95_ratio": float(p5 / p95) if p95 > 0 else float("nan"),
    }
    if "x_coord" in by and "y_coord" in by:
        out["center_border_gap"] = center_border_gap(stats)
    if "rotation" in by:
        out["rotation_auc"] = rotation_auc(stats, by)
    return out


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_plain(data), indent=1, allow_nan=False) + "\n", "utf-8")
    os.replace(tmp, path)
