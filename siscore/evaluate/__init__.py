"""Evaluating classifiers on SI-SCORE images (needs the ``eval`` extra: torch, torchvision).

>>> from siscore.evaluate import evaluate, load_model           # doctest: +SKIP
>>> m = load_model("resnet50", weights="IMAGENET1K_V2")         # doctest: +SKIP
>>> result = evaluate(m, None, "data/location", "preds.csv")    # doctest: +SKIP
>>> result.predictions.head()                                   # doctest: +SKIP

Modules: :mod:`.models` (loading), :mod:`.data` (torch datasets: a folder, or
rendered on the fly), :mod:`.predictions` (the resumable CSV cache),
:mod:`.runner` (batching, device, AMP).
"""

from siscore.evaluate.data import FolderDataset, ImageReadError, RenderedDataset
from siscore.evaluate.models import (
    LoadedModel,
    ModelError,
    WeightsNotFoundError,
    classification_models,
    load_model,
    make_transform,
)
from siscore.evaluate.predictions import COLUMNS, PredictionsError, SidePaths, read_predictions
from siscore.evaluate.runner import (
    EvalResult,
    EvaluateError,
    evaluate,
    module_digest,
    select_device,
)

__all__ = [
    "COLUMNS",
    "EvalResult",
    "EvaluateError",
    "FolderDataset",
    "ImageReadError",
    "LoadedModel",
    "ModelError",
    "PredictionsError",
    "RenderedDataset",
    "SidePaths",
    "WeightsNotFoundError",
    "classification_models",
    "evaluate",
    "load_model",
    "make_transform",
    "module_digest",
    "read_predictions",
    "select_device",
]
