"""The ``timm/`` source: ``timm/<architecture>[.<tag>]``, timm's own model, config and transform.

``timm/resnet50.a1_in1k`` loads those pretrained weights; ``timm/resnet50`` without a tag
is randomly initialised unless ``--weights DEFAULT`` (timm's default tag) or
``--weights <tag>``. The tag is checked against timm's pretrained configs
(``get_arch_pretrained_cfgs``); the weights file comes from the Hugging Face cache through
:func:`siscore.evaluate.hub.hub_file` (or, for the few configs with only a URL, the torch
hub cache), and timm gets it as a local file (``pretrained_cfg_overlay={"file": ...}``),
so timm itself never touches the network. Preprocessing comes from
``timm.data.resolve_data_config`` and ``timm.data.create_transform``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siscore.evaluate.checkpoints import fetch_url, load_checkpoint, url_cache_path
from siscore.evaluate.hub import hub_file
from siscore.evaluate.registry import PretrainedCfg, did_you_mean, register_source
from siscore.evaluate.types import LoadedModel, ModelError, imagenet_categories, require

HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def timm_names() -> list[str]:
    """timm's architectures and its pretrained ``<arch>.<tag>`` names."""
    import timm

    return timm.list_models() + timm.list_pretrained()


def _split(name: str, weights: str | None) -> tuple[str, str]:
    arch, _, tag = name.partition(".")
    if weights not in (None, "DEFAULT"):
        tag = weights
    return arch, tag


def _config(timm: Any, name: str, arch: str, tag: str, weights: str | None) -> Any:
    """timm's pretrained cfg of the weights asked for, or None (random weights)."""
    from timm.models import get_arch_pretrained_cfgs, get_pretrained_cfg

    if arch not in timm.list_models():
        raise ModelError(f"--model timm/{name}: timm has no architecture {arch!r}"
                         f"{did_you_mean(f'timm/{name}')} (timm.list_models() lists them)")
    tags = {full.partition(".")[2] for full in get_arch_pretrained_cfgs(arch)}
    if tag and tag not in tags:
        known = ", ".join(sorted(tags)) or "none"
        raise ModelError(f"--model timm/{name}: timm has no pretrained tag {tag!r} for {arch} "
                         f"(its tags: {known})")
    if not tag and weights != "DEFAULT":
        return None
    cfg = get_pretrained_cfg(f"{arch}.{tag}" if tag else arch)
    if cfg is None:
        raise ModelError(f"--model timm/{name}: timm has no pretrained weights for {arch}")
    return cfg


def _weights_file(what: str, cfg: Any, offline: bool, progress: bool) -> Path:
    if cfg.file:
        return Path(cfg.file)
    if cfg.hf_hub_id:
        repo, _, revision = cfg.hf_hub_id.partition("@")
        names = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else HF_WEIGHTS
        return hub_file(what, repo, names, offline=offline, progress=progress,
                        revision=revision or None)
    if cfg.url:
        return fetch_url(cfg.url, url_cache_path(cfg.url, "--model"), offline=offline,
                         progress=progress, option=what)
    raise ModelError(f"{what}: timm's pretrained cfg {cfg.architecture}.{cfg.tag} names no file")


def timm_pretrained(name: str, weights: str | None = None) -> PretrainedCfg | None:
    """The record of timm's pretrained cfg (input config; timm ships no accuracies)."""
    timm = require("timm", "timm", f"--model timm/{name}")
    arch, tag = _split(name, weights)
    cfg = _config(timm, name, arch, tag, weights)
    if cfg is None:
        return None
    return PretrainedCfg(model=f"timm/{name}", source="timm", weights=f"{arch}.{cfg.tag}",
                         input_size=cfg.input_size[-1],
                         resize=round(cfg.input_size[-1] / cfg.crop_pct) if cfg.crop_pct else None,
                         interpolation=cfg.interpolation, mean=tuple(cfg.mean), std=tuple(cfg.std),
                         description=cfg.description or "")


@register_source("timm", describe="timm models, timm/<arch>[.<tag>] (e.g. timm/resnet50.a1_in1k): "
                 "timm's pretrained weights via the Hugging Face cache, timm's transform",
                 pretrained=timm_pretrained, names=timm_names, records_top1=False)
def timm_model(name: str, *, weights: str | None = None, checkpoint: str | Path | None = None,
               offline: bool = False, progress: bool = False, resize: int | None = None,
               crop: int | None = None, seed: int = 0, **_: Any) -> LoadedModel:
    timm = require("timm", "timm", f"--model timm/{name}")
    import torch

    what = f"--model timm/{name}"
    arch, tag = _split(name, weights)
    full = f"{arch}.{tag}" if tag else arch
    cfg = _config(timm, name, arch, tag, weights) if checkpoint is None else None
    if checkpoint is not None:
        _config(timm, name, arch, tag, None)  # the name is checked all the same
    options: dict[str, Any] = {}
    if cfg is not None:
        path = _weights_file(what, cfg, offline, progress)
        options = {"pretrained": True, "pretrained_cfg_overlay": {"file": str(path)}}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = timm.create_model(full, **options)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        where = options.get("pretrained_cfg_overlay", {}).get("file", "")
        raise ModelError(f"{what}: timm could not load it ({type(exc).__name__}: {first})"
                         + (f"; delete {where} and fetch it again" if where else "")) from None
    load_checkpoint(module, checkpoint, f"timm/{arch}", offline=offline, progress=progress)
    module.eval()
    config = timm.data.resolve_data_config({}, model=module)
    if crop is not None:
        config["input_size"] = (3, crop, crop)
    if resize is not None:
        config["crop_pct"] = config["input_size"][-1] / resize
    transform = timm.data.create_transform(**config, is_training=False)
    n_out = getattr(module, "num_classes", 1000)
    pretrained = cfg is not None
    return LoadedModel(module=module, transform=transform,
                       categories=imagenet_categories() if n_out == 1000 else None,
                       name=f"timm/{full}", weights=f"{arch}.{cfg.tag}" if pretrained else None,
                       checkpoint=Path(checkpoint) if checkpoint else None,
                       meta={"data_config": {k: list(v) if isinstance(v, tuple) else v
                                             for k, v in config.items()}},
                       random_init=not pretrained and checkpoint is None, num_outputs=n_out)
