"""Option groups that several commands share: one spelling, one help text, one default.

Each group is a decorator (``@render_options``); importing this module imports no numpy,
cv2, torch or matplotlib, so ``siscore CMD --help`` stays fast. Options whose value the
library resolves (``--seed``, ``--bgs-per-fg``, ``--min-pct-inside``, ``--max-images``) default
to None ("not given"), so that a value typed on the command line beats a config file's
(:func:`siscore.generate.spec.resolve_render`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

SUBSET_NAMES = ("size", "location", "rotation")
"""The paper's subsets (``siscore.generate.factors.SUBSETS``, not imported here: it loads numpy)."""

FILE = click.Path(dir_okay=False, path_type=Path)
DIR = click.Path(file_okay=False, path_type=Path)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def group(*options: Decorator) -> Decorator:
    """Several option decorators as one, listed in ``--help`` in the order given."""
    def apply(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            f = option(f)
        return f
    return apply


def _check_out(folder: bool) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            from siscore.utils.files import check_output_path

            check_output_path(value, folder=folder, option=param.opts[-1], param=param.name or "out")
        return value
    return check


def out_option(*, folder: bool, help_text: str, required: bool = False,
               name: str = "--out") -> Decorator:
    """``--out`` (or ``name``): a folder or a file to write, checked before any work
    (:func:`siscore.utils.files.check_output_path`: no device node, no file as a parent, a
    writable parent); nothing is created by the check."""
    return click.option(name, type=DIR if folder else FILE, required=required, help=help_text,
                        callback=_check_out(folder))


source_options = group(
    click.option("--subset", type=click.Choice(SUBSET_NAMES),
                 help="A subset of the paper (Table 1) to render."),
    click.option("--config", type=FILE,
                 help="TOML file with a [grid] table (any cross product of factor values) and "
                      "optional [build] options (seed, bgs_per_fg, min_pct_inside; an option "
                      "given on the command line wins). See examples/grid.toml."),
)

asset_options = group(
    click.option("--foregrounds", type=DIR,
                 help="Foreground library DIR/<label>/<file>.png (RGBA). Default: embedded assets."),
    click.option("--backgrounds", type=DIR,
                 help="Flat folder of background photos (jpg/png/webp). Default: embedded assets."),
)

plugin_option = click.option(
    "--plugin", "plugins", multiple=True,
    help="Import this Python module or .py file first (registers custom interventions).")

render_options = group(
    click.option("--seed", type=int, default=None, show_default=False,
                 help="Seed of every random choice.  [default: 0]"),
    click.option("--bgs-per-fg", type=int, default=None, show_default=False,
                 help="Backgrounds sampled per foreground.  [default: 2]"),
    click.option("--resolution", type=str, default=None,
                 help="Background resolution N or WxH (e.g. 500 or 640x480). Default: the "
                      "subset's or the grid's."),
    click.option("--min-pct-inside", type=float, default=None,
                 help="Drop images whose object box is less than this fraction inside. "
                      "Default: 0.95 for size and rotation, 0 for location and --config."),
    click.option("--quality", type=int, default=75, help="JPEG quality (75 is the original's)."),
    click.option("--bg-crop", type=click.Choice(["topleft", "center", "saliency"]),
                 default="topleft",
                 help="Square crop of each background: the original's top-left, centred, or the "
                      "square avoiding the most salient region."),
    plugin_option,
    click.option("--max-images", type=click.IntRange(min=1), default=None, show_default=False,
                 help="Refuse a grid of more cells, or a plan of more images, than this; raise "
                      "it for a bigger dataset.  [default: 10000000]"),
)


def parallel_options(what: str = "Worker processes.") -> Decorator:
    """``-j/--jobs`` (local worker processes) and ``--scheduler`` (elsewhere)."""
    return group(
        click.option("--jobs", "-j", type=int, default=1, show_default=True, help=what),
        click.option("--scheduler", type=str, default=None,
                     help="Run the work on a Dask cluster (tcp://host:8786), a local one (local:N "
                          "worker processes) or a joblib backend (joblib:NAME) instead of --jobs "
                          "local processes. See docs: scale."),
    )


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")


def given(**options: Any) -> list[str]:
    """The command-line spellings of the options that were given (not None, not False)."""
    return [f"--{name.replace('_', '-')}" for name, value in options.items()
            if value not in (None, False, ())]
