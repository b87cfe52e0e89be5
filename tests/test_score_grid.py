"""`score` on a grid of one's own: the default groups by every factor the grid varies (never
by a record column), the scores file records its normaliser and random-weight models, and
the README's Python example runs from `Grid` to the HTML report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import siscore
from siscore.cli import main
from siscore.formats.dataset import load_dataset
from siscore.score import score, score_predictions
from siscore.score.synthetic import simulate_predictions, write_metadata_folder


def right_with(info, p: float, seed: int) -> pd.DataFrame:
    """Predictions of a dataset: a valid ImageNet index with probability ``p``, else 999."""
    md = info.metadata
    rng = np.random.default_rng(seed)
    right = rng.random(len(md)) < p
    truth = [info.imagenet[label][0] for label in md["label"]]
    return pd.DataFrame({"image_id": md["image_id"], "top1": np.where(right, truth, 999)})


@pytest.fixture(scope="module")
def readme_grid(tmp_path_factory) -> Path:
    """The README's grid, built on the embedded assets (as the quick start does)."""
    out = tmp_path_factory.mktemp("grid") / "mine"
    grid = siscore.Grid(location=[(0.5, 0.5), (0.1, 0.9)], area=[0.1, 0.3], rotation=[0, 90])
    siscore.build(grid, out, seed=1)
    return out


def test_readme_grid_from_build_to_html_report(readme_grid, tmp_path):
    info = load_dataset(readme_grid)
    right_with(info, 0.7, 0).to_csv(tmp_path / "model-a.csv", index=False)
    table = score(readme_grid, [tmp_path / "model-a.csv"])  # no --by: every varied factor
    assert set(table.columns[1:5]) == {"x_coord", "y_coord", "area", "rotation"}
    assert len(table) == 8 and table["n"].sum() == len(info.metadata)
    assert (table["normalize"] == "none").all()  # a grid of one's own is not normalised
    np.testing.assert_allclose(table["normalized"], table["accuracy"])
    table.to_csv(tmp_path / "scores.csv", index=False)

    from siscore.report import write_report

    write_report(tmp_path / "scores.csv", tmp_path / "report")
    html = (tmp_path / "report" / "index.html").read_text("utf-8")
    assert "model-a" in html and "normalised" not in html  # plain accuracy, labelled so
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())


def test_cli_scores_the_readme_grid_without_by(readme_grid, tmp_path):
    right_with(load_dataset(readme_grid), 0.7, 1).to_csv(tmp_path / "p.csv", index=False)
    r = CliRunner().invoke(main, ["score", "--dataset", str(readme_grid), "-p",
                                  str(tmp_path / "p.csv"), "--name", "model-a",
                                  "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    assert "by area, x_coord, y_coord, rotation; normalize=none, top-1" in r.output
    assert "rotation=0.0" not in r.output and "rotation=" in r.output  # integers as integers
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["factors"] == ["area", "x_coord", "y_coord", "rotation"]  # the spec's order
    assert summary["normalize"] == "none"


@pytest.fixture(scope="module")
def blend_grid(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blend") / "blend"
    grid = siscore.Grid(location=[(0.5, 0.5)], area=[0.2], blend=["alpha", "poisson"])
    siscore.build(grid, out, seed=1)
    md = pd.read_csv(out / "metadata.csv")
    md["blend_fallback"] = md["image_id"] % 3 == 0  # the record varies, as it does on borders
    md.to_csv(out / "metadata.csv", index=False)
    return out


def test_a_blend_grid_groups_by_blend_never_by_its_fallback_record(blend_grid, tmp_path):
    info = load_dataset(blend_grid)
    assert info.factors == ["blend"]
    right_with(info, 0.5, 0).to_csv(tmp_path / "p.csv", index=False)
    result = score_predictions(blend_grid, [tmp_path / "p.csv"], n_boot=50)
    assert result.summary["factors"] == ["blend"]
    assert "blend_fallback" not in result.scores.columns
    assert sorted(result.scores["blend"]) == ["alpha", "poisson"]


def test_a_lone_metadata_csv_takes_its_factors_from_the_dataset_json_beside_it(blend_grid,
                                                                              tmp_path):
    folder = tmp_path / "p.csv.dataset"  # as an on-the-fly `siscore evaluate` writes it
    shutil.copytree(blend_grid, folder, ignore=shutil.ignore_patterns("*.jpg"))
    right_with(load_dataset(blend_grid), 0.5, 0).to_csv(tmp_path / "p.csv", index=False)
    r = CliRunner().invoke(main, ["score", "--metadata", str(folder / "metadata.csv"), "-p",
                                  str(tmp_path / "p.csv"), "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    columns = list(pd.read_csv(tmp_path / "s.csv").columns)
    assert columns[:2] == ["model", "blend"] and "blend_fallback" not in columns


def test_a_row_of_locations_is_still_scored_by_x_and_y(tmp_path):
    out = tmp_path / "row"
    siscore.build(siscore.Grid(location=[(0.25, 0.5), (0.75, 0.5)], area=[0.2]), out, seed=1)
    info = load_dataset(out)
    assert info.factors == ["x_coord", "y_coord"]  # y has one value, but location varies
    right_with(info, 0.5, 0).to_csv(tmp_path / "p.csv", index=False)
    table = score(out, [tmp_path / "p.csv"], n_boot=10)
    assert table[["x_coord", "y_coord"]].values.tolist() == [[0.25, 0.5], [0.75, 0.5]]


def test_the_normaliser_is_recorded_in_every_row_and_in_the_summary(tmp_path):
    folder = write_metadata_folder(tmp_path / "loc", "location", n_classes=3, n_objects=3,
                                   bgs_per_fg=1)
    preds = simulate_predictions(load_dataset(folder).metadata, 0.6, model="model-a")
    for method, by in (("p95", None), ("max", None), ("none", ["x_coord"])):
        kwargs = {"normalize_method": method} if method == "max" else {}
        result = score_predictions(folder, [preds], by=by, n_boot=10, **kwargs)
        assert (result.scores["normalize"] == method).all()
        assert result.summary["normalize"] == method


def test_random_weights_are_marked_in_scores_summary_and_output(tmp_path):
    folder = write_metadata_folder(tmp_path / "size", "size", n_classes=3, n_objects=3,
                                   bgs_per_fg=1)
    md = load_dataset(folder).metadata
    simulate_predictions(md, 0.8, seed=0).to_csv(tmp_path / "trained.csv", index=False)
    simulate_predictions(md, 0.001, seed=1).to_csv(tmp_path / "resnet50.csv", index=False)
    (tmp_path / "resnet50.csv.meta.json").write_text(json.dumps(
        {"model": "resnet50", "weights": None, "random_init": True}))
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(main, ["score", "--dataset", str(folder), "-p",
                                  str(tmp_path / "trained.csv"), "-p",
                                  str(tmp_path / "resnet50.csv"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.startswith("  resnet50:"))
    assert "RANDOM WEIGHTS" in line
    assert "RANDOM WEIGHTS" not in next(x for x in r.output.splitlines()
                                        if x.startswith("  trained:"))
    assert "note: resnet50: random weights" in r.output
    frame = pd.read_csv(out)
    assert frame.groupby("model")["random_init"].agg(set).to_dict() == {
        "resnet50": {True}, "trained": {False}}
    models = json.loads((tmp_path / "s.summary.json").read_text())["models"]
    assert models["resnet50"]["random_init"] is True and "random_init" not in models["trained"]
