"""`siscore evaluate` with an output it cannot write: one line naming the option, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.disk_limits import limit_file_size

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "demo_eval.toml"


def _evaluate(out_args: list[str], cwd: Path, preexec=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "siscore", "evaluate", "--config", str(CONFIG), "--model", "resnet18",
         "--random-weights",
         "--limit", "4", "-j", "0", "--device", "cpu", "-q", *out_args],
        cwd=cwd, capture_output=True, text=True, timeout=300, preexec_fn=preexec,
        env=dict(os.environ, PYTHONPATH=str(REPO)))


def _errors(res: subprocess.CompletedProcess) -> list[str]:
    return [line for line in res.stderr.splitlines() if not line.startswith("Warning:")]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a folder root cannot write")
def test_unwritable_out_is_one_line(tmp_path: Path) -> None:
    res = _evaluate(["--out", "/sys/kernel/siscore-preds.csv"], tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    lines = _errors(res)
    assert len(lines) == 1 and lines[0].startswith("Error: --out /sys/kernel/siscore-preds.csv: ")
    assert "not writable" in lines[0]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE as a full disk")
def test_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "preds"
    out.mkdir()
    res = _evaluate(["--out", str(out / "p.csv")], tmp_path, preexec=limit_file_size(200))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    lines = _errors(res)
    assert len(lines) == 1 and lines[0].startswith(f"Error: --out {out / 'p.csv'}: "), lines
    assert "no space left" in lines[0]
    assert not [p for p in tmp_path.rglob("*.tmp")]
