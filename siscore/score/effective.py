"""Effective robustness (Taori et al. 2020): accuracy above the logit-linear trend.

With accuracies in percent, logit(a) = ln((a/100) / (1 - a/100)). A line
logit(y) = b1 * logit(x) + b0 is fitted by least squares over a set of models
(x: ImageNet top-1, y: SI-SCORE accuracy); a model's effective robustness is
y - 100 * sigmoid(b1 * logit(x) + b0), in percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from siscore.score.io import ScoreError, check_name


def logit(percent: np.ndarray) -> np.ndarray:
    p = np.asarray(percent, dtype=float) / 100.0
    return np.log(p / (1.0 - p))


def sigmoid100(z: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def torchvision_top1(name: str) -> float | None:
    """ImageNet-1k top-1 (percent) from the model library's pretrained record, offline
    (:func:`siscore.evaluate.registry.imagenet_top1`, the one lookup evaluate uses too).

    ``name`` is a weight enum (``ResNet50_Weights.IMAGENET1K_V2``) or an architecture and
    weights joined by ``:``, ``.``, ``_``, ``/`` or ``@`` (``resnet50:IMAGENET1K_V2``). A
    bare architecture name is not resolved: its weights are not known.
    """
    from siscore.evaluate.registry import imagenet_top1

    return imagenet_top1(name)


#: where a model's ImageNet top-1 came from, in order of preference (see :func:`imagenet_top1`)
TOP1_SOURCES = ("--imagenet-acc", "evaluate", "torchvision")


def imagenet_top1(names: Sequence[str], table: Mapping[str, float] | None = None,
                  use_torchvision: bool = True, weights: Mapping[str, str | None] | None = None,
                  recorded: Mapping[str, float | None] | None = None,
                  sources: dict[str, str] | None = None) -> dict[str, float]:
    """ImageNet top-1 per model: ``table`` (from ``--imagenet-acc``) first, then the value
    ``siscore evaluate`` ``recorded`` in the predictions' meta.json (the model library's,
    or evaluate's ``--imagenet-acc``), then torchvision metadata for the model's name or
    its ``weights`` enum. ``sources`` (if given) gets each value's origin, one of
    :data:`TOP1_SOURCES`."""
    table = table or {}
    weights = weights or {}
    recorded = recorded or {}
    out = {}
    for name in names:
        value, source = table.get(name), TOP1_SOURCES[0]
        if value is None:
            value, source = recorded.get(name), TOP1_SOURCES[1]
        if value is None and use_torchvision:
            value, source = torchvision_top1(name), TOP1_SOURCES[2]
            if value is None and weights.get(name):
                value = torchvision_top1(str(weights[name]))
        if value is not None:
            out[name] = float(value)
            if sources is not None:
                sources[name] = source
    return out


#: The fewest models a trend may be fitted on: with fewer, the line passes so close to
#: every point that the effective robustness of the models it was fitted on is near 0 by
#: construction, and its uncertainty cannot be told from noise.
MIN_FIT_MODELS = 5


def read_testbed(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read a reference testbed: CSV ``model,imagenet_top1,accuracy`` (both in percent;
    ``accuracy`` is the model's ``mean_accuracy`` on the same SI-SCORE data, e.g. from
    an earlier ``siscore score`` summary)."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"--testbed {path}: no such file; write a CSV with the header "
                         "'model,imagenet_top1,accuracy' (both in percent)")
    try:
        table = pd.read_csv(path, dtype={"model": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"--testbed {path}: not a readable CSV ({exc})") from None
    if not {"model", "imagenet_top1", "accuracy"} <= set(table.columns):
        raise ScoreError(f"--testbed {path}: expected the columns 'model,imagenet_top1,accuracy' "
                         f"(found {list(table.columns)})")
    out = {}
    for i, row in enumerate(table.itertuples(), start=2):
        x = pd.to_numeric(pd.Series([row.imagenet_top1]), errors="coerce").iloc[0]
        y = pd.to_numeric(pd.Series([row.accuracy]), errors="coerce").iloc[0]
        if not (0 < x < 100 and 0 < y < 100) or not isinstance(row.model, str):
            raise ScoreError(f"--testbed {path}, row {i}: imagenet_top1 and accuracy must be "
                             "percentages strictly between 0 and 100, with a model name")
        out[check_name(row.model, f"--testbed {path}, row {i}", "in the testbed")] = (float(x), float(y))
    return out


def effective_robustness(x: Mapping[str, float], y: Mapping[str, float],
                         fit_models: Sequence[str] | None = None,
                         testbed: Mapping[str, tuple[float, float]] | None = None,
                         level: float = 0.95) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the trend on the reference ``testbed`` (model -> (ImageNet top-1, accuracy)),
    else on ``fit_models``, else on every scored model with both accuracies; refuse a fit
    on fewer than :data:`MIN_FIT_MODELS` models.

    ``x`` and ``y`` map the scored models to accuracies in percent. Models at exactly 0 or
    100 on either axis are left out of the fit (their logit is infinite). Returns a table
    (model, imagenet_top1, siscore_accuracy, predicted_accuracy, effective_robustness
    with its ``level`` interval from the fit's uncertainty, in_fit) and the fit.
    """
    models = [m for m in y if m in x]
    points = {m: (x[m], y[m]) for m in models}
    if testbed:
        fit_points = dict(testbed)
        source = "--testbed"
    else:
        chosen = list(fit_models) if fit_models else models
        unknown = [m for m in chosen if m not in models]
        if unknown:
            raise ScoreError(f"--fit-models {', '.join(unknown)}: no ImageNet top-1 or no scores "
                             "for these models; give them in --imagenet-acc CSV or fix the names")
        fit_points = {m: points[m] for m in chosen}
        source = "--fit-models" if fit_models else "the scored models"
    fit = [m for m, (a, b) in fit_points.items() if 0 < a < 100 and 0 < b < 100]
    if len(fit) < MIN_FIT_MODELS or len({fit_points[m][0] for m in fit}) < 2:
        raise ScoreError(
            f"effective robustness needs a trend fitted on at least {MIN_FIT_MODELS} models "
            f"with different ImageNet top-1 ({source} give {len(fit)}): with fewer the trend "
            "mostly reproduces the models it was fitted on; give --testbed CSV "
            "(model,imagenet_top1,accuracy) with a reference set of models")
    fx = logit([fit_points[m][0] for m in fit])
    fy = logit([fit_points[m][1] for m in fit])
    (slope, intercept), cov = np.polyfit(fx, fy, 1, cov="unscaled")
    dof = len(fit) - 2
    resid = fy - (slope * fx + intercept)
    sigma2 = float(resid @ resid / dof) if dof > 0 else float("nan")
    t = float(student_t.ppf(0.5 + level / 2, dof)) if dof > 0 else float("nan")
    xs = np.array([x[m] for m in models])
    ys = np.array([y[m] for m in models])
    with np.errstate(divide="ignore", invalid="ignore"):
        lx = logit(xs)
        mean = slope * lx + intercept
        se = np.sqrt(sigma2 * (cov[0, 0] * lx**2 + 2 * cov[0, 1] * lx + cov[1, 1]))
        predicted = sigmoid100(mean)
        low = ys - sigmoid100(mean + t * se)
        high = ys - sigmoid100(mean - t * se)
    table = pd.DataFrame({"model": models, "imagenet_top1": xs, "siscore_accuracy": ys,
                          "predicted_accuracy": predicted,
                          "effective_robustness": ys - predicted,
                          "effective_robustness_ci_low": low,
                          "effective_robustness_ci_high": high,
                          "in_fit": [m in fit and not testbed for m in models]})
    info = {"slope": float(slope), "intercept": float(intercept),
            "slope_se": float(np.sqrt(sigma2 * cov[0, 0])),
            "intercept_se": float(np.sqrt(sigma2 * cov[1, 1])),
            "residual_sd_logit": float(np.sqrt(sigma2)), "level": level,
            "fitted_on": source, "models": fit,
            "x": "ImageNet-1k top-1 (percent)",
            "y": "SI-SCORE mean_accuracy over cells (percent)"}
    return table, info
