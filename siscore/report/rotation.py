"""Rotation figure: normalised accuracy against angle, one line per object size, and
difference rows against a baseline model (the paper's Figure 7, left)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from siscore.report.heat import nice_ceiling
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline, with_difference
from siscore.report.style import figure_width, fit_label, new_figure, paper_style


def area_colours(areas: list[float]) -> dict[float, tuple]:
    """One colour per object size, ordered dark (small) to light (large) along viridis."""
    cmap = colormaps["viridis"]
    steps = np.linspace(0.0, 0.8, len(areas)) if len(areas) > 1 else [0.4]
    return {a: cmap(s) for a, s in zip(areas, steps, strict=True)}


def _area_label(area: float) -> str:
    return f"{area * 100:g}%"


def with_gaps(rows: pd.DataFrame, x: str, levels: np.ndarray | None) -> pd.DataFrame:
    """Rows sorted by ``x`` with an empty row wherever the line would skip one of
    ``levels`` (the levels present anywhere in the file: one the filters removed from
    this curve), so the line breaks there instead of bridging it."""
    rows = rows.sort_values(x)
    if levels is None or len(rows) < 2:
        return rows
    xs = rows[x].to_numpy(dtype=float)
    pos = np.searchsorted(np.asarray(levels, dtype=float), xs)
    jumps = np.flatnonzero(np.diff(pos) > 1)
    if not jumps.size:
        return rows
    gaps = pd.DataFrame({x: (xs[jumps] + xs[jumps + 1]) / 2})
    return pd.concat([rows, gaps], ignore_index=True).sort_values(x, kind="stable")


def grid_levels(values: np.ndarray) -> np.ndarray:
    """The distinct levels of a factor in a file, sorted."""
    values = np.asarray(values, dtype=float)
    return np.unique(values[np.isfinite(values)])


def draw_lines(ax: Axes, rows: pd.DataFrame, x: str, y: str, colour, label: str,
               min_count: int, marker: str = "o", levels: np.ndarray | None = None) -> bool:
    """One line with markers, broken where it skips one of ``levels``; points on fewer than ``min_count`` images get hollow markers. Returns
    whether any point was hollow."""
    rows = rows.sort_values(x)
    line = with_gaps(rows, x, levels)
    ax.plot(line[x], line[y], color=colour, label=label, marker=marker or None,
            markersize=2.5, markeredgewidth=0.6)
    low = rows[(rows["n"] < min_count)] if min_count > 0 else rows.iloc[:0]
    if not low.empty:
        ax.plot(low[x], low[y], linestyle="none", marker=marker or "o", markersize=3.2,
                markerfacecolor="white", markeredgecolor=colour, markeredgewidth=0.7,
                clip_on=False, zorder=3)
    return not low.empty


def centred_angle(degrees: np.ndarray) -> np.ndarray:
    """Angles in (-180, 180], 0 = upright."""
    out = np.mod(np.asarray(degrees, dtype=float) + 180.0, 360.0) - 180.0
    return np.where(out == -180.0, 180.0, out)


def hollow_handle(min_count: int) -> Line2D:
    return Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                  markeredgecolor="0.3", markersize=3.2,
                  label=f"hollow: fewer than {min_count} images")


def rotation_plot(scores: Scores | pd.DataFrame | str, baseline: str | None = None, *,
                  width: str | float = "double", titles: bool = True,
                  min_count: int = 0) -> Figure:
    """The file's measure (normalised accuracy, accuracy / best angle per size, as the
    paper draws it; or accuracy when the file was not normalised) against rotation angle.

    Without a baseline: one row per model. With one: the baseline's normalised curves
    first, then for each other model its normalised accuracy minus the baseline's, all
    difference rows on one symmetric y scale with a zero line.
    """
    scores = as_scores(scores)
    other = [f for f in scores.varied if f not in ("rotation", "area")]
    if "rotation" not in scores.factors or other:
        raise ReportError(f"{scores.source}: the rotation figure needs a rotation column and "
                          f"no other varying factor than area (this file varies "
                          f"{', '.join(scores.varied) or 'nothing'}); draw it with "
                          "factor_lines or factor_heatmaps.")
    measure = scores.measure()
    column = measure.column
    baseline = check_baseline(scores, baseline)
    frame = (with_difference(scores, baseline, column) if baseline is not None
             else scores.frame)
    # centre the axis on upright: 341 degrees is -19, so the peak at 0 reads as one
    frame = frame.assign(rotation=centred_angle(frame["rotation"].to_numpy(dtype=float)))
    levels = grid_levels(frame["rotation"])
    if "area" not in frame:
        frame = frame.assign(area=np.nan)
    areas = sorted(frame["area"].dropna().unique()) or [np.nan]
    colours = area_colours(areas)
    models = scores.models
    if baseline is not None:
        models = [baseline, *[m for m in models if m != baseline]]
    width_in = figure_width(width)
    row_h = 0.85 if width_in < 5 else 1.0
    with paper_style():
        fig = new_figure(width, row_h * len(models) + 0.45 + (0.2 if titles else 0))
        axes = fig.subplots(len(models), 1, sharex=True, squeeze=False)[:, 0]
        hollow = False
        diff_axes: list = []
        norm_axes: list = []
        for i, (ax, model) in enumerate(zip(axes, models, strict=True)):
            rows = frame[frame["model"] == model]
            is_diff = baseline is not None and i > 0
            column_i = "diff" if is_diff else column
            for area in areas:
                sub = rows if np.isnan(area) else rows[rows["area"] == area]
                hollow |= draw_lines(ax, sub, "rotation", column_i, colours[area],
                                     _area_label(area) if not np.isnan(area) else "all sizes",
                                     min_count, levels=levels)
            suffix = "" if baseline is None else (
                " (baseline)" if i == 0 else f" \N{MINUS SIGN} {baseline}")
            name = fit_label(model + suffix, width_in * 0.85)
            ax.set_title(name, loc="left", pad=2)
            if is_diff:
                ax.axhline(0, color="0.4", linewidth=0.6, linestyle="--", zorder=0)
                ax.set_ylabel("difference")
                dense = rows.loc[rows["n"] >= min_count, "diff"]  # sparse points: no say
                diff_axes.append((ax, dense if dense.notna().any() else rows["diff"]))
            else:
                ax.set_ylabel(fit_label(measure.name, 0.9))
                norm_axes.append((ax, rows[column]))
            ax.grid(axis="y", linewidth=0.3, color="0.85")
        if diff_axes:
            limit = nice_ceiling(max(float(np.nanmax(np.abs(d))) if d.notna().any() else 0
                                     for _, d in diff_axes) * 1.05)
            for ax, _ in diff_axes:
                ax.set_ylim(-limit, limit)
        lows = [float(np.nanmin(v)) for _, v in norm_axes if v.notna().any()]
        bottom = min(0.9, np.floor(min(lows, default=0.0) * 10) / 10)
        top = max([1.0] + [float(np.nanmax(v)) for _, v in norm_axes if v.notna().any()])
        for ax, _ in norm_axes:
            ax.set_ylim(bottom, top + 0.02)
        fig.align_ylabels(axes)
        axes[-1].set_xlim(-180, 180)
        axes[-1].set_xticks(range(-180, 181, 60))
        axes[-1].xaxis.set_major_formatter(lambda v, _: f"{v:g}\N{DEGREE SIGN}")
        axes[-1].set_xlabel("rotation angle from upright (counter-clockwise)")
        handles, labels = axes[0].get_legend_handles_labels()
        if hollow:
            handles.append(hollow_handle(min_count))
            labels.append(handles[-1].get_label())
        handles.insert(0, Line2D([], [], linestyle="none"))
        labels.insert(0, "object area:")
        fig.legend(handles, labels, loc="outside lower center",
                   ncols=len(handles) if width_in >= 5 or len(handles) <= 4 else 3,
                   handlelength=1.5, columnspacing=1.0, handletextpad=0.4)
        if titles:
            fig.suptitle(fit_label(f"Rotation: {measure.long} by angle"
                                   + (f", difference from {baseline}" if baseline else ""),
                                   width_in, 8))
    return fig
