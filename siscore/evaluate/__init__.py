"""Evaluating classifiers on SI-SCORE images (needs the ``eval`` extra: torch, torchvision).

>>> from siscore.evaluate import create_model, evaluate          # doctest: +SKIP
>>> m = create_model("efficientnet_lite0")                      # doctest: +SKIP
>>> result = evaluate(m, None, "data/location", "preds.csv")    # doctest: +SKIP
>>> result.predictions.head()                                   # doctest: +SKIP

Model loading, lowest first (each imports only those above it; docs/evaluate.md):
:mod:`.types` (``LoadedModel``, the errors, ``select_device``), :mod:`.registry` (sources,
built-in models and the pretrained record of their weights, ImageNet top-1 included; no
torch), :mod:`.checkpoints` (state dicts: torch or safetensors files, URLs) and :mod:`.hub`
(Hugging Face files), :mod:`.sources` (torchvision, timm, open_clip, the Lite models),
:mod:`.factory` (:func:`create_model`). Running: :mod:`.data` (torch datasets),
:mod:`.predictions` (the resumable CSV cache), :mod:`.runner` (batching, device, AMP,
several models in one pass), :mod:`.shards`, :mod:`.study` (:func:`evaluate_models`, what
``siscore evaluate`` runs). Names load on first use, so importing this
package (or :mod:`.registry`) imports no torch.
"""

from __future__ import annotations

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "data": ["FolderDataset", "ImageReadError", "RenderedDataset", "SIScoreDataset",
                 "WebDatasetImages"],
        "types": ["EvaluateError", "LoadedModel", "MissingDependencyError", "ModelError",
                  "WeightsNotFoundError", "imagenet_categories", "select_device"],
        "registry": ["PretrainedCfg", "imagenet_top1", "known_top1", "list_models",
                     "pretrained_cfg", "register_model", "register_source", "suggest"],
        "checkpoints": ["load_checkpoint", "read_state_dict"],
        "factory": ["create_model"],
        "sources.torchvision": ["classification_models", "imagenet_transform", "load_model",
                                "make_transform"],
        "predictions": ["COLUMNS", "PredictionsError", "SidePaths", "read_predictions",
                        "recorded_top1"],
        "runner": ["EvalResult", "evaluate", "evaluate_many", "module_digest"],
        "study": ["default_workers", "evaluate_models", "read_output_classes"],
    },
)
