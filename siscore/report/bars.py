"""A categorical factor (a blend mode, a class, any intervention with named values) as bars:
one bar per model and value with its 95% interval, any other factor as small multiples.
With no factor at all, one bar per model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from siscore.formats.values import factor_text
from siscore.report.cells import cell_values, facets_of, pooled_over
from siscore.report.heat import LOW_COUNT_HATCH
from siscore.report.lines import percent_axis
from siscore.report.measure import factor_name
from siscore.report.scores import ReportError, Scores, as_scores
from siscore.report.size import model_colours
from siscore.report.style import figure_width, fit_label, new_figure, panel_grid, paper_style

#: Values are written above the bars when a panel has at most this many bars.
WRITE_UP_TO = 24


def factor_bars(scores: Scores | pd.DataFrame | str, x: str | None = None, *,
                facets: tuple[str, ...] = (), width: str | float = "double",
                titles: bool = True, min_count: int = 0) -> Figure:
    """The file's measure per value of ``x`` (None: per model only), one bar per model with
    its 95% interval (Clopper-Pearson), one panel per value of the ``facets``. Bars on
    fewer than ``min_count`` images are hatched."""
    scores = as_scores(scores)
    if x is not None and x not in scores.factors:
        raise ReportError(f"{scores.source}: no factor column {x!r}; its factors: "
                          f"{', '.join(scores.factors) or 'none'}.")
    keys = [k for k in (x, *facets) if k is not None]
    measure = scores.measure(pooled_over(scores, keys))
    frame = cell_values(scores, keys, measure)
    models = scores.models
    cats = scores.levels(x) if x is not None else [None]
    panels = facets_of(scores, facets)
    colours = model_colours(models)
    width_in = figure_width(width)
    _, cols = panel_grid(len(panels), width)
    rows = -(-len(panels) // cols)
    group = 0.8 / len(models)
    panel_w = min((width_in - 0.55) / cols, max(1.4, 0.22 * len(models) * len(cats) + 0.4))
    fig_w = min(width_in, cols * panel_w + 0.55)
    height = rows * (1.6 + (0.18 if facets else 0)) + 0.6 + (0.25 if titles else 0)
    write = len(models) * len(cats) <= WRITE_UP_TO
    low_any = False
    with paper_style():
        fig = new_figure(fig_w, height)
        axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
        for ax, panel in zip(axes, panels, strict=False):
            rows_of = panel.select(frame)
            for m, model in enumerate(models):
                mine = rows_of[rows_of["model"] == model]
                for c, cat in enumerate(cats):
                    cell = mine if cat is None else mine[mine[x] == cat]
                    if cell.empty:
                        continue
                    row = cell.iloc[0]
                    pos = c + (m - (len(models) - 1) / 2) * group
                    low = 0 < row["n"] < min_count
                    low_any |= low
                    ax.bar(pos, row["value"], group * 0.92, color=colours[model],
                           label=model if c == 0 else None, hatch=LOW_COUNT_HATCH if low
                           else None, edgecolor="white" if low else None, linewidth=0)
                    ax.errorbar(pos, row["value"], yerr=[[row["value"] - row["low"]],
                                                         [row["high"] - row["value"]]],
                                color="0.2", linewidth=0.7, capsize=1.5)
                    if write:
                        ax.text(pos, row["high"] + 0.02, measure.text(row["value"]),
                                ha="center", va="bottom", fontsize=5)
            ax.set_xticks(range(len(cats)), [factor_text(c) if c is not None else "all cells"
                                             for c in cats],
                          rotation=30 if len(cats) > 4 else 0,
                          ha="right" if len(cats) > 4 else "center")
            ax.set_xlim(-0.6, len(cats) - 0.4)
            if panel.values:
                ax.set_title(fit_label(panel.text, panel_w), pad=2)
            top = float(np.nanmax(frame["high"].to_numpy(float), initial=0.0))
            percent_axis(ax, measure, top + 0.08 * write)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for i, ax in enumerate(axes[:len(panels)]):
            if x is not None and i + cols >= len(panels):
                ax.set_xlabel(factor_name(x))
            if i % cols == 0:
                ax.set_ylabel(fit_label(measure.axis, 1.4))
        handles, labels = axes[0].get_legend_handles_labels()
        if low_any:
            handles.append(Patch(facecolor="0.6", hatch=LOW_COUNT_HATCH, edgecolor="white",
                                 label=f"hatched: fewer than {min_count} images"))
            labels.append(handles[-1].get_label())
        fig.legend(handles, labels, loc="outside lower center",
                   ncols=min(len(handles), 4 if fig_w > 4 else 2), handlelength=1.2,
                   columnspacing=1.0)
        if titles:
            text = measure.long + (f" by {factor_name(x)}" if x is not None else " per model")
            fig.suptitle(fit_label(text[0].upper() + text[1:], fig_w, 8))
    return fig
