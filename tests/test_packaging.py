"""A non-editable install ships the embedded assets and the data tables."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_assets_and_data(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "wheel"), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wheel = next((tmp_path / "wheel").glob("siscore-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    fg = [n for n in names if n.startswith("siscore/_assets/foregrounds/") and n.endswith(".png")]
    bg = [n for n in names if n.startswith("siscore/_assets/backgrounds/")]
    assert len(fg) == len(list((ROOT / "assets" / "foregrounds").glob("*/*.png"))) and len(bg) >= 6
    assert {"siscore/_assets/ATTRIBUTION.md", "siscore/data/label_map.csv",
            "siscore/data/imagenet_classes.txt", "siscore/py.typed"} <= names
    # installed (not editable), the package finds its assets and renders from them
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import siscore, siscore.generate.assets as a; fg, bg = a.embedded_assets(); "
            "assert str(fg).startswith(sys.argv[1]), fg; "
            "r = siscore.build(siscore.Grid(resolution=[(64, 64)]), sys.argv[2], progress=False); "
            "print(r.kept)")
    run = subprocess.run([sys.executable, "-c", "import sys;" + code, str(target), str(tmp_path / "ds")],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.strip()) == 2 * len(fg)
