"""Ranges of factor values, counted and indexed without being listed.

A ``[grid]`` range ``{start, stop, step}`` of more than :data:`LAZY_ABOVE` values becomes a
:class:`ValueRange`, and a ``location = {x = ..., y = ...}`` product of more than that many
pairs a :class:`PairGrid`: sequences that compute a value when it is read, so that a grid of
10^8 cells costs no memory and is counted (``siscore build --dry-run``) in seconds. Their
values are exactly those of the listed form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, overload

import numpy as np

from siscore.errors import ConfigError

LAZY_ABOVE = 100_000
"""Factors with more values than this are kept as lazy sequences (fewer: plain lists)."""


def range_length(start: Any, stop: Any, step: Any, name: str = "range") -> int:
    """How many values ``inclusive_range(start, stop, step)`` has, computed without listing them."""
    for key, v in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"factor {name!r}: range {key} {v!r} is not a finite number")
    if step <= 0:
        raise ConfigError(f"factor {name!r}: range step must be positive, got {step}")
    d0, d1, ds = Decimal(str(start)), Decimal(str(stop)), Decimal(str(step))
    return max(0, int((d1 - d0) / ds) + 1)


def inclusive_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start+step, ..., stop`` (inclusive) as clean decimals."""
    return list(ValueRange(start, stop, step))


class ValueRange(Sequence[float]):
    """``start, start+step, ..., stop`` (inclusive, increasing) as clean decimals, each computed
    when read: ``float(Decimal(start) + i * Decimal(step))``."""

    def __init__(self, start: float, stop: float, step: float, name: str = "range") -> None:
        self._n = range_length(start, stop, step, name)
        self._d0, self._ds = Decimal(str(start)), Decimal(str(step))

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> float: ...

    @overload
    def __getitem__(self, i: slice) -> list[float]: ...

    def __getitem__(self, i: int | slice) -> float | list[float]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        j = i + self._n if i < 0 else i
        if not 0 <= j < self._n:
            raise IndexError(i)
        return float(self._d0 + j * self._ds)

    def __iter__(self) -> Iterator[float]:
        return (float(self._d0 + j * self._ds) for j in range(self._n))

    def __repr__(self) -> str:
        return f"ValueRange({self._d0}, step {self._ds}, {self._n} values)"


class PairGrid(Sequence[tuple[Any, Any]]):
    """The cross product of ``xs`` and ``ys`` (x outer) as ``(x, y)`` pairs, each made when read."""

    def __init__(self, xs: Sequence[Any], ys: Sequence[Any]) -> None:
        self.xs, self.ys = xs, ys

    def __len__(self) -> int:
        return len(self.xs) * len(self.ys)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        j = i + len(self) if i < 0 else i
        if not 0 <= j < len(self):
            raise IndexError(i)
        x, y = divmod(j, len(self.ys))
        return self.xs[x], self.ys[y]

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return ((x, y) for x in self.xs for y in self.ys)

    def __repr__(self) -> str:
        return f"PairGrid({len(self.xs)} x {len(self.ys)})"


def as_number(name: str, v: Any) -> float:
    """A factor value that must be a number (an int stays an int)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ConfigError(f"factor {name!r}: value {v!r} is not a number")
    return float(v) if not isinstance(v, (int, np.integer)) else int(v)


def ends(values: Iterable[Any]) -> Iterable[Any]:
    """The values to check: all of them, or a :class:`ValueRange`'s first and last (it
    increases, so every value lies between them)."""
    return (values[0], values[-1]) if isinstance(values, ValueRange) and values else values


def outside_image(v: Any) -> ConfigError:
    return ConfigError(f"factor 'location': value {v!r} is outside [0, 1] x [0, 1] (object centre "
                       "as a fraction of the image width and height)")


def unit_axis(name: str, values: Sequence[Any]) -> Sequence[Any]:
    """One axis of a location product (``location.x``): numbers in [0, 1], distinct."""
    for v in ends(values):
        if not 0.0 <= as_number(name, v) <= 1.0:
            raise outside_image(v)
    if isinstance(values, ValueRange):
        return values
    out = [as_number(name, v) for v in values]
    if len(set(out)) != len(out):
        raise ConfigError(f"factor {name!r} lists a value twice: {out}")
    return out
