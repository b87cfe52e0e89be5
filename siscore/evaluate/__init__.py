"""Evaluating classifiers on SI-SCORE images (needs the ``eval`` extra: torch, torchvision).

>>> from siscore.evaluate import create_model, evaluate          # doctest: +SKIP
>>> m = create_model("efficientnet_lite0")                      # doctest: +SKIP
>>> result = evaluate(m, None, "data/location", "preds.csv")    # doctest: +SKIP
>>> result.predictions.head()                                   # doctest: +SKIP

Modules: :mod:`.zoo` (the model-source registry and :func:`create_model`),
:mod:`.models` (the torchvision source), :mod:`.source_lite`, :mod:`.source_timm`,
:mod:`.source_clip` (the other sources), :mod:`.data` (torch datasets: a folder,
or rendered on the fly), :mod:`.predictions` (the resumable CSV cache),
:mod:`.runner` (batching, device, AMP, several models in one pass).
"""

from siscore.evaluate.data import (
    FolderDataset,
    ImageReadError,
    RenderedDataset,
    SIScoreDataset,
    WebDatasetImages,
)
from siscore.evaluate.models import (
    LoadedModel,
    ModelError,
    WeightsNotFoundError,
    classification_models,
    imagenet_categories,
    load_model,
    make_transform,
)
from siscore.evaluate.predictions import (
    COLUMNS,
    PredictionsError,
    SidePaths,
    read_predictions,
    recorded_top1,
)
from siscore.evaluate.runner import (
    EvalResult,
    EvaluateError,
    evaluate,
    evaluate_many,
    module_digest,
    select_device,
)
from siscore.evaluate.zoo import (
    MissingDependencyError,
    create_model,
    known_top1,
    list_models,
    load_checkpoint,
    register_model,
    register_source,
)

__all__ = [
    "COLUMNS",
    "EvalResult",
    "EvaluateError",
    "FolderDataset",
    "ImageReadError",
    "LoadedModel",
    "MissingDependencyError",
    "ModelError",
    "PredictionsError",
    "RenderedDataset",
    "SIScoreDataset",
    "SidePaths",
    "WebDatasetImages",
    "WeightsNotFoundError",
    "classification_models",
    "create_model",
    "evaluate",
    "evaluate_many",
    "imagenet_categories",
    "known_top1",
    "list_models",
    "load_checkpoint",
    "load_model",
    "make_transform",
    "module_digest",
    "read_predictions",
    "recorded_top1",
    "register_model",
    "register_source",
    "select_device",
]
