"""Size figure: accuracy (or normalised accuracy) against object area, one line per model
with its Clopper-Pearson band, the number of objects behind each point, and (with a
baseline) each model's difference from the baseline underneath."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from siscore.report.heat import nice_ceiling
from siscore.report.rotation import draw_lines, grid_levels, hollow_handle
from siscore.report.scores import ReportError, Scores, as_scores, check_baseline, with_difference
from siscore.report.style import figure_width, fit_label, new_figure, paper_style

SIZE_VALUES = ("accuracy", "normalized")


def model_colours(models: list[str]) -> dict[str, tuple]:
    """Colour-blind-safe qualitative colours (Okabe-Ito order), cycling past eight models."""
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
               "#F0E442"]
    if len(models) > len(palette):
        tab = colormaps["tab20"]
        return {m: tab(i % 20) for i, m in enumerate(models)}
    return {m: palette[i] for i, m in enumerate(models)}


def size_caption(scores: Scores, baseline: str | None, value: str = "accuracy") -> str:
    """The figure's caption: what is shown, and what changes along the curve."""
    measure = scores.measure() if value == "normalized" else None
    what = (measure.long if measure is not None else scores.accuracy_label)
    what = what[0].upper() + what[1:]
    text = (f"{what} by object area with 95% Clopper-Pearson bands"
            + (f"; differences from {baseline}" if baseline else "") + ".")
    if "objects" in scores.frame:
        per = scores.frame.groupby("area")["objects"].max()
        if per.nunique() > 1:
            text += (f" The objects behind a point vary ({int(per.min())} to {int(per.max())}; "
                     "lower panel, hollow markers where fewer): the filters drop large objects "
                     "at big areas, so the class mix changes along the curve; score with "
                     "--balance-classes to weigh each class equally.")
    return text


def size_plot(scores: Scores | pd.DataFrame | str, baseline: str | None = None, *,
              width: str | float = "single", titles: bool = True, min_count: int = 0,
              band: bool = True, value: str = "accuracy") -> Figure:
    """``value`` (``accuracy`` or ``normalized``: accuracy over the model's best area)
    against object area (% of the image) per model, with the 95% Clopper-Pearson band
    (scaled by the same normaliser). Below it, the objects behind each point when the
    file counts them (points on fewer objects than the most are hollow). With a
    baseline, a panel shows each other model's difference from the baseline in
    ``value`` (with the file's paired interval for accuracy when scored against it)."""
    scores = as_scores(scores)
    if "area" not in scores.factors or [f for f in scores.varied if f != "area"]:
        raise ReportError(f"{scores.source}: the size figure needs an area column and no other "
                          f"varying factor (this file varies {', '.join(scores.varied)}); draw "
                          "it with factor_lines.")
    if value not in SIZE_VALUES or value not in scores.frame:
        raise ReportError(f"{scores.source}: cannot plot {value!r} for size; choose "
                          f"{' or '.join(v for v in SIZE_VALUES if v in scores.frame)}.")
    if value == "normalized" and scores.measure().column == "accuracy":
        value = "accuracy"  # nothing was normalised: normalized is the accuracy itself
    baseline = check_baseline(scores, baseline)
    frame = scores.frame.assign(area_pct=scores.frame["area"] * 100)
    if value == "normalized":
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(frame["accuracy"] > 0, frame["normalized"] / frame["accuracy"],
                             np.nan)
        scale = pd.Series(scale).groupby(frame["model"].to_numpy()).transform("median")
        frame["ci_low"] = frame["ci_low"] * scale.to_numpy()
        frame["ci_high"] = frame["ci_high"] * scale.to_numpy()
    levels = grid_levels(frame["area_pct"])
    models = scores.models
    colours = model_colours(models)
    width_in = figure_width(width)
    others = [m for m in models if m != baseline] if baseline else []
    counted = "objects" in frame
    label = scores.measure().name if value == "normalized" else scores.accuracy_label
    long = scores.measure().long if value == "normalized" else label
    with paper_style():
        height = ((1.9 if width_in < 5 else 2.4) + (1.0 if others else 0)
                  + (0.55 if counted else 0) + (0.2 if titles else 0))
        fig = new_figure(width, height)
        ratios = [1.7] + ([1.0] if others else []) + ([0.45] if counted else [])
        axes = list(fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios,
                                 squeeze=False)[:, 0])
        top = axes[0]
        bottom = axes[1] if others else None
        hollow = False
        most = frame.groupby("model")["objects"].transform("max") if counted else None
        for model in models:
            rows = frame[frame["model"] == model].sort_values("area_pct")
            if band:
                top.fill_between(rows["area_pct"], rows["ci_low"], rows["ci_high"],
                                 color=colours[model], alpha=0.2, linewidth=0)
            marks = rows
            if counted:  # hollow where fewer objects than the most: the mix changed
                marks = rows.assign(n=np.where(rows["objects"] < most[rows.index], 0,
                                               rows["n"]))
            hollow |= draw_lines(top, marks, "area_pct", value, colours[model], model,
                                 min_count if not counted else 1, marker="", levels=levels)
        top.set_ylabel(fit_label(label, 1.2))
        top.set_ylim(0, max(1.0, float(np.nanmax(frame[value])) * 1.02))
        top.grid(linewidth=0.3, color="0.85")
        if bottom is not None:
            column = value
            diffs = with_difference(scores, baseline, column)
            paired = (value == "accuracy" and scores.baseline_in_file == baseline
                      and "diff_ci_low" in diffs)
            diffs["area_pct"] = diffs["area"] * 100
            extent = []
            for model in others:
                rows = diffs[diffs["model"] == model].sort_values("area_pct")
                if band and paired:
                    bottom.fill_between(rows["area_pct"], rows["diff_ci_low"],
                                        rows["diff_ci_high"], color=colours[model], alpha=0.2,
                                        linewidth=0)
                    extent += [rows["diff_ci_low"].abs(), rows["diff_ci_high"].abs()]
                draw_lines(bottom, rows, "area_pct", "diff", colours[model], model, min_count,
                           marker="", levels=levels)
                extent.append(rows["diff"].abs())
            bottom.axhline(0, color="0.4", linewidth=0.6, linestyle="--", zorder=0)
            values = pd.concat(extent)  # bands included: nothing clipped at the limits
            limit = nice_ceiling(float(values.max()) * 1.05 if values.notna().any() else 0.0)
            bottom.set_ylim(-limit, limit)
            bottom.set_ylabel("difference")
            bottom.set_title(fit_label(f"{label} minus {baseline}'s", width_in * 0.85),
                             loc="left", pad=2)
            bottom.grid(linewidth=0.3, color="0.85")
        if counted:
            ax = axes[-1]
            per = frame.groupby("area_pct")["objects"].max().sort_index()
            ax.step(per.index, per.to_numpy(), where="mid", color="0.3", linewidth=0.8)
            ax.set_ylim(0, per.max() * 1.15)
            ax.set_ylabel("objects", labelpad=1.5)
            ax.grid(axis="y", linewidth=0.3, color="0.85")
        last = axes[-1]
        last.set_xlim(0, 100)
        last.set_xlabel("object area (% of the image)")
        fig.align_ylabels(axes)
        handles, labels = top.get_legend_handles_labels()
        if hollow:
            handles.append(hollow_handle(min_count))
            labels.append("hollow: fewer objects than elsewhere" if counted
                          else handles[-1].get_label())
        ncols = 1 if width_in < 5 and len(handles) > 2 else min(len(handles), 4)
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols,
                   handlelength=1.5, columnspacing=1.0)
        if titles:
            fig.suptitle(fit_label(f"Size: {long} by object area", width_in, 8))
    return fig
