"""The torchvision source: models by name, weight enums from the torch hub cache, state dicts.

A weight enum's file lives in the torch hub cache
(``torch.hub.get_dir()/checkpoints/<file name of the enum's url>``). :func:`load_model`
downloads it there (torchvision's own mechanism, hash-checked) only when
``offline=False``; otherwise, and when the download fails,
:class:`WeightsNotFoundError` says which file is expected where and how to put it
there. ``SISCORE_TORCHVISION_MIRROR`` replaces ``https://download.pytorch.org/models/``
(an institutional mirror). :mod:`siscore.evaluate.zoo` serves the other sources.
"""

from __future__ import annotations

import difflib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from siscore.errors import SiscoreError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelError(SiscoreError, ValueError):
    """A model, weights or checkpoint that cannot be used; the message says why and what to do."""


class WeightsNotFoundError(ModelError, FileNotFoundError):
    """Pretrained weights that are not in the local torch cache (nothing is downloaded)."""

    def __init__(self, message: str, path: Path, url: str) -> None:
        super().__init__(message)
        self.path = path
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class LoadedModel:
    """A classifier ready for inference.

    ``module`` is in eval mode; ``transform`` maps a PIL image to a CHW float
    tensor; ``categories`` names the outputs (None when unknown); ``output_classes``
    is the ImageNet-1k index of each output (None: the 1000 ImageNet outputs in order).
    """

    module: nn.Module
    transform: Callable[[Any], torch.Tensor]
    categories: list[str] | None
    name: str
    weights: str | None = None
    checkpoint: Path | None = None
    output_classes: list[int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    top1: float | None = None  # ImageNet-1k top-1 (percent) when the library records it
    random_init: bool = False  # True: randomly initialised (no weights, no checkpoint)


def classification_models() -> list[str]:
    """Names of torchvision's ImageNet classification models."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def _builder(name: str) -> Callable[..., nn.Module]:
    import torchvision.models as tvm

    known = classification_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=4, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ModelError(
            f"--model {name!r}: not a torchvision classification model; {hint}"
            f"known: {', '.join(known)}. Other sources: timm/<name>, open_clip/<arch>, "
            "efficientnet_lite0/1/2 (--list-models), or the Python API (siscore.evaluate."
            "evaluate) for any other torch.nn.Module"
        )
    return tvm.get_model_builder(name)


def weights_enum(name: str, weights: str) -> Any:
    """The weight enum member of model ``name`` called ``weights`` (``DEFAULT`` allowed)."""
    import torchvision.models as tvm

    enum = tvm.get_model_weights(name)
    key = weights.split(".", 1)[1] if weights.startswith(enum.__name__ + ".") else weights
    try:
        return enum[key]
    except KeyError:
        choices = ", ".join(["DEFAULT", *(w.name for w in enum)])
        raise ModelError(f"--weights {weights!r}: model {name} has the weights {choices}") from None


def weights_path(member: Any) -> Path:
    """Where the torch hub cache keeps the file of a weight enum member."""
    filename = os.path.basename(urlparse(member.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def cached_weights(name: str) -> list[tuple[str, Path, bool]]:
    """``(enum name, expected path, present)`` for every weight enum member of model ``name``."""
    import torchvision.models as tvm

    _builder(name)
    return [(str(w), weights_path(w), weights_path(w).exists()) for w in tvm.get_model_weights(name)]


def _missing(name: str, member: Any, path: Path, why: str = "Downloads are off (--offline "
             "or HF_HUB_OFFLINE)") -> WeightsNotFoundError:
    message = (
        f"weights {member} of model {name} are not in the local torch cache: expected the file\n"
        f"  {path}\n"
        f"(torch.hub.get_dir() is {torch.hub.get_dir()}; set TORCH_HOME to use another cache). "
        f"{why}. To put the file there, on a machine with internet access run\n"
        f"  python -c \"import torchvision; torchvision.models.{name}(weights='{member.name}')\"\n"
        f"or fetch {member.url}\n"
        f"and copy it to {path}. Or give a state dict with --checkpoint FILE."
    )
    return WeightsNotFoundError(message, path, member.url)


def make_transform(
    member: Any | None = None, *, resize: int | None = None, crop: int | None = None
) -> Callable[[Any], torch.Tensor]:
    """The preprocessing of a weight enum (or the standard ImageNet one), sizes overridable.

    ``crop`` is the centre-crop size fed to the network, ``resize`` the shorter
    side before cropping. Giving only ``crop`` scales ``resize`` with it, keeping
    the weights' resize/crop ratio (e.g. 256/224).
    """
    from torchvision.transforms._presets import ImageClassification

    factory = member.transforms if member is not None else ImageClassification
    base = factory() if member is not None else ImageClassification(crop_size=224, resize_size=256)
    base_crop, base_resize = base.crop_size[0], base.resize_size[0]
    for opt, value in (("--crop", crop), ("--resize", resize)):
        if value is not None and not 8 <= value <= 8192:
            raise ModelError(f"{opt} {value}: must be a size in pixels between 8 and 8192")
    new_crop = crop if crop is not None else base_crop
    if resize is not None:
        new_resize = resize
    elif crop is not None:
        new_resize = round(crop * base_resize / base_crop)
    else:
        new_resize = base_resize
    if new_resize < new_crop:
        raise ModelError(f"--resize {new_resize} is smaller than --crop {new_crop}: the centre "
                         "crop must fit inside the resized image")
    if (new_crop, new_resize) == (base_crop, base_resize):
        return base
    if member is not None:
        return member.transforms(crop_size=new_crop, resize_size=new_resize)
    return ImageClassification(crop_size=new_crop, resize_size=new_resize)


def weights_url(member: Any) -> str:
    """The download address of a weight enum member (``SISCORE_TORCHVISION_MIRROR`` applied)."""
    mirror = os.environ.get("SISCORE_TORCHVISION_MIRROR")
    base = "https://download.pytorch.org/models/"
    if mirror and member.url.startswith(base):
        return mirror.rstrip("/") + "/" + member.url[len(base):]
    return member.url


def _fetch(name: str, member: Any, path: Path, offline: bool, progress: bool) -> None:
    """Download a weight file into the torch hub cache (hash-checked), or explain why not."""
    from siscore.evaluate.zoo import download_to_hub, offline_requested

    if offline_requested(offline):
        raise _missing(name, member, path)
    try:
        got = download_to_hub(weights_url(member), progress=progress, check_hash=True)
    except ModelError as exc:
        raise _missing(name, member, path, f"Downloading failed: {exc}") from None
    if got != path:  # a mirror with another file name
        got.replace(path)


def _load_checkpoint(name: str, path: str | Path) -> tuple[nn.Module, int]:
    from siscore.evaluate.zoo import read_state_dict, state_mismatch

    state = read_state_dict(path)
    builder = _builder(name)
    with torch.random.fork_rng(devices=[]):  # the initial values are overwritten anyway
        module = builder(weights=None)
    own = module.state_dict()
    mismatched = [k for k in own if k in state and own[k].shape != state[k].shape]
    widths = {state[k].shape[0] for k in mismatched}
    width = 1000
    if mismatched and len(widths) == 1 and all(own[k].shape[0] == 1000 for k in mismatched):
        width = widths.pop()
        with torch.random.fork_rng(devices=[]):
            module = builder(weights=None, num_classes=width)  # a fine-tuned classifier head
    problem = state_mismatch(module.state_dict(), state)
    if problem:
        raise ModelError(f"--checkpoint {path}: does not fit the architecture {name}: {problem}; "
                         "check --model")
    module.load_state_dict(state)
    return module, width


def load_model(
    name: str,
    weights: str | None = None,
    checkpoint: str | Path | None = None,
    *,
    resize: int | None = None,
    crop: int | None = None,
    seed: int = 0,
    offline: bool = True,
    progress: bool = False,
) -> LoadedModel:
    """A torchvision classifier by name, with a weight enum from the torch cache or a state dict.

    ``weights`` is a member of the model's weight enum (``IMAGENET1K_V2``,
    ``ResNet50_Weights.IMAGENET1K_V2`` or ``DEFAULT``); with neither ``weights``
    nor ``checkpoint`` the network is randomly initialised (from ``seed``, so
    the same call gives the same weights). The transform is the
    weights' own (for a checkpoint or random weights: that of the architecture's
    DEFAULT weights), with ``resize``/``crop`` overriding its sizes.
    A weights file not cached is downloaded unless ``offline`` (the default
    here; :func:`siscore.evaluate.create_model` downloads by default);
    :class:`WeightsNotFoundError` when it is not there and cannot be fetched.
    """
    import torchvision.models as tvm

    builder = _builder(name)
    if weights is not None and checkpoint is not None:
        raise ModelError("give either --weights (a torchvision weight enum) or --checkpoint "
                         "(a state-dict file), not both")
    try:
        default = tvm.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        default = None
    member = weights_enum(name, weights) if weights is not None else None
    meta: dict[str, Any] = {}
    out_width = 1000
    if member is not None:
        path = weights_path(member)
        if not path.exists():
            _fetch(name, member, path, offline, progress)
        try:
            module = builder(weights=member, progress=False)
        except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as exc:
            raise ModelError(f"{path}: the cached weights {member} are unreadable ({exc}); delete "
                             "the file and copy a fresh one there") from None
        meta = {k: v for k, v in member.meta.items() if k != "categories"}
        categories = list(member.meta.get("categories") or []) or None
    elif checkpoint is not None:
        module, out_width = _load_checkpoint(name, checkpoint)
        categories = list(default.meta["categories"]) if default and out_width == 1000 else None
    else:
        with torch.random.fork_rng(devices=[]):  # reproducible random weights, global state untouched
            torch.manual_seed(seed)
            module = builder(weights=None)
        categories = list(default.meta["categories"]) if default else None
    module.eval()
    transform = make_transform(member or default, resize=resize, crop=crop)
    acc = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    return LoadedModel(
        module=module,
        transform=transform,
        categories=categories,
        name=name,
        weights=str(member) if member is not None else None,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
        meta=meta,
        top1=float(acc) if acc is not None else None,
        random_init=member is None and checkpoint is None,
    )


def torchvision_model(name: str, *, weights: str | None = None,
                      checkpoint: str | Path | None = None, offline: bool = False,
                      progress: bool = False, resize: int | None = None, crop: int | None = None,
                      seed: int = 0) -> LoadedModel:
    """The torchvision source of :func:`siscore.evaluate.create_model` (downloads unless offline).

    ``name`` may carry its weights: ``resnet50:IMAGENET1K_V2``.
    """
    name, _, tag = name.partition(":")
    if tag and weights is None and checkpoint is None:
        weights = tag
    return load_model(name, weights, checkpoint, resize=resize, crop=crop, seed=seed,
                      offline=offline, progress=progress)


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (siscore/data/imagenet_classes.txt)."""
    from importlib.resources import files

    text = files("siscore").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]
