"""``siscore build``: render a subset or any grid of factor values."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from siscore.cli.common import fail, load_plugins
from siscore.cli.options import (
    FILE,
    SUBSET_NAMES,
    asset_options,
    out_option,
    parallel_options,
    quiet_option,
    render_options,
    source_options,
)


@click.command(context_settings={"show_default": True})
@source_options
@out_option(folder=True, help_text="Dataset folder to create, or to resume (required unless --dry-run).")
@asset_options
@click.option("--label-map", type=FILE,
              help="CSV 'label,imagenet_index' overriding or extending the built-in table.")
@render_options
@click.option("--format", "fmt", type=click.Choice(["jpg", "png", "webdataset"]), default="jpg",
              help="Image file format, or webdataset: JPEG images and their metadata in tar "
                   "shards (shards/*.tar, index shards.csv) instead of one file per image.")
@parallel_options()
@click.option("--shard", type=str, default=None,
              help="Render only part I of N (I/N, e.g. 0/4) of the plan; run all shards into "
                   "the same --out, then once without --shard to finish.")
@click.option("--dry-run", is_flag=True, help="Print how many images would be written; render nothing.")
@quiet_option
def build(subset: str | None, config: Path | None, out: Path | None, plugins: tuple[str, ...],
          dry_run: bool, quiet: bool, **kw: Any) -> None:
    """Render a SI-SCORE subset (or any grid) into a dataset folder.

    With --dry-run and no --subset, prints the counts of all three subsets.

    The folder has the official layout (<label>/<image_id>.jpg, metadata.csv,
    foreground_classes.csv, ...) and loads with torchvision's ImageFolder.
    Re-running the same command resumes an interrupted build.

    \b
    Examples:
      siscore build --subset location --out data/location
      siscore build --subset size --foregrounds fg/ --backgrounds bg/ --jobs 8 --out data/size
      siscore build --config examples/grid.toml --out data/custom
    """
    from siscore.generate import allocator
    from siscore.generate.build import build as run_build
    from siscore.generate.spec import resolve_render

    allocator.tune()  # this process is ours and renders with --jobs 1 (siscore.generate.allocator)
    load_plugins(plugins)
    if subset is not None and config is not None:
        fail("give only one of --subset or --config")
    if subset is None and config is None and not dry_run:
        fail("give --subset size|location|rotation or --config FILE")
    if out is None and not dry_run:
        fail("give --out DIR (the dataset folder to create or resume)")
    over = {k: kw.pop(k) for k in ("seed", "bgs_per_fg", "min_pct_inside", "resolution", "max_images")}
    specs = [resolve_render(subset, config, **over)] if subset or config else [
        resolve_render(name, **over) for name in SUBSET_NAMES]
    assets = {k: kw.pop(k) for k in ("foregrounds", "backgrounds", "label_map")}
    if dry_run:
        for spec in specs:
            _print_counts(spec.name, run_build(spec.grid, out or Path("."), dry_run=True,
                                               progress=False, **assets, **spec.options()))
        return
    (spec,) = specs
    result = run_build(spec.grid, out, crop=kw.pop("bg_crop"), progress=not quiet, **assets,
                       **spec.options(), **kw)
    if not quiet:
        click.echo(result.summary())
    if not result.complete and kw["shard"] is None:
        sys.exit(1)


def _print_counts(name: str, r: Any) -> None:
    """What ``--dry-run`` prints for one grid: the counts, per class, and the skipped assets."""
    click.echo(f"{name}: {r.kept} images would be written ({r.filtered} filtered out "
               f"of {r.planned} planned, {len(r.per_class)} classes)")
    for label, n in r.per_class.items():
        click.echo(f"  {label}: {n}")
    for s in r.skipped_assets:
        click.echo(f"  skipped {s.path}: {s.reason}")
