"""Factors of variation and grids (ordered cross products of factor values).

A :class:`Factor` has a name, its values, the metadata columns it fills and the
stage where it acts. Size (``area``), ``location`` and ``rotation`` are the
built-in geometric factors; ``resolution`` is the background size; every other
name refers to a registered intervention (see :mod:`siscore.interventions`).

The cross product is enumerated in the original generator's order: the grid's
factors in order (location, area, rotation, then interventions), then the
(foreground, background) pairs, then the resolution. ``image_id`` is the index
in that product.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from siscore.interventions.registry import get_intervention


class ConfigError(ValueError):
    """A grid or build configuration that cannot be used (raised before any work)."""


GEOMETRIC = ("location", "area", "rotation")


@dataclass(frozen=True)
class Factor:
    """One factor of variation: a name, its values, its metadata columns and its stage."""

    name: str
    values: tuple[Any, ...]
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


def inclusive_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start+step, ..., stop`` (inclusive) as clean decimals."""
    if step <= 0:
        raise ConfigError(f"range step must be positive, got {step}")
    d0, d1, ds = Decimal(str(start)), Decimal(str(stop)), Decimal(str(step))
    n = int((d1 - d0) / ds) + 1
    return [float(d0 + i * ds) for i in range(n)]


def _as_float(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ConfigError(f"factor {name!r}: value {v!r} is not a number")
    return float(v) if not isinstance(v, (int, np.integer)) else int(v)


def location_factor(values: Iterable[Sequence[float]]) -> Factor:
    vals = []
    for v in values:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ConfigError(f"factor 'location': value {v!r} must be an (x, y) pair")
        x, y = (_as_float("location", c) for c in v)
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ConfigError(
                f"factor 'location': value {v!r} is outside [0, 1] x [0, 1] (object centre "
                "as a fraction of the image width and height)"
            )
        vals.append((x, y))
    return _checked(Factor("location", tuple(vals), ("x_coord", "y_coord"), "geometry"))


def area_factor(values: Iterable[float]) -> Factor:
    vals = []
    for v in values:
        a = _as_float("area", v)
        if not 0.0 < a <= 4.0:
            raise ConfigError(
                f"factor 'area': value {v!r} is outside (0, 4] (fraction of the image area "
                "covered by the object's bounding image)"
            )
        vals.append(a)
    return _checked(Factor("area", tuple(vals), ("area",), "geometry"))


def rotation_factor(values: Iterable[float]) -> Factor:
    vals = []
    for v in values:
        r = _as_float("rotation", v)
        if not -360.0 <= r <= 360.0:
            raise ConfigError(f"factor 'rotation': value {v!r} is outside [-360, 360] degrees")
        vals.append(r)
    return _checked(Factor("rotation", tuple(vals), ("rotation",), "geometry"))


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
        raise ConfigError(exc.args[0]) from None
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
    if len(set(map(repr, factor.values))) != len(factor.values):
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
    def from_dict(cls, spec: Mapping[str, Any]) -> Grid:
        """Build a grid from a mapping (e.g. the ``[grid]`` table of a TOML file).

        A value is a list, or a range table ``{start, stop, step}`` (inclusive);
        ``location`` may also be ``{x = ..., y = ...}`` (their cross product, x outer).
        """
        kwargs: dict[str, Any] = {}
        for name, raw in spec.items():
            if name == "location" and isinstance(raw, Mapping) and {"x", "y"} <= set(raw):
                xs, ys = _values(name + ".x", raw["x"]), _values(name + ".y", raw["y"])
                kwargs[name] = [(x, y) for x in xs for y in ys]
            else:
                kwargs[name] = _values(name, raw)
        return cls(**kwargs)

    def __repr__(self) -> str:
        parts = [f"{f.name}={len(f)} values" for f in (*self.factors, self.resolution)]
        return f"Grid({', '.join(parts)})"


def _values(name: str, raw: Any) -> list[Any]:
    if isinstance(raw, Mapping):
        missing = {"start", "stop", "step"} - set(raw)
        if missing:
            raise ConfigError(f"factor {name!r}: a range needs start, stop and step (missing {sorted(missing)})")
        return inclusive_range(raw["start"], raw["stop"], raw["step"])
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


def load_config(path: str | Path) -> tuple[Grid, dict[str, Any]]:
    """Read a TOML build configuration: a ``[grid]`` table and optional ``[build]`` options."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    if "grid" not in data:
        raise ConfigError(f"--config {path}: no [grid] table (see examples/grid.toml)")
    unknown = set(data) - {"grid", "build"}
    if unknown:
        raise ConfigError(f"--config {path}: unknown table(s) {sorted(unknown)}; use [grid] and [build]")
    try:
        grid = Grid.from_dict(data["grid"])
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
    return grid, dict(data.get("build", {}))
