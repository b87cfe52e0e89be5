"""``siscore report``: paper-ready figures, summary tables, image galleries and an index page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from siscore.cli.common import fail

FILE = click.Path(dir_okay=False, path_type=Path)
FOLDER = click.Path(file_okay=False, path_type=Path)

OPTIONS = [
    click.option("--scores", "scores", multiple=True, required=True, type=FILE,
                 help="Scores CSV written by `siscore score` (repeat for several files)."),
    click.option("--out", required=True, type=FOLDER,
                 help="Folder for the figures, tables, galleries and index.html (created if "
                      "needed; other files in it are left alone)."),
    click.option("--x", "x", default=None, metavar="FACTOR",
                 help="Factor along the x axis (numeric: lines, or a heatmap with --y; "
                      "named values: bars). Default: the rules in docs/report.md."),
    click.option("--y", "y", default=None, metavar="FACTOR",
                 help="With --x: a heatmap of --x by --y."),
    click.option("--facet", "facets", multiple=True, metavar="FACTOR",
                 help="Draw one panel per value of this factor (repeat for several); varying "
                      "factors left out of --x, --y and --facet are then pooled. Default: "
                      "every varying factor not on an axis."),
    click.option("--baseline", default=None, metavar="MODEL",
                 help="Model to compare against: maps of each model minus the baseline, "
                      "difference rows for rotation and size, and galleries of the cells where "
                      "the two differ most. Default: the baseline the scores were computed "
                      "against, if any."),
    click.option("--predictions", "-p", "predictions", multiple=True, type=FILE,
                 help="Predictions CSV of a scored model, for the galleries (repeat). Default: "
                      "the files the scores' summary records, or the CSVs an on-the-fly "
                      "`siscore evaluate` wrote beside its dataset folder."),
    click.option("--dataset", type=click.Path(path_type=Path), default=None,
                 help="Dataset folder of the images, for the galleries. Default: the one the "
                      "scores' summary names, else <predictions>.dataset/ (re-rendered)."),
    click.option("--foregrounds", type=FOLDER, default=None,
                 help="To re-render an on-the-fly dataset: the foreground library it was "
                      "rendered from (default: the embedded assets)."),
    click.option("--backgrounds", type=FOLDER, default=None,
                 help="To re-render an on-the-fly dataset: its background folder."),
    click.option("--no-gallery", is_flag=True, help="Write no image galleries."),
    click.option("--testbed", type=FILE, default=None,
                 help="CSV 'model,imagenet_top1,accuracy' (percent) of reference models: the "
                      "effective-robustness figure fits its trend on them."),
    click.option("--format", "formats", default="pdf,svg,png", metavar="LIST",
                 help="Comma-separated output formats among pdf, svg, png. PDF embeds TrueType "
                      "fonts; SVG has text as outlines."),
    click.option("--dpi", type=int, default=300,
                 help="Resolution of PNG files (and of the heatmap cells inside PDF and SVG)."),
    click.option("--width", type=click.Choice(["single", "double"]), default="double",
                 help="The widest a figure may be: one column (3.3 in) or the text width "
                      "(6.9 in) of a two-column paper; small figures are narrower."),
    click.option("--no-titles", is_flag=True,
                 help="Leave out figure titles (captions live in LaTeX); panel labels stay."),
    click.option("--min-count", type=int, default=None, show_default=False,
                 help="Mark cells scored on fewer images than this: hatched in heatmaps and "
                      "bars, hollow markers in line plots; galleries skip them. 0 marks "
                      "nothing. Default: half the median images per cell of each file."),
    click.option("--size-value", type=click.Choice(["accuracy", "normalized"]),
                 default="accuracy", help="What the size figure plots: accuracy, or the "
                                          "file's normalised accuracy (the paper's)."),
    click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
]


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(OPTIONS):
        command = option(command)
    return command


@click.command(context_settings={"show_default": True})
@_options
def report(scores: tuple[Path, ...], out: Path, x: str | None, y: str | None,
           facets: tuple[str, ...], predictions: tuple[Path, ...], dataset: Path | None,
           foregrounds: Path | None, backgrounds: Path | None, no_gallery: bool,
           testbed: Path | None, formats: str, dpi: int, width: str, no_titles: bool,
           min_count: int | None, size_value: str, baseline: str | None,
           quiet: bool) -> None:
    """Figures for whatever factors the scores vary, summary tables, galleries of the
    images behind the cells, and the effective-robustness figure.

    \b
    For each scores file, into --out:
      <stem>-location.*, <stem>-<x>-<y>.*   heatmaps (-diff: minus the baseline)
      <stem>-by-<factor>.*                  lines (numbers) or bars (named values)
      <stem>-rotation.*, <stem>-size.*      the paper's figures for its subsets
      <stem>-effective.*                    ImageNet top-1 against SI-SCORE accuracy
      <stem>-gallery-<model>.html           images of the worst and best cells
      <stem>-summary.csv/.tex               summary per model (LaTeX uses booktabs)
    and index.html showing all of them. The same scores give byte-identical files.

    \b
    Examples:
      siscore report --scores scores.csv --out figs/
      siscore report --scores grid.csv --x rotation --y area --facet blend --out figs/
      siscore report --scores loc.csv --scores rot.csv --baseline resnet50 \\
          --format pdf --width single --no-titles --out paper/figs
    """
    from siscore.utils.extras import require

    require("matplotlib", "siscore report")  # else one line naming the extra (cli/__init__.py)
    from siscore.report.style import parse_formats
    from siscore.report.writer import Images, write_report

    try:
        fmts = parse_formats(formats)
    except ValueError as exc:
        fail(f"--format {formats!r}: {exc}")
    if min_count is not None and min_count < 0:
        fail(f"--min-count {min_count}: use 0 (mark nothing) or a positive count")
    if not 50 <= dpi <= 2400:
        fail(f"--dpi {dpi}: use a resolution between 50 and 2400 dots per inch")
    images = Images(list(predictions), dataset, foregrounds, backgrounds, not no_gallery)
    written: list[Path] = []

    def progress(path: Path) -> None:  # thumbnails (in a gallery folder) are only counted
        written.append(path)
        if not quiet and path.parent == out:
            click.echo(f"wrote {path}")

    result = write_report(list(scores), out, baseline=baseline, formats=fmts, dpi=dpi,
                          width=width, titles=not no_titles, min_count=min_count,
                          size_value=size_value, x=x, y=y, facets=facets or None,
                          images=images, testbed=testbed, progress=progress)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        thumbs = sum(p.parent != out for p in written)
        click.echo(f"{len(written)} files in {result.out} ({thumbs} gallery thumbnails); "
                   f"open {result.out / 'index.html'}")
