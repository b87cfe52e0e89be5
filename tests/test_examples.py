"""Every file in examples/ runs (reduced where it trains a model)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_every_example_is_covered() -> None:
    covered = {"custom_intervention.py", "train_location_cnn.py", "grid.toml", "occlusion.toml",
               "demo_eval.toml", "real_models.py"}
    assert {p.name for p in EXAMPLES.iterdir() if p.is_file()} == covered


@pytest.mark.parametrize("config", ["grid.toml", "occlusion.toml", "demo_eval.toml"])
def test_config_examples_build(config, tmp_path) -> None:
    out = tmp_path / "ds"
    res = CliRunner().invoke(main, ["build", "--config", str(EXAMPLES / config), "--out", str(out),
                                    "-j", "2", "-q"])
    assert res.exit_code == 0, res.output
    md = pd.read_csv(out / "metadata.csv")
    if config == "grid.toml":
        assert {"object_greyscale", "blend", "blend_fallback"} <= set(md.columns)
        assert sorted(md["x_coord"].unique()) == [0.1, 0.5, 0.9]
    elif config == "demo_eval.toml":
        assert len(md) == 384 and md["x_coord"].nunique() == md["y_coord"].nunique() == 4
    else:
        assert sorted(md["occluder"].unique()) == [0.0, 0.2, 0.4, 0.6, 0.8]


def run_custom_intervention(out: Path, torch_threads: int) -> tuple[str, bytes, bytes]:
    """The example as a user runs it, torch starting with ``torch_threads`` threads (as on a
    machine with that many cores); returns its accuracy table, scores.csv and predictions."""
    env = {**os.environ, "OMP_NUM_THREADS": str(torch_threads)}
    done = subprocess.run([sys.executable, str(EXAMPLES / "custom_intervention.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout[done.stdout.index("top-1 accuracy"):done.stdout.index("written:")]
    return table, (out / "scores.csv").read_bytes(), (out / "clean_cnn.csv").read_bytes()


def test_custom_intervention_example_end_to_end_and_deterministic(tmp_path) -> None:
    """Run as a user runs it (a script whose intervention the worker processes import), twice,
    as on machines of 1 and 2 cores: the same numbers (issue 23)."""
    first = run_custom_intervention(tmp_path / "a", torch_threads=1)
    scores = pd.read_csv(tmp_path / "a" / "scores.csv")
    assert set(scores["background_noise"]) == {0, 24, 48, 96}
    assert {"n", "accuracy", "ci_low", "ci_high"} <= set(scores.columns)
    acc = scores.set_index(["background_noise", "object_greyscale"])["accuracy"]
    # the model was trained on clean colour images: heavy noise must hurt it
    assert acc[(0, 0.0)] > acc[(96, 0.0)] + 0.3
    assert (tmp_path / "a" / "scores.summary.json").exists()
    second = run_custom_intervention(tmp_path / "b", torch_threads=2)
    assert second[0] == first[0]  # the printed table
    assert second[1:] == first[1:]  # scores and predictions, byte for byte


def test_worker_start_failure_is_an_error_not_a_hang(tmp_path, monkeypatch) -> None:
    """An intervention from a module the workers cannot import fails fast with a message."""
    spec = importlib.util.spec_from_file_location("not_on_path_example", EXAMPLES / "custom_intervention.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "not_on_path_example", module)
    spec.loader.exec_module(module)
    import siscore

    grid = siscore.Grid(background_noise=[0, 8], resolution=[(64, 64)])
    with pytest.raises(siscore.ConfigError, match="not on sys.path.*use jobs=1"):
        siscore.build(grid, tmp_path / "ds", jobs=2, progress=False)
    assert not (tmp_path / "ds").exists()  # refused before anything was written
    assert siscore.build(grid, tmp_path / "ds1", jobs=1, progress=False).complete
