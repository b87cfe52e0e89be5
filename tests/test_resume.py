"""A build killed with SIGKILL at any moment resumes to the same bytes as an uninterrupted one."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from siscore import Grid, build
from tests.test_build import library, tree_digest  # noqa: F401 - fixture re-used

GRID_TOML = """
[grid]
location = { x = { start = 0.0, stop = 1.0, step = 0.1 }, y = { start = 0.0, stop = 1.0, step = 0.1 } }
area = [0.2]
resolution = [[300, 300]]
"""


def _start(cfg: Path, out: Path, fg: Path, bg: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "siscore", "build", "--config", str(cfg), "--out", str(out),
         "--foregrounds", str(fg), "--backgrounds", str(bg), "--jobs", "2", "-q"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _kill_after(proc: subprocess.Popen, out: Path, n_images: int, timeout: float = 60) -> int:
    """SIGKILL the build and its workers once ``n_images`` images exist; returns the count seen."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = sum(1 for _ in out.glob("*/*.jpg")) if out.exists() else 0
        if seen >= n_images:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return seen


@pytest.mark.parametrize("kill_points", [(150,), (60, 500)])
def test_resume_after_sigkill_is_identical(library, tmp_path, kill_points) -> None:  # noqa: F811
    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(GRID_TOML)
    reference = tmp_path / "reference"
    from siscore.generate.factors import load_config

    build(load_config(cfg)[0], reference, foregrounds=fg, backgrounds=bg, jobs=2, progress=False)
    total = sum(1 for _ in reference.glob("*/*.jpg"))

    out = tmp_path / "killed"
    for point in kill_points:
        proc = _start(cfg, out, fg, bg)
        seen = _kill_after(proc, out, point)
        assert seen < total, "the build finished before it could be killed"
        assert not (out / "metadata.csv").exists()
        # nothing partial under a final name: every image present decodes completely
        from PIL import Image

        for p in out.glob("*/*.jpg"):
            Image.open(p).load()

    resumed = build(load_config(cfg)[0], out, foregrounds=fg, backgrounds=bg, jobs=2, progress=False)
    assert resumed.complete and 0 < resumed.written < total
    assert resumed.written + resumed.reused == total
    assert tree_digest(out) == tree_digest(reference)
    with open(out / "metadata.csv", newline="") as f:
        ids = [int(r["image_id"]) for r in csv.DictReader(f)]
    assert ids == sorted(set(ids)) and len(ids) == total
    assert not (out / ".siscore").exists()


def test_interrupted_build_reports_incomplete_and_lists_no_partial_metadata(library, tmp_path) -> None:  # noqa: F811
    fg, bg = library
    out = tmp_path / "ds"
    grid = Grid(location=[(x, 0.5) for x in (0.1, 0.3, 0.5, 0.7, 0.9)], area=[0.1, 0.2],
                resolution=[(64, 64)])  # 80 images: 5 chunks of 16
    result = build(grid, out, foregrounds=fg, backgrounds=bg, progress=False, shard="0/3")
    assert not result.complete and (out / ".siscore" / "spec.json").exists()
    assert not (out / "metadata.csv").exists()
