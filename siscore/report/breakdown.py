"""Breakdown heatmaps: accuracy per model and class (``label``), per background
(``background_name``) or per any other column scored with ``siscore score --by``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from siscore.formats.values import factor_text
from siscore.report.heat import (
    SEQUENTIAL,
    annotate_cells,
    cmap,
    draw_cells,
    hatch_cells,
    low_count_handle,
    missing_handle,
)
from siscore.report.measure import factor_name
from siscore.report.scores import ReportError, Scores, aggregate, as_scores
from siscore.report.style import figure_width, fit_label, luminance, new_figure, paper_style

TRANSPOSE_ABOVE = 20  # more categories than this: categories go down the y axis


def numeric_levels(levels) -> dict | None:
    """Each level as a number when every level reads as one (``"8"``, ``"0.5"``), else None."""
    out = {}
    for level in levels:
        try:
            out[level] = float(level)
        except (TypeError, ValueError):
            return None
    return out


def breakdown_table(scores: Scores, by: str, order: str | None = None) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """(accuracy, n) tables with models as rows and ``by`` categories as columns.

    Cells are pooled over every other factor (sums of correct and n). Categories are
    sorted by their mean accuracy over models, best first (``order="accuracy"``), or
    by name (``order="name"``; numerically when every level is a number). The default
    (None) is ``name`` for numeric levels (an intervention's strength) and
    ``accuracy`` otherwise.
    """
    pooled = aggregate(scores, [by])
    acc = pooled.pivot(index="model", columns=by, values="accuracy")
    counts = pooled.pivot(index="model", columns=by, values="n").fillna(0)
    models = scores.models
    numbers = numeric_levels(acc.columns)
    order = order or ("name" if numbers is not None else "accuracy")
    if order == "accuracy":
        mean = acc.mean(axis=0, skipna=True)
        cats = sorted(acc.columns, key=lambda c: (-(mean[c] if np.isfinite(mean[c]) else -1),
                                                  str(c)))
    elif order == "name":
        cats = sorted(acc.columns, key=(lambda c: numbers[c]) if numbers is not None else str)
    else:
        raise ValueError(f"unknown order {order!r}: use 'accuracy' or 'name'")
    return acc.reindex(index=models, columns=cats), counts.reindex(index=models, columns=cats)


def breakdown_heatmap(scores: Scores | pd.DataFrame | str, by: str | None = None, *,
                      width: str | float = "double", titles: bool = True, min_count: int = 0,
                      order: str | None = None, annotate: bool | None = None) -> Figure:
    """Heatmap of accuracy with one row per model and one column per category of ``by``.

    With more than 20 categories the map is transposed (categories down the side).
    Cells scored on fewer than ``min_count`` images are hatched and cells without
    images are grey; both are explained under the map. Values are written in the cells
    (as percentages) when they fit, or when ``annotate`` says so.
    """
    scores = as_scores(scores)
    if not scores.factors:
        raise ReportError(f"{scores.source}: no factor to break down by; score with --by label "
                          "or --by background_name.")
    by = by or (scores.by or scores.factors)[0]
    if by not in scores.factors:
        raise ReportError(f"{scores.source}: no factor column {by!r}; "
                          f"columns: {', '.join(scores.factors)}.")
    acc, counts = breakdown_table(scores, by, order)
    width_in = figure_width(width)
    name = factor_name(by)
    norm = Normalize(0.0, 1.0)
    if acc.shape[1] > TRANSPOSE_ABOVE:
        fig, axes, mesh, hatched = _tall(acc.T, counts.T, name, width_in, titles, min_count,
                                         norm, annotate)
    else:
        fig, axes, mesh, hatched = _wide(acc, counts, name, width_in, titles, min_count, norm,
                                         annotate)
    with paper_style():
        cbar = fig.colorbar(mesh, ax=axes, location="right", aspect=20, pad=0.01,
                            fraction=0.04, shrink=1.0 if len(axes) == 1 else 0.5)
        cbar.set_label(scores.accuracy_label + " (%)")  # as the numbers in the cells
        cbar.ax.yaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}")
        cbar.ax.tick_params(labelsize=6, length=2)
        handles = []
        if hatched:
            handles.append(low_count_handle(min_count))
        if np.isnan(acc.to_numpy(dtype=float)).any():
            handles.append(missing_handle())
        if handles:
            fig.legend(handles=handles, loc="outside lower left", ncols=len(handles),
                       handlelength=1.2)
        if titles:
            fig.suptitle(fit_label(f"Accuracy by {name}", width_in, 8))
    return fig


def _low(n: pd.DataFrame, min_count: int) -> np.ndarray:
    counts = n.to_numpy(dtype=float)
    return (counts < min_count) & (counts > 0) if min_count > 0 else np.zeros(counts.shape, bool)


def _block(ax: Axes, values: pd.DataFrame, n: pd.DataFrame, min_count: int, norm: Normalize,
           annotate: bool) -> tuple[QuadMesh, int]:
    """Draw one table of cells with its row labels; return the mesh and the hatched count."""
    x_e = np.arange(values.shape[1] + 1, dtype=float)
    y_e = np.arange(values.shape[0] + 1, dtype=float)
    array = values.to_numpy(dtype=float)
    mesh = draw_cells(ax, x_e, y_e, array, SEQUENTIAL, norm)
    hatched = hatch_cells(ax, x_e, y_e, _low(n, min_count), _hatch_colours(array, norm))
    ax.set_xlim(0, values.shape[1])
    ax.set_ylim(values.shape[0], 0)  # first row at the top
    ax.set_yticks(y_e[:-1] + 0.5, [fit_label(str(v), 1.4, 6) for v in values.index])
    ax.tick_params(length=0, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate:
        _annotate(ax, array, norm)
    return mesh, hatched


def _wide(acc, counts, name, width_in, titles, min_count, norm, annotate):
    """Models down the side, categories along the bottom."""
    label_in = _label_inches(acc.index)
    cell_w = max(0.08, (width_in - label_in - 0.7) / acc.shape[1])
    cell_h = min(0.3, max(0.18, cell_w * 0.7))
    cols_in = max(len(str(c)) for c in acc.columns) * 0.045 * 0.75 + 0.15
    height = acc.shape[0] * cell_h + cols_in + 0.35 + (0.2 if titles else 0)
    with paper_style():
        fig = new_figure(width_in, height)
        ax = fig.add_subplot()
        annotate = cell_w >= 0.15 and cell_h >= 0.15 if annotate is None else annotate
        mesh, hatched = _block(ax, acc, counts, min_count, norm, annotate)
        ax.set_xticks(np.arange(acc.shape[1]) + 0.5, [factor_text(c) for c in acc.columns],
                      rotation=45, ha="right", rotation_mode="anchor")
        ax.set_xlabel(name)
    return fig, [ax], mesh, hatched


def _tall(acc, counts, name, width_in, titles, min_count, norm, annotate):
    """Categories down the side (split into side-by-side blocks), models along the top."""
    label_in = _label_inches(acc.index)
    cell_w = 0.3
    block_in = label_in + acc.shape[1] * cell_w + 0.15
    blocks = max(1, min(-(-acc.shape[0] // 15), int((width_in - 0.6) // block_in)))
    per = -(-acc.shape[0] // blocks)
    cell_h = 0.13
    top_in = max(len(str(c)) for c in acc.columns) * 0.045 * 0.72 + 0.15
    height = per * cell_h + top_in + 0.3 + (0.2 if titles else 0)
    with paper_style():
        fig = new_figure(width_in, height)
        axes = fig.subplots(1, blocks, squeeze=False)[0]
        hatched = 0
        mesh = None
        for i, ax in enumerate(axes):
            part = slice(i * per, (i + 1) * per)
            mesh, count = _block(ax, acc.iloc[part], counts.iloc[part], min_count, norm,
                                 bool(annotate) if annotate is not None else True)
            hatched += count
            ax.set_ylim(per, 0)  # equal row heights in every block
            ax.xaxis.tick_top()
            ax.set_xticks(np.arange(acc.shape[1]) + 0.5, [factor_text(c) for c in acc.columns],
                          rotation=45, ha="left", rotation_mode="anchor")
        axes[0].set_ylabel(name)
    return fig, list(axes), mesh, hatched


def _label_inches(labels) -> float:
    wrapped = [fit_label(str(v), 1.4, 6) for v in labels]
    return max(len(max(w.split("\n"), key=len)) for w in wrapped) * 0.05 + 0.2


def _hatch_colours(values: np.ndarray, norm: Normalize) -> np.ndarray:
    colours = cmap(SEQUENTIAL)
    out = np.empty(values.shape, dtype=object)
    for idx, v in np.ndenumerate(values):
        dark = np.isfinite(v) and luminance(colours(norm(v))) < 0.3
        out[idx] = "white" if dark else "black"
    return out


def _annotate(ax, values: np.ndarray, norm: Normalize) -> None:
    texts = [[f"{v * 100:.0f}" if np.isfinite(v) else "" for v in row] for row in values]
    annotate_cells(ax, np.arange(values.shape[1]) + 0.5, np.arange(values.shape[0]) + 0.5,
                   values, texts, SEQUENTIAL, norm)
