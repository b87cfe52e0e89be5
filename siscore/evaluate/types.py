"""What every part of model loading shares: the loaded model, its errors, the device choice.

Imports no torch (only :func:`select_device` does, when called), so the registry and
``siscore score`` can use these names without the ``eval`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siscore.errors import SiscoreError
from siscore.utils import extras

if TYPE_CHECKING:
    import torch
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
N_IMAGENET = 1000


class ModelError(SiscoreError, ValueError):
    """A model, weights or checkpoint that cannot be used; the message says why and what to do."""


class WeightsNotFoundError(ModelError, FileNotFoundError):
    """Pretrained weights that are not in the local cache and may not or could not be fetched."""

    def __init__(self, message: str, path: Path, url: str) -> None:
        super().__init__(message)
        self.path = path
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


class MissingDependencyError(ModelError, extras.MissingDependencyError):
    """An optional package a model source needs is not installed; the message names the extra."""


class EvaluateError(SiscoreError, ValueError):
    """An evaluation that cannot run as asked; the message names the option and the fix."""


@dataclass
class LoadedModel:
    """A classifier ready for inference.

    ``module`` is in eval mode; ``transform`` maps a PIL image to a CHW float
    tensor; ``categories`` names the outputs (None when unknown); ``output_classes``
    is the ImageNet-1k index of each output (None: the 1000 ImageNet outputs in order);
    ``num_outputs`` the width of its logits when the source knows it (checked before
    anything is written).
    """

    module: nn.Module
    transform: Callable[[Any], torch.Tensor]
    categories: list[str] | None
    name: str
    weights: str | None = None
    checkpoint: Path | None = None
    output_classes: list[int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    top1: float | None = None  # ImageNet-1k top-1 (percent) from the weights' pretrained record
    random_init: bool = False  # True: randomly initialised (no weights, no checkpoint)
    num_outputs: int | None = None

    def check_outputs(self, output_classes: list[int] | None) -> None:
        """Refuse output classes that cannot fit the logits (before any file is written)."""
        if self.num_outputs is None:
            return
        if output_classes is None and self.num_outputs != N_IMAGENET:
            raise EvaluateError(
                f"--model {self.name}: the model has {self.num_outputs} outputs, not the 1000 "
                "ImageNet-1k classes; give the ImageNet index of each output (output_classes=..., "
                "--output-classes FILE)")
        if output_classes is not None and len(output_classes) != self.num_outputs:
            raise EvaluateError(f"--model {self.name}: the model has {self.num_outputs} outputs but "
                                f"{len(output_classes)} output classes were given")


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or raise a one-line error naming the extra to install."""
    return extras.require(module, what, extra, error=MissingDependencyError)


def offline_requested(offline: bool = False) -> bool:
    """``offline``, or the libraries' own switches set by the user (HF_HUB_OFFLINE,
    TRANSFORMERS_OFFLINE, SISCORE_OFFLINE); read, never written."""
    truthy = {"1", "true", "yes", "on"}
    return offline or any(os.environ.get(v, "").lower() in truthy
                          for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SISCORE_OFFLINE"))


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (siscore/data/imagenet_classes.txt,
    read once: :func:`siscore.formats.labels.imagenet_classes`)."""
    from siscore.formats.labels import imagenet_classes

    return list(imagenet_classes())


def select_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto``: CUDA if available, else Apple MPS, else the CPU; otherwise ``torch.device(device)``."""
    import torch

    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise EvaluateError(f"--device {device!r}: {exc}; use auto, cpu, cuda, cuda:1 or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EvaluateError(f"--device {device}: CUDA is not available here; use --device cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise EvaluateError(f"--device {device}: MPS is not available here; use --device cpu or auto")
    return dev
