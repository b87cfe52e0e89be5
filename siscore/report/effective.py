"""The effective-robustness figure (Taori et al. 2020): ImageNet top-1 against SI-SCORE
accuracy on logit-scaled axes, the logit-linear trend with its 95% band, each model with
its interval, and the y = x line.

The trend is the one ``siscore score`` fits (:mod:`siscore.score.effective`): least
squares of logit(SI-SCORE mean accuracy) on logit(ImageNet top-1), on a reference
testbed (``--testbed``) or, without one, on the scored models when there are at least
:data:`~siscore.score.effective.MIN_FIT_MODELS` of them. With fewer, no trend is drawn
and the caption says why. A model's y interval is its bootstrap interval over objects
(``mean_accuracy_ci``), else the Clopper-Pearson interval of its images; x intervals are
Clopper-Pearson on the 50,000 ImageNet validation images.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.stats import t as student_t

from siscore.report.scores import Scores, clopper_pearson
from siscore.report.size import model_colours
from siscore.report.style import figure_width, fit_label, new_figure, paper_style
from siscore.score.effective import MIN_FIT_MODELS, logit

IMAGENET_VAL = 50_000
TICKS = (1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99)


def points(scores: Scores) -> pd.DataFrame:
    """model, x (ImageNet top-1 %), y (SI-SCORE mean accuracy %) and their 95% intervals,
    for the models whose summary has both."""
    rows = []
    for model, rec in ((scores.summary or {}).get("models") or {}).items():
        if not isinstance(rec, dict) or model not in scores.models:
            continue
        x, y = rec.get("imagenet_top1"), rec.get("mean_accuracy")
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            continue
        ci = rec.get("mean_accuracy_ci") or rec.get("overall_ci")
        y_low, y_high = (ci if isinstance(ci, list) and len(ci) == 2
                         and all(isinstance(v, (int, float)) for v in ci) else (y, y))
        x_low, x_high = clopper_pearson(np.array([x / 100 * IMAGENET_VAL]),
                                        np.array([IMAGENET_VAL]))
        rows.append({"model": model, "x": float(x), "y": 100 * float(y),
                     "x_low": 100 * float(x_low[0]), "x_high": 100 * float(x_high[0]),
                     "y_low": 100 * float(y_low), "y_high": 100 * float(y_high)})
    return pd.DataFrame(rows, columns=["model", "x", "y", "x_low", "x_high", "y_low", "y_high"])


def trend(fit: Mapping[str, tuple[float, float]], level: float = 0.95):
    """The logit-linear fit over ``fit`` (name -> (x %, y %)): a function of x (%) giving
    (trend, band low, band high) in %, or None with fewer than MIN_FIT_MODELS points."""
    usable = [(a, b) for a, b in fit.values() if 0 < a < 100 and 0 < b < 100]
    if len(usable) < MIN_FIT_MODELS or len({a for a, _ in usable}) < 2:
        return None
    fx, fy = logit([a for a, _ in usable]), logit([b for _, b in usable])
    (slope, intercept), cov = np.polyfit(fx, fy, 1, cov="unscaled")
    dof = len(usable) - 2
    resid = fy - (slope * fx + intercept)
    sigma2 = float(resid @ resid / dof)
    t = float(student_t.ppf(0.5 + level / 2, dof))

    def at(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lx = logit(x)
        mean = slope * lx + intercept
        se = np.sqrt(sigma2 * (cov[0, 0] * lx**2 + 2 * cov[0, 1] * lx + cov[1, 1]))
        return tuple(100 / (1 + np.exp(-z)) for z in (mean, mean - t * se, mean + t * se))
    return at


def caption(scores: Scores, testbed: Mapping[str, tuple[float, float]] | None) -> str:
    """What the figure shows, and whether (on what) a trend was fitted."""
    table = points(scores)
    text = ("ImageNet top-1 against SI-SCORE accuracy (mean over cells) on logit axes, each "
            "model with its 95% intervals, and y = x (Taori et al. 2020). ")
    if testbed:
        return text + (f"Trend fitted on the reference testbed ({len(testbed)} models, grey) "
                       "with its 95% band; effective robustness is the distance above it.")
    if len(table) >= MIN_FIT_MODELS:
        return text + (f"Trend fitted on the {len(table)} scored models with its 95% band; "
                       "with no reference testbed, their effective robustness is near 0 by "
                       "construction.")
    return text + (f"No trend: {len(table)} model(s) with an ImageNet top-1, and a trend needs "
                   f"at least {MIN_FIT_MODELS} (give --testbed CSV, a reference set of "
                   "models, to fit one).")


def effective_plot(scores: Scores, testbed: Mapping[str, tuple[float, float]] | None = None,
                   *, width: str | float = "single", titles: bool = True) -> Figure:
    """The figure of :mod:`this module <siscore.report.effective>` for one scores file."""
    table = points(scores)
    fit = dict(testbed) if testbed else {r.model: (r.x, r.y) for r in table.itertuples()}
    line = trend(fit)
    every = [*table[["x_low", "x_high"]].to_numpy().ravel(),
             *table[["y_low", "y_high"]].to_numpy().ravel(),
             *[v for pair in (testbed or {}).values() for v in pair]]
    low = max(0.5, min(every, default=40) * 0.8)
    high = min(99.5, 100 - (100 - max(every, default=80)) * 0.6)
    colours = model_colours(list(table["model"]))
    with paper_style():
        fig_w = min(figure_width(width), 3.6)
        fig = new_figure(fig_w, fig_w + 0.25 + 0.12 * -(-(len(table) + 3) // 2))
        ax = fig.add_subplot()
        for axis in ("x", "y"):
            getattr(ax, f"set_{axis}scale")("logit")
        grid = np.linspace(low, high, 200)
        ax.plot(grid / 100, grid / 100, color="0.5", linestyle="--", linewidth=0.8,
                label="y = x")
        if line is not None:
            mid, lo, hi = line(grid)
            ax.fill_between(grid / 100, lo / 100, hi / 100, color="0.6", alpha=0.25,
                            linewidth=0)
            ax.plot(grid / 100, mid / 100, color="0.25", linewidth=1.0,
                    label="trend (95% band)")
        if testbed:
            ref = np.array(list(testbed.values()), dtype=float)
            ax.scatter(ref[:, 0] / 100, ref[:, 1] / 100, s=9, color="0.55", zorder=2,
                       label=f"testbed ({len(ref)} models)")
        for r in table.itertuples():
            ax.errorbar(r.x / 100, r.y / 100, xerr=[[(r.x - r.x_low) / 100],
                                                    [(r.x_high - r.x) / 100]],
                        yerr=[[(r.y - r.y_low) / 100], [(r.y_high - r.y) / 100]],
                        fmt="o", markersize=3.5, color=colours[r.model], linewidth=0.8,
                        capsize=1.5, label=r.model, zorder=3)
        ticks = [t / 100 for t in TICKS if low <= t <= high]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_ticks(ticks, [f"{t * 100:g}" for t in ticks])
            axis.set_minor_formatter(lambda *_: "")
        ax.set_xlim(low / 100, high / 100)
        ax.set_ylim(low / 100, high / 100)
        ax.set_xlabel("ImageNet top-1 (%)")
        ax.set_ylabel("SI-SCORE accuracy, mean over cells (%)")
        ax.grid(linewidth=0.3, color="0.88")
        handles, labels = ax.get_legend_handles_labels()
        if line is None:
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(f"no trend: fewer than {MIN_FIT_MODELS} models")
        ax.set_box_aspect(1)  # equal logit ranges on a square: y = x at 45 degrees
        fig.legend(handles, labels, loc="outside lower center", ncols=2, handlelength=1.4,
                   columnspacing=1.0)
        if titles:
            fig.suptitle(fit_label("Effective robustness", fig_w, 8))
    return fig
