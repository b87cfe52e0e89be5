"""The torchvision source (the default): models by name, weight enums from the torch hub cache.

A weight enum's file lives in the torch hub cache
(``torch.hub.get_dir()/checkpoints/<file name of the enum's url>``). :func:`load_model`
downloads it there (hash-checked) only when ``offline=False``; otherwise, and when the
download fails, :class:`WeightsNotFoundError` says in one line which file is expected where
and how to put it there. ``SISCORE_TORCHVISION_MIRROR`` replaces
``https://download.pytorch.org/models/`` (an institutional mirror). The pretrained record
(ImageNet top-1, input size) comes from the weights' ``meta`` and ``transforms()``.
torch and torchvision are imported when a model or record is asked for.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from siscore.evaluate.checkpoints import DownloadError, check_state, fetch_url, read_state_dict
from siscore.evaluate.registry import PretrainedCfg, did_you_mean, register_source
from siscore.evaluate.types import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LoadedModel,
    ModelError,
    WeightsNotFoundError,
    offline_requested,
)

MIRROR_BASE = "https://download.pytorch.org/models/"
# how score and users spell weights in a name: resnet50:IMAGENET1K_V2, resnet50.DEFAULT, ...
_SPELLED = re.compile(r"^(?P<arch>[A-Za-z0-9_]+?)[:/@._-](?P<weights>IMAGENET1K\w*|DEFAULT)$")


def classification_models() -> list[str]:
    """Names of torchvision's ImageNet classification models."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def _builder(name: str) -> Callable[..., Any]:
    import torchvision.models as tvm

    if name not in classification_models():
        raise ModelError(
            f"--model {name!r}: not a model siscore knows (a torchvision name, a built-in "
            f"model, timm/<name> or open_clip/<arch>){did_you_mean(name)} --list-models shows "
            "the sources; the Python API (siscore.evaluate.evaluate) takes any torch.nn.Module")
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
    import torch

    filename = os.path.basename(urlparse(member.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def weights_url(member: Any) -> str:
    """The download address of a weight enum member (``SISCORE_TORCHVISION_MIRROR`` applied)."""
    mirror = os.environ.get("SISCORE_TORCHVISION_MIRROR")
    if mirror and member.url.startswith(MIRROR_BASE):
        return mirror.rstrip("/") + "/" + member.url[len(MIRROR_BASE):]
    return member.url


def cached_weights(name: str) -> list[tuple[str, Path, bool]]:
    """``(enum name, expected path, present)`` for every weight enum member of model ``name``."""
    import torchvision.models as tvm

    _builder(name)
    return [(str(w), weights_path(w), weights_path(w).exists()) for w in tvm.get_model_weights(name)]


def _missing(name: str, member: Any, path: Path, why: str) -> WeightsNotFoundError:
    import torch

    message = (
        f"weights {member} of model {name} are not in the local torch cache (expected {path}; "
        f"torch.hub.get_dir() is {torch.hub.get_dir()}, TORCH_HOME sets it) and {why}; on a "
        f"machine with internet access fetch {member.url} (or run python -c \"import "
        f"torchvision; torchvision.models.{name}(weights='{member.name}')\") and copy the file "
        "there, or give a state dict with --checkpoint FILE")
    return WeightsNotFoundError(message, path, member.url)


def _fetch(name: str, member: Any, path: Path, offline: bool, progress: bool) -> None:
    """Download a weight file into the torch hub cache (hash-checked), or explain why not."""
    if offline_requested(offline):
        raise _missing(name, member, path, "downloads are off (--offline or HF_HUB_OFFLINE)")
    import torch

    url = weights_url(member)
    match = torch.hub.HASH_REGEX.search(path.name)
    try:
        fetch_url(url, path, progress=progress, hash_prefix=match.group(1) if match else None,
                  option="--weights")
    except DownloadError as exc:
        raise _missing(name, member, path, f"downloading it from {url} failed ({exc.reason})") from None


def imagenet_transform(crop: int = 224, resize: int = 256, member: Any | None = None) -> Any:
    """Resize (bilinear, antialiased), centre crop, to tensor, normalise: public transforms only.
    ``member`` (a weight enum) gives its own interpolation, mean and std."""
    from torchvision import transforms as T

    base = member.transforms() if member is not None else None
    return T.Compose([
        T.Resize(resize, interpolation=base.interpolation if base else T.InterpolationMode.BILINEAR,
                 antialias=True),
        T.CenterCrop(crop),
        T.ToTensor(),
        T.Normalize(list(base.mean) if base else IMAGENET_MEAN, list(base.std) if base else IMAGENET_STD),
    ])


def transform_sizes(transform: Any) -> tuple[int, int]:
    """``(resize, crop)`` of a transform made by :func:`make_transform`."""
    if hasattr(transform, "crop_size"):
        return transform.resize_size[0], transform.crop_size[0]
    steps = {type(s).__name__: s for s in transform.transforms}
    return int(steps["Resize"].size), int(steps["CenterCrop"].size[0])


def make_transform(member: Any | None = None, *, resize: int | None = None,
                   crop: int | None = None) -> Any:
    """The preprocessing of a weight enum (its ``transforms()``) or the standard ImageNet one,
    sizes overridable.

    ``crop`` is the centre-crop size fed to the network, ``resize`` the shorter
    side before cropping. Giving only ``crop`` scales ``resize`` with it, keeping
    the weights' resize/crop ratio (e.g. 256/224).
    """
    base = member.transforms() if member is not None else None
    base_resize, base_crop = transform_sizes(base) if base is not None else (256, 224)
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
    if base is not None and (new_crop, new_resize) == (base_crop, base_resize):
        return base
    if member is not None:
        return member.transforms(crop_size=new_crop, resize_size=new_resize)
    return imagenet_transform(new_crop, new_resize)


def _load_checkpoint(name: str, path: str | Path, offline: bool, progress: bool) -> tuple[Any, int]:
    import torch

    state = read_state_dict(path, offline=offline, progress=progress)
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
    check_state(module, state, path, name)
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
    the same call gives the same weights; :func:`siscore.evaluate.create_model` refuses
    that unless ``random_weights=True``). The transform is the weights' own (for a
    checkpoint or random weights: that of the architecture's DEFAULT weights), with
    ``resize``/``crop`` overriding its sizes. A weights file not cached is downloaded
    unless ``offline`` (the default here; ``create_model`` downloads by default).
    """
    import torch
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
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{path}: the cached weights {member} are unreadable ({first}); "
                             "delete the file and copy a fresh one there") from None
        meta = {k: v for k, v in member.meta.items() if k != "categories"}
        categories = list(member.meta.get("categories") or []) or None
    elif checkpoint is not None:
        module, out_width = _load_checkpoint(name, checkpoint, offline, progress)
        categories = list(default.meta["categories"]) if default and out_width == 1000 else None
    else:
        with torch.random.fork_rng(devices=[]):  # reproducible random weights, global state untouched
            torch.manual_seed(seed)
            module = builder(weights=None)
        categories = list(default.meta["categories"]) if default else None
    module.eval()
    transform = make_transform(member or default, resize=resize, crop=crop)
    record = torchvision_pretrained(name, str(member)) if member is not None else None
    return LoadedModel(
        module=module,
        transform=transform,
        categories=categories,
        name=name,
        weights=str(member) if member is not None else None,
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
        meta=meta,
        top1=record.top1 if record else None,
        random_init=member is None and checkpoint is None,
        num_outputs=out_width,
    )


def torchvision_pretrained(name: str, weights: str | None = None) -> PretrainedCfg | None:
    """The record of the weights a torchvision name selects (``resnet50:IMAGENET1K_V2``,
    ``resnet50`` with ``weights``, a weight enum ``ResNet50_Weights.IMAGENET1K_V2``, or
    score's spellings ``resnet50.DEFAULT``, ``resnet50_IMAGENET1K_V1``); None without weights."""
    from torchvision.models import get_weight

    arch, _, tag = name.partition(":")
    spelled = _SPELLED.match(name)
    if "_Weights." in name and not tag:
        member = get_weight(name)
        arch = None
    else:
        if not tag and spelled and arch not in classification_models():
            arch, tag = spelled["arch"], spelled["weights"]
        tag = weights or tag
        if not tag:
            return None  # a bare architecture: random weights, no record
        member = weights_enum(arch, tag)
    acc = member.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    tf = member.transforms()
    return PretrainedCfg(
        model=arch or str(member), source="torchvision", weights=str(member),
        top1=float(acc) if acc is not None else None, input_size=transform_sizes(tf)[1],
        resize=transform_sizes(tf)[0], interpolation=tf.interpolation.value,
        mean=tuple(tf.mean), std=tuple(tf.std))


@register_source("torchvision", describe="torchvision classification models (resnet50, vit_b_16, "
                 "...); --weights or name:WEIGHTS names a weight enum (IMAGENET1K_V2, DEFAULT)",
                 pretrained=torchvision_pretrained, names=classification_models)
def torchvision_model(name: str, *, weights: str | None = None,
                      checkpoint: str | Path | None = None, offline: bool = False,
                      progress: bool = False, resize: int | None = None, crop: int | None = None,
                      seed: int = 0, **_: Any) -> LoadedModel:
    """The torchvision source of :func:`siscore.evaluate.create_model` (downloads unless offline).

    ``name`` may carry its weights: ``resnet50:IMAGENET1K_V2``.
    """
    name, _, tag = name.partition(":")
    if tag and weights is None and checkpoint is None:
        weights = tag
    return load_model(name, weights, checkpoint, resize=resize, crop=crop, seed=seed,
                      offline=offline, progress=progress)
