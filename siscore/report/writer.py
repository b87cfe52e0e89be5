"""``write_report``: every figure and table for one or more scores files, plus index.html."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from siscore.report.breakdown import NAMES, breakdown_heatmap
from siscore.report.html import FigureEntry, Section, render_index
from siscore.report.location import location_comparison, location_heatmaps
from siscore.report.rotation import rotation_plot
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline
from siscore.report.size import size_plot
from siscore.report.style import (
    METADATA,
    SAVE_RC,
    figure_width,
    parse_formats,
    save_figure,
    write_text,
)
from siscore.report.tables import summary_table, table_to_csv, table_to_latex

ScoresLike = str | Path | Scores | pd.DataFrame


@dataclass
class ReportResult:
    """What :func:`write_report` wrote: every file path, and the sections of the index."""

    out: Path
    files: list[Path] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


@dataclass
class _Job:
    name: str
    caption: str
    make: Callable[[], Figure]


def _jobs(scores: Scores, stem: str, baseline: str | None, opts: dict) -> list[_Job]:
    kind, jobs = scores.kind, []
    if kind == "location":
        jobs.append(_Job(f"{stem}-location", "Normalised accuracy by object location "
                         "(accuracy per cell divided by the model's normaliser).",
                         lambda: location_heatmaps(scores, **opts)))
        if baseline is not None and len(scores.models) > 1:
            jobs.append(_Job(f"{stem}-location-diff",
                             f"Baseline {baseline}'s normalised map, then each other model's "
                             "normalised map minus the baseline's.",
                             lambda: location_comparison(scores, baseline, **opts)))
    elif kind == "rotation":
        jobs.append(_Job(f"{stem}-rotation", "Normalised accuracy by rotation angle, one line "
                         "per object size" + (f"; differences from {baseline}" if baseline
                                              else "") + ".",
                         lambda: rotation_plot(scores, baseline, **opts)))
    elif kind == "size":
        jobs.append(_Job(f"{stem}-size", "Accuracy by object area with 95% Clopper-Pearson "
                         "bands" + (f"; differences from {baseline}" if baseline else "") + ".",
                         lambda: size_plot(scores, baseline, **opts)))
    else:
        for by in scores.by:
            jobs.append(_Job(f"{stem}-by-{by}", f"Accuracy per model and {NAMES.get(by, by)}.",
                             lambda by=by: breakdown_heatmap(scores, by, **opts)))
    return jobs


def _unique_stems(sources: Sequence[str]) -> list[str]:
    """File-name stems per scores source: the CSV's stem (``scores`` for an in-memory
    table), with ``-2``, ``-3``, ... added where two sources share one."""
    stems: list[str] = []
    for source in sources:
        base = "scores" if source.startswith("<") else Path(source).stem
        stem, k = base, 2
        while stem in stems:
            stem, k = f"{base}-{k}", k + 1
        stems.append(stem)
    return stems


def _png_bytes(fig: Figure, dpi: int) -> bytes:
    import matplotlib as mpl

    buf = io.BytesIO()
    with mpl.rc_context(SAVE_RC):
        fig.savefig(buf, format="png", dpi=dpi, metadata=METADATA["png"])
    return buf.getvalue()


def write_report(scores_paths: ScoresLike | Iterable[ScoresLike],
                 out: str | Path, *, baseline: str | None = None,
                 formats: str | Iterable[str] = ("pdf", "svg", "png"), dpi: int = 300,
                 width: str | float = "double", titles: bool = True, min_count: int = 20,
                 index: bool = True, progress: Callable[[Path], None] | None = None
                 ) -> ReportResult:
    """Write the figures, summary tables and ``index.html`` for each scores file into ``out``.

    Every input and option is checked before anything is written; files already in
    ``out`` that the report does not produce are left alone. Each file is written to a
    temporary name and renamed, so an interrupted run leaves no partial file.
    """
    if isinstance(scores_paths, (str, Path, Scores, pd.DataFrame)):
        scores_paths = [scores_paths]
    items = [as_scores(s) for s in scores_paths]
    if not items:
        raise ReportError("no scores file given: pass --scores FILE (written by siscore score).")
    try:
        fmts = parse_formats(formats)
        figure_width(width)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if dpi < 50 or dpi > 2400:
        raise ReportError(f"--dpi {dpi}: use a resolution between 50 and 2400 dots per inch.")
    if min_count < 0:
        raise ReportError(f"--min-count {min_count}: use 0 (mark nothing) or a positive count.")
    baselines = [check_baseline(s, baseline) for s in items]
    out = Path(out)
    stems = _unique_stems([s.source for s in items])
    opts = {"width": width, "titles": titles, "min_count": min_count}
    result = ReportResult(out)

    def done(path: Path) -> None:
        result.files.append(path)
        if progress is not None:
            progress(path)

    for scores, stem, base in zip(items, stems, baselines, strict=True):
        section = Section(scores.source, scores.kind)
        for job in _jobs(scores, stem, base, opts):
            fig = job.make()
            files = save_figure(fig, out / job.name, fmts, dpi)
            for path in files:
                done(path)
            by_fmt = {p.suffix[1:]: p for p in files}
            png = by_fmt["png"].read_bytes() if "png" in by_fmt else _png_bytes(fig, dpi)
            section.figures.append(FigureEntry(job.name, job.caption, by_fmt, png))
        table = summary_table(scores, base)
        section.table = table
        section.table_files = {
            "csv": write_text(out / f"{stem}-summary.csv", table_to_csv(table)),
            "tex": write_text(out / f"{stem}-summary.tex", table_to_latex(table, stem + ".csv")),
        }
        for path in section.table_files.values():
            done(path)
        result.sections.append(section)
    if index:
        done(write_text(out / "index.html", render_index(result.sections, out)))
    return result
