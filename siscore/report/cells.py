"""The numbers a figure draws: one value per model and cell of the figure's factors, with
its interval, taken from the file or pooled; and the panels of small multiples."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from siscore.formats.values import factor_text
from siscore.report.measure import Measure
from siscore.report.scores import Scores, aggregate


def pooled_over(scores: Scores, keys: Sequence[str]) -> list[str]:
    """The varying factors and record columns outside ``keys``: what a figure of ``keys``
    pools over."""
    return [c for c in (*scores.factors, *scores.records)
            if c not in keys and scores.frame[c].nunique(dropna=False) > 1]


def cell_values(scores: Scores, keys: Sequence[str], measure: Measure) -> pd.DataFrame:
    """One row per model and combination of ``keys``: ``value`` (the measure), ``low`` and
    ``high`` (its 95% interval, scaled by the normaliser for normalised values) and ``n``.
    The file's own rows when ``keys`` hold every varying column, else pooled cells
    (:func:`~siscore.report.scores.aggregate`: accuracy only)."""
    keys = list(keys)
    if pooled_over(scores, keys):
        out = aggregate(scores, keys)
        out["value"], out["low"], out["high"] = out["accuracy"], out["ci_low"], out["ci_high"]
        return out
    out = scores.frame.copy()
    out["value"] = out[measure.column]
    scale = np.ones(len(out))
    if measure.column != "accuracy":
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = pd.Series(np.where(out["accuracy"] > 0, out["value"] / out["accuracy"],
                                       np.nan), index=out.index)
        scale = ratio.fillna(ratio.groupby(out["model"]).transform("median")).to_numpy()
    out["low"], out["high"] = out["ci_low"] * scale, out["ci_high"] * scale
    return out


@dataclass(frozen=True)
class Facet:
    """One panel of small multiples: the value of each facet factor."""

    values: tuple[tuple[str, Any], ...] = ()

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of this panel."""
        mask = np.ones(len(frame), dtype=bool)
        for col, value in self.values:
            mask &= (frame[col] == value).to_numpy()
        return frame[mask]

    @property
    def text(self) -> str:
        """``blend poisson, area 0.2`` (empty without facets)."""
        return ", ".join(f"{c} {factor_text(v)}" for c, v in self.values)


def facets_of(scores: Scores, facets: Sequence[str]) -> list[Facet]:
    """Every combination of the facet factors' values, in sorted order (one panel each)."""
    if not facets:
        return [Facet()]
    combos = itertools.product(*(scores.levels(f) for f in facets))
    return [Facet(tuple(zip(facets, combo, strict=True))) for combo in combos]


def thinned(n: int, most: int) -> list[int]:
    """Indices of ``n`` tick labels to show: all when ``n <= most``, else every k-th,
    k the smallest step that shows at most ``most`` and, where one does, ends on the last
    value (21 values, at most 7: every 4th, 0 to 20)."""
    if n <= most:
        return list(range(n))
    need = -(-(n - 1) // max(1, most - 1))
    step = next((k for k in range(need, (n - 1) // 2 + 1) if (n - 1) % k == 0), need)
    return list(range(0, n, step))
