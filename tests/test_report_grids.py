"""Issue 22: a figure for whatever a scores file varies (never a refusal), chosen by
documented rules or by --x/--y/--facet; readable heatmaps; factor values printed cleanly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.collections import QuadMesh

from siscore.cli import main
from siscore.formats.values import cell_text, factor_text
from siscore.report import load_scores, write_report
from siscore.report.bars import factor_bars
from siscore.report.layout import MAX_PANELS
from siscore.report.lines import factor_lines
from siscore.report.maps import factor_heatmaps
from siscore.report.scores import from_frame
from siscore.score import score_predictions
from tests.report_scores import grid_scores, location_scores

DATA = Path(__file__).parent / "data" / "report_real"


def run(*args: str):
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


def layout_of(frame: pd.DataFrame, **choice):
    lay = from_frame(frame).layout(**choice)
    return lay.kind, lay.x, lay.y, lay.facets, lay.pooled


def cell_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# --- the default rules ------------------------------------------------------------------

def test_default_rules_pick_a_figure_for_every_grid() -> None:
    assert layout_of(grid_scores({"area": [0.1, 0.3], "rotation": [0, 90, 180]})) == (
        "heatmap", "rotation", "area", (), ())  # more values along x
    assert layout_of(grid_scores({"x_coord": [0.1, 0.5, 0.9], "y_coord": [0.5],
                                  "area": [0.1, 0.3]})) == (
        "location", "x_coord", "y_coord", ("area",), ())
    assert layout_of(grid_scores({"background_noise": [0, 8, 16, 32]})) == (
        "lines", "background_noise", None, (), ())
    assert layout_of(grid_scores({"blend": ["alpha", "feather", "poisson"],
                                  "occluder": [0.0, 0.4]})) == (
        "lines", "occluder", None, ("blend",), ())
    assert layout_of(grid_scores({"blend": ["alpha", "poisson"]})) == (
        "bars", "blend", None, (), ())
    assert layout_of(grid_scores({"area": [0.2]})) == ("models", None, None, (), ())
    # area x rotation x noise: a heatmap of the two with most values, noise as panels
    assert layout_of(grid_scores({"area": [0.1, 0.3], "rotation": [0, 90, 180],
                                  "background_noise": [0, 8]})) == (
        "heatmap", "rotation", "area", ("background_noise",), ())


def test_facets_past_the_panel_limit_are_pooled_and_said() -> None:
    frame = grid_scores({"area": [0.1, 0.3], "rotation": [0, 90],
                         "background_noise": list(range(8)), "occluder": [0.0, 0.2, 0.4, 0.6]})
    kind, x, y, facets, pooled = layout_of(frame)
    assert (kind, facets, pooled) == ("heatmap", ("background_noise",), ("occluder",))
    assert MAX_PANELS >= 8 * 2  # two models x eight panels fit, x four more do not
    fig = factor_heatmaps(frame, x, y, facets=facets)
    assert "accuracy" in fig.get_suptitle()


def test_options_choose_the_figure(tmp_path: Path) -> None:
    frame = grid_scores({"area": [0.1, 0.3], "rotation": [0, 90, 180], "blend": ["a", "b"]})
    # the factors left off the axes are panels, unless --facet names the panels
    assert layout_of(frame, x="area", y="rotation") == (
        "heatmap", "area", "rotation", ("blend",), ())
    assert layout_of(frame, x="blend") == ("bars", "blend", None, ("area", "rotation"), ())
    assert layout_of(frame, x="rotation", facets=["area"]) == (
        "lines", "rotation", None, ("area",), ("blend",))
    assert layout_of(frame, facets=["blend"]) == ("heatmap", "rotation", "area", ("blend",), ())
    path = tmp_path / "g.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    r = run("--scores", str(path), "--out", str(out), "--x", "rotation", "--facet", "area",
            "--format", "png", "--dpi", "50", "-q")
    assert r.exit_code == 0, r.output
    assert (out / "g-by-rotation.png").is_file()
    text = (out / "index.html").read_text()
    assert "Pooled over blend (2 values)" in text


@pytest.mark.parametrize("args, message", [
    (["--x", "colour"], "--x colour: not a factor of this file; its factors: area, rotation"),
    (["--y", "area"], "--y area: give --x too"),
    (["--x", "area", "--facet", "area"], "give each factor one role"),
])
def test_options_that_do_not_fit_are_one_line_and_write_nothing(tmp_path: Path, args,
                                                                 message) -> None:
    path = tmp_path / "g.csv"
    grid_scores({"area": [0.1, 0.3], "rotation": [0, 90]}).to_csv(path, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["report", "--scores", str(path), "--out", str(out), *args])
    assert r.exit_code != 0 and message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def test_record_columns_are_never_factors(tmp_path: Path) -> None:
    # an old scores file grouped by blend_fallback (a record of the blend intervention)
    frame = grid_scores({"blend": ["alpha", "poisson"], "blend_fallback": [False, True]})
    scores = from_frame(frame)
    assert scores.factors == ["blend"] and scores.records == ["blend_fallback"]
    assert scores.kind == "bars"
    fig = factor_bars(scores, "blend")
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches)
    pooled = frame.groupby(["model", "blend"])[["correct", "n"]].sum()
    assert heights == sorted((pooled["correct"] / pooled["n"]).round(6))
    path = tmp_path / "old.csv"
    frame.to_csv(path, index=False)
    result = write_report(path, tmp_path / "o", formats="png", dpi=50)
    assert [f.name for f in result.sections[0].figures] == ["old-by-blend"]
    assert "Pooled over blend_fallback" in result.sections[0].figures[0].caption


def test_a_location_grid_with_one_y_value_gets_its_heatmap(tmp_path: Path) -> None:
    # issue 22: "cannot tell what these scores measure"
    frame = grid_scores({"x_coord": [0.1, 0.5, 0.9], "y_coord": [0.5]},
                        models=("model-a",))
    fig = factor_heatmaps(frame, "x_coord", "y_coord")
    ax = fig.axes[0]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    assert mesh.get_array().shape == (1, 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5", "0.9"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.5"]
    values = frame.sort_values("x_coord")["accuracy"]
    assert cell_texts(ax) == [f"{v * 100:.0f}" for v in values]
    x0, x1 = ax.get_xlim()
    y0, y1 = sorted(ax.get_ylim())
    assert (y1 - y0) == pytest.approx((x1 - x0) / 3)  # one row of square cells


def test_an_on_the_fly_evaluate_with_limit_20_is_reported(tmp_path: Path) -> None:
    # the metadata of 20 predicted images: a few object centres of the first column
    folder = tmp_path / "p.csv.dataset"
    folder.mkdir()
    for f in (DATA / "location").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    md = pd.read_csv(DATA / "location" / "metadata.csv").iloc[:20]
    md.to_csv(folder / "metadata.csv", index=False)
    pred = pd.read_csv(DATA / "location-predictions.csv")
    pred = pred[(pred["model"] == "lite0") & pred["image_id"].isin(md["image_id"])]
    pred.to_csv(tmp_path / "p.csv", index=False)
    result = score_predictions(folder, [tmp_path / "p.csv"], n_boot=100)
    result.write(tmp_path / "s.csv")
    scores = load_scores(tmp_path / "s.csv")
    assert scores.kind == "location"
    report = write_report(tmp_path / "s.csv", tmp_path / "o", formats="png", dpi=50)
    assert (tmp_path / "o" / "s-location.png").is_file() and report.sections


# --- readable heatmaps ------------------------------------------------------------------

def test_small_grids_label_every_value_and_write_it_in_its_cell() -> None:
    frame = grid_scores({"area": [0.1, 0.2, 0.4], "rotation": [0, 90, 180, 270]},
                        models=("model-a",))
    fig = factor_heatmaps(frame, "rotation", "area")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "90", "180", "270"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.1", "0.2", "0.4"]
    texts = cell_texts(ax)
    assert len(texts) == 12
    cell = frame[(frame["area"] == 0.4) & (frame["rotation"] == 180)]["accuracy"].item()
    assert f"{cell * 100:.0f}" in texts
    assert fig.axes[-1].get_ylabel() == "top-1 accuracy (%)"


def test_large_grids_thin_their_labels_and_write_no_values() -> None:
    frame = location_scores(steps=21)
    fig = factor_heatmaps(frame, "x_coord", "y_coord", models=["model-a"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert 3 <= len(labels) < 21 and labels[0] == "0" and labels[-1] == "1"
    assert not cell_texts(ax)
    twelve = location_scores(steps=12)
    assert len(cell_texts(factor_heatmaps(twelve, models=["model-a"]).axes[0])) == 144


def test_a_small_map_gets_a_canvas_sized_to_it() -> None:
    # the demo's one 4 x 4 map sat in a half-empty 6.9 in (2070 px) wide canvas
    frame = location_scores(steps=4)
    fig = factor_heatmaps(frame, models=["model-a"])
    assert fig.get_figwidth() < 3.5
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    used = [a.get_tightbbox(renderer) for a in fig.axes]
    width = max(b.x1 for b in used) - min(b.x0 for b in used)
    assert width > 0.8 * fig.bbox.width  # the map and its colour bar fill the canvas


def test_factor_values_are_printed_as_integers_where_they_are() -> None:
    assert factor_text(101.0) == "101" and factor_text(np.float64(32.0)) == "32"
    assert factor_text(0.30000000000000004) == "0.3" and factor_text(0.125) == "0.125"
    assert factor_text(True) == "True" and factor_text("poisson") == "poisson"
    assert cell_text({"rotation": 90.0, "area": 0.2}) == "rotation=90, area=0.2"
    frame = grid_scores({"background_noise": [0.0, 8.0, 16.0, 32.0]}, models=("model-a",))
    fig = factor_lines(frame, "background_noise")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "8", "16", "32"]


def test_summary_tables_print_integer_factors_as_integers(tmp_path: Path) -> None:
    frame = grid_scores({"rotation": [0.0, 101.0], "area": [0.2, 0.4]})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    write_report(path, tmp_path / "o", formats="png", dpi=50, images=None)
    table = pd.read_csv(tmp_path / "o" / "r-summary.csv")
    assert table["worst_cell"].str.contains(r"rotation=(?:0|101),").all()
    assert not table["worst_cell"].str.contains(r"\.0\b").any()


def test_lines_show_each_model_with_its_band_per_facet() -> None:
    frame = grid_scores({"occluder": [0.0, 0.2, 0.4], "blend": ["alpha", "poisson"]})
    fig = factor_lines(frame, "occluder", facets=("blend",))
    panels = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in panels] == ["blend alpha", "blend poisson"]
    line = next(ln for ln in panels[1].get_lines() if ln.get_label() == "model-b")
    rows = frame[(frame["model"] == "model-b") & (frame["blend"] == "poisson")]
    assert list(line.get_ydata()) == pytest.approx(rows.sort_values("occluder")["accuracy"])
    band = panels[1].collections[1].get_paths()[0].vertices[:, 1]
    assert band.max() == pytest.approx(rows["ci_high"].max())
    assert panels[0].get_ylim() == panels[1].get_ylim()  # one y scale


def test_bars_have_their_intervals_and_values() -> None:
    frame = grid_scores({"blend": ["alpha", "feather", "poisson"]})
    fig = factor_bars(frame, "blend")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["alpha", "feather", "poisson"]
    bars = ax.patches
    assert len(bars) == 6
    written = sorted(cell_texts(ax))
    assert written == sorted(f"{v * 100:.0f}" for v in frame["accuracy"])


def test_no_made_up_scores_ship_in_the_package() -> None:
    assert importlib.util.find_spec("siscore.report.examples") is None


def test_the_summary_record_decides_the_papers_rotation_figure(tmp_path: Path) -> None:
    from tests.report_scores import rotation_scores

    path = tmp_path / "rot.csv"
    rotation_scores().to_csv(path, index=False)
    assert load_scores(path).kind == "heatmap"  # a grid of one's own
    (tmp_path / "rot.summary.json").write_text(json.dumps({"subset": "rotation", "models": {}}))
    assert load_scores(path).kind == "rotation"


def test_a_model_with_random_weights_is_marked(tmp_path: Path) -> None:
    frame = grid_scores({"area": [0.1, 0.3]})
    frame["random_init"] = frame["model"] == "model-b"  # what siscore score writes
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    result = write_report(path, tmp_path / "o", formats="png", dpi=50)
    assert [n for n in result.notes if "random weights" in n] == [
        f"{path}: model-b has random weights (its predictions' meta.json says random_init): "
        "its scores say nothing about a trained model."]
    assert "model-b has random weights" in (tmp_path / "o" / "index.html").read_text()
