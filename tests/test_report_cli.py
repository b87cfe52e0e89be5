"""`siscore report` on the command line: success, every bad input, and the score -> report path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from siscore.cli import main
from siscore.report import load_scores
from tests.report_scores import (
    breakdown_scores,
    grid_scores,
    location_scores,
    rotation_scores,
    size_scores,
)


def run(*args: str):
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


@pytest.fixture()
def size_csv(tmp_path: Path) -> Path:
    frame = size_scores()
    path = tmp_path / "size.csv"
    frame[frame["area"].isin([0.1, 0.2, 0.5, 1.0])].to_csv(path, index=False)
    return path


def test_report_command_writes_figures_tables_and_index(tmp_path: Path, size_csv: Path) -> None:
    rot = tmp_path / "rot.csv"
    rotation_scores().to_csv(rot, index=False)
    (tmp_path / "rot.summary.json").write_text(json.dumps({"subset": "rotation", "models": {}}))
    out = tmp_path / "figs"
    result = run("--scores", str(size_csv), "--scores", str(rot), "--out", str(out),
                 "--format", "png,pdf", "--dpi", "120", "--width", "single", "--no-titles",
                 "--baseline", "model-b")
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["index.html", "rot-rotation.pdf", "rot-rotation.png",
                            "rot-summary.csv", "rot-summary.tex", "size-size.pdf",
                            "size-size.png", "size-summary.csv", "size-summary.tex"])
    assert Image.open(out / "rot-rotation.png").size[0] == round(3.3 * 120)


def test_same_stem_twice_gets_distinct_names(tmp_path: Path, size_csv: Path) -> None:
    other = tmp_path / "again"
    other.mkdir()
    (other / "size.csv").write_bytes(size_csv.read_bytes())
    out = tmp_path / "o"
    assert run("--scores", str(size_csv), "--scores", str(other / "size.csv"), "--out", str(out),
               "--format", "png", "--dpi", "50", "-q").exit_code == 0
    assert (out / "size-size.png").is_file() and (out / "size-2-size.png").is_file()


def test_files_already_in_out_are_left_alone(tmp_path: Path, size_csv: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run("--scores", str(size_csv), "--out", str(out), "--format", "png",
               "--dpi", "50", "-q").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"


def bad(tmp_path: Path, args: list[str], *messages: str) -> None:
    """The command fails with every message in its output and writes nothing into --out."""
    out = tmp_path / "out"
    result = run(*args, "--out", str(out))
    assert result.exit_code != 0
    for message in messages:
        assert message in result.output, result.output
    assert not out.exists() or not any(out.iterdir())


def test_unknown_baseline(tmp_path: Path, size_csv: Path) -> None:
    bad(tmp_path, ["--scores", str(size_csv), "--baseline", "model-z"],
        "size.csv", "--baseline 'model-z' is not a model",
        "models: model-a, model-b, model-c")


def test_unknown_format(tmp_path: Path, size_csv: Path) -> None:
    bad(tmp_path, ["--scores", str(size_csv), "--format", "pdf,jpeg"],
        "unknown format 'jpeg'", "pdf,svg,png")


def test_missing_scores_file(tmp_path: Path) -> None:
    bad(tmp_path, ["--scores", str(tmp_path / "nope.csv")], "nope.csv", "no such scores file")


def test_bad_min_count_and_dpi(tmp_path: Path, size_csv: Path) -> None:
    bad(tmp_path, ["--scores", str(size_csv), "--min-count", "-1"], "--min-count -1")
    bad(tmp_path, ["--scores", str(size_csv), "--dpi", "5"], "--dpi 5")


def test_missing_columns(tmp_path: Path, size_csv: Path) -> None:
    path = tmp_path / "broken.csv"
    pd.read_csv(size_csv).drop(columns=["correct"]).to_csv(path, index=False)
    bad(tmp_path, ["--scores", str(path)], "broken.csv", "missing column(s) correct")


def test_no_factor_column_gets_one_bar_per_model(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    pd.DataFrame({"model": ["model-a", "model-b"], "n": [10, 10], "correct": [5, 8],
                  "accuracy": [0.5, 0.8]}).to_csv(path, index=False)
    out = tmp_path / "out"
    result = run("--scores", str(path), "--out", str(out), "--format", "png", "--dpi", "60")
    assert result.exit_code == 0, result.output
    assert (out / "flat-models.png").is_file()
    assert load_scores(path).kind == "models"


def test_non_numeric_value_names_the_row(tmp_path: Path, size_csv: Path) -> None:
    frame = pd.read_csv(size_csv)
    frame["accuracy"] = frame["accuracy"].astype(object)
    frame.loc[2, "accuracy"] = "high"
    path = tmp_path / "text.csv"
    frame.to_csv(path, index=False)
    bad(tmp_path, ["--scores", str(path)], "text.csv", "row 4, column accuracy", "'high'")


def test_duplicate_cells(tmp_path: Path, size_csv: Path) -> None:
    frame = pd.read_csv(size_csv)
    path = tmp_path / "twice.csv"
    pd.concat([frame, frame.iloc[:1]]).to_csv(path, index=False)
    bad(tmp_path, ["--scores", str(path)], "twice.csv", f"row {len(frame) + 2} repeats the cell",
        "model=model-a, area=0.1")


def test_location_that_also_varies_area_is_drawn_per_area(tmp_path: Path) -> None:
    # issue 22: this was refused ("location scores vary area too")
    rows = [{"model": "a", "x_coord": x, "y_coord": 0.5, "area": a, "n": 10, "correct": 5,
             "accuracy": 0.5, "normalized": 1.0} for x in (0.0, 1.0) for a in (0.2, 0.5)]
    path = tmp_path / "mixed.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "out"
    result = run("--scores", str(path), "--out", str(out), "--format", "png", "--dpi", "60")
    assert result.exit_code == 0, result.output
    assert (out / "mixed-location.png").is_file()
    layout = load_scores(path).layout()
    assert (layout.kind, layout.x, layout.y, layout.facets) == (
        "location", "x_coord", "y_coord", ("area",))


def test_bad_summary_json(tmp_path: Path, size_csv: Path) -> None:
    (tmp_path / "size.summary.json").write_text("{not json")
    bad(tmp_path, ["--scores", str(size_csv)], "size.summary.json", "not valid JSON")


def test_a_bad_second_file_stops_before_anything_is_written(tmp_path: Path,
                                                             size_csv: Path) -> None:
    bad(tmp_path, ["--scores", str(size_csv), "--scores", str(tmp_path / "missing.csv")],
        "missing.csv")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("model,area,n,correct,accuracy\n")
    bad(tmp_path, ["--scores", str(path)], "empty.csv", "no rows")


def test_kind_inference(tmp_path: Path) -> None:
    def kind(frame: pd.DataFrame, **summary) -> str:
        path = tmp_path / "k.csv"
        frame.to_csv(path, index=False)
        (tmp_path / "k.summary.json").write_text(json.dumps({"models": {}, **summary}))
        return load_scores(path).kind

    assert kind(location_scores(steps=3)) == "location"
    assert kind(rotation_scores(), subset="rotation") == "rotation"
    assert kind(rotation_scores()) == "heatmap"  # a grid of one's own: area x rotation
    assert kind(size_scores()) == "size"
    assert kind(breakdown_scores("background_name")) == "bars"
    assert kind(breakdown_scores("label")) == "breakdown"  # 9 classes: a heatmap
    assert kind(grid_scores({"background_noise": [0, 8, 16]})) == "lines"
    assert kind(grid_scores({"label": [f"c{i}" for i in range(20)]})) == "breakdown"
    path = tmp_path / "bg.csv"
    breakdown_scores("background_name").to_csv(path, index=False)
    assert load_scores(path).by == ["background_name"]


def test_through_siscore_score(tmp_path: Path) -> None:
    """Integration: simulated predictions scored by siscore.score, then reported."""
    score = pytest.importorskip("siscore.score")
    synthetic = pytest.importorskip("siscore.score.synthetic")
    data = synthetic.write_metadata_folder(tmp_path / "data", "rotation", n_classes=4,
                                           n_objects=8, bgs_per_fg=1)
    md = pd.read_csv(data / "metadata.csv")
    preds = []
    for i, (name, acc) in enumerate((("weak", 0.4), ("strong", 0.8))):
        p = np.where(md["rotation"].between(100, 260), acc * 0.5, acc)
        path = tmp_path / f"{name}.csv"
        synthetic.simulate_predictions(md, p, seed=i).to_csv(path, index=False)
        preds.append(path)
    result = score.score_predictions(data, preds, names=["weak", "strong"], baseline="weak",
                                     n_boot=20)
    scores_csv = tmp_path / "rot_scores.csv"
    result.write(scores_csv)
    loaded = load_scores(scores_csv)
    assert loaded.kind == "rotation" and loaded.baseline_in_file == "weak"
    out = tmp_path / "figs"
    cli = run("--scores", str(scores_csv), "--out", str(out), "--format", "png", "--dpi", "60")
    assert cli.exit_code == 0, cli.output
    assert (out / "rot_scores-rotation.png").is_file()
    table = pd.read_csv(out / "rot_scores-summary.csv").set_index("model")
    assert table.loc["strong", "accuracy"] > table.loc["weak", "accuracy"]
    assert "rotation_retention" in table.columns
