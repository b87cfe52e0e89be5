"""Heatmaps of any two factors: one panel per model (and per facet value), one colour scale.

The object centre (``x_coord``, ``y_coord``) is drawn at its positions in image
orientation (y grows downwards, as in the images); any other pair of factors is drawn
with one equal cell per value, the first value of y at the bottom. Every value is
labelled on small grids (thinned on large ones) and, on grids up to
:data:`ANNOTATE_UP_TO` cells a side, written in its cell. Panels keep a readable cell
size and the figure is no wider than its content (at most the ``width`` preset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from siscore.formats.values import factor_text
from siscore.report.cells import Facet, cell_values, facets_of, pooled_over, thinned
from siscore.report.heat import (
    DIVERGING,
    SEQUENTIAL,
    annotate_cells,
    diverging_norm,
    draw_cells,
    edges,
    hatch_cells,
    low_count_handle,
    missing_handle,
    sequential_norm,
)
from siscore.report.measure import Measure, factor_name
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline
from siscore.report.style import figure_width, fit_label, new_figure, panel_grid, paper_style

#: Values are written in the cells of grids up to this many cells a side.
ANNOTATE_UP_TO = 12
CELL_IN = 0.32  # cell side (inches) on small grids
PANEL_MAX_IN = 2.2  # a panel is no clearer bigger than this
LABEL_IN, BAR_IN, GAP_IN = 0.6, 0.65, 0.12  # y labels, colour bar, space between panels


@dataclass
class Axis:
    """One axis of a map: its factor, its sorted values and where the cells lie."""

    column: str
    values: list[Any]
    geometric: bool  # at the values' positions (the object centre) or one cell per value
    half: float = 0.05  # half a cell's size for a geometric axis with one value

    @property
    def centres(self) -> np.ndarray:
        return (np.asarray(self.values, dtype=float) if self.geometric
                else np.arange(len(self.values), dtype=float))

    @property
    def edges(self) -> np.ndarray:
        if not self.geometric:
            return np.arange(len(self.values) + 1) - 0.5
        if len(self.values) == 1:
            return self.centres[0] + np.array([-self.half, self.half])
        return edges(self.centres)

    @property
    def step(self) -> float:
        """The smallest distance between two values (positions of a geometric axis)."""
        return float(np.diff(self.centres).min()) if len(self.values) > 1 else 2 * self.half


@dataclass
class Panel:
    """One map: its title, values[y, x] and image counts[y, x]."""

    title: str
    values: np.ndarray
    counts: np.ndarray
    diverging: bool = False


def _grid(rows: pd.DataFrame, x: Axis, y: Axis, column: str) -> tuple[np.ndarray, np.ndarray]:
    table = rows.pivot_table(index=y.column, columns=x.column, values=[column, "n"],
                             aggfunc="first", dropna=False)
    pick = (lambda c: table[c].reindex(index=y.values, columns=x.values)  # noqa: E731
            if c in table.columns.get_level_values(0) else
            pd.DataFrame(np.nan, index=y.values, columns=x.values))
    return pick(column).to_numpy(dtype=float), pick("n").fillna(0).to_numpy(dtype=float)


def _axes(scores: Scores, x: str, y: str) -> tuple[Axis, Axis]:
    """The two axes; a geometric axis with one value is one cell as wide as the other
    axis's cells (a row of positions stays a row of square cells)."""
    geometric = (x, y) == ("x_coord", "y_coord")
    ax_x, ax_y = Axis(x, scores.levels(x), geometric), Axis(y, scores.levels(y), geometric)
    if geometric:
        ax_x.half = ax_y.step / 2 if len(ax_y.values) > 1 else 0.05
        ax_y.half = ax_x.step / 2 if len(ax_x.values) > 1 else 0.05
    return ax_x, ax_y


def _sizes(x: Axis, y: Axis, cols: int, width_in: float) -> tuple[float, float, float]:
    """(cell side, panel width, panel height) in inches."""
    room = (width_in - LABEL_IN - BAR_IN) / cols - GAP_IN
    cell = min(CELL_IN, room / len(x.values), PANEL_MAX_IN / max(len(x.values), len(y.values)))
    if x.geometric:  # keep the positions' proportions, the narrowest cell at ``cell``
        span_x = float(x.edges[-1] - x.edges[0])
        span_y = float(y.edges[-1] - y.edges[0])
        per_unit = cell / min(x.step, y.step)
        scale = min(per_unit, room / span_x, PANEL_MAX_IN / max(span_x, span_y))
        return min(x.step, y.step) * scale, span_x * scale, span_y * scale
    return cell, cell * len(x.values), cell * len(y.values)


def _style(ax: Axes, x: Axis, y: Axis, panel_w: float, bottom: bool, left: bool,
           row_name: str = "") -> None:
    ax.set_xlim(x.edges[0], x.edges[-1])
    if x.geometric:
        ax.set_ylim(y.edges[-1], y.edges[0])  # image orientation: y grows downwards
    else:
        ax.set_ylim(y.edges[0], y.edges[-1])
    ax.set_aspect("equal")
    longest = max(len(factor_text(v)) for v in x.values)
    most_x = max(2, int(panel_w / (longest * 0.05 + 0.06)))
    show_x = thinned(len(x.values), most_x)
    show_y = thinned(len(y.values), max(2, int(panel_w / 0.14)))
    ax.set_xticks(x.centres[show_x], [factor_text(x.values[i]) for i in show_x])
    ax.set_yticks(y.centres[show_y], [factor_text(y.values[i]) for i in show_y])
    ax.tick_params(length=2, pad=1.5, labelbottom=bottom, labelleft=left)
    for spine in ax.spines.values():
        spine.set_visible(True)
    if bottom:
        ax.set_xlabel(factor_name(x.column), labelpad=1.5)
    if left:
        ax.set_ylabel((f"{row_name}\n" if row_name else "") + factor_name(y.column),
                      labelpad=1.5)


def _positions(n_models: int, n_facets: int, width: str | float) -> list[list[tuple[int, int]]]:
    """(row, column) of each model's panels: one block of rows of facet panels per model,
    or, without facets, the models wrapped along the rows."""
    max_cols = panel_grid(99, width)[1]
    if n_facets > 1:
        cols = min(n_facets, max_cols)
        per = -(-n_facets // cols)
        return [[(m * per + f // cols, f % cols) for f in range(n_facets)]
                for m in range(n_models)]
    cols = min(n_models, max_cols)
    return [[divmod(m, cols)] for m in range(n_models)]


def draw_maps(panels: list[list[Panel]], x: Axis, y: Axis, measure: Measure, *,
              width: str | float, titles: bool, title: str, min_count: int,
              annotate: bool | None, diff_label: str | None = None,
              row_names: list[str] | None = None) -> Figure:
    """Draw ``panels`` (one list per model, one panel per facet) on one figure: shared
    sequential scale, a shared diverging one for difference panels."""
    flat = [p for row in panels for p in row]
    where = _positions(len(panels), len(panels[0]), width)
    taken = {rc for row in where for rc in row}
    rows = 1 + max(r for r, _ in taken)
    cols = 1 + max(c for _, c in taken)
    width_in = figure_width(width)
    cell, panel_w, panel_h = _sizes(x, y, cols, width_in)
    names = [fit_label(p.title, max(panel_w, 0.9)) for p in flat]
    title_h = max((t.count("\n") + 1 for t in names if t), default=0) * 0.12 + 0.05
    bars = 1 + any(p.diverging for p in flat)
    fig_w = min(width_in, LABEL_IN + cols * (panel_w + GAP_IN) + BAR_IN * bars)
    fig_h = (rows * (panel_h + title_h + GAP_IN) + 0.4 + (0.25 if titles else 0)
             + 0.15 * (rows == 1))
    seq = [p.values for p in flat if not p.diverging]
    div = [p.values for p in flat if p.diverging]
    with paper_style():
        fig = new_figure(fig_w, max(fig_h, 1.3))
        grid = fig.add_gridspec(rows, cols)
        axes, meshes, hatched = [], {}, 0
        norms = {False: sequential_norm(np.concatenate([v.ravel() for v in seq]) if seq
                                        else np.array([0.0])),
                 True: diverging_norm(np.concatenate([v.ravel() for v in div]) if div
                                      else np.array([0.0]))}
        size = min(6.0, cell * 72 * 0.34)
        write = (len(x.values) <= ANNOTATE_UP_TO and len(y.values) <= ANNOTATE_UP_TO
                 and size >= 4.0) if annotate is None else annotate
        for m, row in enumerate(panels):
            for f, panel in enumerate(row):
                r, c = where[m][f]
                ax = fig.add_subplot(grid[r, c])
                axes.append(ax)
                norm = norms[panel.diverging]
                colours = DIVERGING if panel.diverging else SEQUENTIAL
                meshes[panel.diverging] = draw_cells(ax, x.edges, y.edges, panel.values,
                                                     colours, norm)
                low = ((panel.counts < min_count) & (panel.counts > 0) if min_count > 0
                       else np.zeros(panel.counts.shape, dtype=bool))
                hatched += hatch_cells(ax, x.edges, y.edges, low)
                if write:
                    texts = [[measure.text(v, panel.diverging) for v in line]
                             for line in panel.values]
                    annotate_cells(ax, x.centres, y.centres, panel.values, texts, colours,
                                   norm, size)
                ax.set_title(names[m * len(row) + f], pad=3)
                _style(ax, x, y, panel_w, (r + 1, c) not in taken, c == 0,
                       row_names[m] if row_names else "")
        _colour_bars(fig, axes, flat, meshes, norms, measure, diff_label, rows)
        _legend(fig, flat, hatched, min_count)
        if titles:
            fig.suptitle(fit_label(title, fig_w, 8))
    return fig


def _colour_bars(fig: Figure, axes: list[Axes], flat: list[Panel], meshes: dict,
                 norms: dict, measure: Measure, diff_label: str | None, rows: int) -> None:
    for diverging, mesh in meshes.items():
        parts = [a for a, p in zip(axes, flat, strict=True) if p.diverging == diverging]
        values = np.concatenate([p.values.ravel() for p in flat if p.diverging == diverging])
        over = not diverging and np.isfinite(values).any() and np.nanmax(values) > norms[
            False].vmax
        bar = fig.colorbar(mesh, ax=parts, location="right", aspect=20, pad=0.03,
                           shrink=min(1.0, 0.9 / rows + 0.3), extend="max" if over else "neither")
        label = diff_label if diverging else measure.axis
        bar.set_label(fit_label(label or "", 1.6, 6.5))
        if measure.percent:
            sign = "+" if diverging else ""
            bar.ax.yaxis.set_major_formatter(lambda v, _, s=sign: f"{v * 100:{s}.0f}")
        bar.ax.tick_params(labelsize=6, length=2)


def _legend(fig: Figure, panels: list[Panel], hatched: int, min_count: int) -> None:
    handles = []
    if hatched:
        handles.append(low_count_handle(min_count))
    if any(np.isnan(p.values).any() for p in panels):
        handles.append(missing_handle())
    if handles:
        fig.legend(handles=handles, loc="outside lower left", ncols=len(handles),
                   handlelength=1.2, borderaxespad=0.2)


def _prepare(scores: Any, x: str, y: str, facets: tuple[str, ...], value: str | None
             ) -> tuple[Scores, pd.DataFrame, Measure, Axis, Axis, list[Facet]]:
    scores = as_scores(scores)
    for col in (x, y, *facets):
        if col not in scores.factors:
            raise ReportError(f"{scores.source}: no factor column {col!r}; its factors: "
                              f"{', '.join(scores.factors) or 'none'}.")
    keys = [x, y, *facets]
    measure = scores.measure(pooled_over(scores, keys))
    if value == "accuracy":
        measure = Measure("accuracy", scores.accuracy_label)
    elif value not in (None, "normalized"):
        raise ReportError(f"{scores.source}: value {value!r}: choose accuracy or normalized.")
    frame = cell_values(scores, keys, measure)
    return scores, frame, measure, *_axes(scores, x, y), facets_of(scores, facets)


def _axes_words(x: str, y: str) -> str:
    if (x, y) == ("x_coord", "y_coord"):
        return "object centre"
    return f"{factor_name(x)} and {factor_name(y)}"


def _title(model: str, facet: Facet, one_model: bool) -> str:
    return facet.text if facet.values else model


def factor_heatmaps(scores: Scores | pd.DataFrame | str, x: str = "x_coord",
                    y: str = "y_coord", *, facets: tuple[str, ...] = (),
                    value: str | None = None, width: str | float = "double",
                    titles: bool = True, min_count: int = 0, models: list[str] | None = None,
                    annotate: bool | None = None) -> Figure:
    """One heatmap per model (and facet value) of the file's measure over factors ``x``
    and ``y``: accuracy, or normalised accuracy when the file was normalised (``value``
    ``accuracy`` forces accuracy). Cells on fewer than ``min_count`` images are hatched;
    cells with no images grey."""
    scores, frame, measure, ax_x, ax_y, panels = _prepare(scores, x, y, tuple(facets), value)
    models = models or scores.models
    one = len(models) == 1
    maps = [[Panel(_title(m, f, one), *_grid(f.select(frame[frame["model"] == m]), ax_x, ax_y,
                                            "value")) for f in panels] for m in models]
    title = f"{measure.long} by {_axes_words(x, y)}"
    if one and panels[0].values:
        title = f"{models[0]}: {title}"
    return draw_maps(maps, ax_x, ax_y, measure, width=width, titles=titles,
                     title=title[0].upper() + title[1:], min_count=min_count,
                     annotate=annotate, row_names=models if facets and not one else None)


def factor_comparison(scores: Scores | pd.DataFrame | str, baseline: str | None = None,
                      x: str = "x_coord", y: str = "y_coord", *, facets: tuple[str, ...] = (),
                      width: str | float = "double", titles: bool = True, min_count: int = 0,
                      annotate: bool | None = None) -> Figure:
    """The baseline's map, then each other model's map minus the baseline's (a diverging
    scale centred at zero, shared by every difference panel): the paper's Figure 6."""
    scores, frame, measure, ax_x, ax_y, panels = _prepare(scores, x, y, tuple(facets), None)
    baseline = check_baseline(scores, baseline)
    if baseline is None:
        raise ReportError(f"{scores.source}: give a baseline model (--baseline NAME) to compare "
                          f"against; models: {', '.join(scores.models)}.")
    others = [m for m in scores.models if m != baseline]
    if not others:
        raise ReportError(f"{scores.source}: only the baseline {baseline!r} is in this file; "
                          "a comparison needs at least one other model.")
    keys = [x, y, *facets]
    base = frame.loc[frame["model"] == baseline, [*keys, "value"]]
    diffs = frame.merge(base.rename(columns={"value": "_base"}), on=keys, how="left")
    diffs["value"] = diffs["value"] - diffs["_base"]
    maps = [[Panel(_title(f"{baseline} (baseline)", f, False),
                   *_grid(f.select(frame[frame["model"] == baseline]), ax_x, ax_y, "value"))
             for f in panels]]
    for m in others:
        maps.append([Panel(_title(f"{m} \N{MINUS SIGN} {baseline}", f, False),
                           *_grid(f.select(diffs[diffs["model"] == m]), ax_x, ax_y, "value"),
                           diverging=True) for f in panels])
    title = f"{measure.long}: each model minus {baseline}"
    rows = [f"{baseline} (baseline)", *(f"{m} \N{MINUS SIGN} {baseline}" for m in others)]
    return draw_maps(maps, ax_x, ax_y, measure, width=width, titles=titles,
                     title=title[0].upper() + title[1:], min_count=min_count, annotate=annotate,
                     diff_label=measure.diff_axis(baseline), row_names=rows if facets else None)
