"""Figures, tables and image galleries from ``siscore score`` output, for any grid.

Every figure function returns a :class:`matplotlib.figure.Figure` (made without
pyplot, so nothing is shown and no GUI backend is touched) that you can restyle
and save yourself, or save deterministically with :func:`save_figure`::

    from siscore.report import load_scores, factor_heatmaps, save_figure
    scores = load_scores("scores.csv")
    layout = scores.layout()          # the figure the rules choose (siscore.report.layout)
    fig = factor_heatmaps(scores, layout.x, layout.y, facets=layout.facets, width="single")
    fig.axes[0].set_title("ResNet-50")
    save_figure(fig, "figs/grid", ["pdf", "png"], dpi=300)

:func:`write_report` writes every figure, the summary tables, the galleries of the
images behind the cells and ``index.html``.
"""

from __future__ import annotations

from siscore.report.bars import factor_bars
from siscore.report.breakdown import breakdown_heatmap, breakdown_table
from siscore.report.effective import effective_plot
from siscore.report.layout import Layout
from siscore.report.lines import factor_lines
from siscore.report.location import location_comparison, location_heatmaps
from siscore.report.maps import factor_comparison, factor_heatmaps
from siscore.report.measure import Measure
from siscore.report.rotation import rotation_plot
from siscore.report.scores import (
    ReportError,
    Scores,
    clopper_pearson,
    from_frame,
    load_scores,
    split_factors,
    with_difference,
)
from siscore.report.size import size_plot
from siscore.report.style import WIDTHS, paper_style, save_figure
from siscore.report.tables import summary_table, table_to_csv, table_to_latex
from siscore.report.writer import Images, ReportResult, write_report

__all__ = [
    "WIDTHS",
    "Images",
    "Layout",
    "Measure",
    "ReportError",
    "ReportResult",
    "Scores",
    "breakdown_heatmap",
    "breakdown_table",
    "clopper_pearson",
    "effective_plot",
    "factor_bars",
    "factor_comparison",
    "factor_heatmaps",
    "factor_lines",
    "from_frame",
    "load_scores",
    "location_comparison",
    "location_heatmaps",
    "paper_style",
    "rotation_plot",
    "save_figure",
    "size_plot",
    "split_factors",
    "summary_table",
    "table_to_csv",
    "table_to_latex",
    "with_difference",
    "write_report",
]
