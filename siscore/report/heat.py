"""Shared heatmap drawing: cell edges, colour scales, low-count hatching."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.colors import Colormap, Normalize, TwoSlopeNorm
from matplotlib.patches import Patch, Rectangle

from siscore.report.style import DIVERGING, MISSING_COLOUR, SEQUENTIAL, luminance

LOW_COUNT_HATCH = "////"
LOW_COUNT_COLOUR = "#7f7f7f"


def edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted cell centres (midpoints; ends mirrored)."""
    centres = np.asarray(centres, dtype=float)
    if len(centres) == 1:
        return np.array([centres[0] - 0.025, centres[0] + 0.025])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def cmap(name: str) -> Colormap:
    """A copy of a registered colour map whose missing cells are light grey."""
    return colormaps[name].with_extremes(bad=MISSING_COLOUR)


def sequential_norm(values: np.ndarray, top: float = 1.0) -> Normalize:
    """Shared limits for (normalised) accuracy: from a rounded-down minimum up to ``top``."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    low = math.floor(float(finite.min()) * 10) / 10 if finite.size else 0.0
    return Normalize(vmin=min(max(low, 0.0), top - 0.1), vmax=top)


def nice_ceiling(value: float) -> float:
    """Round a positive limit up to a readable number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
    times a power of ten)."""
    if not np.isfinite(value) or value <= 0:
        return 0.1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power


def diverging_norm(values: np.ndarray) -> TwoSlopeNorm:
    """Symmetric limits around zero, shared by every difference panel."""
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    limit = nice_ceiling(float(finite.max()) if finite.size else 0.0)
    return TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)


def draw_cells(ax: Axes, x_edges: np.ndarray, y_edges: np.ndarray, values: np.ndarray,
               colour_map: str, norm: Normalize) -> QuadMesh:
    """Draw a grid of cells (``values[row, col]``, NaN shown grey), rasterised so that PDF
    viewers show no seams between cells while text and axes stay vector."""
    masked = np.ma.masked_invalid(np.asarray(values, dtype=float))
    return ax.pcolormesh(x_edges, y_edges, masked, cmap=cmap(colour_map), norm=norm,
                         shading="flat", rasterized=True, linewidth=0)


def hatch_cells(ax: Axes, x_edges: np.ndarray, y_edges: np.ndarray, low: np.ndarray,
                colours: np.ndarray | None = None) -> int:
    """Hatch the cells where ``low[row, col]`` is true (in ``colours[row, col]``, default
    grey); return how many were hatched."""
    rows, cols = np.nonzero(low)
    for r, c in zip(rows, cols, strict=True):
        colour = LOW_COUNT_COLOUR if colours is None else colours[r, c]
        ax.add_patch(Rectangle((x_edges[c], y_edges[r]), x_edges[c + 1] - x_edges[c],
                               y_edges[r + 1] - y_edges[r], fill=False, linewidth=0,
                               hatch=LOW_COUNT_HATCH, edgecolor=colour))
    return len(rows)


def annotate_cells(ax: Axes, x_centres: np.ndarray, y_centres: np.ndarray, values: np.ndarray,
                   texts: list[list[str]], colour_map: str, norm: Normalize,
                   fontsize: float = 5.5) -> None:
    """Write ``texts[row][col]`` in each finite cell, white on dark cells and black on light
    ones, outlined in the cell's own colour so that it stays legible over hatching."""
    colours = cmap(colour_map)
    for (r, c), v in np.ndenumerate(np.asarray(values, dtype=float)):
        if not np.isfinite(v) or not texts[r][c]:
            continue
        fill = colours(norm(v))
        ax.text(x_centres[c], y_centres[r], texts[r][c], ha="center", va="center",
                fontsize=fontsize, color="white" if luminance(fill) < 0.3 else "black",
                path_effects=[patheffects.withStroke(linewidth=1.6, foreground=fill)])


def low_count_handle(min_count: int) -> Patch:
    """Legend entry explaining hatched cells."""
    return Patch(facecolor="white", edgecolor=LOW_COUNT_COLOUR, hatch=LOW_COUNT_HATCH,
                 linewidth=0.5, label=f"hatched: fewer than {min_count} images")


def missing_handle() -> Patch:
    return Patch(facecolor=MISSING_COLOUR, edgecolor="none", label="grey: no images")


__all__ = ["DIVERGING", "SEQUENTIAL", "annotate_cells", "cmap", "diverging_norm", "draw_cells", "edges",
           "hatch_cells", "low_count_handle", "missing_handle", "nice_ceiling", "sequential_norm"]
