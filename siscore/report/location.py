"""Location figures: accuracy (or normalised accuracy) per object-centre cell, and
differences from a baseline (the paper's Figure 6).

Maps are drawn in image orientation: x grows to the right, y grows downwards, as in
the rendered images (the object centre at (0, 0) is the top-left corner). A grid with
one value of y (or x) is one row (or column) of cells. Any other varying factor is drawn
as small multiples (``facets``). The drawing is :mod:`siscore.report.maps`'.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from siscore.report.maps import factor_comparison, factor_heatmaps
from siscore.report.scores import ReportError, Scores, as_scores


def _location(scores: Scores | pd.DataFrame | str) -> Scores:
    scores = as_scores(scores)
    if not {"x_coord", "y_coord"} <= set(scores.factors):
        raise ReportError(f"{scores.source}: these are {scores.kind} scores, not location scores "
                          "(location needs x_coord and y_coord columns).")
    return scores


def location_heatmaps(scores: Scores | pd.DataFrame | str, *, value: str | None = None,
                      width: str | float = "double", titles: bool = True, min_count: int = 0,
                      models: list[str] | None = None, facets: tuple[str, ...] = (),
                      annotate: bool | None = None) -> Figure:
    """One heatmap per model (and facet value) over object centres, on one colour scale:
    the file's measure (normalised accuracy when it was normalised, else accuracy;
    ``value="accuracy"`` forces accuracy). Normalised values above 1 take the top colour.
    Cells on fewer than ``min_count`` images are hatched; cells with no images grey."""
    return factor_heatmaps(_location(scores), "x_coord", "y_coord", facets=facets, value=value,
                           width=width, titles=titles, min_count=min_count, models=models,
                           annotate=annotate)


def location_comparison(scores: Scores | pd.DataFrame | str, baseline: str | None = None, *,
                        width: str | float = "double", titles: bool = True,
                        min_count: int = 0, facets: tuple[str, ...] = (),
                        annotate: bool | None = None) -> Figure:
    """The paper's comparison panel (Figure 6): the baseline's map, then for each other
    model its map minus the baseline's, on a diverging scale centred at zero with limits
    shared by all difference panels."""
    return factor_comparison(_location(scores), baseline, "x_coord", "y_coord", facets=facets,
                             width=width, titles=titles, min_count=min_count,
                             annotate=annotate)
