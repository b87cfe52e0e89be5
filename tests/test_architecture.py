"""The layout holds: imports run one way (import-linter's contracts in pyproject.toml), the
light entry points import no heavy library, every bad-input error shares one root, and the
old import paths still work with a DeprecationWarning."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import siscore
from siscore.errors import SiscoreError

REPO = Path(__file__).resolve().parents[1]
# Exceptions used as signals inside siscore, never raised to a user.
INTERNAL = {"siscore.extract.records.Drop"}
HEAVY = ("cv2", "torch", "matplotlib", "siscore.generate.render")


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    out = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("code", [
    "import siscore",
    "import siscore.score",
    "import siscore.cli",
    "import siscore.formats.dataset",
    "import siscore; siscore.SiscoreError; siscore.ConfigError",
])
def test_light_imports_load_no_heavy_library(code: str) -> None:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", (code, out.stdout)


def test_lazy_attributes_resolve() -> None:
    assert siscore.Grid.__module__ == "siscore.generate.factors"
    assert callable(siscore.build) and siscore.build.__module__ == "siscore.generate.build"
    assert set(siscore.__all__) <= set(dir(siscore))


def _error_classes() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(siscore.__path__, "siscore."):
        if info.name.startswith("siscore.cli") or info.name == "siscore.__main__":
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Exception) and obj.__module__.startswith("siscore"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return sorted(found.values(), key=lambda c: c.__qualname__)


def test_every_siscore_error_shares_one_root() -> None:
    classes = _error_classes()
    assert len(classes) >= 15
    names = {c: f"{c.__module__}.{c.__qualname__}" for c in classes}
    stray = [n for c, n in names.items() if not issubclass(c, SiscoreError) and n not in INTERNAL]
    assert stray == []


@pytest.mark.parametrize("old, new, name", [
    ("siscore.factors", "siscore.generate.factors", "Grid"),
    ("siscore.dataset", "siscore.formats.dataset", "load_dataset"),
    ("siscore.saliency", "siscore.generate.saliency", "spectral_residual"),
    ("siscore.wds", "siscore.formats.wds", "shard_urls"),
    ("siscore.build", "siscore.generate.build", "make_plan"),
])
def test_old_import_paths_warn_and_still_work(old: str, new: str, name: str) -> None:
    code = (f"import warnings; warnings.simplefilter('error')\n"
            f"try:\n    from {old} import {name}\nexcept DeprecationWarning as w:\n    print(w)\n"
            f"warnings.simplefilter('ignore')\nfrom {old} import {name} as a\nfrom {new} import {name} as b\n"
            "assert a is b")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"{old} moved to {new}" in out.stdout


def test_the_old_build_module_still_calls_build(tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        code = ("import siscore.build, siscore, sys\n"
                "r = siscore.build(siscore.Grid(resolution=[(64, 64)]), sys.argv[1], progress=False)\n"
                "print(r.complete)")
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(tmp_path / "ds")],
                             capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
