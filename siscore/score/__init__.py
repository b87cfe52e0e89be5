"""Per-cell scoring of classifier predictions on a SI-SCORE-style dataset.

>>> from siscore.score import score
>>> table = score("data/location", ["resnet50.csv"])            # doctest: +SKIP
>>> result = score_predictions("data/location", ["a.csv", "b.csv"], baseline="a")  # doctest: +SKIP
>>> result.write("scores.csv")                                   # doctest: +SKIP

Modules: ``io`` (predictions files), ``reference`` (dataset metadata and labels),
``scoring`` (cells, correctness, normalisation), ``stats`` (intervals), ``summary``
(per-model numbers), ``effective`` (effective robustness), ``api`` (entry points),
``synthetic`` (metadata-only folders and simulated predictions for tests and benchmarks).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from siscore.score.api import ScoreResult, as_predictions, as_reference, score_predictions
from siscore.score.io import Predictions, ScoreError, read_imagenet_acc, read_predictions
from siscore.score.reference import OutputMap, Reference, from_metadata, read_output_map
from siscore.score.stats import clopper_pearson


def score(dataset: Any, predictions: Any, **options: Any) -> pd.DataFrame:
    """The tidy scores table of :func:`score_predictions` (same arguments)."""
    return score_predictions(dataset, predictions, **options).scores


__all__ = [
    "OutputMap", "Predictions", "Reference", "ScoreError", "ScoreResult", "as_predictions",
    "as_reference", "clopper_pearson", "from_metadata", "read_imagenet_acc", "read_output_map",
    "read_predictions", "score", "score_predictions",
]
