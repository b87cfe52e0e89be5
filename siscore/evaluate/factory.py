"""One factory for every model source: :func:`create_model` (timm's ``_factory`` in spirit).

It resolves a name through :mod:`siscore.evaluate.registry` (which imports the built-in
sources on first use), calls the source, fills in the ImageNet top-1 from the weights'
pretrained record, and refuses randomly initialised networks unless asked for them.

Adding a source (see docs/evaluate.md)::

    @register_source("hub", describe="torch.hub entry points, hub/<repo>:<entry>")
    def hub_model(name, *, weights=None, checkpoint=None, **_):
        repo, entry = name.split(":")
        module = torch.hub.load(repo, entry, weights=weights)
        load_checkpoint(module, checkpoint, name)
        return LoadedModel(module.eval(), imagenet_transform(224, 256), None, f"hub/{name}")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siscore.evaluate.checkpoints import load_checkpoint, read_state_dict, state_mismatch
from siscore.evaluate.registry import imagenet_top1, resolve
from siscore.evaluate.types import LoadedModel, ModelError, offline_requested, select_device
from siscore.utils.progress import interactive

__all__ = ["create_model", "load_checkpoint", "read_state_dict", "state_mismatch"]


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
    random_weights: bool = False,
    **options: Any,
) -> LoadedModel:
    """A classifier of any registered source, with its own preprocessing and known top-1.

    ``name``: a torchvision name (``resnet50:IMAGENET1K_V2``), ``timm/<name>[.<tag>]``,
    ``open_clip/<arch>[:<pretrained>]``, ``open_clip/hf-hub:<org>/<repo>`` or a built-in
    (``efficientnet_lite0``). Pretrained weights are named by ``weights`` or by the name's
    tag; with neither (and no ``checkpoint``) the network would be randomly initialised:
    refused unless ``random_weights`` (then seeded by ``seed``, ``LoadedModel.random_init``
    True). Weights missing locally are downloaded into the library's cache unless
    ``offline`` (or HF_HUB_OFFLINE); a ``checkpoint`` (file or URL; torch or safetensors)
    is read weights-only. ``device``: where to move the module (None: the CPU).
    """
    source, inner = resolve(name)
    if weights is not None and checkpoint is not None:
        raise ModelError("weights, checkpoint: give one of them (--weights or --checkpoint), not both")
    model = source.factory(inner, weights=weights, checkpoint=checkpoint,
                           offline=offline_requested(offline), progress=interactive(progress),
                           resize=resize, crop=crop, seed=seed, **options)
    if model.random_init and not random_weights:
        raise ModelError(
            f"--model {name}: no pretrained weights were named, so the network is randomly "
            "initialised and its predictions are chance level; name weights (resnet50:DEFAULT, "
            "timm/resnet50.a1_in1k, --weights), give --checkpoint FILE, or pass --random-weights "
            "(random_weights=True) to evaluate a random network on purpose")
    if model.top1 is None and checkpoint is None and not model.random_init:
        model.top1 = imagenet_top1(name, weights)
    if device is not None:
        model.module.to(select_device(device))
    return model
