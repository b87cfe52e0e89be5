"""Old import paths: siscore 0.1 kept every generator and format module at the top of the
package. ``import siscore.factors`` and the like still work, with a DeprecationWarning,
and give the module at its new place. The aliases go in siscore 0.3."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from typing import Any

MOVED = {
    "siscore.factors": "siscore.generate.factors",
    "siscore.assets": "siscore.generate.assets",
    "siscore.plan": "siscore.generate.plan",
    "siscore.geometry": "siscore.generate.geometry",
    "siscore.compose": "siscore.generate.compose",
    "siscore.saliency": "siscore.generate.saliency",
    "siscore.jpeg": "siscore.generate.jpeg",
    "siscore.render": "siscore.generate.render",
    "siscore.write": "siscore.generate.write",
    "siscore.build": "siscore.generate.build",
    "siscore.allocator": "siscore.generate.allocator",
    "siscore.interventions": "siscore.generate.interventions",
    "siscore.dataset": "siscore.formats.dataset",
    "siscore.datastore": "siscore.formats.datastore",
    "siscore.labels": "siscore.formats.labels",
    "siscore.official": "siscore.formats.official",
    "siscore.predictions": "siscore.formats.predictions",
    "siscore.wds": "siscore.formats.wds",
    "siscore.torch_dataset": "siscore.evaluate.data",
    "siscore.parallel": "siscore.utils.parallel",
    "siscore.progress": "siscore.utils.progress",
    "siscore.extras": "siscore.utils.extras",
    "siscore.cutout": "siscore.extract.cutout",
}


class _Build(types.ModuleType):
    """The old ``siscore.build`` module: its names come from the new one, and calling it
    still calls :func:`siscore.build` (the package attribute names the function)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(MOVED[self.__name__]), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.build(*args, **kwargs)


class _Aliases:
    """A meta path finder and loader (duck-typed: importlib.abc costs 10 ms to import)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: Any) -> types.ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old path goes in "
                      "siscore 0.3)", DeprecationWarning, stacklevel=2)
        if spec.name == "siscore.build":
            return _Build(spec.name)
        return importlib.import_module(new)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    """Serve the old paths (once per process)."""
    if not any(isinstance(f, _Aliases) for f in sys.meta_path):
        sys.meta_path.append(_Aliases())
