"""Size figure: accuracy against object area, one line per model with its Clopper-Pearson
band, and (with a baseline) each model's accuracy minus the baseline's underneath."""

from __future__ import annotations

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from siscore.report.heat import nice_ceiling
from siscore.report.rotation import draw_lines, hollow_handle
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline, with_difference
from siscore.report.style import figure_width, fit_label, new_figure, paper_style


def model_colours(models: list[str]) -> dict[str, tuple]:
    """Colour-blind-safe qualitative colours (Okabe-Ito order), cycling past eight models."""
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
               "#F0E442"]
    if len(models) > len(palette):
        tab = colormaps["tab20"]
        return {m: tab(i % 20) for i, m in enumerate(models)}
    return {m: palette[i] for i, m in enumerate(models)}


def size_plot(scores: Scores | pd.DataFrame | str, baseline: str | None = None, *,
              width: str | float = "single", titles: bool = True, min_count: int = 0,
              band: bool = True) -> Figure:
    """Accuracy against object area (% of the image) per model, with the 95%
    Clopper-Pearson band. With a baseline, a second panel shows each other model's
    accuracy minus the baseline's (with the file's paired interval when it was scored
    against that baseline)."""
    scores = as_scores(scores)
    if scores.kind != "size":
        raise ReportError(f"{scores.source}: these are {scores.kind} scores, not size scores "
                          "(size needs an area column and no rotation or location).")
    baseline = check_baseline(scores, baseline)
    frame = scores.frame.assign(area_pct=scores.frame["area"] * 100)
    models = scores.models
    colours = model_colours(models)
    width_in = figure_width(width)
    others = [m for m in models if m != baseline] if baseline else []
    with paper_style():
        height = (1.9 if width_in < 5 else 2.4) + (1.0 if others else 0) + (0.2 if titles else 0)
        fig = new_figure(width, height)
        if others:
            top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.7, 1])
        else:
            top, bottom = fig.subplots(1, 1), None
        hollow = False
        for model in models:
            rows = frame[frame["model"] == model].sort_values("area_pct")
            if band:
                top.fill_between(rows["area_pct"], rows["ci_low"], rows["ci_high"],
                                 color=colours[model], alpha=0.2, linewidth=0)
            hollow |= draw_lines(top, rows, "area_pct", "accuracy", colours[model], model,
                                 min_count, marker="")
        top.set_ylabel(scores.accuracy_label)
        top.set_ylim(0, 1)
        top.grid(linewidth=0.3, color="0.85")
        if bottom is not None:
            diffs = with_difference(scores, baseline, "accuracy")
            paired = scores.baseline_in_file == baseline and "diff_ci_low" in diffs
            diffs["area_pct"] = diffs["area"] * 100
            for model in others:
                rows = diffs[diffs["model"] == model].sort_values("area_pct")
                if band and paired:
                    bottom.fill_between(rows["area_pct"], rows["diff_ci_low"],
                                        rows["diff_ci_high"], color=colours[model], alpha=0.2,
                                        linewidth=0)
                draw_lines(bottom, rows, "area_pct", "diff", colours[model], model, min_count,
                           marker="")
            bottom.axhline(0, color="0.4", linewidth=0.6, linestyle="--", zorder=0)
            values = diffs.loc[diffs["model"].isin(others), "diff"].abs()
            limit = nice_ceiling(float(values.max()) * 1.05 if values.notna().any() else 0.0)
            bottom.set_ylim(-limit, limit)
            bottom.set_ylabel("difference")
            bottom.set_title(fit_label(f"accuracy minus {baseline}'s", width_in * 0.85),
                             loc="left", pad=2)
            bottom.grid(linewidth=0.3, color="0.85")
        last = bottom if bottom is not None else top
        last.set_xlim(0, 100)
        last.set_xlabel("object area (% of the image)")
        if bottom is not None:
            fig.align_ylabels([top, bottom])
        handles, labels = top.get_legend_handles_labels()
        if hollow:
            handles.append(hollow_handle(min_count))
            labels.append(handles[-1].get_label())
        ncols = 1 if width_in < 5 and len(handles) > 2 else min(len(handles), 4)
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols,
                   handlelength=1.5, columnspacing=1.0)
        if titles:
            fig.suptitle(fit_label("Size: accuracy by object area", width_in, 8))
    return fig

