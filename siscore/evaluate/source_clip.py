"""The ``open_clip/`` source: CLIP-style models as zero-shot ImageNet classifiers.

``open_clip/<arch>:<pretrained>`` (e.g. ``open_clip/ViT-B-32:laion2b_s34b_b79k``)
loads the model with open_clip (weights through its Hugging Face cache,
downloaded unless offline; ``<arch>`` alone: random weights);
``open_clip/hf-hub:<org>/<repo>`` a model published on the Hub in open_clip's
format (``open_clip_config.json`` and the weights, fetched first, so that a missing
file is an error rather than open_clip's silent random weights). It builds a
zero-shot head: for each of the 1000 ImageNet classes, the mean of the
normalised text embeddings of a prompt ensemble ("a photo of a {}.", ...),
with open_clip's own ``build_zero_shot_classifier``. The class names are
open_clip's ``IMAGENET_CLASSNAMES`` (CLIP's cleaned names, in ImageNet-1k index
order); the prompts are CLIP's 80 ImageNet templates (``templates="openai"``)
or its 7 short ones (``templates="simple"``, faster to build).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch import nn

from siscore.evaluate.models import LoadedModel, ModelError, imagenet_categories
from siscore.evaluate.source_timm import hub_missing, hub_offline, hub_progress
from siscore.evaluate.zoo import load_checkpoint, register_source, require


class ZeroShotClassifier(nn.Module):
    """Image encoder plus a fixed text head: logits = 100 * cos(image, class embedding)."""

    def __init__(self, clip: nn.Module, head: Any) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("head", head.detach().clone())  # (dim, 1000)

    def forward(self, images: Any) -> Any:
        features = self.clip.encode_image(images, normalize=True)
        return 100.0 * features @ self.head.to(features.dtype)


HF_HUB = "hf-hub:"


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Silence open_clip's root-logger warnings inside the block when ``on`` (its "no
    pretrained weights loaded, initialized randomly" before a --checkpoint replaces them)."""
    previous = logging.root.manager.disable
    if on:
        logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _fetch_hub_model(name: str, repo: str, weights: bool, offline: bool, progress: bool) -> None:
    """Bring an ``hf-hub:`` model's config (and weights) into the Hugging Face cache; a
    missing file is a :class:`ModelError` naming the repository and the cache."""
    from open_clip.pretrained import download_pretrained_from_hf

    try:
        with hub_offline(offline), hub_progress(progress):
            download_pretrained_from_hf(repo, filename="open_clip_config.json")
            if weights:
                download_pretrained_from_hf(repo)  # open_clip_model.safetensors, else the .bin
    except Exception as exc:  # noqa: BLE001 - huggingface_hub raises many kinds; all mean "not here"
        raise hub_missing(f"--model open_clip/{name}", repo, exc, offline) from None


@register_source("open_clip", describe="zero-shot CLIP classifiers via open_clip, "
                 "open_clip/<arch>[:<pretrained>] (e.g. open_clip/ViT-B-32:laion2b_s34b_b79k) "
                 "or open_clip/hf-hub:<org>/<repo>")
def clip_model(name: str, *, weights: str | None = None, checkpoint: str | Path | None = None,
               offline: bool = False, progress: bool = False, resize: int | None = None,
               crop: int | None = None, seed: int = 0, templates: str = "openai",
               **_: Any) -> LoadedModel:
    open_clip = require("open_clip", "clip", f"--model open_clip/{name}")
    import torch

    hub = name.startswith(HF_HUB)
    if hub:  # the Hub repository holds config and weights: no tag
        arch, tag, repo = name, "", name[len(HF_HUB):].strip("/")
        if repo.count("/") != 1 or weights not in (None, "DEFAULT"):
            raise ModelError(f"--model open_clip/{name}: expected open_clip/hf-hub:<org>/<repo>, "
                             "without --weights (the repository holds the weights)")
        _fetch_hub_model(name, repo, checkpoint is None, offline, progress)
        pretrained = None
    else:
        arch, _, tag = name.partition(":")
        tag = weights if weights not in (None, "DEFAULT") else tag
        if weights == "DEFAULT" and not tag:
            raise ModelError(f"--model open_clip/{name}: name the pretrained weights, "
                             f"open_clip/{arch}:<tag> (open_clip.list_pretrained() lists them)")
        if arch not in open_clip.list_models():
            raise ModelError(f"--model open_clip/{name}: open_clip has no architecture {arch!r} "
                             "(open_clip.list_models() lists them, or open_clip/hf-hub:<org>/<repo>)")
        pretrained = tag if tag and checkpoint is None else None
        repo = ((open_clip.get_pretrained_cfg(arch, tag) or {}).get("hf_hub") or f"{arch}:{tag}").strip("/")
    if templates not in ("openai", "simple"):
        raise ModelError(f"templates {templates!r}: choose openai or simple")
    try:  # an hf-hub: model reads what _fetch_hub_model cached, without the network
        with hub_offline(offline or hub), hub_progress(progress), torch.random.fork_rng(devices=[]), \
                _quiet(hub and checkpoint is not None):
            torch.manual_seed(seed)
            clip, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained)
            tokenizer = open_clip.get_tokenizer(arch)
    except Exception as exc:  # noqa: BLE001 - sorted below; anything else is re-raised
        first = (str(exc).splitlines() or [""])[0]
        if hub:  # its files are in the cache: whatever failed, they do not make a model
            raise ModelError(f"--model open_clip/{name}: open_clip could not build it from the files of "
                             f"{repo}: {type(exc).__name__}: {first[:300]}") from None
        if isinstance(exc, RuntimeError) and "not found" in str(exc).lower() and "pretrained" in str(exc).lower():
            raise ModelError(f"--model open_clip/{name}: {first}") from None
        if isinstance(exc, (OSError, ValueError)) and not pretrained:
            raise ModelError(f"--model open_clip/{name}: {first}") from None
        if isinstance(exc, (RuntimeError, OSError, ValueError)):
            raise hub_missing(f"--model open_clip/{name}", repo, exc, offline) from None
        raise
    load_checkpoint(clip, checkpoint, f"open_clip/{arch}")
    clip.eval()
    if crop is not None or resize is not None:
        preprocess = _resized(preprocess, crop, resize)
    meta = open_clip.zero_shot_metadata
    prompts = meta.OPENAI_IMAGENET_TEMPLATES if templates == "openai" else meta.SIMPLE_IMAGENET_TEMPLATES
    with torch.inference_mode():
        head = open_clip.build_zero_shot_classifier(
            clip, tokenizer=tokenizer, classnames=meta.IMAGENET_CLASSNAMES,
            templates=prompts, num_classes_per_batch=50, device="cpu", use_tqdm=progress)
    module = ZeroShotClassifier(clip, head).eval()
    full = f"open_clip/{arch}" + (f":{tag}" if tag else "")
    return LoadedModel(module=module, transform=preprocess, categories=imagenet_categories(),
                       name=full, weights=name if hub and checkpoint is None else pretrained,
                       checkpoint=Path(checkpoint) if checkpoint else None,
                       meta={"zero_shot_templates": len(prompts)},
                       random_init=pretrained is None and checkpoint is None and not hub)


def _resized(preprocess: Any, crop: int | None, resize: int | None) -> Any:
    from torchvision import transforms as T

    steps = list(preprocess.transforms)
    out = []
    for step in steps:
        if isinstance(step, T.Resize) and (resize or crop):
            out.append(T.Resize(resize or crop, interpolation=step.interpolation, antialias=True))
        elif isinstance(step, T.CenterCrop) and crop:
            out.append(T.CenterCrop(crop))
        else:
            out.append(step)
    return T.Compose(out)
