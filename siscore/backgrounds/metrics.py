"""Measurable scores of one background photograph.

Scores are computed on a copy of the photo scaled to :data:`WORK_SIDE` px on
its long side (never upscaled), the region-level ones on a copy at
:data:`OBJECT_SIDE` px, so that the numbers of a 6000 px photo and of its
1000 px version are comparable:

- ``sharpness``: variance of the Laplacian of the grey image (low: blurred or flat).
- ``clutter``: edge density, the fraction of pixels on a Canny edge (100/200),
  measured at :data:`OBJECT_SIDE` px (edge density depends on the scale).
- ``highlights`` / ``shadows``: fraction of pixels clipped white (luma >= 250)
  or black (luma <= 5).
- ``saliency_peak``: concentration of the spectral-residual saliency map
  (share of its mass in its largest blob; see :func:`siscore.generate.saliency.saliency_peak`).
- ``object_contrast``: boundary-connectivity (geodesic) saliency. On a 32-cell
  grid of mean CIELAB colours, the cost of a path is the sum of the colour
  steps along it, each minus the image's median step (so texture and soft
  gradients cost nothing); a cell's value is the cheapest path to the image
  border. A region that only a strong closed contour separates from the border
  (a cup on a table, a face against a uniform) scores high; sky, sea, meadows
  and textures all reach the border cheaply. The score is the 95th percentile
  over cells, in CIELAB units.
- ``centre_focus``: log ratio of fine detail (mean absolute Laplacian) in the
  central columns to that in the outer columns of the same rows. A subject in
  focus in the middle of a plain or blurred surround (a portrait, a cat
  close-up, a flower with bokeh) scores high; landscapes and textures are about
  as detailed at the sides as in the centre (score near 0).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from siscore.generate.saliency import saliency_peak, spectral_residual_small

WORK_SIDE = 512
OBJECT_SIDE = 256
GEODESIC_CELLS = 32
FOCUS_CELLS = 6

SCORE_COLUMNS: tuple[str, ...] = (
    "sharpness", "clutter", "highlights", "shadows", "saliency_peak", "object_contrast",
    "centre_focus",
)


def grey_of(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian (3x3) of a uint8 grey image."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def clutter(grey: np.ndarray) -> float:
    """Edge density: the fraction of pixels on a Canny edge (thresholds 100 and 200)."""
    return float((cv2.Canny(grey, 100, 200) > 0).mean())


def exposure(grey: np.ndarray) -> tuple[float, float]:
    """Fractions of clipped highlights (>= 250) and crushed shadows (<= 5)."""
    return float((grey >= 250).mean()), float((grey <= 5).mean())


def _lab_grid(rgb: np.ndarray, cells: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = cells / max(h, w)
    size = (max(4, round(w * scale)), max(4, round(h * scale)))
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
    grid = cv2.resize(lab, size, interpolation=cv2.INTER_AREA)
    grid[..., 0] *= 100.0 / 255.0  # L in 0..100, a and b centred on 0 (CIELAB units)
    grid[..., 1:] -= 128.0
    return grid


def geodesic_saliency(rgb: np.ndarray, cells: int = GEODESIC_CELLS) -> np.ndarray:
    """Per-cell cost of the cheapest path to the image border (see the module docstring)."""
    grid = _lab_grid(rgb, cells)
    gh, gw = grid.shape[:2]
    ids = np.arange(gh * gw).reshape(gh, gw)
    step_x = np.linalg.norm(grid[:, 1:] - grid[:, :-1], axis=2).ravel()
    step_y = np.linalg.norm(grid[1:] - grid[:-1], axis=2).ravel()
    steps = np.concatenate([step_x, step_y])
    weights = np.maximum(steps - np.median(steps), 0.0) + 1e-6
    border = np.unique(np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]]))
    n = gh * gw  # node n is a virtual node joined to every border cell at no cost
    src = np.concatenate([ids[:, :-1].ravel(), ids[:-1].ravel(), np.full(border.size, n)])
    dst = np.concatenate([ids[:, 1:].ravel(), ids[1:].ravel(), border])
    w = np.concatenate([weights, np.full(border.size, 1e-6)])
    graph = coo_matrix((w, (src, dst)), shape=(n + 1, n + 1)).tocsr()
    dist = dijkstra(graph, directed=False, indices=n)
    return dist[:n].reshape(gh, gw)


def object_contrast(rgb: np.ndarray) -> float:
    """95th percentile of :func:`geodesic_saliency` (CIELAB units)."""
    return float(np.percentile(geodesic_saliency(rgb), 95))


def centre_focus(grey: np.ndarray, cells: int = FOCUS_CELLS) -> float:
    """Log ratio of fine detail in the central columns to the outer columns (same rows)."""
    detail = np.abs(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F, ksize=3))
    grid = cv2.resize(detail, (cells, cells), interpolation=cv2.INTER_AREA)
    rows = grid[1:-1]
    mid = cells // 2
    centre = float(rows[:, mid - 1 : mid + 1].mean())
    sides = float(np.concatenate([rows[:, :1], rows[:, -1:]], axis=1).mean())
    eps = 0.01 * float(grid.mean()) + 1e-6
    return float(np.log((centre + eps) / (sides + eps)))


def _resize_long(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) == side:
        return rgb
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interp)


def measure(rgb: np.ndarray) -> dict[str, float]:
    """All scores of an RGB photo (best given at :data:`WORK_SIDE` px on the long side)."""
    work = _resize_long(rgb, WORK_SIDE) if max(rgb.shape[:2]) > WORK_SIDE else rgb
    grey = grey_of(work)
    small = _resize_long(work, OBJECT_SIDE)
    small_grey = grey_of(small)
    highlights, shadows = exposure(grey)
    return {
        "sharpness": sharpness(grey),
        "clutter": clutter(small_grey),
        "highlights": highlights,
        "shadows": shadows,
        "saliency_peak": saliency_peak(spectral_residual_small(work)),
        "object_contrast": object_contrast(small),
        "centre_focus": centre_focus(small_grey),
    }
