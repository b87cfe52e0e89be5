"""Ctrl-C prints the same ``interrupted`` line and exits 130 whatever the command (issue 23:
``siscore score`` said click's ``Aborted!`` and exited 1).

A real SIGINT is sent to a real ``siscore`` process at a moment chosen without timing: when
the command opens a given input file (a ``sys.addaudithook`` hook in the process sends it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SIGINT_ON_OPEN = """
import os, signal, sys
target = sys.argv.pop(1)
def hook(event, args):
    if event == "open" and args and str(args[0]).endswith(target):
        os.kill(os.getpid(), signal.SIGINT)
sys.addaudithook(hook)
from siscore.cli import main
main(prog_name="siscore")
"""


def interrupted(tmp_path: Path, trigger: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", SIGINT_ON_OPEN, trigger, *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


def _score(tmp_path: Path) -> list[str]:
    (tmp_path / "metadata.csv").write_text("image_id,label\n0,cup\n")
    (tmp_path / "preds.csv").write_text("image_id,top1\n0,968\n")
    return ["score", "--metadata", "metadata.csv", "-p", "preds.csv", "--out", "scores.csv"]


def _build(tmp_path: Path) -> list[str]:
    (tmp_path / "grid.toml").write_text("[grid]\narea = [0.1]\n")
    return ["build", "--config", "grid.toml", "--out", "ds"]


def _info(tmp_path: Path) -> list[str]:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "metadata.csv").write_text("image_id,label\n0,cup\n")
    return ["info", "ds"]


@pytest.mark.parametrize(("make", "trigger"), [(_score, "metadata.csv"), (_build, "grid.toml"),
                                               (_info, "metadata.csv")],
                         ids=["score", "build", "info"])
def test_ctrl_c_says_interrupted_and_exits_130(tmp_path: Path, make, trigger: str) -> None:  # noqa: ANN001
    res = interrupted(tmp_path, trigger, *make(tmp_path))
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == "interrupted: run the same command again to resume"
    assert "Aborted!" not in res.stdout + res.stderr
