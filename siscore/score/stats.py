"""Interval estimates: exact binomial (Clopper-Pearson) and a paired bootstrap over objects.

Both are vectorised over cells. The bootstrap resamples *objects* (foreground
instances), not images: the images of one object share its appearance, so they are
not independent draws, and the interval must reflect how many objects were seen.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaincinv


def clopper_pearson(k: np.ndarray, n: np.ndarray, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``level`` interval for ``k`` successes out of ``n`` trials, per element.

    ``k`` may be fractional (a weighted count): the beta quantiles extend continuously.
    ``n == 0`` gives NaN.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, betaincinv(np.maximum(k, 1e-300), n - k + 1, alpha / 2), 0.0)
        high = np.where(k < n, betaincinv(k + 1, np.maximum(n - k, 1e-300), 1 - alpha / 2), 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def object_weights(n_objects: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_objects x n_boot) draw counts: each column resamples the objects with replacement.

    Seeded from ``seed`` and the number of objects only, so every model and every run
    over the same objects sees the same resamples (that is what makes them paired).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_objects]))
    p = np.full(n_objects, 1.0 / n_objects)
    return rng.multinomial(n_objects, p, size=n_boot).T.astype(np.float64)


def _cell_object_sums(cell: np.ndarray, obj: np.ndarray, value: np.ndarray,
                      n_cells: int, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
    flat = cell * n_objects + obj
    size = n_cells * n_objects
    num = np.bincount(flat, weights=value, minlength=size).reshape(n_cells, n_objects)
    den = np.bincount(flat, minlength=size).astype(float).reshape(n_cells, n_objects)
    return num, den


def cell_replicates(cell: np.ndarray, obj: np.ndarray, value: np.ndarray, n_cells: int,
                    weights: np.ndarray, object_class: np.ndarray | None = None,
                    max_block: int = 20_000_000
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell mean of ``value`` over its images, and the same mean in every resample of
    objects: ``(point[n_cells], boot[n_cells, n_boot], images[n_cells],
    images_boot[n_cells, n_boot])`` (an image of an object drawn twice counts twice).

    ``cell`` and ``obj`` give each image's cell and object (0-based codes); ``weights`` is
    :func:`object_weights`. With ``object_class`` (the class of each object), each class
    weighs equally in a cell (``--balance-classes``): the mean over the classes present of
    the per-class mean.
    """
    n_objects, n_boot = weights.shape
    point = np.full(n_cells, np.nan)
    boot = np.full((n_cells, n_boot), np.nan)
    count = np.zeros(n_cells)
    count_boot = np.zeros((n_cells, n_boot))
    block = max(1, min(n_cells, max_block // max(n_objects, n_boot)))
    for start in range(0, n_cells, block):  # a loop over blocks of cells, not over rows
        stop = min(n_cells, start + block)
        sel = (cell >= start) & (cell < stop)
        num, den = _cell_object_sums(cell[sel] - start, obj[sel], value[sel],
                                     stop - start, n_objects)
        count[start:stop] = den.sum(1)
        count_boot[start:stop] = den @ weights
        if object_class is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                point[start:stop] = num.sum(1) / den.sum(1)
                boot[start:stop] = (num @ weights) / count_boot[start:stop]
        else:
            point[start:stop], boot[start:stop] = _balanced(num, den, weights, object_class)
    return point, boot, count, count_boot


def paired_bootstrap(cell: np.ndarray, obj: np.ndarray, diff: np.ndarray, n_cells: int,
                     weights: np.ndarray, klass: np.ndarray | None = None,
                     object_class: np.ndarray | None = None, level: float = 0.95,
                     max_block: int = 20_000_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell mean of ``diff`` (model hit minus baseline hit, on images both predicted),
    with a percentile bootstrap interval over objects (see :func:`cell_replicates`).
    Returns (estimate, low, high)."""
    alpha = (1.0 - level) / 2
    estimate, boot, _, _ = cell_replicates(cell, obj, diff, n_cells, weights, object_class,
                                           max_block)
    low = np.full(n_cells, np.nan)
    high = np.full(n_cells, np.nan)
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(boot).all(1)
        quantile = np.nanquantile if np.isnan(boot[ok]).any() else np.quantile
        if ok.any():
            q = quantile(boot[ok], [alpha, 1 - alpha], axis=1)
            low[ok], high[ok] = q[0], q[1]
    return estimate, low, high


def _balanced(num: np.ndarray, den: np.ndarray, weights: np.ndarray,
              object_class: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced point estimate and bootstrap replicates for one block of cells."""
    n_cells, n_boot = num.shape[0], weights.shape[1]
    total = np.zeros((n_cells, n_boot))
    count = np.zeros((n_cells, n_boot))
    point_sum = np.zeros(n_cells)
    point_count = np.zeros(n_cells)
    for k in np.unique(object_class):  # one matrix product per class
        cols = np.flatnonzero(object_class == k)
        n_k, d_k = num[:, cols], den[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            rep = (n_k @ weights[cols]) / (d_k @ weights[cols])
            present = d_k.sum(1) > 0
            point_sum[present] += n_k.sum(1)[present] / d_k.sum(1)[present]
        point_count += present
        seen = ~np.isnan(rep)
        total += np.where(seen, rep, 0.0)
        count += seen
    with np.errstate(invalid="ignore", divide="ignore"):
        return point_sum / point_count, total / count
