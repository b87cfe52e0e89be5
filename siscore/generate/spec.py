"""What a rendering command renders: a subset or a config file, and the options over them.

One resolver, :func:`resolve_render`, used by ``siscore build``, ``siscore evaluate`` (on the
fly) and from Python. The rules (docs/generator.md, "Subset, config and options"):

1. Exactly one of ``subset`` (a subset of the paper) or ``config`` (a TOML file with a
   ``[grid]`` table and optional ``[build]`` options).
2. ``seed``, ``bgs_per_fg`` and ``min_pct_inside``: the value given (on the command line: the
   option typed) wins over the config's ``[build]`` table, which wins over the default (seed 0,
   2 backgrounds per foreground, ``min_pct_inside`` of the subset, or 0 for a config).
3. An unknown ``[build]`` key or table, or a value of the wrong type, is refused naming the
   file and the key.
4. ``resolution`` (``N``, ``WxH``, an int or a ``(w, h)`` pair) replaces the grid's resolution.
5. ``max_images`` (default 10,000,000): a config grid of more cells is refused before any value is listed, and a
   plan of more images (cells x foreground/background pairs) before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siscore.errors import ParamError, UsageError
from siscore.generate.factors import MAX_IMAGES, SUBSETS, Grid, load_config

DEFAULTS: dict[str, Any] = {"seed": 0, "bgs_per_fg": 2}
"""The built-in values of the ``[build]`` options (``min_pct_inside``: the subset's, else 0)."""


@dataclass(frozen=True)
class RenderSpec:
    """A resolved rendering: the grid and the options that decide which images it gives."""

    name: str  # the subset name or the config file, as the user gave it
    grid: Grid | str  # a subset name while its grid is unchanged (builds record the subset)
    subset: str | None
    seed: int
    bgs_per_fg: int
    min_pct_inside: float
    max_images: int = MAX_IMAGES

    def options(self) -> dict[str, Any]:
        """``seed``, ``bgs_per_fg``, ``min_pct_inside`` and ``max_images`` as keywords of
        :func:`siscore.generate.build.build`."""
        return {"seed": self.seed, "bgs_per_fg": self.bgs_per_fg,
                "min_pct_inside": self.min_pct_inside, "max_images": self.max_images}

    def plan(self, *, foregrounds: str | Path | None = None, backgrounds: str | Path | None = None,
             label_map: str | Path | None = None) -> Any:
        """The :class:`~siscore.generate.plan.Plan` over these asset folders (embedded by
        default), refused above ``max_images`` images."""
        from siscore.generate.build import make_plan
        from siscore.generate.plan import check_plan_size

        grid = SUBSETS[self.grid].grid if isinstance(self.grid, str) else self.grid
        plan, _skipped = make_plan(grid, foregrounds=foregrounds, backgrounds=backgrounds,
                                   seed=self.seed, bgs_per_fg=self.bgs_per_fg,
                                   min_pct_inside=self.min_pct_inside, label_map=label_map)
        check_plan_size(plan, self.max_images)
        return plan


def parse_resolution(value: str | int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``N`` (square) or ``WxH`` (``500``, ``640x480``), an int, or a ``(w, h)`` pair."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    text = str(value).strip().lower()
    try:
        w, h = (int(p) for p in text.split("x")) if "x" in text else (int(text), int(text))
    except ValueError:
        raise ParamError("write N or WxH, e.g. 500 or 640x480", param="resolution",
                         value=value) from None
    return w, h


def resolve_render(
    subset: str | None = None,
    config: str | Path | None = None,
    *,
    seed: int | None = None,
    bgs_per_fg: int | None = None,
    min_pct_inside: float | None = None,
    resolution: str | int | tuple[int, int] | None = None,
    max_images: int | None = None,
) -> RenderSpec:
    """Resolve a subset or a config file and the options given over it (None: not given) into
    a :class:`RenderSpec`, by the rules of this module's docstring. Errors are
    :class:`~siscore.errors.ConfigError` / :class:`~siscore.errors.ParamError`, raised before
    any asset is read."""
    if (subset is None) == (config is None):
        raise UsageError("give exactly one of a subset (--subset size|location|rotation) or a "
                         "config file (--config FILE)")
    max_images = MAX_IMAGES if max_images is None else max_images
    given = {"seed": seed, "bgs_per_fg": bgs_per_fg, "min_pct_inside": min_pct_inside}
    if config is not None:
        grid, from_file = load_config(config, max_images=max_images)
        name, base = str(config), {**DEFAULTS, "min_pct_inside": 0.0, **from_file}
        target: Grid | str = grid
    else:
        if subset not in SUBSETS:
            raise ParamError(f"choose one of {', '.join(SUBSETS)}", param="subset", value=subset)
        name, target = subset, subset
        base = {**DEFAULTS, "min_pct_inside": SUBSETS[subset].min_pct_inside}
        grid = SUBSETS[subset].grid
    options = {key: base[key] if value is None else value for key, value in given.items()}
    if resolution is not None:
        target = grid.with_resolution([parse_resolution(resolution)])
    return RenderSpec(name, target, subset, max_images=max_images, **options)
