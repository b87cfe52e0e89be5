"""The ``open_clip/`` source: CLIP-style models as zero-shot ImageNet classifiers.

``open_clip/<arch>:<pretrained>`` (e.g. ``open_clip/ViT-B-32:laion2b_s34b_b79k``)
loads the model with open_clip (``<arch>`` alone: random weights);
``open_clip/hf-hub:<org>/<repo>`` a model published on the Hub in open_clip's format
(``open_clip_config.json`` and the weights). The files come from the Hugging Face cache
through :func:`siscore.evaluate.hub.hub_file` (downloaded there unless offline), and
open_clip gets local paths: a weights file for a tag (with the tag's preprocessing), a
``local-dir:`` folder for a Hub repository, so open_clip itself never touches the network
and a repository without weights is an error rather than open_clip's silent random weights.

It builds a zero-shot head: for each of the 1000 ImageNet classes, the mean of the
normalised text embeddings of a prompt ensemble ("a photo of a {}.", ...), with
open_clip's own ``build_zero_shot_classifier``. The class names are open_clip's
``IMAGENET_CLASSNAMES`` (CLIP's cleaned names, in ImageNet-1k index order); the prompts
are CLIP's 80 ImageNet templates (``templates="openai"``) or its 7 short ones
(``templates="simple"``, faster to build).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from siscore.evaluate.checkpoints import fetch_url, load_checkpoint, url_cache_path
from siscore.evaluate.hub import hub_file
from siscore.evaluate.registry import PretrainedCfg, did_you_mean, register_source
from siscore.evaluate.types import LoadedModel, ModelError, imagenet_categories, require

HF_HUB = "hf-hub:"
CONFIG = "open_clip_config.json"
WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
#: a tag's pretrained cfg key -> the keyword of create_model_and_transforms that sets it
PREPROCESS = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation",
              "resize_mode": "image_resize_mode"}


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


def clip_names() -> list[str]:
    """open_clip's architectures and its ``<arch>:<tag>`` pretrained names."""
    import open_clip

    return open_clip.list_models() + [f"{a}:{t}" for a, t in open_clip.list_pretrained()]


def _weight_names(filename: str) -> tuple[str, ...]:
    """A file name and its safetensors alternative first, as open_clip looks for them."""
    if not filename:
        return WEIGHTS
    if filename.endswith(".bin"):
        safe = WEIGHTS[0] if filename == WEIGHTS[1] else filename[:-4] + ".safetensors"
        return safe, filename
    return (filename,)


def _tag_file(what: str, cfg: dict[str, Any], offline: bool, progress: bool) -> Path:
    if cfg.get("file"):
        return Path(cfg["file"])
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        return hub_file(what, repo.strip("/"), _weight_names(filename), offline=offline,
                        progress=progress)
    if cfg.get("url"):
        return fetch_url(cfg["url"], url_cache_path(cfg["url"], "--model"), offline=offline,
                         progress=progress, option=what)
    raise ModelError(f"{what}: open_clip's pretrained cfg names no file")


def _tag_cfg(open_clip: Any, name: str, arch: str, tag: str) -> dict[str, Any]:
    if arch not in open_clip.list_models():
        raise ModelError(f"--model open_clip/{name}: open_clip has no architecture {arch!r}"
                         f"{did_you_mean(f'open_clip/{name}')} (open_clip.list_models() lists "
                         "them, or open_clip/hf-hub:<org>/<repo>)")
    if not tag:
        return {}
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise ModelError(f"--model open_clip/{name}: open_clip has no pretrained tag {tag!r} for "
                         f"{arch} (its tags: {known})")
    return cfg


def clip_pretrained(name: str, weights: str | None = None) -> PretrainedCfg | None:
    """The record of an open_clip tag (its preprocessing; open_clip ships no accuracies)."""
    open_clip = require("open_clip", "clip", f"--model open_clip/{name}")
    if name.startswith(HF_HUB):
        return PretrainedCfg(model=f"open_clip/{name}", source="open_clip", weights=name)
    arch, _, tag = name.partition(":")
    tag = weights if weights not in (None, "DEFAULT") else tag
    cfg = _tag_cfg(open_clip, name, arch, tag)
    if not cfg:
        return None
    size = (open_clip.get_model_config(arch) or {}).get("vision_cfg", {}).get("image_size")
    return PretrainedCfg(model=f"open_clip/{arch}:{tag}", source="open_clip", weights=tag,
                         input_size=size if isinstance(size, int) else None,
                         interpolation=cfg.get("interpolation"),
                         mean=tuple(cfg["mean"]) if cfg.get("mean") else None,
                         std=tuple(cfg["std"]) if cfg.get("std") else None)


def _hub_folder(what: str, repo: str, weights: bool, offline: bool, progress: bool) -> Path:
    """The cache folder (one snapshot) holding an ``hf-hub:`` model's config (and weights)."""
    config = hub_file(what, repo, (CONFIG,), offline=offline, progress=progress)
    if not weights:
        return config.parent
    found = hub_file(what, repo, WEIGHTS, offline=offline, progress=progress)
    if found.parent != config.parent:  # weights of a newer revision: its config too
        config = hub_file(what, repo, (CONFIG,), offline=offline, progress=progress,
                          revision=found.parent.name)
    return found.parent


@register_source("open_clip", describe="zero-shot CLIP classifiers via open_clip, "
                 "open_clip/<arch>[:<pretrained>] (e.g. open_clip/ViT-B-32:laion2b_s34b_b79k) "
                 "or open_clip/hf-hub:<org>/<repo>", pretrained=clip_pretrained, names=clip_names,
                 records_top1=False)
def clip_model(name: str, *, weights: str | None = None, checkpoint: str | Path | None = None,
               offline: bool = False, progress: bool = False, resize: int | None = None,
               crop: int | None = None, seed: int = 0, templates: str = "openai",
               **_: Any) -> LoadedModel:
    open_clip = require("open_clip", "clip", f"--model open_clip/{name}")
    import torch

    what = f"--model open_clip/{name}"
    if templates not in ("openai", "simple"):
        raise ModelError(f"templates {templates!r}: choose openai or simple")
    hub = name.startswith(HF_HUB)
    kwargs: dict[str, Any] = {"pretrained_text": False}  # no base text-tower download
    if hub:  # the Hub repository holds config and weights: no tag
        arch, tag, repo = name, "", name[len(HF_HUB):].strip("/")
        if repo.count("/") != 1 or weights not in (None, "DEFAULT"):
            raise ModelError(f"{what}: expected open_clip/hf-hub:<org>/<repo>, without --weights "
                             "(the repository holds the weights)")
        folder = _hub_folder(what, repo, checkpoint is None, offline, progress)
        model_name = f"local-dir:{folder}"
        kwargs["load_weights"] = checkpoint is None
        pretrained = None
    else:
        arch, _, tag = name.partition(":")
        tag = weights if weights not in (None, "DEFAULT") else tag
        if weights == "DEFAULT" and not tag:
            raise ModelError(f"{what}: name the pretrained weights, open_clip/{arch}:<tag> "
                             "(open_clip.list_pretrained() lists them)")
        cfg = _tag_cfg(open_clip, name, arch, tag)
        model_name, repo = arch, (cfg.get("hf_hub") or f"{arch}:{tag}").strip("/")
        pretrained = tag if tag and checkpoint is None else None
        if pretrained:
            kwargs["pretrained"] = str(_tag_file(what, cfg, offline, progress))
            kwargs.update({kw: cfg[key] for key, kw in PREPROCESS.items() if cfg.get(key)})
    try:
        with torch.random.fork_rng(devices=[]), _quiet(checkpoint is not None):
            torch.manual_seed(seed)
            clip, _, preprocess = open_clip.create_model_and_transforms(model_name, **kwargs)
            tokenizer = open_clip.get_tokenizer(model_name)
    except Exception as exc:  # noqa: BLE001 - open_clip raises many kinds; all mean "cannot build"
        first = (str(exc).splitlines() or [""])[0][:300]
        source = f"the files of {repo}" if hub or pretrained else "its config"
        raise ModelError(f"{what}: open_clip could not build it from {source}: "
                         f"{type(exc).__name__}: {first}") from None
    load_checkpoint(clip, checkpoint, f"open_clip/{arch}", offline=offline, progress=progress)
    clip.eval()
    if crop is not None or resize is not None:
        preprocess = _resized(preprocess, crop, resize)
    meta = open_clip.zero_shot_metadata
    prompts = meta.OPENAI_IMAGENET_TEMPLATES if templates == "openai" else meta.SIMPLE_IMAGENET_TEMPLATES
    with torch.inference_mode():
        head = open_clip.build_zero_shot_classifier(
            clip, tokenizer=tokenizer, classnames=meta.IMAGENET_CLASSNAMES,
            templates=prompts, num_classes_per_batch=50, device="cpu", use_tqdm=progress)
    from siscore.evaluate.sources.zero_shot import ZeroShotClassifier

    module = ZeroShotClassifier(clip, head).eval()
    full = f"open_clip/{arch}" + (f":{tag}" if tag else "")
    return LoadedModel(module=module, transform=preprocess, categories=imagenet_categories(),
                       name=full, weights=name if hub and checkpoint is None else pretrained,
                       checkpoint=Path(checkpoint) if checkpoint else None,
                       meta={"zero_shot_templates": len(prompts)}, num_outputs=1000,
                       random_init=pretrained is None and checkpoint is None and not hub)


def _resized(preprocess: Any, crop: int | None, resize: int | None) -> Any:
    from torchvision import transforms as T

    out = []
    for step in preprocess.transforms:
        if isinstance(step, T.Resize) and (resize or crop):
            out.append(T.Resize(resize or crop, interpolation=step.interpolation, antialias=True))
        elif isinstance(step, T.CenterCrop) and crop:
            out.append(T.CenterCrop(crop))
        else:
            out.append(step)
    return T.Compose(out)
