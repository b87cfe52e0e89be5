"""Factors of variation and grids (ordered cross products of factor values).

A :class:`Factor` has a name, its values, the metadata columns it fills and the
stage where it acts. Size (``area``), ``location`` and ``rotation`` are the
built-in geometric factors; ``resolution`` is the background size; every other
name refers to a registered intervention (see :mod:`siscore.generate.interventions`).

The cross product is enumerated in the original generator's order: the grid's
factors in order (location, area, rotation, then interventions), then the
(foreground, background) pairs, then the resolution. ``image_id`` is the index
in that product.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from siscore.errors import ConfigError, ParamError  # noqa: F401 - ConfigError re-exported
from siscore.generate.interventions.registry import get_intervention
from siscore.generate.ranges import (  # noqa: F401 - inclusive_range, range_length re-exported
    LAZY_ABOVE,
    PairGrid,
    ValueRange,
    as_number,
    ends,
    inclusive_range,
    outside_image,
    range_length,
    unit_axis,
)

MAX_IMAGES = 10_000_000
"""Default limit on the images of one build (``max_images`` / ``--max-images`` raise it)."""


GEOMETRIC = ("location", "area", "rotation")

PLUGIN_HINT = ("a custom intervention must be registered first: --plugin MODULE (or FILE.py) on "
               "the command line, siscore.generate.interventions.load_plugin('MODULE') in Python")
"""Said with an unknown factor name: how to register the module that defines it."""


@dataclass(frozen=True)
class Factor:
    """One factor of variation: a name, its values, its metadata columns and its stage."""

    name: str
    values: Sequence[Any]  # a tuple, or a ValueRange / PairGrid for a long range
    columns: tuple[str, ...]
    stage: str

    def row(self, value: Any) -> tuple[Any, ...]:
        """The metadata cells of ``value`` (geometric factors: one cell per column)."""
        if self.stage == "geometry" or self.name == "resolution":
            return tuple(value) if len(self.columns) > 1 else (value,)
        return (value,)

    def __len__(self) -> int:
        return len(self.values)


def clean(value: Any) -> str:
    """A factor value as a clean decimal: ``0.15``, never ``0.15000000000000002``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v):
            r = round(v, 10)
            return repr(r if r != 0 else 0.0)
        return repr(v)
    return str(value)


def location_factor(values: Iterable[Sequence[float]]) -> Factor:
    if isinstance(values, PairGrid):  # a long x-by-y product: its two axes are checked
        pairs: Sequence[Any] = PairGrid(unit_axis("location.x", values.xs), unit_axis("location.y", values.ys))
        return _checked(Factor("location", pairs, ("x_coord", "y_coord"), "geometry"))
    vals = []
    for v in values:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ConfigError(f"factor 'location': value {v!r} must be an (x, y) pair")
        x, y = (as_number("location", c) for c in v)
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise outside_image(v)
        vals.append((x, y))
    return _checked(Factor("location", tuple(vals), ("x_coord", "y_coord"), "geometry"))


def area_factor(values: Iterable[float]) -> Factor:
    vals = []
    for v in ends(values):
        a = as_number("area", v)
        if not 0.0 < a <= 4.0:
            raise ConfigError(
                f"factor 'area': value {v!r} is outside (0, 4] (fraction of the image area "
                "covered by the object's bounding image)"
            )
        vals.append(a)
    kept = values if isinstance(values, ValueRange) else tuple(vals)
    return _checked(Factor("area", kept, ("area",), "geometry"))


def rotation_factor(values: Iterable[float]) -> Factor:
    vals = []
    for v in ends(values):
        r = as_number("rotation", v)
        if not -360.0 <= r <= 360.0:
            raise ConfigError(f"factor 'rotation': value {v!r} is outside [-360, 360] degrees")
        vals.append(r)
    kept = values if isinstance(values, ValueRange) else tuple(vals)
    return _checked(Factor("rotation", kept, ("rotation",), "geometry"))


def resolution_factor(values: Iterable[Sequence[int] | int]) -> Factor:
    vals = []
    for v in values:
        pair = (v, v) if isinstance(v, int) else tuple(v)
        if len(pair) != 2 or not all(isinstance(c, (int, np.integer)) and 16 <= c <= 8192 for c in pair):
            raise ConfigError(
                f"factor 'resolution': value {v!r} must be an integer or a (width, height) pair "
                "of integers in 16..8192"
            )
        vals.append((int(pair[0]), int(pair[1])))
    return _checked(
        Factor("resolution", tuple(vals), ("bg_resolution_width", "bg_resolution_height"), "background")
    )


def intervention_factor(name: str, values: Iterable[Any]) -> Factor:
    try:
        spec = get_intervention(name)
    except KeyError as exc:
        raise ConfigError(f"{exc.args[0]}; {PLUGIN_HINT}") from None
    vals = tuple(tuple(v) if isinstance(v, list) else v for v in values)
    for v in vals:
        try:
            spec.validate(v)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return _checked(Factor(name, vals, (name, *spec.records), spec.stage))


def _checked(factor: Factor) -> Factor:
    if not factor.values:
        raise ConfigError(f"factor {factor.name!r} has no values")
    lazy = isinstance(factor.values, (ValueRange, PairGrid))  # distinct by construction
    if not lazy and len(set(map(repr, factor.values))) != len(factor.values):
        raise ConfigError(f"factor {factor.name!r} lists a value twice: {list(factor.values)}")
    return factor


class Grid:
    """An ordered cross product of factor values.

    >>> Grid(location=[(0.5, 0.5)], area=[0.2, 0.5], rotation=[0, 90]).size
    4

    Unspecified geometric factors default to one value: centred, area 0.2,
    upright; the resolution defaults to 500x500. Extra keyword arguments name
    registered interventions, in the order given.
    """

    def __init__(
        self,
        location: Iterable[Sequence[float]] | None = None,
        area: Iterable[float] | None = None,
        rotation: Iterable[float] | None = None,
        resolution: Iterable[Sequence[int] | int] | None = None,
        **interventions: Iterable[Any],
    ) -> None:
        given = {"location": location, "area": area, "rotation": rotation,
                 "resolution": resolution, **interventions}
        for name, raw in given.items():  # a string would be read one character per value
            if isinstance(raw, (str, bytes)):
                raise ConfigError(f"factor {name!r}: expected a list of values or a range table, "
                                  f"got {raw!r}")
        factors = [
            location_factor([(0.5, 0.5)] if location is None else location),
            area_factor([0.2] if area is None else area),
            rotation_factor([0] if rotation is None else rotation),
        ]
        factors += [intervention_factor(name, vals) for name, vals in interventions.items()]
        pastes = [f.name for f in factors if f.stage == "paste"]
        if len(pastes) > 1:
            raise ConfigError(f"factors {pastes} all act at the paste stage; a grid can hold one")
        self.factors: tuple[Factor, ...] = tuple(factors)
        self.resolution: Factor = resolution_factor([(500, 500)] if resolution is None else resolution)

    @property
    def size(self) -> int:
        """Images per (foreground, background) pair."""
        return math.prod(len(f) for f in self.factors) * len(self.resolution)

    @property
    def interventions(self) -> tuple[Factor, ...]:
        return tuple(f for f in self.factors if f.name not in GEOMETRIC)

    def columns(self) -> list[str]:
        """Metadata columns of the intervention factors (the geometric ones are fixed)."""
        return [c for f in self.interventions for c in f.columns]

    def with_resolution(self, resolution: Iterable[Sequence[int] | int]) -> Grid:
        """The same grid rendered at other background resolution(s)."""
        new = object.__new__(Grid)
        new.factors, new.resolution = self.factors, resolution_factor(resolution)
        return new

    def to_dict(self) -> dict[str, list[Any]]:
        """JSON-able description (clean decimals), inverse of :meth:`from_dict`."""
        def tidy(v: Any) -> Any:
            if isinstance(v, tuple):
                return [tidy(c) for c in v]
            if isinstance(v, float):
                return float(clean(v))
            return v

        out = {f.name: [tidy(v) for v in f.values] for f in self.factors}
        out["resolution"] = [list(v) for v in self.resolution.values]
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], max_cells: int = MAX_IMAGES) -> Grid:
        """Build a grid from a mapping (e.g. the ``[grid]`` table of a TOML file).

        A value is a list, or a range table ``{start, stop, step}`` (inclusive);
        ``location`` may also be ``{x = ..., y = ...}`` (their cross product, x outer).
        The grid is counted before any value list is made: more than ``max_cells``
        cells raise :class:`ConfigError` (a build renders at least one image per cell).
        """
        if not isinstance(spec, Mapping):
            raise ConfigError(f"[grid] must be a table of factor = values, got {spec!r}")
        if not spec:
            raise ConfigError("[grid] is empty; name at least one factor (e.g. area = [0.1, 0.2])")
        cells = grid_cells(spec)
        if cells > max_cells:
            raise ConfigError(
                f"the grid has {cells:,} cells (images per foreground/background pair), more "
                "than this limit; raise it to build such a grid", param="max_cells", value=max_cells,
                option="--max-images")
        kwargs: dict[str, Any] = {}
        for name, raw in spec.items():
            if name == "location" and isinstance(raw, Mapping) and {"x", "y"} <= set(raw):
                xs, ys = _values(name + ".x", raw["x"]), _values(name + ".y", raw["y"])
                long = len(xs) * len(ys) > LAZY_ABOVE
                kwargs[name] = PairGrid(xs, ys) if long else [(x, y) for x in xs for y in ys]
            else:
                kwargs[name] = _values(name, raw)
        return cls(**kwargs)

    def __repr__(self) -> str:
        parts = [f"{f.name}={len(f)} values" for f in (*self.factors, self.resolution)]
        return f"Grid({', '.join(parts)})"


def grid_cells(spec: Mapping[str, Any]) -> int:
    """Cells of the grid a ``[grid]`` mapping describes, counted without listing any value."""
    cells = 1
    for name, raw in spec.items():
        if name == "location" and isinstance(raw, Mapping) and {"x", "y"} <= set(raw):
            cells *= _count(name + ".x", raw["x"]) * _count(name + ".y", raw["y"])
        else:
            cells *= _count(name, raw)
    return cells


def _range_keys(name: str, raw: Mapping[str, Any]) -> None:
    """Refuse a range table without start, stop and step (or a location with x or y alone)."""
    if name == "location" and set(raw) & {"x", "y"}:
        raise ConfigError(f"factor 'location': give both x and y (found only {sorted(raw)}), e.g. "
                          "location = { x = [0.25, 0.75], y = [0.5] }")
    missing = {"start", "stop", "step"} - set(raw)
    if missing:
        raise ConfigError(f"factor {name!r}: a range needs start, stop and step (missing {sorted(missing)})")


def _count(name: str, raw: Any) -> int:
    if isinstance(raw, Mapping):
        _range_keys(name, raw)
        return range_length(raw["start"], raw["stop"], raw["step"], name)
    if isinstance(raw, (list, tuple)):
        return len(raw)
    raise ConfigError(f"factor {name!r}: expected a list of values or a range table, got {raw!r}")


def _values(name: str, raw: Any) -> list[Any]:
    if isinstance(raw, Mapping):
        _range_keys(name, raw)
        values = ValueRange(raw["start"], raw["stop"], raw["step"], name)
        return values if len(values) > LAZY_ABOVE else list(values)
    if isinstance(raw, (list, tuple)):
        return list(raw)
    raise ConfigError(f"factor {name!r}: expected a list of values or a range table, got {raw!r}")


@dataclass(frozen=True)
class Subset:
    """A named grid of the paper, with its filter and official folder name."""

    name: str
    grid: Grid
    min_pct_inside: float
    official_dir: str


def _paper_subsets() -> dict[str, Subset]:
    # The values are those of the original generator_script.py (np.arange floats), so that
    # object sizes truncate exactly as in the original; metadata prints them cleanly.
    steps = [float(v) for v in np.arange(0, 1 + 0.05, 0.05)]
    return {
        "size": Subset(
            "size",
            Grid(area=[float(v) for v in np.arange(0.01, 1.01, 0.01)], resolution=[(512, 512)]),
            0.95,
            "area",
        ),
        "location": Subset(
            "location",
            Grid(location=[(x, y) for x in steps for y in steps], area=[0.2], resolution=[(500, 500)]),
            0.0,
            "location20_area02_min0pc",
        ),
        "rotation": Subset(
            "rotation",
            Grid(
                area=[0.2, 0.5, 0.8, 1.0],
                rotation=[int(v) for v in np.arange(1, 361, 20)],
                resolution=[(512, 512)],
            ),
            0.95,
            "rotation",
        ),
    }


SUBSETS: dict[str, Subset] = _paper_subsets()


BUILD_OPTIONS: dict[str, tuple[tuple[type, ...], str]] = {
    "seed": ((int,), "an integer"),
    "bgs_per_fg": ((int,), "an integer"),
    "min_pct_inside": ((int, float), "a number"),
}
"""The ``[build]`` keys of a configuration file, their types and how to say them."""


def load_config(path: str | Path, max_images: int = MAX_IMAGES) -> tuple[Grid, dict[str, Any]]:
    """Read a TOML build configuration: a ``[grid]`` table and optional ``[build]`` options.

    Every error is a :class:`ConfigError` naming the file and the key; a grid of more
    than ``max_images`` cells is refused before its values are listed.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    path = Path(path)

    def error(detail: str) -> ConfigError:
        return ConfigError(detail, param="path", value=path, option="--config")

    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise error(f"cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise error("not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML ({exc})") from None
    if "grid" not in data:
        raise error("no [grid] table (see examples/grid.toml)")
    unknown = set(data) - {"grid", "build"}
    if unknown:
        raise error(f"unknown table(s) {sorted(unknown)}; use [grid] and [build]")
    options = data.get("build", {})
    if not isinstance(options, dict):
        raise error(f"[build] must be a table of options, got {options!r}")
    for key, value in options.items():
        if key not in BUILD_OPTIONS:
            raise error(f"unknown [build] option {key!r}; known: {', '.join(BUILD_OPTIONS)}")
        types, said = BUILD_OPTIONS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise error(f"[build] {key} = {value!r} must be {said}")
    try:
        grid = Grid.from_dict(data["grid"], max_cells=max_images)
    except ConfigError as exc:
        if exc.param == "max_cells":
            raise ConfigError(f"{path}: {exc.detail}", param="max_images", value=max_images) from None
        raise error(exc.detail) from None
    return grid, dict(options)
