"""Location figures: normalised accuracy per object-centre cell, and differences from a baseline.

Maps are drawn in image orientation: x grows to the right, y grows downwards, as in
the rendered images (the object centre at (0, 0) is the top-left corner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from siscore.report.heat import (
    DIVERGING,
    SEQUENTIAL,
    diverging_norm,
    draw_cells,
    edges,
    hatch_cells,
    low_count_handle,
    missing_handle,
    sequential_norm,
)
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline, with_difference
from siscore.report.style import figure_width, fit_label, new_figure, panel_grid, paper_style

VALUE_LABELS = {"normalized": "normalised accuracy", "accuracy": "accuracy",
                "diff": "difference in normalised accuracy"}


@dataclass
class Grid:
    """One model's map: cell centres, values[y, x] and image counts[y, x]."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    counts: np.ndarray


def model_grid(frame: pd.DataFrame, model: str, value: str, xs: np.ndarray, ys: np.ndarray
               ) -> Grid:
    """Pivot one model's rows into a (len(ys), len(xs)) array; absent cells are NaN."""
    rows = frame[frame["model"] == model]
    values = rows.pivot_table(index="y_coord", columns="x_coord", values=value, aggfunc="first",
                              dropna=False).reindex(index=ys, columns=xs)
    counts = rows.pivot_table(index="y_coord", columns="x_coord", values="n", aggfunc="first"
                              ).reindex(index=ys, columns=xs)
    return Grid(xs, ys, values.to_numpy(dtype=float), counts.fillna(0).to_numpy(dtype=float))


def _axes_grid(fig: Figure, n: int, cols: int) -> list[Axes]:
    rows = -(-n // cols)
    grid = fig.add_gridspec(rows, cols)
    axes = []
    for i in range(n):
        axes.append(fig.add_subplot(grid[i // cols, i % cols]))
    return axes


def _style_axes(axes: list[Axes], cols: int, grid: Grid) -> None:
    n = len(axes)
    x_e, y_e = edges(grid.xs), edges(grid.ys)
    for i, ax in enumerate(axes):
        ax.set_xlim(x_e[0], x_e[-1])
        ax.set_ylim(y_e[-1], y_e[0])  # image orientation: y grows downwards
        ax.set_aspect("equal")
        ax.set_xticks(_ticks(grid.xs))
        ax.set_yticks(_ticks(grid.ys))
        ax.tick_params(length=2, pad=1.5)
        for spine in ax.spines.values():
            spine.set_visible(True)
        last_in_column = i + cols >= n
        if last_in_column:
            ax.set_xlabel("object centre x", labelpad=1.5)
        else:
            ax.tick_params(labelbottom=False)
        if i % cols == 0:
            ax.set_ylabel("object centre y", labelpad=1.5)
        else:
            ax.tick_params(labelleft=False)


def _ticks(centres: np.ndarray) -> list[float]:
    lo, hi = float(centres.min()), float(centres.max())
    if lo <= 0.0 and hi >= 1.0:
        return [0.0, 0.5, 1.0]
    return sorted({lo, hi})


def _draw(ax: Axes, grid: Grid, colour_map: str, norm, min_count: int) -> tuple[object, int]:
    x_e, y_e = edges(grid.xs), edges(grid.ys)
    mesh = draw_cells(ax, x_e, y_e, grid.values, colour_map, norm)
    low = (grid.counts < min_count) & (grid.counts > 0) if min_count > 0 else np.zeros_like(
        grid.counts, dtype=bool)
    return mesh, hatch_cells(ax, x_e, y_e, low)


def _notes(fig: Figure, grids: list[Grid], hatched: int, min_count: int) -> None:
    handles = []
    if hatched:
        handles.append(low_count_handle(min_count))
    if any(np.isnan(g.values).any() for g in grids):
        handles.append(missing_handle())
    if handles:
        fig.legend(handles=handles, loc="outside lower left", ncols=len(handles),
                   handlelength=1.2, borderaxespad=0.2)


def _panel_size(width: float, cols: int, extra: float) -> float:
    """Side of a square panel: the width shared out, at most 2.2 in (a map is no clearer
    bigger) and at least 0.6 in."""
    return min(2.2, max(0.6, (width - extra) / cols))


def _pad_columns(fig: Figure, width: float, cols: int, side: float, extra: float) -> None:
    """Where panels are capped in size, pad each column so the panels (and the colour bars
    sized to them) stay close together instead of spreading over the whole width."""
    spare = width - extra - cols * side
    if spare > 0.1:
        fig.get_layout_engine().set(w_pad=max(0.02, spare / (2 * cols) * 0.8))


def _titles(names: list[str], side: float) -> tuple[list[str], float]:
    """Panel titles wrapped to the panel width, and the height (inches) they need."""
    wrapped = [fit_label(name, side) for name in names]
    lines = max(t.count("\n") + 1 for t in wrapped)
    return wrapped, 0.12 * lines + 0.06


def _prepare(scores: Scores | pd.DataFrame | str) -> tuple[Scores, np.ndarray, np.ndarray]:
    scores = as_scores(scores)
    if scores.kind != "location":
        raise ReportError(f"{scores.source}: these are {scores.kind} scores, not location scores "
                          "(location needs x_coord and y_coord columns).")
    xs = np.sort(scores.frame["x_coord"].unique())
    ys = np.sort(scores.frame["y_coord"].unique())
    return scores, xs, ys


def location_heatmaps(scores: Scores | pd.DataFrame | str, *, value: str = "normalized",
                      width: str | float = "double", titles: bool = True, min_count: int = 0,
                      models: list[str] | None = None) -> Figure:
    """One heatmap per model of ``value`` (``normalized`` or ``accuracy``) over object centres.

    All panels share one colour scale; values above 1 (cells above the 95th-percentile
    normaliser) take the top colour. Cells scored on fewer than ``min_count`` images are
    hatched; cells with no images are grey.
    """
    scores, xs, ys = _prepare(scores)
    if value not in scores.frame:
        raise ReportError(f"{scores.source}: no '{value}' column to plot.")
    models = models or scores.models
    width_in = figure_width(width)
    _, cols = panel_grid(len(models), width)
    rows = -(-len(models) // cols)
    side = _panel_size(width_in, cols, 0.9)
    names, title_h = _titles(models, side)
    with paper_style():
        fig = new_figure(width, rows * (side + title_h + 0.12) + 0.2 + (0.2 if titles else 0))
        _pad_columns(fig, width_in, cols, side, 0.9)
        axes = _axes_grid(fig, len(models), cols)
        grids = [model_grid(scores.frame, m, value, xs, ys) for m in models]
        norm = sequential_norm(np.concatenate([g.values.ravel() for g in grids]))
        hatched = 0
        mesh = None
        for ax, name, grid in zip(axes, names, grids, strict=True):
            mesh, count = _draw(ax, grid, SEQUENTIAL, norm, min_count)
            hatched += count
            ax.set_title(name, pad=3)
        _style_axes(axes, cols, grids[0])
        over = any(np.nanmax(g.values) > norm.vmax for g in grids if np.isfinite(g.values).any())
        cbar = fig.colorbar(mesh, ax=axes, location="right", shrink=min(1.0, 0.9 / rows + 0.1),
                            extend="max" if over else "neither", aspect=25, pad=0.02)
        cbar.set_label(VALUE_LABELS.get(value, value))
        cbar.ax.tick_params(labelsize=6, length=2)
        _notes(fig, grids, hatched, min_count)
        if titles:
            fig.suptitle(fit_label(f"Location: {VALUE_LABELS.get(value, value)}", width_in, 8))
    return fig


def location_comparison(scores: Scores | pd.DataFrame | str, baseline: str | None = None, *,
                        width: str | float = "double", titles: bool = True,
                        min_count: int = 0) -> Figure:
    """The paper's comparison panel (Figure 6): the baseline's normalised map, then for each
    other model its normalised map minus the baseline's, on a diverging scale centred at zero
    with limits shared by all difference panels."""
    scores, xs, ys = _prepare(scores)
    baseline = check_baseline(scores, baseline)
    if baseline is None:
        raise ReportError(f"{scores.source}: give a baseline model (--baseline NAME) to compare "
                          f"against; models: {', '.join(scores.models)}.")
    others = [m for m in scores.models if m != baseline]
    if not others:
        raise ReportError(f"{scores.source}: only the baseline {baseline!r} is in this file; "
                          "a comparison needs at least one other model.")
    diffs = with_difference(scores, baseline)
    base_grid = model_grid(scores.frame, baseline, "normalized", xs, ys)
    diff_grids = [model_grid(diffs, m, "diff", xs, ys) for m in others]
    width_in = figure_width(width)
    n = 1 + len(others)
    _, max_cols = panel_grid(n + 1, width)
    one_row = n <= max_cols
    cols = n if one_row else max_cols
    rows = -(-n // cols)
    side = _panel_size(width_in, cols, 0.45 if one_row else 2.0)
    names, title_h = _titles([f"{baseline} (baseline)", *others], side)
    height = rows * (side + title_h + 0.12) + (0.55 if one_row else 0.2) + (0.2 if titles else 0)
    with paper_style():
        fig = new_figure(width, height)
        _pad_columns(fig, width_in, cols, side, 0.45 if one_row else 2.0)
        axes = _axes_grid(fig, n, cols)
        seq = sequential_norm(base_grid.values.ravel())
        div = diverging_norm(np.concatenate([g.values.ravel() for g in diff_grids]))
        base_mesh, hatched = _draw(axes[0], base_grid, SEQUENTIAL, seq, min_count)
        axes[0].set_title(names[0], pad=3)
        diff_mesh = None
        for ax, name, grid in zip(axes[1:], names[1:], diff_grids, strict=True):
            diff_mesh, count = _draw(ax, grid, DIVERGING, div, min_count)
            hatched += count
            ax.set_title(name, pad=3)
        _style_axes(axes, cols, base_grid)
        where = "bottom" if one_row else "right"
        over = np.nanmax(base_grid.values) > seq.vmax
        cb1 = fig.colorbar(base_mesh, ax=axes[0] if one_row else axes, location=where,
                           extend="max" if over else "neither", aspect=12 if one_row else 25,
                           pad=0.02)
        cb1.set_label("normalised accuracy")
        cb2 = fig.colorbar(diff_mesh, ax=axes[1:] if one_row else axes, location=where,
                           aspect=12 * (n - 1) if one_row else 25, pad=0.02,
                           shrink=0.6 if one_row and n > 2 else 1.0)
        cb2.set_label(fit_label(f"normalised accuracy minus {baseline}'s", side * (n - 1)))
        for cb in (cb1, cb2):
            cb.ax.tick_params(labelsize=6, length=2)
        _notes(fig, [base_grid, *diff_grids], hatched, min_count)
        if titles:
            fig.suptitle(fit_label(f"Location: difference from {baseline}", width_in, 8))
    return fig
