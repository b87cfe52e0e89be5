"""Effective robustness (Taori et al. 2020): accuracy above the logit-linear trend.

With accuracies in percent, logit(a) = ln((a/100) / (1 - a/100)). A line
logit(y) = b1 * logit(x) + b0 is fitted by least squares over a set of models
(x: ImageNet top-1, y: SI-SCORE accuracy); a model's effective robustness is
y - 100 * sigmoid(b1 * logit(x) + b0), in percentage points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from siscore.score.io import ScoreError

# "resnet50:IMAGENET1K_V2", "resnet50.IMAGENET1K_V2", "resnet50_IMAGENET1K_V2", ".../DEFAULT"
_NAME = re.compile(r"^(?P<arch>[A-Za-z0-9_]+?)[:/@._-](?P<weights>IMAGENET1K\w*|DEFAULT)$")


def logit(percent: np.ndarray) -> np.ndarray:
    p = np.asarray(percent, dtype=float) / 100.0
    return np.log(p / (1.0 - p))


def sigmoid100(z: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def torchvision_top1(name: str) -> float | None:
    """ImageNet-1k top-1 (percent) from torchvision's weight metadata, offline.

    ``name`` is a weight enum (``ResNet50_Weights.IMAGENET1K_V2``) or an architecture and
    weights joined by ``:``, ``.``, ``_``, ``/`` or ``@`` (``resnet50:IMAGENET1K_V2``). A
    bare architecture name is not resolved: its weights are not known.
    """
    match = _NAME.match(name)
    if "_Weights." not in name and match is None:
        return None
    try:
        from torchvision.models import get_model_weights, get_weight
    except ImportError:
        return None
    try:
        if "_Weights." in name:
            weights = get_weight(name)
        else:
            weights = get_model_weights(match["arch"])[match["weights"]]
        return float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    except (ValueError, KeyError, AttributeError):
        return None


def imagenet_top1(names: Sequence[str], table: Mapping[str, float] | None = None,
                  use_torchvision: bool = True, weights: Mapping[str, str | None] | None = None
                  ) -> dict[str, float]:
    """ImageNet top-1 per model: ``table`` (from ``--imagenet-acc``) first, then torchvision
    metadata for the model's name, or for its ``weights`` enum (from evaluate's meta.json)."""
    table = table or {}
    weights = weights or {}
    out = {}
    for name in names:
        value = table.get(name)
        if value is None and use_torchvision:
            value = torchvision_top1(name)
            if value is None and weights.get(name):
                value = torchvision_top1(str(weights[name]))
        if value is not None:
            out[name] = float(value)
    return out


def effective_robustness(x: Mapping[str, float], y: Mapping[str, float],
                         fit_models: Sequence[str] | None = None
                         ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the trend over ``fit_models`` (default: every model with both accuracies).

    ``x`` and ``y`` map model names to accuracies in percent. Models at exactly 0 or 100
    on either axis are left out of the fit (their logit is infinite) but still get a
    value. Returns a table (model, imagenet_top1, siscore_accuracy, predicted_accuracy,
    effective_robustness, in_fit) and the fit (slope, intercept, models).
    """
    models = [m for m in y if m in x]
    chosen = list(fit_models) if fit_models else models
    unknown = [m for m in chosen if m not in models]
    if unknown:
        raise ScoreError(f"--fit-models {', '.join(unknown)}: no ImageNet top-1 or no scores "
                         "for these models; give them in --imagenet-acc CSV or fix the names")
    fit = [m for m in chosen if 0 < x[m] < 100 and 0 < y[m] < 100]
    if len({x[m] for m in fit}) < 2:
        raise ScoreError(
            f"effective robustness needs at least 2 models with different ImageNet top-1 in "
            f"the fit (have {len(fit)}: {', '.join(fit) or 'none'}); name the models like "
            "'resnet50:IMAGENET1K_V2' or give --imagenet-acc CSV (model,imagenet_top1)")
    slope, intercept = np.polyfit(logit([x[m] for m in fit]), logit([y[m] for m in fit]), 1)
    xs = np.array([x[m] for m in models])
    ys = np.array([y[m] for m in models])
    with np.errstate(divide="ignore"):
        predicted = sigmoid100(slope * logit(xs) + intercept)
    table = pd.DataFrame({"model": models, "imagenet_top1": xs, "siscore_accuracy": ys,
                          "predicted_accuracy": predicted,
                          "effective_robustness": ys - predicted,
                          "in_fit": [m in fit for m in models]})
    info = {"slope": float(slope), "intercept": float(intercept), "models": fit,
            "x": "ImageNet-1k top-1 (percent)",
            "y": "SI-SCORE mean_accuracy over cells (percent)"}
    return table, info
