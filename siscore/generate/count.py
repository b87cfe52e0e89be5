"""How many images a plan keeps, counted without listing them (``siscore build --dry-run``).

An image is kept when its object has a size and at least ``min_pct_inside`` of its box lies
inside the image (:meth:`siscore.generate.plan.Plan.is_kept`). That depends on the
foreground's size, the resolution, the area, the angle and the location only, and most of
those collapse: the areas of a foreground give a few hundred object sizes, a size and the
angles a set of rotated canvases, and the locations a few hundred pixel columns and rows.
:func:`kept_counts` counts over those, with the arithmetic of :mod:`siscore.generate.geometry`
reproduced operation for operation in NumPy (the same IEEE operations in the same order, so
the same results), and multiplies by the interventions' values and the background pairs.
With ``min_pct_inside`` 0 (location subsets and configs) angles and locations do not matter.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from siscore.generate.geometry import scaled_size
from siscore.generate.ranges import PairGrid, ValueRange

_CHUNK = 1 << 22  # array cells per vectorised step


def kept_counts(plan: Any) -> tuple[int, dict[str, int]]:
    """Images kept by ``plan``, in all and per class (as counting every image would give)."""
    location, area, rotation = plan.grid.factors[:3]
    repeat = math.prod(len(f) for f in plan.grid.factors[3:])
    pairs_of = Counter(fg for fg, _ in plan.pairs)
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    for fg_i in pairs_of:
        by_size[plan.foregrounds[fg_i].size].append(fg_i)
    areas = _ascending(area.values)
    angles = _Angles(rotation.values) if plan.min_pct_inside > 0 else None
    per_class: Counter[str] = Counter()
    for res in plan.grid.resolution.values:
        cells = _Cells(location.values, res) if angles is not None else None
        for size, fgs in by_size.items():
            geometries = _kept_geometries(size, res, areas, len(rotation), len(location),
                                          angles, cells, plan.min_pct_inside)
            for fg_i in fgs:
                if geometries:
                    per_class[plan.foregrounds[fg_i].label] += geometries * repeat * pairs_of[fg_i]
    return sum(per_class.values()), dict(sorted(per_class.items()))


def _ascending(values: Sequence[Any]) -> Sequence[Any]:
    return values if isinstance(values, ValueRange) else sorted(values)


def runs(values: Sequence[Any], key: Callable[[Any], Any]) -> list[tuple[Any, int]]:
    """``(key, how many)`` for each run of equal keys of increasing ``values`` under a
    non-decreasing ``key``, found by binary search: a few calls per run, whatever the length."""
    out, i, n = [], 0, len(values)
    while i < n:
        k, step = key(values[i]), 1
        while i + step < n and key(values[i + step]) == k:
            step *= 2
        lo, hi = i + step // 2, min(i + step, n)  # key(values[lo]) == k; the run ends before hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if key(values[mid]) == k else (lo, mid)
        out.append((k, lo + 1 - i))
        i = lo + 1
    return out


def _kept_geometries(size: tuple[int, int], res: tuple[int, int], areas: Sequence[Any],
                     n_angles: int, n_locations: int, angles: _Angles | None,
                     cells: _Cells | None, min_pct: float) -> int:
    """Kept (area, angle, location) combinations of one foreground size at one resolution."""
    sizes = runs(areas, lambda a: scaled_size(size[0], size[1], res[0], res[1], a))
    sizes = [(wh, n) for wh, n in sizes if wh[0] > 0 and wh[1] > 0]
    if angles is None or cells is None:  # min_pct_inside 0: every image with an object is kept
        return sum(n for _, n in sizes) * n_angles * n_locations
    if cells.few:  # a few locations: every angle's canvas is checked, no need to group them
        return sum(n * int(np.rint(cells.kept(*angles.sizes(w, h), min_pct)).sum())
                   for (w, h), n in sizes)
    keys, weights = [], []
    for (w, h), n in sizes:
        canvases, counts = angles.canvases(w, h)
        keys.append(canvases)
        weights.append(counts * n)
    canvases, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    weight = np.bincount(inverse, weights=np.concatenate(weights).astype(np.float64))
    kept = np.rint(cells.kept(canvases >> 20, canvases & 0xFFFFF, min_pct)).astype(np.int64)
    return int((kept * np.rint(weight).astype(np.int64)).sum())


class _Angles:
    """Rotated canvas sizes (Pillow's ``rotate(expand=True)``, as
    :func:`siscore.generate.geometry.rotation_matrix`) of any object size for all angles."""

    def __init__(self, values: Sequence[Any]) -> None:
        special, coeffs = [], []
        for angle in values:
            a = angle % 360.0
            if a in (0, 90, 180, 270):
                special.append(a in (90, 270))
                continue
            rad = -math.radians(a)
            coeffs.append((round(math.cos(rad), 15), round(math.sin(rad), 15),
                           round(-math.sin(rad), 15), round(math.cos(rad), 15)))
        self.upright = sum(1 for s in special if not s)  # 0 and 180 degrees: w x h
        self.quarter = sum(1 for s in special if s)  # 90 and 270 degrees: h x w
        self.coeffs = np.array(coeffs, dtype=np.float64).reshape(-1, 4).T
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def canvases(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct canvases (``width << 20 | height``) and how many angles give each."""
        if (w, h) not in self._cache:
            nw, nh = self.sizes(w, h)
            self._cache[(w, h)] = np.unique(nw << 20 | nh, return_counts=True)
        return self._cache[(w, h)]

    def sizes(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The canvas width and height of a ``w x h`` object at every angle (in no order)."""
        a, b, d, e = self.coeffs
        cx, cy = w / 2, h / 2
        c = a * -cx + b * -cy + 0.0 + cx
        f = d * -cx + e * -cy + 0.0 + cy
        # the corners (0, 0), (w, 0), (w, h), (0, h): a * 0 is a zero, which adds nothing
        aw, bh, dw, eh = a * w, b * h, d * w, e * h
        xs = [c, aw + c, aw + bh + c, bh + c]
        ys = [f, dw + f, dw + eh + f, eh + f]
        nw = np.ceil(np.maximum.reduce(xs)) - np.floor(np.minimum.reduce(xs))
        nh = np.ceil(np.maximum.reduce(ys)) - np.floor(np.minimum.reduce(ys))
        # 90 and 270 degrees turn the object (h x w); 0 and 180 leave it as it is (w x h)
        special_w = np.array([h] * self.quarter + [w] * self.upright, dtype=np.int64)
        special_h = np.array([w] * self.quarter + [h] * self.upright, dtype=np.int64)
        return (np.concatenate([nw.astype(np.int64), special_w]),
                np.concatenate([nh.astype(np.int64), special_h]))


def _visible(centre: np.ndarray, size: np.ndarray, image: int) -> np.ndarray:
    """Pixels of a canvas of ``size`` centred at pixel ``centre`` inside ``image`` pixels
    (:func:`siscore.generate.geometry.top_left` and ``visible_box``, one axis)."""
    x0 = np.trunc(centre - size * 0.5)
    left = np.maximum(0.0, -x0)
    right = np.minimum(size, image - x0)
    return np.maximum(left, right) - left


class _Cells:
    """The locations as pixel centres ``(int(x * width), int(y * height))`` with counts: a
    product of columns and rows (``location = {x = ..., y = ...}``) or a list of cells."""

    FEW = 8  # at most this many cells: checked per angle, canvases not grouped

    def __init__(self, values: Sequence[Any], res: tuple[int, int]) -> None:
        self.res = res
        if isinstance(values, PairGrid):
            self.columns = np.array(runs(_ascending(values.xs), lambda x: int(x * res[0])), float).T
            self.rows = np.array(runs(_ascending(values.ys), lambda y: int(y * res[1])), float).T
            self.cells = None
        else:
            found = Counter((int(x * res[0]), int(y * res[1])) for x, y in values)
            self.cells = np.array([(cx, cy, n) for (cx, cy), n in found.items()], float).T
        self.few = self.cells is not None and len(self.cells[0]) <= self.FEW

    def kept(self, cw: np.ndarray, ch: np.ndarray, min_pct: float) -> np.ndarray:
        """For each canvas ``cw[i] x ch[i]``, how many locations keep at least ``min_pct`` of it
        inside the image (``pct_inside`` as :func:`siscore.generate.geometry.pct_inside`)."""
        cw, ch = cw.astype(np.float64), ch.astype(np.float64)
        width = max(len(self.cells[0]) if self.cells is not None
                    else max(len(self.columns[0]), len(self.rows[0])), 1)
        step = max(1, _CHUNK // width)
        parts = [self._kept(cw[i:i + step], ch[i:i + step], min_pct) for i in range(0, len(cw), step)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _kept(self, cw: np.ndarray, ch: np.ndarray, t: float) -> np.ndarray:
        bw, bh = self.res
        area = (cw * ch)[:, None]
        if self.cells is not None:
            cx, cy, n = self.cells
            inside = (_visible(cx, cw[:, None], bw) * _visible(cy, ch[:, None], bh)) / area >= t
            return inside @ n
        (cx, nx), (cy, ny) = self.columns, self.rows
        vw = _visible(cx, cw[:, None], bw)  # (canvases, columns)
        vh = _visible(cy, ch[:, None], bh)  # (canvases, rows)
        # the fewest rows v with (vw * v) / area >= t: from the exact quotient's neighbourhood
        v = np.maximum(np.ceil(t * area / np.maximum(vw, 1.0)) - 3.0, 0.0)
        for _ in range(8):
            v = np.where(((vw * v) / area >= t) | (vw == 0), v, v + 1.0)
        assert (((vw * v) / area >= t) | (vw == 0)).all()
        order = np.argsort(vh, axis=1, kind="stable")
        sorted_vh = np.take_along_axis(vh, order, axis=1)
        tail = np.cumsum(ny[order][:, ::-1], axis=1)[:, ::-1]  # rows with at least sorted_vh[j]
        tail = np.concatenate([tail, np.zeros((len(cw), 1))], axis=1)
        offset = (np.arange(len(cw)) * (sorted_vh.max(initial=0) + v.max(initial=0) + 2))[:, None]
        first = np.searchsorted((sorted_vh + offset).ravel(), (v + offset).ravel(), side="left")
        first = first.reshape(v.shape) - np.arange(len(cw))[:, None] * sorted_vh.shape[1]
        rows = np.take_along_axis(tail, first, axis=1)
        return np.where(vw > 0, rows, 0.0) @ nx
