"""The ``timm/`` source: ``timm/<architecture>[.<tag>]``, timm's own model, config and transform.

``timm/resnet50.a1_in1k`` loads those pretrained weights (from the Hugging Face
cache, downloaded there by huggingface_hub unless offline); ``timm/resnet50``
without a tag is randomly initialised unless ``--weights DEFAULT`` (timm's
default tag) or ``--weights <tag>``. Preprocessing comes from
``timm.data.resolve_data_config`` and ``timm.data.create_transform``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from siscore.evaluate.models import LoadedModel, ModelError, imagenet_categories
from siscore.evaluate.zoo import load_checkpoint, register_source, require


@contextlib.contextmanager
def hub_offline(offline: bool) -> Iterator[None]:
    """Make huggingface_hub refuse the network inside the block when ``offline``."""
    if not offline:
        yield
        return
    import huggingface_hub.constants as hc

    old_env, old_const = os.environ.get("HF_HUB_OFFLINE"), hc.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hc.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hc.HF_HUB_OFFLINE = old_const
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


@contextlib.contextmanager
def hub_progress(progress: bool) -> Iterator[None]:
    """Hugging Face download bars only when ``progress`` (``siscore.utils.progress.interactive``,
    which :func:`~siscore.evaluate.zoo.create_model` passes): none in logs."""
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    if progress or are_progress_bars_disabled():
        yield
        return
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def hub_missing(what: str, repo: str, exc: BaseException, offline: bool) -> ModelError:
    """The error for pretrained weights that are not in the Hugging Face cache."""
    import huggingface_hub.constants as hc

    place = Path(hc.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    why = ("downloads are off (--offline or HF_HUB_OFFLINE)" if offline else
           f"the download from {hc.ENDPOINT} failed ({str(exc).splitlines()[0][:200]})")
    return ModelError(f"{what}: pretrained weights {repo} are not in the Hugging Face cache "
                      f"(expected under {place}; HF_HOME sets the cache) and {why}; on a machine "
                      f"with internet access run `huggingface-cli download {repo}` and copy "
                      "the cache folder here")


@register_source("timm", describe="timm models, timm/<arch>[.<tag>] (e.g. timm/resnet50.a1_in1k): "
                 "timm's pretrained weights via the Hugging Face cache, timm's transform")
def timm_model(name: str, *, weights: str | None = None, checkpoint: str | Path | None = None,
               offline: bool = False, progress: bool = False, resize: int | None = None,
               crop: int | None = None, seed: int = 0, **_: Any) -> LoadedModel:
    timm = require("timm", "timm", f"--model timm/{name}")
    import torch

    arch, _, tag = name.partition(".")
    if weights not in (None, "DEFAULT"):
        tag = weights
    full = f"{arch}.{tag}" if tag else arch
    pretrained = checkpoint is None and (bool(tag) or weights == "DEFAULT")
    if arch not in timm.list_models():
        raise ModelError(f"--model timm/{name}: timm has no architecture {arch!r} "
                         "(timm.list_models() lists them)")
    try:
        with hub_offline(offline), hub_progress(progress), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = timm.create_model(full, pretrained=pretrained)
    except RuntimeError as exc:
        if "Unknown pretrained tag" in str(exc) or "Invalid pretrained tag" in str(exc):
            raise ModelError(f"--model timm/{name}: {str(exc).splitlines()[0]}") from None
        raise hub_missing(f"--model timm/{name}", f"timm/{full}", exc, offline) from None
    except (OSError, ValueError) as exc:  # huggingface_hub's errors derive from these
        if not pretrained:
            raise ModelError(f"--model timm/{name}: {str(exc).splitlines()[0]}") from None
        raise hub_missing(f"--model timm/{name}", f"timm/{full}", exc, offline) from None
    load_checkpoint(module, checkpoint, f"timm/{arch}")
    module.eval()
    config = timm.data.resolve_data_config({}, model=module)
    if crop is not None:
        config["input_size"] = (3, crop, crop)
    if resize is not None:
        config["crop_pct"] = config["input_size"][-1] / resize
    transform = timm.data.create_transform(**config, is_training=False)
    n_out = getattr(module, "num_classes", 1000)
    return LoadedModel(module=module, transform=transform,
                       categories=imagenet_categories() if n_out == 1000 else None,
                       name=f"timm/{full}", weights=full if pretrained else None,
                       checkpoint=Path(checkpoint) if checkpoint else None,
                       meta={"data_config": {k: list(v) if isinstance(v, tuple) else v
                                             for k, v in config.items()}},
                       random_init=not pretrained and checkpoint is None)
