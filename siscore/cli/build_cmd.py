"""``siscore build``: render a subset or any grid of factor values."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from siscore.cli.common import fail, load_plugins, parse_resolution, run_guarded
from siscore.generate.factors import MAX_IMAGES


@click.command(context_settings={"show_default": True})
@click.option("--subset", type=click.Choice(["size", "location", "rotation"]),
              help="A subset of the paper (Table 1). Use --config for any other grid.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file with a [grid] table (any cross product of factor values) and "
                   "optional [build] options. See examples/grid.toml.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder to create, or to resume (required unless --dry-run).")
@click.option("--foregrounds", type=click.Path(file_okay=False, path_type=Path),
              help="Foreground library DIR/<label>/<file>.png (RGBA). Default: embedded assets.")
@click.option("--backgrounds", type=click.Path(file_okay=False, path_type=Path),
              help="Flat folder of background photos (jpg/png/webp). Default: embedded assets.")
@click.option("--label-map", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV 'label,imagenet_index' overriding or extending the built-in table.")
@click.option("--seed", type=int, default=0, help="Seed of every random choice.")
@click.option("--bgs-per-fg", type=int, default=2, help="Backgrounds sampled per foreground.")
@click.option("--resolution", type=str, default=None,
              help="Override the background resolution: N or WxH (e.g. 500 or 640x480).")
@click.option("--min-pct-inside", type=float, default=None,
              help="Drop images whose object box is less than this fraction inside. "
                   "Default: 0.95 for size and rotation, 0 for location and --config.")
@click.option("--format", "fmt", type=click.Choice(["jpg", "png", "webdataset"]), default="jpg",
              help="Image file format, or webdataset: JPEG images and their metadata in tar "
                   "shards (shards/*.tar, index shards.csv) instead of one file per image.")
@click.option("--quality", type=int, default=75, help="JPEG quality (75 is the original's).")
@click.option("--bg-crop", type=click.Choice(["topleft", "center", "saliency"]), default="topleft",
              help="Square crop of each background: the original's top-left, centred, or the "
                   "square avoiding the most salient region.")
@click.option("--jobs", "-j", type=int, default=1, help="Worker processes.")
@click.option("--scheduler", type=str, default=None,
              help="Run the work on a Dask cluster (tcp://host:8786), a local one (local:N "
                   "worker processes) or a joblib backend (joblib:NAME) instead of --jobs "
                   "local processes. See docs: scale.")
@click.option("--shard", type=str, default=None,
              help="Render only part I of N (I/N, e.g. 0/4) of the plan; run all shards into "
                   "the same --out, then once without --shard to finish.")
@click.option("--plugin", "plugins", multiple=True,
              help="Import this Python module or .py file first (registers custom interventions).")
@click.option("--max-images", type=click.IntRange(min=1), default=MAX_IMAGES,
              help="Refuse a build (or a --config grid) of more images than this; raise it "
                   "for a bigger dataset.")
@click.option("--dry-run", is_flag=True, help="Print how many images would be written; render nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def build(subset, config, out, foregrounds, backgrounds, label_map, seed, bgs_per_fg, resolution,
          min_pct_inside, fmt, quality, bg_crop, jobs, shard, plugins, max_images, dry_run,
          quiet, scheduler=None) -> None:
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
    from siscore.generate.factors import SUBSETS, load_config

    allocator.tune()  # this process is ours and renders with --jobs 1 (siscore.generate.allocator)

    def go() -> None:
        load_plugins(plugins)
        if subset is not None and config is not None:
            fail("give only one of --subset or --config")
        if subset is None and config is None and not dry_run:
            fail("give --subset size|location|rotation or --config FILE")
        if out is None and not dry_run:
            fail("give --out DIR (the dataset folder to create or resume)")
        opts = {"seed": seed, "bgs_per_fg": bgs_per_fg, "min_pct_inside": min_pct_inside}
        targets: list[tuple[str, object]] = []
        if config is not None:
            grid, options = load_config(config, max_images=max_images)
            for key, value in options.items():  # the command line wins over the file
                if click.get_current_context().get_parameter_source(key).name == "DEFAULT":
                    opts[key] = value
            targets.append((str(config), grid))
        else:
            targets += [(name, name) for name in ([subset] if subset else list(SUBSETS))]
        if resolution is not None:
            res = parse_resolution(resolution)
            resized = []
            for name, grid in targets:
                if isinstance(grid, str):
                    if opts["min_pct_inside"] is None:
                        opts["min_pct_inside"] = SUBSETS[grid].min_pct_inside
                    grid = SUBSETS[grid].grid
                resized.append((name, grid.with_resolution([res])))
            targets = resized
        common = dict(foregrounds=foregrounds, backgrounds=backgrounds, label_map=label_map,
                      max_images=max_images, **opts)
        if dry_run:
            for name, grid in targets:
                r = run_build(grid, out or Path("."), dry_run=True, progress=False, **common)
                click.echo(f"{name}: {r.kept} images would be written ({r.filtered} filtered out "
                           f"of {r.planned} planned, {len(r.per_class)} classes)")
                for label, n in r.per_class.items():
                    click.echo(f"  {label}: {n}")
                for s in r.skipped_assets:
                    click.echo(f"  skipped {s.path}: {s.reason}")
            return
        (_, grid), = targets
        result = run_build(grid, out, fmt=fmt, quality=quality, jobs=jobs, crop=bg_crop,
                           shard=shard, progress=not quiet, scheduler=scheduler, **common)
        if not quiet:
            click.echo(result.summary())
        if not result.complete and shard is None:
            sys.exit(1)

    run_guarded(go)

