"""Issue 22: the effective-robustness figure (Taori et al. 2020): ImageNet top-1 against
SI-SCORE accuracy on logit axes, the trend with its band, each model with its interval,
y = x; and a caption that says when no trend can be fitted. Synthetic numbers under
plainly synthetic names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.collections import PolyCollection

from siscore.cli import main
from siscore.report import load_scores, write_report
from siscore.report.effective import caption, effective_plot, points
from siscore.score.effective import effective_robustness, logit
from tests.report_scores import grid_scores

#: A synthetic testbed: (ImageNet top-1 %, SI-SCORE accuracy %) on a noisy logit line.
TESTBED = {f"ref-{i}": (x, y) for i, (x, y) in enumerate(
    [(60.0, 20.0), (66.0, 25.5), (70.0, 27.0), (74.0, 33.0), (78.0, 36.5), (82.0, 43.0)])}


def scores_file(tmp_path: Path, models: dict[str, tuple[float, float]]) -> Path:
    """A scores CSV whose summary records each model's ImageNet top-1 (%) and SI-SCORE
    mean accuracy (fraction) with an interval."""
    frame = grid_scores({"area": [0.1, 0.3]}, models=tuple(models))
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    summary = {"models": {m: {"imagenet_top1": x, "mean_accuracy": y / 100,
                              "mean_accuracy_ci": [y / 100 - 0.05, y / 100 + 0.04]}
                          for m, (x, y) in models.items()}}
    (tmp_path / "s.summary.json").write_text(json.dumps(summary))
    return path


def test_the_figure_with_a_testbed_has_trend_band_points_and_identity(tmp_path: Path) -> None:
    models = {"model-a": (72.0, 40.0), "model-b": (80.0, 36.0)}
    scores = load_scores(scores_file(tmp_path, models))
    fig = effective_plot(scores, TESTBED)
    ax = fig.axes[0]
    assert ax.get_xscale() == "logit" and ax.get_yscale() == "logit"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    identity = lines["y = x"]
    assert np.allclose(identity.get_xdata(), identity.get_ydata())
    trend = lines["trend (95% band)"]
    # the same fit as siscore score's: predicted accuracy at model-a's ImageNet top-1
    table, fit = effective_robustness({"model-a": 72.0}, {"model-a": 40.0}, testbed=TESTBED)
    x = trend.get_xdata() * 100
    y = np.interp(72.0, x, trend.get_ydata() * 100)
    assert y == pytest.approx(table["predicted_accuracy"].item(), abs=0.05)
    slope = np.polyfit(logit(x), logit(trend.get_ydata() * 100), 1)[0]
    assert slope == pytest.approx(fit["slope"], rel=1e-6)
    band = next(c for c in ax.collections if isinstance(c, PolyCollection))
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert low < trend.get_ydata().min() and high > trend.get_ydata().max()
    assert "testbed (6 models)" in [t.get_text() for t in fig.legends[0].get_texts()]
    table = points(scores).set_index("model")
    assert table.loc["model-a", "y_low"] == pytest.approx(35.0)  # its interval over objects
    assert table.loc["model-a", "x_low"] < 72.0 < table.loc["model-a", "x_high"]
    assert "Trend fitted on the reference testbed (6 models" in caption(scores, TESTBED)


def test_fewer_than_five_models_draw_no_trend_and_say_so(tmp_path: Path) -> None:
    models = {"model-a": (75.1, 30.6), "model-b": (76.7, 27.8), "model-c": (77.6, 29.5)}
    path = scores_file(tmp_path, models)
    result = write_report(path, tmp_path / "o", formats="png", dpi=60)
    entry = next(f for f in result.sections[0].figures if f.name == "s-effective")
    assert entry.caption.endswith("No trend: 3 model(s) with an ImageNet top-1, and a trend "
                                  "needs at least 5 (give --testbed CSV, a reference set of "
                                  "models, to fit one).")
    fig = effective_plot(load_scores(path))
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "y = x" in labels and "trend (95% band)" not in labels
    assert "no trend: fewer than 5 models" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_five_scored_models_fit_their_own_trend(tmp_path: Path) -> None:
    models = {f"model-{c}": TESTBED[f"ref-{i}"] for i, c in enumerate("abcde")}
    scores = load_scores(scores_file(tmp_path, models))
    labels = [ln.get_label() for ln in effective_plot(scores).axes[0].get_lines()]
    assert "trend (95% band)" in labels
    assert "Trend fitted on the 5 scored models" in caption(scores, None)


def test_testbed_option_and_a_bad_testbed(tmp_path: Path) -> None:
    path = scores_file(tmp_path, {"model-a": (72.0, 40.0), "model-b": (80.0, 36.0)})
    bed = tmp_path / "bed.csv"
    bed.write_text("model,imagenet_top1,accuracy\n" + "".join(
        f"{m},{x},{y}\n" for m, (x, y) in TESTBED.items()))
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["report", "--scores", str(path), "--testbed", str(bed),
                                  "--out", str(out), "--format", "png", "--dpi", "60", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "s-effective.png").is_file()
    assert "Trend fitted on the reference testbed" in (out / "index.html").read_text()
    bed.write_text("model,imagenet_top1,accuracy\nref-0,150,20\n")  # not a percentage
    out2 = tmp_path / "o2"
    r = CliRunner().invoke(main, ["report", "--scores", str(path), "--testbed", str(bed),
                                  "--out", str(out2)])
    assert r.exit_code != 0 and "--testbed" in r.output and "row 2" in r.output
    assert "Traceback" not in r.output and not out2.exists()
