"""One numeric factor as lines (one per model, with its 95% band), and any other factor as
small multiples sharing one y scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from siscore.formats.values import factor_text
from siscore.report.cells import cell_values, facets_of, pooled_over, thinned
from siscore.report.measure import Measure, factor_name
from siscore.report.rotation import draw_lines, grid_levels, hollow_handle
from siscore.report.scores import ReportError, Scores, as_scores
from siscore.report.size import model_colours
from siscore.report.style import figure_width, fit_label, new_figure, panel_grid, paper_style


def percent_axis(ax: Axes, measure: Measure, top: float) -> None:
    """y limits (0 to 1, or to the highest normalised value) and percent ticks for accuracy."""
    ax.set_ylim(0, max(1.0, top * 1.02))
    if measure.percent:
        ax.yaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}")
    ax.grid(axis="y", linewidth=0.3, color="0.85")


def factor_lines(scores: Scores | pd.DataFrame | str, x: str, *, facets: tuple[str, ...] = (),
                 width: str | float = "double", titles: bool = True, min_count: int = 0,
                 band: bool = True) -> Figure:
    """The file's measure against the numeric factor ``x``: one line per model with its
    95% band (Clopper-Pearson, scaled by the normaliser for normalised values), one panel
    per value of the ``facets``. Points on fewer than ``min_count`` images are hollow."""
    scores = as_scores(scores)
    if x not in scores.numeric:
        raise ReportError(f"{scores.source}: {x!r} is not a numeric factor of this file "
                          f"(numeric: {', '.join(scores.numeric) or 'none'}); draw it as bars.")
    keys = [x, *facets]
    measure = scores.measure(pooled_over(scores, keys))
    frame = cell_values(scores, keys, measure)
    panels = facets_of(scores, facets)
    colours = model_colours(scores.models)
    levels = grid_levels(frame[x])
    width_in = figure_width(width)
    _, cols = panel_grid(len(panels), width)
    rows = -(-len(panels) // cols)
    panel_w = min(3.2, (width_in - 0.55) / cols)
    panel_h = min(2.0, max(1.2, panel_w * 0.62))
    fig_w = min(width_in, cols * panel_w + 0.55)
    height = rows * (panel_h + (0.18 if facets else 0)) + 0.55 + (0.25 if titles else 0)
    values = [factor_text(v) for v in levels]
    show = thinned(len(levels), max(2, int(panel_w / (max(map(len, values)) * 0.05 + 0.08))))
    with paper_style():
        fig = new_figure(fig_w, height)
        axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
        hollow = False
        for ax, panel in zip(axes, panels, strict=False):
            rows_of = panel.select(frame)
            for model in scores.models:
                line = rows_of[rows_of["model"] == model].sort_values(x)
                if line.empty:
                    continue
                if band:
                    ax.fill_between(line[x], line["low"], line["high"], color=colours[model],
                                    alpha=0.18, linewidth=0)
                hollow |= draw_lines(ax, line, x, "value", colours[model], model, min_count,
                                     levels=levels)
            if panel.values:
                ax.set_title(fit_label(panel.text, panel_w), pad=2)
            percent_axis(ax, measure, float(np.nanmax(frame["high"].to_numpy(float),
                                                      initial=0.0)))
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for i, ax in enumerate(axes[:len(panels)]):
            if i + cols >= len(panels):
                ax.set_xticks(levels[show], [values[j] for j in show])
                ax.tick_params(labelbottom=True)
                ax.set_xlabel(factor_name(x))
            if i % cols == 0:
                ax.set_ylabel(fit_label(measure.axis, panel_h))
        handles, labels = axes[0].get_legend_handles_labels()
        if hollow:
            handles.append(hollow_handle(min_count))
            labels.append(handles[-1].get_label())
        fig.legend(handles, labels, loc="outside lower center",
                   ncols=min(len(handles), 4 if fig_w > 4 else 2), handlelength=1.5,
                   columnspacing=1.0)
        if titles:
            text = f"{measure.long} by {factor_name(x)}"
            fig.suptitle(fit_label(text[0].upper() + text[1:], fig_w, 8))
    return fig
