"""``write_report``: every figure and table for one or more scores files, plus index.html."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from siscore.errors import write_failed
from siscore.report.breakdown import NAMES, breakdown_heatmap
from siscore.report.html import FigureEntry, Section, render_index
from siscore.report.location import location_comparison, location_heatmaps
from siscore.report.paths import check_folder, inside, safe_name
from siscore.report.rotation import rotation_plot
from siscore.report.scores import (
    ReportError,
    Scores,
    as_scores,
    check_baseline,
    default_min_count,
)
from siscore.report.size import SIZE_VALUES, size_caption, size_plot
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
    """What :func:`write_report` wrote: every file path, the sections of the index, and
    notes on what was not drawn and why."""

    out: Path
    files: list[Path] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # the sections hold PNG bytes: never print them
        kinds = ", ".join(f"{s.kind}:{len(s.figures)} figure(s)" for s in self.sections)
        return (f"ReportResult(out={str(self.out)!r}, files={len(self.files)}, "
                f"sections=[{kinds}], notes={len(self.notes)})")


@dataclass
class _Job:
    name: str
    caption: str
    make: Callable[[], Figure]


def _jobs(scores: Scores, stem: str, baseline: str | None, opts: dict,
          notes: list[str], size_value: str = "accuracy") -> list[_Job]:
    kind, jobs = scores.kind, []
    alone = baseline is not None and len(scores.models) < 2
    if alone:
        notes.append(f"{scores.source}: no comparison with baseline {baseline!r} drawn: it is "
                     "the only model in this file; score other models into the same file "
                     "(siscore score -p a.csv -p b.csv) to compare them.")
        baseline = None
    if kind == "location":
        jobs.append(_Job(f"{stem}-location", "Normalised accuracy by object location "
                         "(accuracy per cell divided by the model's normaliser).",
                         lambda: location_heatmaps(scores, **opts)))
        if baseline is not None:
            jobs.append(_Job(f"{stem}-location-diff",
                             f"Baseline {baseline}'s normalised map, then each other model's "
                             "normalised map minus the baseline's.",
                             lambda: location_comparison(scores, baseline, **opts)))
    elif kind == "rotation":
        jobs.append(_Job(f"{stem}-rotation", "Normalised accuracy by rotation angle (0 = "
                         "upright, in the middle), one line per object size; angles without "
                         "images are gaps" + (f"; differences from {baseline}" if baseline
                                              else "") + ".",
                         lambda: rotation_plot(scores, baseline, **opts)))
    elif kind == "size":
        jobs.append(_Job(f"{stem}-size", size_caption(scores, baseline, size_value),
                         lambda: size_plot(scores, baseline, value=size_value, **opts)))
    else:
        for by in scores.by:
            jobs.append(_Job(f"{stem}-by-{safe_name(by)}",
                             f"Accuracy per model and {NAMES.get(by, by)}.",
                             lambda by=by: breakdown_heatmap(scores, by, **opts)))
    if not jobs:
        notes.append(f"{scores.source}: no figure drawn for {kind} scores.")
    return jobs


def _unique_stems(sources: Sequence[str]) -> list[str]:
    """File-name stems per scores source: the CSV's stem made safe (``scores`` for an
    in-memory table), with ``-2``, ``-3``, ... added where two sources share one."""
    stems: list[str] = []
    for source in sources:
        base = "scores" if source.startswith("<") else safe_name(Path(source).stem, "scores")
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
                 width: str | float = "double", titles: bool = True,
                 min_count: int | None = None, index: bool = True,
                 size_value: str = "accuracy",
                 progress: Callable[[Path], None] | None = None) -> ReportResult:
    """Write the figures, summary tables and ``index.html`` for each scores file into ``out``.

    Every input and option is checked, and every figure and table made, before anything
    is written; files already in ``out`` that the report does not produce are left
    alone (and listed in the index). Each file is written to a temporary name and
    renamed, so an interrupted run leaves no partial file. File names made from data
    (file stems, column names) are sanitised, and every path is checked to lie inside
    ``out``. ``size_value`` is what the size figure plots (``accuracy`` or
    ``normalized``). ``min_count`` None marks cells with fewer than half the median number of
    images per cell of each file (:func:`default_min_count`).
    """
    if isinstance(scores_paths, (str, Path, Scores, pd.DataFrame)):
        scores_paths = [scores_paths]
    items = [as_scores(s) for s in scores_paths]
    if not items:
        raise ReportError("scores_paths: no scores file given (write one with siscore score).")
    try:
        fmts = parse_formats(formats)
        figure_width(width)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if dpi < 50 or dpi > 2400:
        raise ReportError(f"dpi {dpi}: use a resolution between 50 and 2400 dots per inch.")
    if min_count is not None and min_count < 0:
        raise ReportError(f"min_count {min_count}: use 0 (mark nothing) or a positive count.")
    if size_value not in SIZE_VALUES:
        raise ReportError(f"size_value {size_value!r}: choose {' or '.join(SIZE_VALUES)}.")
    baselines = [check_baseline(s, baseline) for s in items]
    out = Path(out)
    check_folder(out)
    stems = _unique_stems([s.source for s in items])
    result = ReportResult(out)
    planned: list[tuple[Section, list[tuple[_Job, Figure]], str, str]] = []
    for scores, stem, base in zip(items, stems, baselines, strict=True):
        count = default_min_count(scores) if min_count is None else min_count
        opts = {"width": width, "titles": titles, "min_count": count}
        section = Section(scores.source, scores.kind)
        figures = [(job, job.make()) for job in _jobs(scores, stem, base, opts, result.notes,
                                                      size_value)]
        base = base if base in scores.models and len(scores.models) > 1 else None
        table = summary_table(scores, base)
        section.table = table
        section.table_files = {"csv": out / f"{stem}-summary.csv",
                               "tex": out / f"{stem}-summary.tex"}
        for job, _ in figures:
            for fmt in fmts:
                inside(out, out / f"{job.name}.{fmt}")
        for path in section.table_files.values():
            inside(out, path)
        planned.append((section, figures, table_to_csv(table),
                        table_to_latex(table, stem + ".csv")))

    def done(path: Path) -> None:
        result.files.append(path)
        if progress is not None:
            progress(path)

    try:
        out.mkdir(parents=True, exist_ok=True)
        for section, figures, csv_text, tex_text in planned:
            for job, fig in figures:
                files = save_figure(fig, out / job.name, fmts, dpi)
                for path in files:
                    done(path)
                by_fmt = {p.suffix[1:]: p for p in files}
                png = by_fmt["png"].read_bytes() if "png" in by_fmt else _png_bytes(fig, dpi)
                section.figures.append(FigureEntry(job.name, job.caption, by_fmt, png))
            done(write_text(section.table_files["csv"], csv_text))
            done(write_text(section.table_files["tex"], tex_text))
            result.sections.append(section)
        if index:
            target = inside(out, out / "index.html")
            others = sorted(p for p in out.iterdir() if p.is_file() and not p.is_symlink()
                            and p not in result.files
                            and p != target and not p.name.startswith("."))
            done(write_text(target, render_index(result.sections, out, others=others,
                                                 notes=result.notes)))
    except OSError as exc:
        raise ReportError(write_failed(out, exc)) from None
    return result
