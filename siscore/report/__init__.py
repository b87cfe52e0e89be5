"""Paper-ready figures and tables from ``siscore score`` output.

Every figure function returns a :class:`matplotlib.figure.Figure` (made without
pyplot, so nothing is shown and no GUI backend is touched) that you can restyle
and save yourself, or save deterministically with :func:`save_figure`::

    from siscore.report import load_scores, location_comparison, save_figure
    scores = load_scores("scores.csv")
    fig = location_comparison(scores, baseline="resnet50", width="single")
    fig.axes[0].set_title("ResNet-50")
    save_figure(fig, "figs/location", ["pdf", "png"], dpi=300)

:func:`write_report` writes every figure, the summary tables and ``index.html``.
"""

from __future__ import annotations

from siscore.report.breakdown import breakdown_heatmap, breakdown_table
from siscore.report.location import location_comparison, location_heatmaps
from siscore.report.rotation import rotation_plot
from siscore.report.scores import (
    ReportError,
    Scores,
    clopper_pearson,
    from_frame,
    infer_kind,
    load_scores,
    with_difference,
)
from siscore.report.size import size_plot
from siscore.report.style import WIDTHS, paper_style, save_figure
from siscore.report.tables import summary_table, table_to_csv, table_to_latex
from siscore.report.writer import ReportResult, write_report

__all__ = [
    "WIDTHS",
    "ReportError",
    "ReportResult",
    "Scores",
    "breakdown_heatmap",
    "breakdown_table",
    "clopper_pearson",
    "from_frame",
    "infer_kind",
    "load_scores",
    "location_comparison",
    "location_heatmaps",
    "paper_style",
    "rotation_plot",
    "save_figure",
    "size_plot",
    "summary_table",
    "table_to_csv",
    "table_to_latex",
    "with_difference",
    "write_report",
]
