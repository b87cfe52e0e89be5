"""Which figure a scores file gets: the default rules, and the ``--x``/``--y``/``--facet`` choice.

Only factors that vary (more than one value in the file) take part; a factor with one
value is named in the caption instead. The default rules, in order:

1. ``x_coord`` or ``y_coord`` varies (the file has both columns): a **location** heatmap
   over the object centre (image orientation), one value of y or x being one row or
   column;
2. the paper's rotation subset (the scores record ``subset: rotation``), varying
   ``rotation`` and at most ``area``: the paper's **rotation** figure, one line per area
   (``y`` is ``area``: the lines);
3. ``area`` alone: the paper's **size** figure;
4. two or more numeric factors: a **heatmap** of two of them (the one with more values
   along x);
5. one numeric factor: **lines** against it, one per model, with 95% bands;
6. only categorical factors (text such as a blend mode or a class): **bars** per value
   with 95% intervals, or, past :data:`MAX_BARS` values (9 classes), a **breakdown**
   heatmap of models x values;
7. nothing varies: one bar per model.

Every varying factor not on an axis is a **facet**: one panel per value (per combination
of values), all on one colour or y scale. Facets past :data:`MAX_PANELS` panels are
pooled (sums of ``n`` and ``correct``) and the caption says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod

from siscore.errors import SiscoreError

LOCATION = ("x_coord", "y_coord")
#: A categorical factor with more values than this is drawn as a models x values heatmap.
MAX_BARS = 8
#: Small multiples beyond this many panels are pooled instead.
MAX_PANELS = 30


class LayoutError(SiscoreError, ValueError):
    """An ``--x``/``--y``/``--facet`` choice that does not fit the file (scores.py words it)."""


@dataclass(frozen=True)
class Layout:
    """The figure of one scores file: its ``kind`` (``location``, ``rotation``, ``size``,
    ``heatmap``, ``lines``, ``bars``, ``breakdown`` or ``models``), the factors on its x
    and y axes, the factors drawn as small multiples and the factors pooled over."""

    kind: str
    x: str | None = None
    y: str | None = None
    facets: tuple[str, ...] = ()
    pooled: tuple[str, ...] = field(default=())

    @property
    def keys(self) -> list[str]:
        """The factors that tell one drawn value from another."""
        return [k for k in (self.x, self.y, *self.facets) if k is not None]


def _cap(facets: list[str], levels: Mapping[str, int], per_panel: int
         ) -> tuple[list[str], list[str]]:
    """Drop facets from the end until the panels fit :data:`MAX_PANELS`."""
    pooled: list[str] = []
    while facets and prod(levels[f] for f in facets) * per_panel > MAX_PANELS:
        pooled.insert(0, facets.pop())
    return facets, pooled


def _axes_kind(x: str | None, y: str | None, numeric: set[str], levels: Mapping[str, int]
               ) -> str:
    if x is None:
        return "models"
    if y is not None:
        return "location" if (x, y) == LOCATION else "heatmap"
    if x in numeric:
        return "lines"
    return "bars" if levels[x] <= MAX_BARS else "breakdown"


def default_axes(varied: Sequence[str], numeric: set[str], levels: Mapping[str, int],
                 columns: Sequence[str], subset: str | None) -> tuple[str, str | None, str | None]:
    """The kind and the axes the default rules (module docstring) choose."""
    if all(c in columns for c in LOCATION) and any(c in varied for c in LOCATION):
        return "location", *LOCATION
    if subset == "rotation" and "rotation" in varied and set(varied) <= {"rotation", "area"}:
        return "rotation", "rotation", "area" if "area" in varied else None
    if list(varied) == ["area"]:
        return "size", "area", None
    nums = [f for f in varied if f in numeric]
    if len(nums) >= 2:
        first, second = sorted(nums[:2], key=lambda f: -levels[f])
        return "heatmap", first, second
    if nums:
        return "lines", nums[0], None
    if varied:
        x = varied[0]
        return ("bars" if levels[x] <= MAX_BARS else "breakdown"), x, None
    return "models", None, None


def choose_layout(factors: Sequence[str], varied: Sequence[str], numeric: set[str],
                  levels: Mapping[str, int], *, n_models: int = 1, subset: str | None = None,
                  x: str | None = None, y: str | None = None,
                  facets: Sequence[str] | None = None) -> Layout:
    """The layout of a file with these ``factors`` (``varied`` of them vary, ``numeric``
    are numbers, ``levels`` counts each one's values), by the default rules or as chosen
    with ``x``, ``y`` and ``facets`` (any factor of the file, varying or not). Chosen
    facets are exactly those drawn; the varying factors left over are pooled."""
    for option, name in (("--x", x), ("--y", y), *(("--facet", f) for f in facets or ())):
        if name is not None and name not in factors:
            raise LayoutError(f"{option} {name}: not a factor of this file; its factors: "
                              f"{', '.join(factors) or 'none'}")
    chosen = [c for c in (x, y, *(facets or ())) if c is not None]
    if len(set(chosen)) < len(chosen):
        raise LayoutError(f"--x, --y and --facet name {', '.join(chosen)}: give each factor "
                          "one role")
    if y is not None and x is None:
        raise LayoutError(f"--y {y}: give --x too (a heatmap needs both axes)")
    if x is None and facets is None:
        kind, x, y = default_axes(varied, numeric, levels, factors, subset)
    else:
        free = [f for f in varied if f not in chosen]
        if x is None:  # facets chosen, axes by the default rules (no paper figure)
            kind, x, y = default_axes(free, numeric, levels, factors, None)
            kind = _axes_kind(x, y, numeric, levels) if kind == "size" else kind
        else:
            kind = _axes_kind(x, y, numeric, levels)
    used = {c for c in (x, y) if c is not None}
    if facets is not None:
        rest = list(facets)
        pooled = [f for f in varied if f not in used and f not in rest]
        return Layout(kind, x, y, tuple(rest), tuple(pooled))
    rest = [f for f in varied if f not in used]
    if kind in ("rotation", "size", "breakdown"):
        return Layout(kind, x, y, (), tuple(rest))
    per_panel = n_models if kind in ("location", "heatmap") else 1
    rest, pooled = _cap(rest, levels, per_panel)
    return Layout(kind, x, y, tuple(rest), tuple(pooled))
