"""``write_report``: every figure, table and gallery for one or more scores files, plus
index.html."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from siscore.errors import SiscoreError, write_failed
from siscore.report.effective import caption as effective_caption
from siscore.report.effective import effective_plot, points
from siscore.report.gallery import Answers, Page, plan_galleries
from siscore.report.gallery_html import render_gallery, thumbnail
from siscore.report.html import FigureEntry, Section, render_index
from siscore.report.images import SourceMissing, dataset_folder, open_source, predictions_for
from siscore.report.jobs import Job, figure_jobs
from siscore.report.paths import check_folder, inside, safe_name
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline, default_min_count
from siscore.report.size import SIZE_VALUES
from siscore.report.style import (
    METADATA,
    SAVE_RC,
    figure_width,
    parse_formats,
    save_figure,
    write_text,
)
from siscore.report.tables import summary_table, table_to_csv, table_to_latex
from siscore.utils.files import atomic_write, remove_stale_temps

ScoresLike = str | Path | Scores | pd.DataFrame
Testbed = Mapping[str, tuple[float, float]]


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
class Images:
    """Where the images behind the cells come from (see :mod:`siscore.report.images`);
    ``gallery`` False writes no gallery."""

    predictions: Sequence[Path] = ()
    dataset: Path | None = None
    foregrounds: Path | None = None
    backgrounds: Path | None = None
    gallery: bool = True


@dataclass
class _Planned:
    section: Section
    figures: list[tuple[Job, Figure]]
    texts: dict[Path, str]  # tables and gallery pages
    thumbs: dict[Path, bytes]  # gallery thumbnails


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


def _galleries(scores: Scores, keys: list[str], stem: str, baseline: str | None,
               min_count: int, images: Images, out: Path, notes: list[str]
               ) -> tuple[list[Page], dict[Path, bytes]]:
    """The gallery pages of one scores file and their thumbnails (none, with a note
    saying why, when the predictions or the images cannot be found)."""
    preds = predictions_for(scores, images.predictions)
    if not preds:
        notes.append(f"{scores.source}: no gallery of images: no predictions file found for "
                     "its models; pass --predictions with the files you scored.")
        return [], {}
    try:
        root = dataset_folder(scores, images.dataset, preds)
        source = open_source(root, images.foregrounds, images.backgrounds,
                             explicit=images.dataset is not None)
        pages = plan_galleries(scores, keys, Answers(source, preds, scores.topk), stem,
                               baseline, min_count)
        folder = out / f"{stem}-gallery"
        ids = sorted(set().union(*(p.image_ids for p in pages)))
        thumbs = {folder / f"{i}.jpg": thumbnail(source.load(i)) for i in ids}
    except SourceMissing as exc:
        notes.append(f"{scores.source}: no gallery of images: {exc}")
        return [], {}
    missing = [m for m in scores.models if m not in preds]
    if missing:
        notes.append(f"{scores.source}: no gallery for {', '.join(missing)}: no predictions "
                     "file found; pass --predictions.")
    return pages, thumbs


def _plan(scores: Scores, stem: str, base: str | None, out: Path, opts: dict,
          choice: dict, images: Images, testbed: Testbed | None, size_value: str,
          notes: list[str]) -> _Planned:
    if base is not None and len(scores.models) < 2:
        notes.append(f"{scores.source}: no comparison with baseline {base!r} drawn: it is "
                     "the only model in this file; score other models into the same file "
                     "(siscore score -p a.csv -p b.csv) to compare them.")
        base = None
    if "random_init" in scores.frame:
        random = scores.frame.loc[scores.frame["random_init"].astype(str) == "True", "model"]
        notes += [f"{scores.source}: {m} has random weights (its predictions' meta.json says "
                  "random_init): its scores say nothing about a trained model."
                  for m in dict.fromkeys(random)]
    layout = scores.layout(**choice)
    jobs = figure_jobs(scores, layout, stem, base, opts, size_value)
    if testbed or len(points(scores)) >= 2:
        jobs.append(Job(f"{stem}-effective", effective_caption(scores, testbed),
                        lambda: effective_plot(scores, testbed, width=opts["width"],
                                               titles=opts["titles"]), cells=False))
    section = Section(scores.source, scores.kind if not any(choice.values()) else layout.kind)
    figures = [(job, job.make()) for job in jobs]
    table = summary_table(scores, base)
    if scores.measure().column == "accuracy":  # nothing normalised: the same as diff_accuracy
        table = table.drop(columns=["diff_normalized"], errors="ignore")
    section.table, section.measure = table, scores.measure().long
    section.table_files = {"csv": out / f"{stem}-summary.csv", "tex": out / f"{stem}-summary.tex"}
    texts = {section.table_files["csv"]: table_to_csv(table),
             section.table_files["tex"]: table_to_latex(table, stem + ".csv")}
    pages, thumbs = ([], {}) if not images.gallery else _galleries(
        scores, layout.keys, stem, base, opts["min_count"], images, out, notes)
    for page in pages:
        path = out / f"{page.name}.html"
        texts[path] = render_gallery(page, f"{stem}-gallery")
        section.galleries.append((page.title.split(":")[0], path))
    for path in [*(out / f"{job.name}.x" for job in jobs), *texts, *thumbs]:
        inside(out, path)
    return _Planned(section, figures, texts, thumbs)


def _testbed(testbed: str | Path | Testbed | None) -> Testbed | None:
    if testbed is None or isinstance(testbed, Mapping):
        return testbed
    from siscore.score.effective import read_testbed

    try:
        return read_testbed(testbed)
    except SiscoreError as exc:
        raise ReportError(str(exc)) from None


def write_report(scores_paths: ScoresLike | Iterable[ScoresLike],
                 out: str | Path, *, baseline: str | None = None,
                 formats: str | Iterable[str] = ("pdf", "svg", "png"), dpi: int = 300,
                 width: str | float = "double", titles: bool = True,
                 min_count: int | None = None, index: bool = True,
                 size_value: str = "accuracy", x: str | None = None, y: str | None = None,
                 facets: Sequence[str] | None = None, images: Images | None = None,
                 testbed: str | Path | Testbed | None = None,
                 progress: Callable[[Path], None] | None = None) -> ReportResult:
    """Write the figures, summary tables, galleries and ``index.html`` for each scores
    file into ``out``.

    Each file's figure follows :mod:`siscore.report.layout`'s rules, or ``x``, ``y`` and
    ``facets`` when given. ``images`` says where the galleries' predictions and images
    are (by default found from the scores' summary and the predictions' folders);
    ``testbed`` (a CSV path or a mapping model -> (ImageNet top-1 %, accuracy %)) fits
    the effective-robustness trend. Every input is checked, and every figure, table and
    thumbnail made, before anything is written; files already in ``out`` that the report
    does not produce are left alone (and listed in the index). Each file is written to a
    temporary name and renamed, so an interrupted run leaves no partial file; file names
    made from data are sanitised and checked to lie inside ``out``. ``min_count`` None
    marks cells with fewer than half the median number of images per cell of each file.
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
    bed = _testbed(testbed)
    images = images or Images()
    out = Path(out)
    check_folder(out)
    result = ReportResult(out)
    choice = {"x": x, "y": y, "facets": list(facets) if facets else None}
    planned = []
    for scores, stem, base in zip(items, _unique_stems([s.source for s in items]), baselines,
                                  strict=True):
        count = default_min_count(scores) if min_count is None else min_count
        opts = {"width": width, "titles": titles, "min_count": count}
        planned.append(_plan(scores, stem, base, out, opts, choice, images, bed, size_value,
                             result.notes))
    try:
        _write(planned, out, fmts, dpi, index, result, progress)
    except OSError as exc:
        raise ReportError(write_failed(out, exc)) from None
    return result


def _write(planned: list[_Planned], out: Path, fmts: list[str], dpi: int, index: bool,
           result: ReportResult, progress: Callable[[Path], None] | None) -> None:
    def done(path: Path) -> None:
        result.files.append(path)
        if progress is not None:
            progress(path)

    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # what a report killed with -9 left behind
    for plan in planned:
        for job, fig in plan.figures:
            files = save_figure(fig, out / job.name, fmts, dpi)
            for path in files:
                done(path)
            by_fmt = {p.suffix[1:]: p for p in files}
            png = by_fmt["png"].read_bytes() if "png" in by_fmt else _png_bytes(fig, dpi)
            plan.section.figures.append(FigureEntry(job.name, job.caption, by_fmt, png,
                                                    job.cells))
        for path, data in plan.thumbs.items():
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, data, path.parent)
            done(path)
        for path, text in plan.texts.items():
            done(write_text(path, text))
        result.sections.append(plan.section)
    if index:
        target = inside(out, out / "index.html")
        others = sorted(p for p in out.iterdir() if p.is_file() and not p.is_symlink()
                        and p not in result.files and p != target and not p.name.startswith("."))
        done(write_text(target, render_index(result.sections, out, others=others,
                                             notes=result.notes)))
