"""One factory for every model source: torchvision, ``timm/``, ``open_clip/`` and built-in models.

A *source* is a function registered under a prefix with :func:`register_source`
(``timm`` serves ``timm/<name>``); a *built-in model* is registered under its
full name with :func:`register_model` (``efficientnet_lite0``). Names without a
registered prefix go to the default source, torchvision.
:func:`create_model` returns a :class:`~siscore.evaluate.models.LoadedModel`:
the module in eval mode, its own preprocessing, its ImageNet top-1 when known,
and its label space (the 1000 ImageNet-1k classes unless ``output_classes`` says otherwise).

Adding a source (see docs/evaluate.md)::

    @register_source("hub", describe="torch.hub entry points, hub/<repo>:<entry>")
    def hub_model(name, *, weights=None, checkpoint=None, offline=False, **_):
        repo, entry = name.split(":")
        module = torch.hub.load(repo, entry, pretrained=weights is not None)
        load_checkpoint(module, checkpoint, name)
        return LoadedModel(module.eval(), imagenet_transform(224, 256), None, f"hub/{name}")
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siscore.evaluate.models import LoadedModel, ModelError
from siscore.utils import extras
from siscore.utils.progress import interactive

Factory = Callable[..., LoadedModel]


class MissingDependencyError(ModelError, extras.MissingDependencyError):
    """An optional package a model source needs is not installed; the message names the extra."""


@dataclass(frozen=True)
class Source:
    """A registered model source (``prefix``) or built-in model (``name``)."""

    key: str
    factory: Factory
    describe: str
    top1: float | None = None  # built-in models: the published ImageNet-1k top-1
    builtin: bool = False


_SOURCES: dict[str, Source] = {}
_MODELS: dict[str, Source] = {}
DEFAULT_SOURCE = "torchvision"


def register_source(prefix: str, *, describe: str = "") -> Callable[[Factory], Factory]:
    """Register ``factory(name, *, weights, checkpoint, offline, progress, resize, crop, seed)``
    for model names ``<prefix>/<name>``; it returns a LoadedModel."""

    def deco(factory: Factory) -> Factory:
        _SOURCES[prefix] = Source(prefix, factory, describe)
        return factory

    return deco


def register_model(name: str, *, top1: float | None = None,
                   describe: str = "") -> Callable[[Factory], Factory]:
    """Register a built-in model under its full name (the factory gets the same keywords)."""

    def deco(factory: Factory) -> Factory:
        _MODELS[name] = Source(name, factory, describe, top1, builtin=True)
        return factory

    return deco


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or raise a one-line error naming the extra to install."""
    return extras.require(module, what, extra, error=MissingDependencyError)


def _load_sources() -> None:
    # importing them registers them; each imports its library lazily
    from siscore.evaluate import source_clip, source_lite, source_timm  # noqa: F401
    from siscore.evaluate.models import torchvision_model

    if DEFAULT_SOURCE not in _SOURCES:
        register_source(DEFAULT_SOURCE, describe="torchvision classification models (resnet50, "
                        "vit_b_16, ...); --weights names a weight enum (IMAGENET1K_V2, DEFAULT)"
                        )(torchvision_model)


def resolve(name: str) -> tuple[Source, str]:
    """The source serving ``name`` and the name within that source."""
    _load_sources()
    if name in _MODELS:
        return _MODELS[name], name
    prefix, sep, rest = name.partition("/")
    if sep and prefix in _SOURCES:
        if not rest:
            raise ModelError(f"--model {name!r}: give a model name after '{prefix}/'")
        return _SOURCES[prefix], rest
    if sep:
        known = ", ".join(sorted(p + "/" for p in _SOURCES if p != DEFAULT_SOURCE))
        raise ModelError(f"--model {name!r}: unknown source {prefix!r}; known prefixes: {known}, "
                         "or a torchvision name without a prefix")
    return _SOURCES[DEFAULT_SOURCE], name


def offline_requested(offline: bool = False) -> bool:
    """``offline`` or the libraries' own switches (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE)."""
    truthy = {"1", "true", "yes", "on"}
    return offline or any(os.environ.get(v, "").lower() in truthy
                          for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SISCORE_OFFLINE"))


def create_model(
    name: str,
    weights: str | None = None,
    checkpoint: str | Path | None = None,
    *,
    offline: bool = False,
    progress: bool = False,
    resize: int | None = None,
    crop: int | None = None,
    seed: int = 0,
    device: str | None = None,
    **options: Any,
) -> LoadedModel:
    """A classifier of any registered source, with its own preprocessing and known top-1.

    ``name``: a torchvision name (``resnet50``), ``timm/<name>[.<tag>]``,
    ``open_clip/<arch>[:<pretrained>]``, ``open_clip/hf-hub:<org>/<repo>`` or a built-in
    (``efficientnet_lite0``).
    Pretrained weights are named by ``weights`` or by the name's tag; with
    neither (and no ``checkpoint``) the network is randomly initialised from
    ``seed`` and ``LoadedModel.random_init`` is True. Weights missing locally
    are downloaded into the library's own cache unless ``offline`` (or
    HF_HUB_OFFLINE) is set; a ``checkpoint`` state dict is read weights-only.
    ``device``: where to move the module (None: leave it on the CPU).
    """
    source, inner = resolve(name)
    if weights is not None and checkpoint is not None:
        raise ModelError("weights, checkpoint: give one of them (--weights or --checkpoint), not both")
    model = source.factory(inner, weights=weights, checkpoint=checkpoint,
                           offline=offline_requested(offline), progress=interactive(progress),
                           resize=resize,
                           crop=crop, seed=seed, **options)
    if model.top1 is None and source.top1 is not None and checkpoint is None:
        model.top1 = source.top1
    if device is not None:
        from siscore.evaluate.runner import select_device

        model.module.to(select_device(device))
    return model


def list_models() -> list[tuple[str, str, float | None]]:
    """``(name or prefix, description, ImageNet top-1)`` of the built-in models and sources."""
    _load_sources()
    rows = [(k, s.describe, s.top1) for k, s in sorted(_MODELS.items())]
    rows += [(k + "/..." if k != DEFAULT_SOURCE else "<torchvision name>", s.describe, None)
             for k, s in sorted(_SOURCES.items())]
    return rows


def known_top1(name: str, weights: str | None = None) -> float | None:
    """The ImageNet-1k top-1 (percent) a model's library records, or None (nothing is loaded)."""
    _load_sources()
    if name in _MODELS:
        return _MODELS[name].top1
    if "/" in name:
        return None  # timm and open_clip do not ship accuracies offline
    try:
        from siscore.evaluate.models import weights_enum

        member = weights_enum(name, weights or "DEFAULT")
        acc = member.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
        return float(acc) if acc is not None else None
    except (ModelError, ValueError, KeyError, ImportError):
        return None


# -- checkpoints --------------------------------------------------------------------------
def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state dict from a file (or an ``http(s)://`` URL, via the torch hub cache), weights-only."""
    import torch

    text = str(path)
    if text.startswith(("http://", "https://")):
        path = download_to_hub(text)
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"--checkpoint {path}: file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"--checkpoint {path}: not a plain state dict ({str(exc).splitlines()[0]}); save "
            "`model.state_dict()` with torch.save, or load the module yourself and use the "
            "Python API (siscore.evaluate.evaluate)") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"--checkpoint {path}: unreadable ({str(exc).splitlines()[0]})") from None
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"--checkpoint {path}: expected a state dict (parameter name -> tensor)")
    if obj and all(k.startswith("module.") for k in obj):  # saved from DataParallel / DDP
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _few(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def state_mismatch(own: dict[str, Any], state: dict[str, Any]) -> str | None:
    """How ``state`` fails to fit a module's ``own`` state dict: counts and a few names, or None."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shaped = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} key(s) missing from the file (e.g. {_few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) (e.g. {_few(unexpected)})")
    if shaped:
        k = shaped[0]
        parts.append(f"{len(shaped)} key(s) of another shape (e.g. {k}: "
                     f"{'x'.join(map(str, state[k].shape))} in the file, "
                     f"{'x'.join(map(str, own[k].shape))} in the model)")
    return "; ".join(parts) or None


def load_checkpoint(module: Any, checkpoint: str | Path | None, name: str) -> bool:
    """Load a state-dict file into ``module`` (strict); False when ``checkpoint`` is None."""
    if checkpoint is None:
        return False
    state = read_state_dict(checkpoint)
    problem = state_mismatch(module.state_dict(), state)
    if problem:
        raise ModelError(f"--checkpoint {checkpoint}: does not fit the architecture {name}: "
                         f"{problem}; check --model")
    module.load_state_dict(state)
    return True


# -- downloads ----------------------------------------------------------------------------
def download_to_hub(url: str, *, offline: bool = False, progress: bool = False,
                    check_hash: bool = False) -> Path:
    """Fetch ``url`` into ``torch.hub.get_dir()/checkpoints`` (once) and return the file."""
    from urllib.parse import urlparse

    import torch

    target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    if target.is_file():
        return target
    if offline_requested(offline):
        raise ModelError(f"{url}: not in the local torch cache (expected {target}) and downloads "
                         "are off (--offline or HF_HUB_OFFLINE); copy the file there")
    target.parent.mkdir(parents=True, exist_ok=True)
    hash_prefix = None
    if check_hash:
        match = torch.hub.HASH_REGEX.search(target.name)
        hash_prefix = match.group(1) if match else None
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix,
                                       progress=interactive(progress))
    except (OSError, RuntimeError, ValueError) as exc:
        for leftover in target.parent.glob(target.name + "*.partial"):
            leftover.unlink()
        raise ModelError(f"{url}: download failed ({str(exc).splitlines()[0]}); fetch it on a "
                         f"machine with internet access and copy it to {target}") from None
    return target
