"""Issue 22: titles, colour bars, captions and tables say what was computed: "accuracy"
when nothing was normalised, "normalised accuracy (divided by ...)" naming the
normaliser when it was, taken from the scores file's own record."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from siscore.report import load_scores, rotation_plot, write_report
from siscore.report.location import location_heatmaps
from siscore.score import score_predictions
from tests.report_scores import grid_scores, location_scores, rotation_scores

DATA = Path(__file__).parent / "data" / "report_real"


def figure_text(fig) -> str:
    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()]
    return " ".join(parts)


def test_unnormalised_scores_say_accuracy_everywhere(tmp_path: Path) -> None:
    # what `make demo-eval` and every --config grid give: normalize none
    result = score_predictions(DATA / "location", [DATA / "location-predictions.csv"],
                               n_boot=100)
    assert result.summary["normalize"] == "none"
    path = tmp_path / "loc.csv"
    result.write(path)
    scores = load_scores(path)
    fig = location_heatmaps(scores)
    text = figure_text(fig)
    assert "normalised" not in text
    assert fig.get_suptitle().startswith("Top-1 accuracy")
    assert fig.axes[-1].get_ylabel() == "top-1 accuracy (%)"
    report = write_report(path, tmp_path / "o", formats="png", dpi=50, baseline="lite0")
    html = (tmp_path / "o" / "index.html").read_text().replace(str(tmp_path), "")
    assert "normalised" not in html.lower() and "normaliser" not in html
    captions = " ".join(f.caption for s in report.sections for f in s.figures)
    assert captions.startswith("Top-1 accuracy per object-centre cell")
    table = pd.read_csv(tmp_path / "o" / "loc-summary.csv")
    assert "diff_normalized" not in table.columns  # the same as diff_accuracy here
    assert "diff_accuracy" in table.columns


def test_normalised_scores_name_their_normaliser(tmp_path: Path) -> None:
    result = score_predictions(DATA / "location", [DATA / "location-predictions.csv"],
                               normalize_method="p95", n_boot=100, baseline="lite0")
    path = tmp_path / "loc.csv"
    result.write(path)
    scores = load_scores(path)
    fig = location_heatmaps(scores)
    words = "normalised top-1 accuracy (divided by the model's 95th-percentile cell)"
    assert words in fig.get_suptitle().replace("\n", " ").lower()
    assert fig.axes[-1].get_ylabel() == "normalised top-1 accuracy"
    report = write_report(path, tmp_path / "o", formats="png", dpi=50)
    first = report.sections[0].figures[0].caption
    assert first.startswith("Normalised top-1 accuracy (divided by the model's 95th-percentile "
                            "cell) per object-centre cell")
    html = (tmp_path / "o" / "index.html").read_text()
    assert "Normalised: normalised top-1 accuracy (divided by" in html  # above the table
    assert "diff_normalized" in pd.read_csv(tmp_path / "o" / "loc-summary.csv").columns


def test_the_rotation_normaliser_per_area_is_named(tmp_path: Path) -> None:
    frame = rotation_scores()  # max over rotation for each area, as the paper
    path = tmp_path / "rot.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "rot.summary.json").write_text(json.dumps(
        {"subset": "rotation", "normalize": "max", "normalize_over": ["rotation"],
         "factors": ["area", "rotation"], "models": {}}))
    fig = rotation_plot(load_scores(path))
    title = fig.get_suptitle().replace("\n", " ")
    assert ("normalised top-1 accuracy (divided by the model's best rotation angle for each "
            "object area)") in title
    label = fig.axes[0].get_ylabel().replace("-\n", "-").replace("\n", " ")
    assert label == "normalised top-1 accuracy"


@pytest.mark.parametrize("frame, expected", [
    (grid_scores({"area": [0.1, 0.3]}, method="none").drop(columns="normalize"), "accuracy"),
    (location_scores(steps=3).drop(columns="normalize"), "normalized"),
])
def test_a_file_without_a_record_is_read_from_its_numbers(frame, expected) -> None:
    from siscore.report.scores import from_frame

    measure = from_frame(frame).measure()
    assert measure.column == expected
    if expected == "normalized":
        assert measure.normaliser == "a normaliser this file does not record"


def test_the_summary_json_records_the_normaliser_of_an_older_file(tmp_path: Path) -> None:
    frame = location_scores(steps=3).drop(columns="normalize")  # written before the column
    path = tmp_path / "old.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "old.summary.json").write_text(json.dumps(
        {"normalize": "p95", "normalize_over": ["x_coord", "y_coord"], "models": {}}))
    measure = load_scores(path).measure()
    assert measure.long == ("normalised top-1 accuracy (divided by the model's "
                            "95th-percentile cell)")


def test_pooled_cells_are_accuracy_whatever_the_file_normalised() -> None:
    from siscore.report.maps import factor_heatmaps

    frame = grid_scores({"area": [0.1, 0.3], "rotation": [0, 90], "blend": ["a", "b"]},
                        method="p95")
    fig = factor_heatmaps(frame, "rotation", "area")  # pools over blend
    assert fig.get_suptitle().startswith("Top-1 accuracy by")
    assert fig.axes[-1].get_ylabel() == "top-1 accuracy (%)"
