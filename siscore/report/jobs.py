"""The figures of one scores file (by its layout), each with a file name and a caption that
says what was computed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from siscore.report.bars import factor_bars
from siscore.report.breakdown import breakdown_heatmap
from siscore.report.cells import pooled_over
from siscore.report.layout import Layout
from siscore.report.lines import factor_lines
from siscore.report.maps import factor_comparison, factor_heatmaps
from siscore.report.measure import Measure, factor_name, fixed_text
from siscore.report.paths import safe_name
from siscore.report.rotation import rotation_plot
from siscore.report.scores import Scores
from siscore.report.size import size_caption, size_plot


@dataclass
class Job:
    """One figure to make: its file stem, caption and maker."""

    name: str
    caption: str
    make: Callable[[], Figure]
    cells: bool = True  # a figure of the grid's cells (its galleries are linked under it)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def context(scores: Scores, layout: Layout, measure: Measure) -> str:
    """The caption's tail: the factors held fixed and those pooled over."""
    parts = []
    fixed = fixed_text(scores.frame, [f for f in scores.factors if f not in layout.keys])
    if fixed:
        parts.append(f"Fixed: {fixed}.")
    pooled = pooled_over(scores, layout.keys)
    if pooled:
        what = ", ".join(f"{p} ({scores.frame[p].nunique()} values)" for p in pooled)
        parts.append(f"Pooled over {what}: sums of images and right answers, so "
                     f"{measure.name} with exact intervals.")
    return (" " + " ".join(parts)) if parts else ""


def _panels(layout: Layout) -> str:
    return (f", one panel per value of {' and '.join(layout.facets)} (one colour scale)"
            if layout.facets else "")


def figure_jobs(scores: Scores, layout: Layout, stem: str, baseline: str | None,
                opts: dict[str, Any], size_value: str = "accuracy") -> list[Job]:
    """The figures of ``scores`` drawn as ``layout`` (with differences from ``baseline``
    where the figure has them)."""
    measure = scores.measure(pooled_over(scores, layout.keys))
    tail = context(scores, layout, measure)
    kind, x, y, facets = layout.kind, layout.x, layout.y, layout.facets
    jobs: list[Job] = []
    if kind in ("location", "heatmap"):
        name = "location" if kind == "location" else f"{safe_name(x)}-{safe_name(y)}"
        where = ("object-centre cell (image orientation: y downwards)" if kind == "location"
                 else f"cell of {factor_name(x)} and {factor_name(y)}")
        written = " Values in the cells" + (" in %." if measure.percent else ".")
        jobs.append(Job(f"{stem}-{name}", _sentence(f"{measure.long} per {where}, one map "
                                                   f"per model{_panels(layout)}.") + written
                        + tail,
                        lambda: factor_heatmaps(scores, x, y, facets=facets, **opts)))
        if baseline is not None:
            jobs.append(Job(f"{stem}-{name}-diff", _sentence(
                f"{baseline}'s map (baseline), then each other model's map minus the "
                f"baseline's ({measure.name}; blue better, red worse).") + tail,
                lambda: factor_comparison(scores, baseline, x, y, facets=facets, **opts)))
    elif kind == "rotation":
        jobs.append(Job(f"{stem}-rotation", _sentence(
            f"{measure.long} by rotation angle (0 = upright, in the middle), one line per "
            "object size; angles without images are gaps"
            + (f"; differences from {baseline}" if baseline else "") + ".") + tail,
            lambda: rotation_plot(scores, baseline, **opts)))
    elif kind == "size":
        jobs.append(Job(f"{stem}-size", size_caption(scores, baseline, size_value) + tail,
                        lambda: size_plot(scores, baseline, value=size_value, **opts)))
    elif kind == "lines":
        jobs.append(Job(f"{stem}-by-{safe_name(x)}", _sentence(
            f"{measure.long} by {factor_name(x)}, one line per model with its 95% band"
            f"{_panels(layout)}.") + tail,
            lambda: factor_lines(scores, x, facets=facets, **opts)))
    elif kind in ("bars", "models"):
        what = f"per {factor_name(x)}" if x else "per model, over all cells"
        jobs.append(Job(f"{stem}-by-{safe_name(x)}" if x else f"{stem}-models", _sentence(
            f"{measure.long} {what}, one bar per model with its 95% interval"
            f"{_panels(layout)}.") + tail,
            lambda: factor_bars(scores, x, facets=facets, **opts)))
    else:  # breakdown: too many values for bars
        jobs.append(Job(f"{stem}-by-{safe_name(x)}", _sentence(
            f"{scores.accuracy_label} per model and {factor_name(x)}, in %.") + tail,
            lambda: breakdown_heatmap(scores, x, **opts)))
    return jobs
