"""examples/train_location_cnn.py in its reduced (--quick) mode, on the embedded assets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_location_cnn.py"


def test_quick_example_shows_the_location_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("train_location_cnn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "train_location_cnn", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    report = module.main(["--quick", "--out", str(tmp_path), "--workers", "0", "--threads", "1"])

    assert json.loads((tmp_path / "location_summary.json").read_text())["results"] == report["results"]
    cells = pd.read_csv(tmp_path / "location_cells.csv")
    assert set(cells["model"]) == {"centred", "translated"}
    assert len(cells) == 2 * 5 * 5 and cells["accuracy"].between(0, 1).all()
    assert "centred (top-1 accuracy %" in (tmp_path / "location_maps.txt").read_text()
    for name in ("centred", "translated"):  # evaluated through siscore.evaluate, on the fly
        preds = pd.read_csv(tmp_path / f"{name}.csv")
        assert len(preds) == len(pd.read_csv(tmp_path / f"{name}.csv.dataset" / "metadata.csv"))
    centred = report["results"]["centred"]
    # the centred model is best at the centre and loses most of it away from the centre,
    assert centred["centre"] > centred["off_centre"] + 0.3 and centred["centre"] > centred["border"]
    # much more than the model trained with random translations does
    drop = {name: r["centre"] - r["off_centre"] for name, r in report["results"].items()}
    assert drop["centred"] > drop["translated"] + 0.2


def test_real_models_example_runs_small(tmp_path: Path) -> None:
    """examples/real_models.py end to end on the embedded assets (every 60th rotation image)."""
    pytest.importorskip("efficientnet_lite_pytorch")
    spec = importlib.util.spec_from_file_location(
        "real_models", Path(__file__).resolve().parents[1] / "examples" / "real_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--assets", "embedded", "--subsets", "rotation", "--stride", "60",
                        "--out", str(tmp_path), "-j", "0"]) == 0
    found = json.loads((tmp_path / "findings.json").read_text())
    assert found["assets"] == "embedded assets"
    for model in module.MODELS:
        assert found[model]["rotation_images"] > 0
        assert (tmp_path / "predictions" / "rotation" / f"{model}.csv").is_file()
    assert (tmp_path / "report" / "index.html").is_file()
