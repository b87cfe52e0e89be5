"""Per-model summary numbers of a scores table, and the JSON file that holds them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.score.measures import measures_for, replicate_measures
from siscore.score.stats import clopper_pearson


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def model_summary(stats: pd.DataFrame, by: Sequence[str], n_images: int, n_dataset: int,
                  level: float = 0.95) -> dict[str, Any]:
    """Summary numbers for one model's cells (``stats`` has the scores columns)."""
    acc = stats["accuracy"].to_numpy(float)
    n, correct = stats["n"].to_numpy(float), stats["correct"].to_numpy(float)
    low, high = clopper_pearson(correct.sum(), n.sum(), level)
    worst = stats.iloc[int(np.nanargmin(acc))] if np.isfinite(acc).any() else stats.iloc[0]
    out: dict[str, Any] = {
        "n_images": int(n_images),
        "coverage": n_images / n_dataset if n_dataset else float("nan"),
        "n_cells": len(stats),
        "mean_accuracy": float(acc.mean()),
        "overall_accuracy": float(correct.sum() / n.sum()),
        "overall_ci": [float(low), float(high)],
        "worst_cell": {**{c: worst[c] for c in by}, "accuracy": float(worst["accuracy"]),
                       "n": int(worst["n"])},
    }
    for name, value in replicate_measures(measures_for(stats, by), acc[:, None],
                                          n[:, None]).items():
        out[name] = float(value[0])  # api.py adds the intervals over objects
    return out


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically (temp file, then rename)."""
    from siscore.utils.files import atomic_text

    atomic_text(Path(path), json.dumps(_plain(data), indent=1, allow_nan=False) + "\n")
