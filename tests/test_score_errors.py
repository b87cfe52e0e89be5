"""Bad input to `siscore score`: clear messages naming the file, row or option and the fix,
and nothing written (an earlier scores file stays as it was)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.formats.dataset import load_dataset
from siscore.score import ScoreError, read_imagenet_acc, read_output_map, score_predictions
from siscore.score.synthetic import simulate_predictions, write_metadata_folder


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A metadata-only size dataset (100 areas x 6 objects) and perfect-ish predictions."""
    folder = write_metadata_folder(tmp_path / "size", "size", n_classes=3, n_objects=6,
                                   bgs_per_fg=1)
    preds = simulate_predictions(load_dataset(folder).metadata, 0.6, seed=0)
    return folder, preds


def run_cli(folder: Path, preds: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["score", "--dataset", str(folder), "-p", str(preds),
                                     "--out", str(out), *extra])


def assert_fails_and_keeps(folder, preds_path, tmp_path, *extra) -> str:
    """Run the CLI over an earlier scores file; it must fail and change no file."""
    out = tmp_path / "scores.csv"
    out.write_text("earlier results\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    r = run_cli(folder, preds_path, out, *extra)
    assert r.exit_code != 0
    assert r.output.startswith("Error: ")
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    return r.output


def test_unknown_image_ids_name_the_row(data, tmp_path):
    folder, preds = data
    preds.loc[5, "image_id"] = 123456
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path)
    assert "p.csv, row 7: image_id 123456 is not in" in msg
    assert "metadata.csv" in msg and "another dataset" in msg


def test_duplicated_image_ids_name_both_rows(data, tmp_path):
    folder, preds = data
    preds.loc[9, "image_id"] = preds.loc[3, "image_id"]
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path)
    assert "image_id 3 appears on rows 5, 11" in msg and "one row per image" in msg


def test_missing_images_are_scored_with_the_coverage_stated(data, tmp_path):
    folder, preds = data
    preds.iloc[:450].to_csv(tmp_path / "part.csv", index=False)  # 450 of 600 images
    out = tmp_path / "scores.csv"
    r = run_cli(folder, tmp_path / "part.csv", out)
    assert r.exit_code == 0, r.output
    assert "part: 450 images (coverage 75.0%)" in r.output
    assert "note: part: predictions for 450 of 600 images (coverage 75.0%)" in r.output
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert summary["models"]["part"]["coverage"] == 0.75
    assert pd.read_csv(out)["n"].sum() == 450
    # and --min-coverage turns it into an error that writes nothing
    msg = assert_fails_and_keeps(folder, tmp_path / "part.csv", tmp_path, "--min-coverage",
                                 "0.9")
    assert "coverage below --min-coverage 0.9: part 75.0%" in msg


def test_dataset_without_metadata(tmp_path):
    (tmp_path / "empty").mkdir()
    pd.DataFrame({"image_id": [0], "top1": [1]}).to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(tmp_path / "empty", tmp_path / "p.csv", tmp_path)
    assert "empty/metadata.csv: missing" in msg and "siscore build" in msg


def test_outputs_beyond_imagenet_without_an_output_map(data, tmp_path):
    folder, preds = data
    preds.loc[2, "top1"] = 11000  # e.g. an ImageNet-21k head
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path)
    assert "p.csv, row 4: top1 = 11000 is outside 0..999" in msg
    assert "not ImageNet-1k" in msg and "--output-map" in msg
    # ImageNet indices scored through a 3-output map: told to drop the map
    (tmp_path / "three.txt").write_text("0\n7\n14\n")
    preds.loc[2, "top1"] = 931
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--output-map",
                                 str(tmp_path / "three.txt"))
    assert "top1 = 0 is outside 0..2" not in msg and "is outside 0..2" in msg
    assert "drop --output-map" in msg


def test_logits_that_are_not_1000_classes(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    np.savez(tmp_path / "p.npz", image_id=preds["image_id"].to_numpy(),
             logits=np.zeros((len(preds), 21), dtype=np.float32))
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--label-space",
                                 "dataset")
    assert "p.npz: the logits have 21 columns, expected 1000" in msg
    assert "--output-map" in msg
    # with a map of the 21 outputs, the same logits score
    pd.DataFrame({"output": range(21), "label": ["class000", "class001", "class002"]
                  + [""] * 18}).to_csv(tmp_path / "map.csv", index=False)
    r = run_cli(folder, tmp_path / "p.csv", tmp_path / "ok.csv", "--label-space", "dataset",
                "--output-map", str(tmp_path / "map.csv"))
    assert r.exit_code == 0, r.output


def test_label_space_dataset_without_logits(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--label-space",
                                 "dataset")
    assert "needs the full logits" in msg and "p.npz" in msg
    assert "--label-space imagenet" in msg


def test_missing_columns_and_bad_cells(data, tmp_path):
    folder, preds = data
    preds.drop(columns="top1").to_csv(tmp_path / "a.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "a.csv", tmp_path)
    assert "a.csv: missing column(s) ['top1']" in msg and "image_id,top1" in msg
    bad = preds.astype({"top1": object})
    bad.loc[7, "top1"] = "cat"
    bad.to_csv(tmp_path / "b.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "b.csv", tmp_path)
    assert "b.csv, row 9: top1 = 'cat' is not an integer" in msg
    bad = preds.copy()
    bad.loc[3, "top5"] = "1 2 3"
    bad.to_csv(tmp_path / "c.csv", index=False)
    assert run_cli(folder, tmp_path / "c.csv", tmp_path / "ok.csv").exit_code == 0  # top-1
    msg = assert_fails_and_keeps(folder, tmp_path / "c.csv", tmp_path, "--topk", "5")
    assert "c.csv, row 5: top5 = '1 2 3' is not five integer indices" in msg
    preds.drop(columns="top5").to_csv(tmp_path / "d.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "d.csv", tmp_path, "--topk", "5")
    assert "d.csv: --topk 5 needs a 'top5' column" in msg


def test_labels_that_disagree_with_the_dataset(data, tmp_path):
    folder, preds = data
    md = load_dataset(folder).metadata
    preds["label"] = md["label"].to_numpy()
    preds.loc[4, "label"] = "zebra"
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path)
    assert "p.csv, row 6: image_id 4 is labelled 'zebra' there but" in msg


def test_bad_options(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--by", "colour")
    assert "--by colour: no such column" in msg and "foreground_instance" in msg
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--baseline", "other")
    assert "--baseline 'other' is not one of the models scored (p)" in msg
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--min-pct-inside", "2")
    assert "--min-pct-inside 2.0: give a fraction in 0..1" in msg
    msg = assert_fails_and_keeps(folder, tmp_path / "p.csv", tmp_path, "--normalize-over",
                                 "rotation")
    assert "--normalize-over rotation: not a grouping column" in msg


def test_two_files_with_the_same_model_name(data, tmp_path):
    folder, preds = data
    (tmp_path / "a").mkdir()
    preds.to_csv(tmp_path / "p.csv", index=False)
    preds.to_csv(tmp_path / "a" / "p.csv", index=False)
    with pytest.raises(ScoreError, match="model name 'p' comes from both .* give each file"):
        score_predictions(folder, [tmp_path / "p.csv", tmp_path / "a" / "p.csv"])
    r = CliRunner().invoke(main, ["score", "--dataset", str(folder), "-p", str(tmp_path / "p.csv"),
                                  "-p", str(tmp_path / "a" / "p.csv"), "--name", "one",
                                  "--name", "two", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output


def test_bad_side_tables(tmp_path):
    (tmp_path / "acc.csv").write_text("model,imagenet_top1\nresnet50,0.76\n")
    with pytest.raises(ScoreError, match=r"write percentages \(76.13, not 0.7613\)"):
        read_imagenet_acc(tmp_path / "acc.csv")
    (tmp_path / "acc.csv").write_text("name,acc\nresnet50,76\n")
    with pytest.raises(ScoreError, match="expected the columns 'model,imagenet_top1'"):
        read_imagenet_acc(tmp_path / "acc.csv")
    (tmp_path / "map.csv").write_text("output,imagenet_index\n0,5\n0,6\n")
    with pytest.raises(ScoreError, match="output index 0 appears twice"):
        read_output_map(tmp_path / "map.csv")
    (tmp_path / "map.csv").write_text("output,imagenet_index\n0,5\n1,1200\n")
    with pytest.raises(ScoreError, match=r"row 3: imagenet_index 1200 is not in 0..999"):
        read_output_map(tmp_path / "map.csv")


def test_effective_robustness_without_imagenet_accuracies(data, tmp_path):
    folder, preds = data
    preds.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(ScoreError, match="at least 5 models .* --testbed"):
        score_predictions(folder, [tmp_path / "p.csv"], imagenet_acc={"p": 70.0})


def test_out_never_replaces_an_input_nor_lands_in_the_dataset(data, tmp_path):
    """`--out p.csv` once overwrote the predictions, `--out DATASET/metadata.csv` the dataset."""
    folder, preds = data
    preds_path = tmp_path / "p.csv"
    preds.to_csv(preds_path, index=False)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for out, said in [
        (preds_path, f"Error: --out {preds_path}: would replace the input {preds_path}; write the "
                     "scores to another file, e.g. scores.csv"),
        (folder / "metadata.csv", f"Error: --out {folder / 'metadata.csv'}: is inside the dataset "
                                  f"folder {folder}; write the scores outside it, e.g. scores.csv"),
        (folder / "scores.csv", f"Error: --out {folder / 'scores.csv'}: is inside the dataset "
                                f"folder {folder}; write the scores outside it, e.g. scores.csv"),
    ]:
        r = run_cli(folder, preds_path, out)
        assert r.exit_code == 1 and r.output.strip().splitlines() == [said], r.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    r = run_cli(folder, preds_path, tmp_path / "scores.csv")  # beside them is fine
    assert r.exit_code == 0, r.output
