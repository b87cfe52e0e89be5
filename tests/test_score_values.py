"""Values that cannot be right, through `score` and `report`: one line naming the file, row
and column, a non-zero exit, and nothing written or lost; names that survive a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.formats.dataset import load_dataset
from siscore.score import ScoreError, score_predictions
from siscore.score.synthetic import simulate_predictions, write_metadata_folder


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A metadata-only size dataset (100 areas x 3 objects) and predictions of it."""
    folder = write_metadata_folder(tmp_path / "size", "size", n_classes=3, n_objects=3,
                                   bgs_per_fg=1)
    return folder, simulate_predictions(load_dataset(folder).metadata, 0.6, seed=0)


def files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def fails_and_keeps(tmp_path: Path, *args: str) -> str:
    """Run the CLI over an earlier file; it must fail with one line and change no file."""
    (tmp_path / "earlier.csv").write_text("earlier results\n")
    before = files(tmp_path)
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code != 0
    assert isinstance(r.exception, SystemExit), r.exception  # one line, no traceback
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert files(tmp_path) == before
    return lines[0]


def score_cli(folder: Path, preds: Path, tmp_path: Path, *extra: str) -> str:
    return fails_and_keeps(tmp_path, "score", "--dataset", str(folder), "-p", str(preds),
                           "--out", str(tmp_path / "earlier.csv"), "-q", *extra)


# -- score ---------------------------------------------------------------------------------
def test_topk5_with_an_empty_top5_column(data, tmp_path):
    folder, preds = data
    preds.assign(top5="").to_csv(tmp_path / "p.csv", index=False)
    msg = score_cli(folder, tmp_path / "p.csv", tmp_path, "--topk", "5")
    assert "p.csv: the top5 column is empty on every row" in msg and "--topk 1" in msg
    preds["top5"] = preds["top5"].astype(object)
    preds.loc[7:, "top5"] = ""  # some rows filled, row 9 (index 7) the first empty one
    preds.to_csv(tmp_path / "p.csv", index=False)
    assert "p.csv, row 9: top5 = nan is not five integer indices" in score_cli(
        folder, tmp_path / "p.csv", tmp_path, "--topk", "5")


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)"])
def test_formula_model_names_are_refused_where_they_enter(data, tmp_path, name):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = score_cli(folder, tmp_path / "p.csv", tmp_path, "--name", name)
    assert f"p.csv: model name {name!r} begins with {name[0]!r}" in msg and "formula" in msg
    preds.assign(model=name).to_csv(tmp_path / "m.csv", index=False)
    msg = score_cli(folder, tmp_path / "m.csv", tmp_path)
    assert f"m.csv, row 2, column model: model name {name!r}" in msg
    with pytest.raises(ScoreError, match="formula"):
        score_predictions(folder, [preds], names=[name])


def test_an_empty_model_name_is_refused(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    assert "p.csv: empty model name" in score_cli(folder, tmp_path / "p.csv", tmp_path,
                                                  "--name", " ")


@pytest.mark.parametrize("value, why", [("=1+2", "is not a number"),
                                        ("inf", "is not a finite number")])
def test_formula_or_inf_factor_value_in_a_lone_metadata_csv(data, tmp_path, value, why):
    folder, preds = data
    md = pd.read_csv(folder / "metadata.csv")
    md["area"] = md["area"].astype(object)
    md.loc[3, "area"] = value
    md.to_csv(folder / "metadata.csv", index=False)
    preds.to_csv(tmp_path / "p.csv", index=False)
    for args in (["--dataset", str(folder)], ["--metadata", str(folder / "metadata.csv")]):
        msg = fails_and_keeps(tmp_path, "score", *args, "-p", str(tmp_path / "p.csv"),
                              "--out", str(tmp_path / "earlier.csv"))
        assert "metadata.csv, row 5: area = " in msg and why in msg


def test_formula_label_never_reaches_the_scores_file(data, tmp_path):
    folder, preds = data
    md = pd.read_csv(folder / "metadata.csv")
    md["label"] = np.where(md["foreground_class"] == 1, "=cmd|' /C calc'!A0", "class000")
    md.to_csv(tmp_path / "md.csv", index=False)
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = fails_and_keeps(tmp_path, "score", "--metadata", str(tmp_path / "md.csv"), "-p",
                          str(tmp_path / "p.csv"), "--by", "label", "--out",
                          str(tmp_path / "earlier.csv"))
    assert "md.csv, row 3: label = " in msg and "formula" in msg


def test_a_header_only_or_fractional_id_metadata_csv(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    md = pd.read_csv(folder / "metadata.csv")
    md.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    msg = fails_and_keeps(tmp_path, "score", "--metadata", str(tmp_path / "empty.csv"),
                          "--class-names", str(folder / "foreground_classes_metadata_indices.csv"),
                          "-p", str(tmp_path / "p.csv"), "--out", str(tmp_path / "earlier.csv"))
    assert "empty.csv: lists no images" in msg
    md["image_id"] = md["image_id"].astype(float)
    md.loc[4, "image_id"] = 4.5
    md.to_csv(tmp_path / "frac.csv", index=False)
    msg = fails_and_keeps(tmp_path, "score", "--metadata", str(tmp_path / "frac.csv"),
                          "--class-names", str(folder / "foreground_classes_metadata_indices.csv"),
                          "-p", str(tmp_path / "p.csv"), "--out", str(tmp_path / "earlier.csv"))
    assert "frac.csv, row 6: image_id = 4.5 is not a whole number" in msg


def test_a_factor_named_like_a_scores_column_is_refused(data, tmp_path):
    folder, preds = data
    md = pd.read_csv(folder / "metadata.csv")
    md["normalize"] = md["image_id"] % 2
    md.to_csv(folder / "metadata.csv", index=False)
    with pytest.raises(ScoreError, match="--by normalize: the scores file has a column"):
        score_predictions(folder, [preds.assign(model="m")], by=["normalize"])


# -- score -> report -----------------------------------------------------------------------
def test_models_called_na_and_none_survive_score_and_report(data, tmp_path):
    from siscore.report import load_scores

    folder, preds = data
    pd.concat([preds.assign(model="NA"), preds.assign(model="None")]).to_csv(
        tmp_path / "p.csv", index=False)
    r = CliRunner().invoke(main, ["score", "--dataset", str(folder), "-p",
                                  str(tmp_path / "p.csv"), "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    assert load_scores(tmp_path / "s.csv").models == ["NA", "None"]


def good_scores(data, tmp_path: Path) -> pd.DataFrame:
    folder, preds = data
    return score_predictions(folder, [preds.assign(model="model-a")], n_boot=10).scores


def report_fails(tmp_path: Path, frame: pd.DataFrame) -> str:
    """The report refuses ``frame`` from the command line (one line, nothing written) and
    from Python (the same message, for the file read back)."""
    from siscore.report import ReportError, load_scores

    frame.to_csv(tmp_path / "bad.csv", index=False)
    msg = fails_and_keeps(tmp_path, "report", "--scores", str(tmp_path / "bad.csv"), "--out",
                          str(tmp_path / "rep"))
    assert not (tmp_path / "rep").exists()
    with pytest.raises(ReportError) as caught:
        load_scores(tmp_path / "bad.csv")
    assert msg == f"Error: {caught.value}"
    return msg


def test_report_refuses_an_empty_accuracy_column(data, tmp_path):
    frame = good_scores(data, tmp_path).assign(accuracy=np.nan)
    msg = report_fails(tmp_path, frame)
    assert "bad.csv: row 2, column accuracy: an empty cell where n > 0" in msg


@pytest.mark.parametrize("n, correct, accuracy, expected", [
    (1e23, 1, 0.9, "column n: 1e+23 is more images than a count can hold"),
    (100, 1, 0.9, "column accuracy: 0.9 is not correct / n"),
])
def test_report_refuses_counts_that_contradict_the_accuracy(data, tmp_path, n, correct,
                                                            accuracy, expected):
    frame = good_scores(data, tmp_path)
    frame["n"] = frame["n"].astype(float)
    frame.loc[4, ["n", "correct", "accuracy"]] = [n, correct, accuracy]
    assert f"bad.csv: row 6, {expected}" in report_fails(tmp_path, frame)


def test_report_refuses_an_empty_model_name(data, tmp_path):
    frame = good_scores(data, tmp_path)
    frame.loc[2, "model"] = ""
    assert "bad.csv: row 4, column model: is empty" in report_fails(tmp_path, frame)


@pytest.mark.parametrize("column, value, expected", [
    ("area", np.inf, "column area: is infinite"),
    ("model", "=1+2", "column model: '=1+2' begins with '='"),
    ("label", "@SUM(A1)", "column label: '@SUM(A1)' begins with '@'"),
])
def test_report_refuses_formula_or_inf_values(data, tmp_path, column, value, expected):
    frame = good_scores(data, tmp_path)
    if column == "label":
        frame["label"] = "cup"
        frame["area"] = frame["area"].rank(method="first")  # still one row per cell
    frame[column] = frame[column].astype(object)
    frame.loc[3, column] = value
    assert f"bad.csv: row 5, {expected}" in report_fails(tmp_path, frame)


def test_report_draws_its_intervals_with_the_one_clopper_pearson():
    from siscore.report import scores as report_scores
    from siscore.score import stats

    assert report_scores.clopper_pearson is stats.clopper_pearson


def test_random_weights_reach_the_report_reader(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "r.csv.meta.json").write_text(json.dumps({"random_init": True}))
    result = score_predictions(folder, [tmp_path / "r.csv"], n_boot=10)
    assert result.scores["random_init"].all()
    result.write(tmp_path / "s.csv")
    from siscore.report import load_scores

    loaded = load_scores(tmp_path / "s.csv")
    assert "random_init" not in loaded.factors  # a record of the model, not a grid factor
