"""The model registry: which source serves a name, and the pretrained record of its weights.

Like timm's ``_registry``, it knows nothing of the sources themselves: a *source* is a
factory registered under a prefix with :func:`register_source` (``timm`` serves
``timm/<name>``; names without a registered prefix go to :data:`DEFAULT_SOURCE`,
torchvision), a *built-in model* a factory registered under its full name with
:func:`register_model` (``efficientnet_lite0``). Each may also give a function returning the
:class:`PretrainedCfg` of the weights a name selects (torchvision's weights meta, timm's
pretrained cfg) and one listing the names it knows (for "did you mean").

The built-in sources register themselves when :data:`BUILTIN_SOURCES` is imported, which
the registry does on its first lookup (an entry point, not an import of their code).
This module imports no torch: ``siscore score`` reads ImageNet top-1 values through
:func:`imagenet_top1`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from siscore.evaluate.types import LoadedModel, ModelError

Factory = Callable[..., LoadedModel]
PretrainedLookup = Callable[[str, "str | None"], "PretrainedCfg | None"]

DEFAULT_SOURCE = "torchvision"
BUILTIN_SOURCES = "siscore.evaluate.sources"


@dataclass(frozen=True)
class PretrainedCfg:
    """What a library records about one set of pretrained weights (timm's pretrained cfg).

    ``model`` is the siscore name, ``weights`` the library's name for the weights
    (``ResNet50_Weights.IMAGENET1K_V2``, ``a1_in1k``); ``top1`` the ImageNet-1k top-1 in
    percent when the library records it; the rest the input the weights expect.
    """

    model: str
    source: str
    weights: str | None = None
    top1: float | None = None
    input_size: int | None = None
    resize: int | None = None
    interpolation: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class Source:
    """A registered model source (``key`` a prefix) or built-in model (``key`` its name)."""

    key: str
    factory: Factory
    describe: str
    pretrained: PretrainedLookup | None = None
    names: Callable[[], Iterable[str]] | None = None
    builtin: bool = False
    records_top1: bool = True  # False: its records never hold a top-1 (timm, open_clip)

    @property
    def top1(self) -> float | None:
        """A built-in model's published ImageNet-1k top-1."""
        cfg = self.pretrained(self.key, None) if self.builtin and self.pretrained else None
        return cfg.top1 if cfg else None


_SOURCES: dict[str, Source] = {}
_MODELS: dict[str, Source] = {}
_state = {"loaded": False, "loading": False}


def _ensure_builtin() -> None:
    """Import :data:`BUILTIN_SOURCES` once (they register themselves), before any lookup and
    before a user's registration, so that a user's source of the same prefix wins."""
    if _state["loaded"] or _state["loading"]:
        return
    _state["loading"] = True
    try:
        importlib.import_module(BUILTIN_SOURCES)
        _state["loaded"] = True
    finally:
        _state["loading"] = False


def register_source(prefix: str, *, describe: str = "", pretrained: PretrainedLookup | None = None,
                    names: Callable[[], Iterable[str]] | None = None,
                    records_top1: bool = True) -> Callable[[Factory], Factory]:
    """Register ``factory(name, *, weights, checkpoint, offline, progress, resize, crop, seed)``
    for model names ``<prefix>/<name>``; it returns a LoadedModel. ``pretrained(name,
    weights)`` gives the record of the weights a name selects, ``names()`` the names known;
    ``records_top1=False`` says the records never hold a top-1 (no library is imported
    just to find that out)."""
    _ensure_builtin()

    def deco(factory: Factory) -> Factory:
        _SOURCES[prefix] = Source(prefix, factory, describe, pretrained, names,
                                  records_top1=records_top1)
        return factory

    return deco


def register_model(name: str, *, top1: float | None = None, describe: str = "",
                   pretrained: PretrainedCfg | None = None) -> Callable[[Factory], Factory]:
    """Register a built-in model under its full name (the factory gets the same keywords);
    ``top1`` or ``pretrained`` is the record of its one set of weights."""
    _ensure_builtin()
    record = pretrained or PretrainedCfg(name, name, weights=name, top1=top1, description=describe)

    def lookup(_name: str, weights: str | None) -> PretrainedCfg | None:
        return record if weights in (None, "DEFAULT") else None

    def deco(factory: Factory) -> Factory:
        _MODELS[name] = Source(name, factory, describe, lookup, builtin=True)
        return factory

    return deco


def resolve(name: str) -> tuple[Source, str]:
    """The source serving ``name`` and the name within that source."""
    _ensure_builtin()
    if name in _MODELS:
        return _MODELS[name], name
    base, colon, tag = name.partition(":")
    if colon and base in _MODELS:
        raise ModelError(f"--model {name!r}: {base} has one set of weights, named by the model "
                         f"itself; give --model {base} without ':{tag}'")
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


def _lookup(name: str) -> tuple[Source | None, str]:
    try:
        return resolve(name)
    except ModelError:  # "resnet50/DEFAULT" and the like, as score reads names
        return _SOURCES.get(DEFAULT_SOURCE), name


def pretrained_cfg(name: str, weights: str | None = None) -> PretrainedCfg | None:
    """The record of the weights ``name`` (or ``weights``) selects, or None: no weights
    (a bare torchvision name is random weights), an unknown name, or a library not installed.
    Loads nothing but the library's metadata."""
    source, inner = _lookup(name)
    if source is None or source.pretrained is None:
        return None
    try:
        return source.pretrained(inner, weights)
    except (ModelError, ImportError, LookupError, ValueError, AttributeError, RuntimeError):
        return None


def imagenet_top1(name: str, weights: str | None = None) -> float | None:
    """The one ImageNet-1k top-1 lookup (percent): that of :func:`pretrained_cfg`, or None."""
    source, _ = _lookup(name)
    if source is None or not source.records_top1:
        return None
    cfg = pretrained_cfg(name, weights)
    return cfg.top1 if cfg is not None else None


known_top1 = imagenet_top1  # the name of siscore 0.1


def list_models() -> list[tuple[str, str, float | None]]:
    """``(name or prefix, description, ImageNet top-1)`` of the built-in models and sources."""
    _ensure_builtin()
    rows = [(k, s.describe, s.top1) for k, s in sorted(_MODELS.items())]
    rows += [(k + "/..." if k != DEFAULT_SOURCE else "<torchvision name>", s.describe, None)
             for k, s in sorted(_SOURCES.items())]
    return rows


def known_names() -> list[str]:
    """Every model name known here: the built-in ones and those each source lists (the
    libraries not installed list nothing)."""
    _ensure_builtin()
    out = list(_MODELS)
    for prefix, source in _SOURCES.items():
        if source.names is None:
            continue
        try:
            listed = list(source.names())
        except (ImportError, ModelError, RuntimeError):
            continue
        head = "" if prefix == DEFAULT_SOURCE else prefix + "/"
        out += [head + n for n in listed]
    return out


def suggest(name: str, candidates: Iterable[str] | None = None, n: int = 5,
            cutoff: float = 0.6) -> list[str]:
    """The ``n`` names closest to ``name`` by edit similarity (difflib's ratio), best first
    and then alphabetically; ``candidates`` defaults to :func:`known_names`."""
    pool = set(known_names() if candidates is None else candidates)
    scored = []
    for cand in pool:
        m = difflib.SequenceMatcher(None, name, cand)
        if m.real_quick_ratio() >= cutoff and m.quick_ratio() >= cutoff:
            score = m.ratio()
            if score >= cutoff:
                scored.append((-score, cand))
    return [c for _, c in sorted(scored)[:n]]


def did_you_mean(name: str, candidates: Iterable[str] | None = None) -> str:
    """``" did you mean a, b?"`` (at most five names), or the empty string."""
    close = suggest(name, candidates)
    return f"; did you mean {', '.join(close)}?" if close else ""

