"""The intervention registry: named functions that change an image at one stage.

An intervention is a function ``f(image, value, rng) -> image`` registered under
a name with :func:`intervention`. Its name becomes a factor of a
:class:`~siscore.generate.factors.Grid` and a column of the dataset's metadata.

Stages (where in the pipeline the function acts):

- ``foreground``: the object after scaling and rotation, as straight RGBA (HxWx4 uint8);
- ``background``: the prepared background, RGB (HxWx3 uint8);
- ``paste``: how the object is pasted: gets a :class:`~siscore.generate.compose.Paste` and returns
  the composite RGB image (at most one paste intervention per grid);
- ``composite``: the finished image, RGB (HxWx3 uint8), before encoding.

An intervention that declares ``records=("name", ...)`` returns ``(image, {"name": value})``
and each record becomes a metadata column too (e.g. whether a blend fell back).

Third-party packages register interventions through the ``siscore.generate.interventions``
entry-point group (each entry point names a module to import, or a callable to call).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

STAGES: tuple[str, ...] = ("foreground", "background", "paste", "composite")
ENTRY_POINT_GROUP = "siscore.generate.interventions"

InterventionFn = Callable[[np.ndarray, Any, np.random.Generator], Any]


@dataclass(frozen=True)
class Intervention:
    """A registered intervention: a named function acting at one stage."""

    name: str
    stage: str
    func: InterventionFn = field(repr=False)
    value_type: type | tuple[type, ...] | None = None
    check: Callable[[Any], str | None] | None = field(default=None, repr=False)
    description: str = ""
    records: tuple[str, ...] = ()

    def validate(self, value: Any) -> None:
        """Raise ``ValueError`` naming the intervention if ``value`` is not acceptable."""
        if self.value_type is not None and (
            isinstance(value, bool) and self.value_type is not bool
            or not isinstance(value, self.value_type)
        ):
            expected = (
                " or ".join(t.__name__ for t in self.value_type)
                if isinstance(self.value_type, tuple)
                else self.value_type.__name__
            )
            raise ValueError(
                f"factor {self.name!r}: value {value!r} has type {type(value).__name__}, "
                f"expected {expected}"
            )
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ValueError(f"factor {self.name!r}: value {value!r} {problem}")


_REGISTRY: dict[str, Intervention] = {}
_ENTRY_POINTS_LOADED = False
RESERVED = frozenset({"location", "area", "rotation", "resolution"})


def intervention(
    name: str,
    stage: str,
    *,
    value_type: type | tuple[type, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
    description: str = "",
    records: tuple[str, ...] = (),
) -> Callable[[InterventionFn], InterventionFn]:
    """Register ``f(image, value, rng) -> image`` as the intervention ``name``.

    ``stage`` is ``foreground``, ``background``, ``paste`` or ``composite``.
    ``value_type`` and ``check`` (returning an error text or None) validate grid
    values before any work starts; ``records`` names extra metadata columns the
    function reports. Registering the same name again replaces the entry (so a
    module can be re-imported), but not a built-in factor name.
    """
    if stage not in STAGES:
        raise ValueError(f"intervention {name!r}: stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if not name.isidentifier():
        raise ValueError(f"intervention name {name!r} must be a Python identifier (it becomes a metadata column)")
    if name in RESERVED:
        raise ValueError(f"intervention name {name!r} is a built-in factor")

    def decorator(func: InterventionFn) -> InterventionFn:
        text = description or next(iter((func.__doc__ or "").strip().splitlines()), "")
        text = text.replace("``", "")
        _REGISTRY[name] = Intervention(name, stage, func, value_type, check, text, tuple(records))
        return func

    return decorator


def load_entry_points() -> None:
    """Import the plugins registered under the ``siscore.generate.interventions`` entry-point group."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if callable(obj):
            obj()


def load_plugin(module: str) -> None:
    """Import a user module (``--plugin``) so that its interventions register.

    ``module`` is a module name (looked up on ``sys.path``, then in the current folder) or
    the path of a ``.py`` file; the folder holding it is put on ``sys.path``, so that
    worker processes can import it too. Errors raise :class:`~siscore.generate.factors.ConfigError`
    naming the plugin.
    """
    from siscore.errors import ConfigError

    def error(detail: str) -> ConfigError:
        return ConfigError(detail, param="module", value=module, option="--plugin")

    name, folder = module, None
    path = Path(module)
    if module.endswith(".py") or os.sep in module or (os.altsep and os.altsep in module):
        if not path.is_file():
            raise error("no such Python file")
        if not path.stem.isidentifier():
            raise error(f"the file name {path.name!r} is not a valid module name; rename it")
        name, folder = path.stem, str(path.resolve().parent)
    elif importlib.util.find_spec(module.split(".")[0]) is None and (
        Path(module.split(".")[0] + ".py").is_file() or Path(module.split(".")[0]).is_dir()
    ):
        folder = os.getcwd()  # `siscore` as a console script has no current folder on sys.path
    if folder is not None and folder not in sys.path:
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
    try:
        plugin = importlib.import_module(name)
    except ImportError as exc:
        raise error(f"cannot import it ({exc}); give a module on PYTHONPATH or installed, "
                    "or the path of a .py file") from None
    except Exception as exc:
        raise error(f"importing it failed: {type(exc).__name__}: {exc}") from None
    if getattr(plugin, "__file__", None) is None:  # a folder without __init__.py: no code ran
        raise error("is a folder without __init__.py, so none of its code runs; give the path "
                    "of the .py file that registers the interventions")


def _ensure_builtins() -> None:
    importlib.import_module("siscore.generate.interventions.builtin")


def get_intervention(name: str) -> Intervention:
    """The intervention registered as ``name`` (``KeyError`` with the known names if none)."""
    _ensure_builtins()
    if name not in _REGISTRY:
        load_entry_points()
    if name not in _REGISTRY:
        known = ", ".join(sorted(RESERVED | set(_REGISTRY)))
        raise KeyError(f"unknown factor {name!r}; known factors: {known}")
    return _REGISTRY[name]


def list_interventions() -> list[str]:
    """Names of every registered intervention (built-in, plugins and user-defined)."""
    _ensure_builtins()
    load_entry_points()
    return sorted(_REGISTRY)


def registry_snapshot() -> dict[str, Intervention]:
    """A copy of the registry (sent to worker processes)."""
    _ensure_builtins()
    return dict(_REGISTRY)


def install_snapshot(snapshot: dict[str, Intervention]) -> None:
    """Restore registry entries in a worker process."""
    _REGISTRY.update(snapshot)
