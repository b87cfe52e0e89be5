"""Progress bars stay out of logs: no carriage-return redraws when stderr is not a terminal
(issue 11, item 23). Each command runs in its own process with stderr to a pipe, as under
nohup, cron or CI; every bar goes through :mod:`siscore.utils.progress`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"


def siscore(*args: object, cwd: Path) -> str:
    """Run ``python -m siscore ARGS`` with stderr to a pipe; return its stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "siscore", *map(str, args)], cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    stderr = run.stderr.decode()  # not text=True: universal newlines would turn '\r' into '\n'
    assert run.returncode == 0, stderr
    return stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    (root / "grid.toml").write_text("[grid]\narea = [0.3]\n")
    photo = Image.open(ASSETS / "backgrounds" / "meadow_grass.jpg").convert("RGB")
    photo.resize((240, 200)).save(root / "img.jpg")
    (root / "coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "img.jpg", "width": 240, "height": 200}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 18, "iscrowd": 0,
                         "segmentation": [[60, 50, 180, 50, 180, 150, 60, 150]],
                         "area": 12000, "bbox": [60, 50, 120, 100]}],
        "categories": [{"id": 18, "name": "dog"}]}))
    return root


def test_build_evaluate_extract_and_backgrounds_write_no_carriage_returns(work: Path) -> None:
    logs = {
        "build": siscore("build", "--config", "grid.toml", "--resolution", "48",
                         "--bgs-per-fg", "1", "--out", "ds", cwd=work),
        "evaluate": siscore("evaluate", "--dataset", "ds", "--model", "resnet18", "--random-weights",
                            "--crop", "32", "-j", "0", "--out", "p.csv", cwd=work),
        "extract coco": siscore("extract", "coco", "--annotations", "coco.json", "--images",
                                ".", "--out", "lib", cwd=work),
        "backgrounds score": siscore("backgrounds", "score", ASSETS / "backgrounds", "--out",
                                     "bg.csv", cwd=work),
    }
    assert (work / "p.csv").is_file() and (work / "lib" / "dog").is_dir()
    for command, stderr in logs.items():
        assert "\r" not in stderr, f"siscore {command}: {stderr[:300]!r}"
        assert "it/s" not in stderr and "img/s]" not in stderr, command
    assert "random weights" in logs["evaluate"]  # what stderr is for still gets there
