"""``siscore report``: paper-ready figures, summary tables and an index page from scores."""

from __future__ import annotations

from pathlib import Path

import click

from siscore.cli.common import fail, run_guarded


@click.command(context_settings={"show_default": True})
@click.option("--scores", "scores", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Scores CSV written by `siscore score` (repeat for several files). What it "
                   "plots is inferred from its columns: x_coord+y_coord -> location, rotation -> "
                   "rotation, area alone -> size, label/background_name/other -> breakdown.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the figures, tables and index.html (created if needed; other "
                   "files in it are left alone).")
@click.option("--baseline", default=None, metavar="MODEL",
              help="Model to compare against: location and rotation figures show the others' "
                   "normalised accuracy minus the baseline's; size adds a difference panel. "
                   "Default: the baseline the scores were computed against, if any.")
@click.option("--format", "formats", default="pdf,svg,png", metavar="LIST",
              help="Comma-separated output formats among pdf, svg, png. PDF embeds TrueType "
                   "fonts; SVG has text as outlines.")
@click.option("--dpi", type=int, default=300,
              help="Resolution of PNG files (and of the heatmap cells inside PDF and SVG).")
@click.option("--width", type=click.Choice(["single", "double"]), default="double",
              help="Figure width: one column (3.3 in) or the full text width (6.9 in) of a "
                   "two-column paper. Fonts are sized to be read at that width.")
@click.option("--no-titles", is_flag=True,
              help="Leave out figure titles (captions live in LaTeX); panel labels naming "
                   "the models stay.")
@click.option("--min-count", type=int, default=None, show_default=False,
              help="Mark cells scored on fewer images than this: hatched in heatmaps, hollow "
                   "markers in line plots. 0 marks nothing. Default: half the median number "
                   "of images per cell of each scores file.")
@click.option("--size-value", type=click.Choice(["accuracy", "normalized"]), default="accuracy",
              help="What the size figure plots: accuracy, or accuracy divided by the model's "
                   "best area (the paper's size figure).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def report(scores: tuple[Path, ...], out: Path, baseline: str | None, formats: str, dpi: int,
           width: str, no_titles: bool, min_count: int | None, size_value: str,
           quiet: bool) -> None:
    """Write the SI-SCORE paper's figures and summary tables for scored models.

    \b
    For each scores file, into --out:
      <stem>-location.*        normalised accuracy per object-centre cell, per model
      <stem>-location-diff.*   baseline map, then each model minus the baseline
      <stem>-rotation.*        normalised accuracy by angle, one line per object size
      <stem>-size.*            accuracy by object area, 95% bands, objects per point
      <stem>-by-<column>.*     accuracy per model and class/background
      <stem>-summary.csv/.tex  summary per model (LaTeX uses booktabs)
    and index.html showing all of them. The same scores give byte-identical files.

    \b
    Examples:
      siscore report --scores scores.csv --out figs/
      siscore report --scores loc.csv --scores rot.csv --baseline resnet50 \\
          --format pdf --width single --no-titles --out paper/figs
    """
    from siscore.utils.extras import require

    require("matplotlib", "siscore report")  # else one line naming the extra (cli/__init__.py)
    from siscore.report import ReportError, write_report
    from siscore.report.style import parse_formats

    def go() -> None:
        try:
            fmts = parse_formats(formats)
        except ValueError as exc:
            fail(f"--format {formats!r}: {exc}")
        if min_count is not None and min_count < 0:
            fail(f"--min-count {min_count}: use 0 (mark nothing) or a positive count")
        if not 50 <= dpi <= 2400:
            fail(f"--dpi {dpi}: use a resolution between 50 and 2400 dots per inch")
        count = 0

        def progress(path: Path) -> None:
            nonlocal count
            count += 1
            if not quiet:
                click.echo(f"wrote {path}")

        try:
            result = write_report(list(scores), out, baseline=baseline, formats=fmts, dpi=dpi,
                                  width=width, titles=not no_titles, min_count=min_count,
                                  size_value=size_value, progress=progress)
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        if not quiet:
            click.echo(f"{count} files in {result.out}; open {result.out / 'index.html'}")

    run_guarded(go)
