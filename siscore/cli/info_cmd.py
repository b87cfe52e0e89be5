"""``siscore info``: counts per factor value and class of any dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siscore.cli.common import fail


def factor_columns(ds: Any) -> list[str]:
    """The factor columns ``info`` lists: every grid factor of a build's spec (also those
    with one value; never a record column such as ``blend_fallback``), else the varying ones."""
    from siscore.formats.dataset import FACTOR_COLUMNS, GEOMETRY_COLUMNS

    grid = (ds.spec or {}).get("grid")
    if not isinstance(grid, dict):
        return [c for c in FACTOR_COLUMNS if c in ds.metadata] + [
            c for c in ds.factors if c not in FACTOR_COLUMNS]
    cols = [c for name in grid if name != "resolution"
            for c in GEOMETRY_COLUMNS.get(name, (name,))]
    return [c for c in cols if c in ds.metadata]


def describe(root: Path, max_values: int = 25) -> str:
    """A text summary of a dataset folder (official downloads included)."""
    from siscore.formats.dataset import load_dataset
    from siscore.formats.values import factor_text

    ds = load_dataset(root)
    md = ds.metadata
    subset = ds.subset
    lines = [f"{ds.root}: {len(md)} images, {len(ds.classes)} classes"
             + (f", subset {subset}" if subset else "")]
    for col in factor_columns(ds):
        counts = md[col].value_counts().sort_index()
        shown = ", ".join(f"{factor_text(v)}: {n}" for v, n in list(counts.items())[:max_values])
        more = f", ... ({len(counts)} values)" if len(counts) > max_values else ""
        lines.append(f"{col} ({len(counts)} values): {shown}{more}")
    if {"bg_resolution_width", "bg_resolution_height"} <= set(md.columns):
        res = md.groupby(["bg_resolution_width", "bg_resolution_height"]).size()
        lines.append("resolution: " + ", ".join(f"{w}x{h}: {n}" for (w, h), n in res.items()))
    if "pct_inside_image" in md:
        lines.append(f"pct_inside_image: min {md['pct_inside_image'].min():g}, "
                     f"mean {md['pct_inside_image'].mean():.3f}")
    lines.append("images per class:")
    for label, n in md["label"].value_counts().sort_index().items():
        lines.append(f"  {label} (ImageNet {' '.join(map(str, ds.imagenet.get(label, ()))) or '-'}): {n}")
    lines += [f"note: {note}" for note in getattr(ds, "notes", ())]
    return "\n".join(lines)


@click.command()
@click.argument("dataset_arg", metavar="[DATASET]", required=False,
                type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", "dataset_opt", type=click.Path(exists=True, path_type=Path),
              help="The dataset folder (or give it as the argument, as before).")
@click.option("--max-values", type=int, default=25, show_default=True,
              help="Factor values listed per column before eliding.")
def info(dataset_arg: Path | None, dataset_opt: Path | None, max_values: int) -> None:
    """Print counts per factor value and per class of DATASET (or --dataset DIR).

    Works on siscore builds and on the official SI-SCORE downloads: the subset
    folder, the folder a zip was unpacked into, or the zip itself.
    """
    if dataset_arg is not None and dataset_opt is not None and dataset_arg != dataset_opt:
        fail(f"two dataset folders given ({dataset_arg} and --dataset {dataset_opt}); give one")
    dataset = dataset_opt or dataset_arg
    if dataset is None:
        fail("give the dataset folder: siscore info --dataset DIR (or siscore info DIR)")
    click.echo(describe(dataset, max_values))
