"""Per-model summary measures, each answering one question, with bootstrap intervals.

Every measure is a function of the cell accuracies (and image counts) of one model.
Its interval comes from resampling *objects* (foreground instances) with replacement:
each resample recomputes every cell's accuracy from the drawn objects' images and then
the measure, so the interval says how much the number depends on which objects were
photographed. The same resamples serve every model, so differences are paired.

=====================  ====================================================================
``mean_accuracy``      How accurate is the model on an average cell of the grid?
``uniformity``         What share of its accuracy in its best tenth of cells does the model
                       keep on an average cell? (1: the same everywhere)
``border_ratio``       (location) What share of its accuracy with the object in the centre
                       does the model keep with the object on the border of the image?
``rotation_retention`` (rotation) What share of its upright accuracy does the model keep,
                       on average over the rotation angles tested?
=====================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from siscore.score.stats import cell_replicates

#: Cells within this many degrees of upright (0) count as upright for rotation_retention.
UPRIGHT_DEGREES = 20.0
#: uniformity divides by the mean accuracy of this top share of cells (at least one cell).
TOP_SHARE = 0.10

QUESTIONS = {
    "mean_accuracy": "How accurate is the model on an average cell of the grid?",
    "uniformity": "What share of its accuracy in its best tenth of cells does the model keep "
                  "on an average cell (1: the same everywhere)?",
    "border_ratio": "What share of its accuracy with the object in the centre does the model "
                    "keep with the object on the border of the image?",
    "rotation_retention": "What share of its upright accuracy does the model keep, on average "
                          "over the rotation angles tested?",
}

Measure = Callable[[np.ndarray, np.ndarray], float]


def _mean(acc: np.ndarray, n: np.ndarray) -> float:
    finite = acc[np.isfinite(acc)]
    return float(finite.mean()) if finite.size else float("nan")


def _uniformity(acc: np.ndarray, n: np.ndarray) -> float:
    finite = np.sort(acc[np.isfinite(acc)])
    if not finite.size:
        return float("nan")
    top = finite[-max(1, int(round(TOP_SHARE * finite.size))):].mean()
    return float(finite.mean() / top) if top > 0 else float("nan")


def location_masks(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(centre, border) cell masks: centre = x and y both in the middle half of the grid's
    range, off the border; border = x or y at the grid's minimum or maximum."""
    x, y = table["x_coord"].to_numpy(float), table["y_coord"].to_numpy(float)
    lo_x, hi_x, lo_y, hi_y = x.min(), x.max(), y.min(), y.max()
    eps = 1e-9
    centre = ((np.abs(x - (lo_x + hi_x) / 2) <= (hi_x - lo_x) / 4 + eps)
              & (np.abs(y - (lo_y + hi_y) / 2) <= (hi_y - lo_y) / 4 + eps))
    border = (x <= lo_x + eps) | (x >= hi_x - eps) | (y <= lo_y + eps) | (y >= hi_y - eps)
    return centre & ~border, border


def _border_ratio(centre: np.ndarray, border: np.ndarray) -> Measure:
    def measure(acc: np.ndarray, n: np.ndarray) -> float:
        c, b = acc[centre], acc[border]
        c, b = c[np.isfinite(c)], b[np.isfinite(b)]
        if not c.size or not b.size or c.mean() <= 0:
            return float("nan")
        return float(b.mean() / c.mean())
    return measure


def _rotation_retention(table: pd.DataFrame, by: Sequence[str]) -> Measure:
    angle = table["rotation"].to_numpy(float) % 360
    upright = np.minimum(angle, 360 - angle) <= UPRIGHT_DEGREES
    rest = [c for c in by if c != "rotation"]
    group = (table.groupby(rest, sort=True, dropna=False).ngroup().to_numpy() if rest
             else np.zeros(len(table), dtype=np.int64))

    def measure(acc: np.ndarray, n: np.ndarray) -> float:
        ratios = []
        for g in np.unique(group):  # one group per object size: a handful
            sel = group == g
            up = sel & upright & np.isfinite(acc)
            weight = n[up].sum()
            if weight <= 0:
                continue
            up_acc = (acc[up] * n[up]).sum() / weight
            cells = acc[sel & np.isfinite(acc)]
            if up_acc > 0:
                ratios.append(cells / up_acc)
        return float(np.concatenate(ratios).mean()) if ratios else float("nan")
    return measure


def measures_for(table: pd.DataFrame, by: Sequence[str]) -> dict[str, Measure]:
    """The measures that apply to a grid grouped by ``by`` (``table``: one row per cell)."""
    out: dict[str, Measure] = {"mean_accuracy": _mean, "uniformity": _uniformity}
    if "x_coord" in by and "y_coord" in by:
        centre, border = location_masks(table)
        if centre.any() and border.any():
            out["border_ratio"] = _border_ratio(centre, border)
    if "rotation" in by:
        out["rotation_retention"] = _rotation_retention(table, by)
    return out


def interval(values: np.ndarray, level: float) -> list[float]:
    """Percentile interval of bootstrap replicates (NaN replicates left out)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return [float("nan"), float("nan")]
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return [float(low), float(high)]


def replicate_measures(measures: dict[str, Measure], acc: np.ndarray, n: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Each measure on the point estimate (column 0) and on every resample (columns 1..):
    ``acc`` and ``n`` are (cells x (1 + resamples)) arrays."""
    out = {}
    for name, fn in measures.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.array([fn(acc[:, j], n[:, j]) for j in range(acc.shape[1])])
    return out


def model_replicates(cell: np.ndarray, obj: np.ndarray, hit: np.ndarray, n_cells: int,
                     at: np.ndarray, weights: np.ndarray, object_class: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, images) per scored cell (rows ``at`` of the grid), point estimate first
    and then one column per resample of ``weights`` (see :func:`cell_replicates`)."""
    point, boot, n_point, n_boot = cell_replicates(cell, obj, hit, n_cells, weights,
                                                   object_class)
    acc = np.column_stack([point, boot])[at]
    n = np.column_stack([n_point, n_boot])[at]
    return acc, n
