"""score and report on real predictions: EfficientNet-Lite0/1/2 on a small real SI-SCORE
grid (tests/data/report_real, made by tools/make_report_fixture.py; see its README).

Each test pins one way the figures or summaries misled a reader on these predictions
(issue 13) or one defect found by attacking score and report (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.report import load_scores, rotation_plot, size_plot, write_report
from siscore.report.location import location_heatmaps
from siscore.report.scores import ReportError, default_min_count
from siscore.score import ScoreError, score_predictions
from tests.disk_limits import limit_file_size

DATA = Path(__file__).parent / "data" / "report_real"
MODELS = ["lite0", "lite1", "lite2"]
#: ImageNet top-1 of the three Lite models (percent, from the EfficientNet-Lite release)
TOP1 = {"lite0": 75.1, "lite1": 76.7, "lite2": 77.6}


def scored(subset: str, tmp: Path, **options) -> Path:
    """Score the fixture's predictions for ``subset`` into ``tmp/<subset>.csv``."""
    options.setdefault("n_boot", 200)
    result = score_predictions(DATA / subset, [DATA / f"{subset}-predictions.csv"], **options)
    path = tmp / f"{subset}.csv"
    result.write(path)
    return path


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("real")
    return {
        "location": scored("location", tmp, baseline="lite0", normalize_method="p95"),
        "size": scored("size", tmp, baseline="lite0", normalize_method="max"),
        "rotation": scored("rotation", tmp, baseline="lite0", normalize_method="max",
                           normalize_over=["rotation"]),
    }


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- issue 13 ------------------------------------------------------------------------------

def test_default_min_count_suits_the_cells_of_the_data(real):
    scores = load_scores(real["location"])
    assert set(scores.frame["n"]) == {18}  # 9 objects x 2 backgrounds per cell
    assert default_min_count(scores) == 9
    fig = location_heatmaps(scores, min_count=default_min_count(scores))
    assert not [p for ax in fig.axes for p in ax.patches if p.get_hatch()]
    out = real["location"].parent / "mc"
    result = write_report(real["location"], out, formats="png", dpi=50)
    assert result.files  # the default (None) is derived from the data, not a fixed 20


def test_rotation_gaps_are_gaps_and_sparse_curves_do_not_set_the_scale(real):
    scores = load_scores(real["rotation"])
    big = scores.frame[(scores.frame["model"] == "lite0") & (scores.frame["area"] == 1.0)]
    assert 1 < len(big) < 18  # the 95% filter removed most angles at 100% area
    fig = rotation_plot(scores, "lite0", width="single", min_count=9)
    top = fig.axes[0]
    full = [ln for ln in top.get_lines() if ln.get_label() == "100%"][0]
    xs = np.asarray(full.get_xdata(), dtype=float)
    ys = np.asarray(full.get_ydata(), dtype=float)
    assert np.isnan(ys).any()  # broken where angles are missing, not bridged
    assert xs[np.isfinite(xs)].min() >= -180 and xs[np.isfinite(xs)].max() <= 180
    # the difference panels' limit comes from points on at least 9 images
    diffs = scores.frame.merge(
        scores.frame[scores.frame["model"] == "lite0"][["area", "rotation", "normalized"]],
        on=["area", "rotation"], suffixes=("", "_b"))
    dense = diffs[(diffs["model"] != "lite0") & (diffs["n"] >= 9)]
    limit = fig.axes[1].get_ylim()[1]
    assert limit < 2 * max(0.1, float((dense["normalized"] - dense["normalized_b"]).abs().max()))


def test_rotation_axis_is_centred_on_upright(real):
    fig = rotation_plot(load_scores(real["rotation"]), width="single")
    ax = fig.axes[-1]
    assert ax.get_xlim() == (-180, 180)
    line = fig.axes[0].get_lines()[0]
    xs = np.asarray(line.get_xdata(), dtype=float)
    assert 1.0 in xs and -19.0 in xs and 341.0 not in xs  # 341 degrees sits next to 1


def test_size_figure_offers_normalised_curves_and_shows_objects_per_point(real):
    scores = load_scores(real["size"])
    per_area = scores.frame[scores.frame["model"] == "lite0"].set_index("area")["objects"]
    assert per_area.max() == 9 and per_area.min() < 9  # big areas lose objects to the filter
    fig = size_plot(scores, "lite0", value="normalized")
    assert "normalised" in fig.axes[0].get_ylabel()
    assert "normalised" in fig._suptitle.get_text()
    objects_ax = fig.axes[-1]
    assert objects_ax.get_ylabel() == "objects"
    # every difference band lies inside the difference panel's limits
    diff_ax = fig.axes[1]
    low, high = diff_ax.get_ylim()
    for band in diff_ax.collections:
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() >= low - 1e-9 and ys.max() <= high + 1e-9
    caption = __import__("siscore.report.size", fromlist=["size_caption"]).size_caption(
        scores, "lite0")
    assert "--balance-classes" in caption and "objects" in caption
    acc = size_plot(scores, "lite0")
    diff_ax = acc.axes[1]
    low, high = diff_ax.get_ylim()
    for band in diff_ax.collections:
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() >= low - 1e-9 and ys.max() <= high + 1e-9


def test_baseline_with_one_model_says_why_nothing_is_compared(real, tmp_path):
    one = load_scores(real["location"]).frame
    one = one[one["model"] == "lite0"].drop(columns=["baseline", "diff_accuracy",
                                                     "diff_ci_low", "diff_ci_high",
                                                     "diff_normalized"])
    one.to_csv(tmp_path / "one.csv", index=False)
    result = CliRunner().invoke(main, ["report", "--scores", str(tmp_path / "one.csv"),
                                       "--baseline", "lite0", "--out", str(tmp_path / "o"),
                                       "--format", "png", "--dpi", "50"])
    assert result.exit_code == 0
    assert "no comparison with baseline 'lite0' drawn: it is the only model" in result.output
    assert "only model" in (tmp_path / "o" / "index.html").read_text()
    assert not list((tmp_path / "o").glob("*-diff.png"))


def test_effective_robustness_refuses_a_trend_on_the_three_scored_models(tmp_path):
    with pytest.raises(ScoreError, match="at least 5 models .* --testbed"):
        score_predictions(DATA / "location", [DATA / "location-predictions.csv"],
                          imagenet_acc=TOP1, n_boot=100)
    testbed = tmp_path / "testbed.csv"  # a reference set of models measured elsewhere
    testbed.write_text("model,imagenet_top1,accuracy\nr18,69.8,24.0\nr34,73.3,27.5\n"
                       "r50,76.1,31.0\nr101,77.4,33.5\nr152,78.3,34.0\nvit,81.1,41.0\n")
    r = run("score", "--dataset", str(DATA / "location"), "-p",
            str(DATA / "location-predictions.csv"), "--testbed", str(testbed),
            "--imagenet-acc", str(_acc_csv(tmp_path)), "--out", str(tmp_path / "s.csv"))
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["effective_robustness_fit"]["fitted_on"] == "--testbed"
    for model in MODELS:
        m = summary["models"][model]
        low, high = m["effective_robustness_ci"]
        assert low < m["effective_robustness"] < high


def _acc_csv(tmp_path: Path) -> Path:
    path = tmp_path / "acc.csv"
    path.write_text("model,imagenet_top1\n" + "".join(f"{m},{v}\n" for m, v in TOP1.items()))
    return path


def test_summary_measures_answer_their_question_with_intervals(real, tmp_path):
    loc = json.loads(real["location"].with_name("location.summary.json").read_text())
    frame = load_scores(real["location"]).frame
    for model in MODELS:
        m = loc["models"][model]
        cells = frame[frame["model"] == model]
        assert (cells["accuracy"] == 0).any()  # cells at 0 drove the old p5/p95 ratio to ~0
        assert 0.2 < m["uniformity"] < 1
        for key in ("mean_accuracy", "uniformity", "border_ratio"):
            low, high = m[key + "_ci"]
            assert low <= m[key] <= high and high > low
        # border_ratio is a ratio: border accuracy over centre accuracy, below 1 here
        assert 0 < m["border_ratio"] < 1
    rot = json.loads(real["rotation"].with_name("rotation.summary.json").read_text())
    for model in MODELS:
        value = rot["models"][model]["rotation_retention"]
        assert 0 < value <= 1.5
    # absolute and normalised differences side by side, with an interval over objects
    result = write_report(real["location"], tmp_path / "r", formats="png", dpi=50)
    table = result.sections[0].table.set_index("model")
    assert {"diff_accuracy", "diff_accuracy_ci_low", "diff_normalized"} <= set(table.columns)
    assert table.loc["lite2", "diff_accuracy"] == pytest.approx(
        loc["models"]["lite2"]["mean_accuracy"] - loc["models"]["lite0"]["mean_accuracy"])
    html = (tmp_path / "r" / "index.html").read_text()
    assert "diff accuracy (pp)" in html and "diff normalized" in html


def test_index_lists_files_of_earlier_runs(real, tmp_path):
    out = tmp_path / "figs"
    write_report(real["location"], out, formats="png", dpi=50)
    write_report(real["size"], out, formats="png", dpi=50)
    html = (out / "index.html").read_text()
    assert "Other files in this folder" in html
    assert 'href="./location-location.png"' in html


# --- issue 11 ------------------------------------------------------------------------------

def test_data_derived_names_cannot_write_outside_out(real, tmp_path):
    frame = load_scores(real["location"]).frame[["model", "x_coord", "y_coord", "n",
                                                  "correct", "accuracy"]]
    frame = frame.assign(**{"x/../../../victim/important": "a"})
    frame.to_csv(tmp_path / "evil.csv", index=False)
    out = tmp_path / "deep" / "out"
    result = write_report(tmp_path / "evil.csv", out, formats="png", dpi=50)
    assert not (tmp_path / "victim").exists() and not (tmp_path / "deep" / "victim").exists()
    assert all(out.resolve() in p.resolve().parents for p in result.files)


def test_hrefs_are_relative_and_never_a_url_scheme(real, tmp_path):
    evil = tmp_path / "javascript:alert(1).csv"
    evil.write_bytes(real["size"].read_bytes())
    write_report(evil, tmp_path / "o", formats="png", dpi=50)
    html = (tmp_path / "o" / "index.html").read_text()
    hrefs = [h.split('"')[0] for h in html.split('href="')[1:]]
    assert hrefs and all(h.startswith("./") for h in hrefs)
    assert "javascript:" not in "".join(hrefs)


def test_a_model_scoring_zero_everywhere_is_reported(tmp_path):
    pred = pd.read_csv(DATA / "location-predictions.csv")
    zero = pred[pred["model"] == "lite0"].assign(model="zero", top1=999)  # toilet tissue
    pd.concat([pred, zero]).to_csv(tmp_path / "p.csv", index=False)
    r = run("score", "--dataset", str(DATA / "location"), "-p", str(tmp_path / "p.csv"),
            "--normalize", "p95", "--bootstrap", "100", "--out", str(tmp_path / "s.csv"))
    assert r.exit_code == 0, r.output
    r = run("report", "--scores", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o"),
            "--format", "png", "--dpi", "50")
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "o" / "s-summary.csv").set_index("model")
    assert table.loc["zero", "accuracy"] == 0


def test_report_checks_every_file_before_writing_anything(real, tmp_path):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(real["size"])
    frame["n"] = frame["n"].astype(float)
    frame.loc[3, "n"] = float("inf")
    frame.to_csv(bad, index=False)
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["report", "--scores", str(real["location"]), "--scores",
                                  str(bad), "--out", str(out)])
    assert r.exit_code == 1
    assert "row 5, column n: inf is infinite" in r.output
    assert not out.exists()


@pytest.mark.parametrize("column, value, message", [
    ("accuracy", 7.5, "column accuracy: 7.5 is outside 0..1"),
    ("n", -5, "column n: -5"),
    ("correct", 10_000, "is more than n"),
])
def test_out_of_range_scores_are_refused(real, tmp_path, column, value, message):
    frame = pd.read_csv(real["size"])
    frame.loc[0, column] = value
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ReportError, match=message):
        write_report(tmp_path / "s.csv", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_score_out_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["score", "--dataset", str(DATA / "size"), "-p",
                                  str(DATA / "size-predictions.csv"), "--out",
                                  str(tmp_path / "file" / "x.csv")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{tmp_path / 'file'} is a file" in r.output or "lies under" in r.output
    r = CliRunner().invoke(main, ["report", "--scores", str(DATA / "size-predictions.csv"),
                                  "--out", str(tmp_path / "file" / "x")])
    assert r.exit_code != 0 and "Traceback" not in r.output


def _limited(args: list[str], cwd: Path, limit: int) -> subprocess.CompletedProcess:
    """Run the CLI with files limited to ``limit`` bytes (a real 'disk full': EFBIG)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.run([sys.executable, "-m", "siscore", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, preexec_fn=limit_file_size(limit), timeout=300)


def test_disk_full_is_one_clear_error_and_leaves_nothing(real, tmp_path):
    r = _limited(["score", "--dataset", str(DATA / "size"), "-p",
                  str(DATA / "size-predictions.csv"), "--bootstrap", "100",
                  "--out", str(tmp_path / "s" / "scores.csv")], tmp_path, 2000)
    assert r.returncode == 1, r.stderr
    assert "no space left" in r.stderr and "Traceback" not in r.stderr
    assert list((tmp_path / "s").iterdir()) == []  # no 0-byte .tmp, no partial CSV
    r = _limited(["report", "--scores", str(real["size"]), "--out", str(tmp_path / "r"),
                  "--format", "png", "--dpi", "50"], tmp_path, 2000)
    assert r.returncode == 1, r.stderr
    assert "no space left" in r.stderr and "Traceback" not in r.stderr
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.endswith(".tmp")]


def _unwritable(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        return folder / "out"
    if not Path("/sys/kernel").is_dir():
        pytest.skip("running as root without /sys: no unwritable folder to test with")
    return Path("/sys/kernel/siscore-test-out")


def test_unwritable_out_folder_is_one_clear_error(real, tmp_path):
    target = _unwritable(tmp_path)
    r = CliRunner().invoke(main, ["score", "--dataset", str(DATA / "size"), "-p",
                                  str(DATA / "size-predictions.csv"), "--bootstrap", "100",
                                  "--out", str(target / "s.csv")])
    assert r.exit_code == 1 and "not writable" in r.output, r.output
    r = CliRunner().invoke(main, ["report", "--scores", str(real["size"]), "--out",
                                  str(target), "--format", "png", "--dpi", "50"])
    assert r.exit_code == 1 and "not writable" in r.output, r.output


def test_coverage_of_an_on_the_fly_evaluate_with_limit(tmp_path):
    # what `siscore evaluate --limit 100` on the fly leaves: metadata of the 100 predicted
    # images only, and images_total in the predictions' meta.json
    folder = tmp_path / "p.csv.dataset"
    folder.mkdir()
    md = pd.read_csv(DATA / "location" / "metadata.csv")
    for name in ("foreground_classes.csv", "foreground_classes_metadata_indices.csv",
                 "label_map.csv", "backgrounds.csv"):
        (folder / name).write_bytes((DATA / "location" / name).read_bytes())
    spec = json.loads((DATA / "location" / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({"spec": spec.get("spec", spec),
                                                     "images": False}))
    md.iloc[:100].to_csv(folder / "metadata.csv", index=False)
    pred = pd.read_csv(DATA / "location-predictions.csv")
    pred[pred["model"] == "lite0"].iloc[:100].to_csv(tmp_path / "p.csv", index=False)
    (tmp_path / "p.csv.meta.json").write_text(json.dumps({"images_total": len(md)}))
    r = run("score", "-p", str(tmp_path / "p.csv"), "--bootstrap", "100",
            "--out", str(tmp_path / "s.csv"))
    assert r.exit_code == 0, r.output
    assert f"coverage {100 * 100 / len(md):.1f}%" in r.output
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["models"]["lite0"]["coverage"] == pytest.approx(100 / len(md))


def test_report_result_repr_is_short(real, tmp_path):
    result = write_report(real["size"], tmp_path / "o", formats="png", dpi=50)
    assert len(repr(result)) < 300 and "\\x89PNG" not in repr(result)


def test_breakdown_orders_numeric_levels_as_numbers_and_labels_in_percent(real, tmp_path):
    from siscore.report import breakdown_heatmap

    frame = load_scores(real["size"]).frame
    frame = frame.assign(area=(frame["area"] * 100).round().astype(int).astype(str))
    frame = frame.rename(columns={"area": "strength"}).drop(
        columns=["baseline", "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized"])
    fig = breakdown_heatmap(frame, "strength")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == sorted(labels, key=int) and labels[:3] == ["5", "10", "15"]
    bar = fig.axes[-1]
    assert "(%)" in bar.get_ylabel()
    ticks = [t.get_text() for t in bar.get_yticklabels() if t.get_text()]
    assert "100" in ticks or "80" in ticks


def test_a_grid_factors_come_from_its_spec_never_from_record_columns(tmp_path):
    folder = tmp_path / "grid"
    folder.mkdir()
    for f in (DATA / "location").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    md = pd.read_csv(folder / "metadata.csv")
    md["blend_fallback"] = md["image_id"] % 2  # a record column that happens to vary
    md.to_csv(folder / "metadata.csv", index=False)
    result = score_predictions(folder, [DATA / "location-predictions.csv"], n_boot=100)
    assert result.summary["factors"] == ["x_coord", "y_coord"]
    assert result.summary["subset"] is None  # a grid, not the paper's location subset
    assert result.summary["normalize"] == "none"
    assert "blend_fallback" not in result.scores.columns


def test_a_real_grid_of_ones_own_gets_its_heatmap_gallery_and_effective_figure(tmp_path):
    # issue 22 on real predictions: Lite0/1/2 on area x rotation, evaluated on the fly
    preds = [DATA / "area_rotation-predictions" / f"efficientnet_lite{i}.csv" for i in range(3)]
    result = score_predictions(DATA / "area_rotation", preds, n_boot=100)
    result.write(tmp_path / "ar.csv")
    scores = load_scores(tmp_path / "ar.csv")
    assert (scores.kind, scores.layout().x, scores.layout().y) == ("heatmap", "rotation", "area")
    assert scores.measure().long == "top-1 accuracy"  # scored with normalize=none
    from siscore.report.writer import Images

    out = tmp_path / "o"
    report = write_report(tmp_path / "ar.csv", out, formats="png", dpi=50,
                          images=Images(predictions=preds))
    names = [f.name for f in report.sections[0].figures]
    assert names == ["ar-rotation-area", "ar-effective"]
    assert "No trend: 3 model(s)" in report.sections[0].figures[1].caption
    page = (out / "ar-gallery-efficientnet_lite0.html").read_text()
    worst = page[page.index("Worst cells"):page.index("Best cells")]
    cell = scores.frame[scores.frame["model"] == "efficientnet_lite0"].nsmallest(1, "accuracy")
    assert (f"rotation {int(cell['rotation'].item())}, area {cell['area'].item():g}: "
            f"{cell['accuracy'].item() * 100:.0f}%") in worst
    assert len(list((out / "ar-gallery").glob("*.jpg"))) >= 8
