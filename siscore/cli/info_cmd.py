"""``siscore info``: counts per factor value and class of any dataset folder."""

from __future__ import annotations

from pathlib import Path

import click

from siscore.cli.common import run_guarded


def describe(root: Path, max_values: int = 25) -> str:
    """A text summary of a dataset folder (official downloads included)."""
    from siscore.dataset import FACTOR_COLUMNS, load_dataset

    ds = load_dataset(root)
    md = ds.metadata
    lines = [f"{ds.root}: {len(md)} images, {len(ds.classes)} classes"
             + (f", subset {ds.subset}" if ds.subset else "")]
    extra = [c for c in ds.factors if c not in FACTOR_COLUMNS]
    for col in [c for c in FACTOR_COLUMNS if c in md] + extra:
        counts = md[col].value_counts().sort_index()
        shown = ", ".join(f"{v:g}: {n}" if isinstance(v, float) else f"{v}: {n}"
                          for v, n in list(counts.items())[:max_values])
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
    lines += [f"note: {note}" for note in ds.notes]
    return "\n".join(lines)


@click.command()
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@click.option("--max-values", type=int, default=25, show_default=True,
              help="Factor values listed per column before eliding.")
def info(dataset: Path, max_values: int) -> None:
    """Print counts per factor value and per class of DATASET.

    Works on siscore builds and on the official SI-SCORE downloads: the subset
    folder, the folder a zip was unpacked into, or the zip itself.
    """
    from siscore.dataset import DatasetError

    def go() -> None:
        try:
            click.echo(describe(dataset, max_values))
        except DatasetError as exc:
            raise click.ClickException(str(exc)) from None

    run_guarded(go)
