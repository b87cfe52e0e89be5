"""siscore report figures from scores with known values: pixels, colours, orientation, data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from siscore.report import (
    ReportError,
    breakdown_heatmap,
    breakdown_table,
    location_comparison,
    location_heatmaps,
    rotation_plot,
    save_figure,
    size_plot,
    with_difference,
)
from siscore.report.scores import from_frame

GRID = [0.0, 0.5, 1.0]


def location_frame(values: dict[str, dict[tuple[float, float], float]], default: float = 0.75,
                   n: int = 100) -> pd.DataFrame:
    """A 3 x 3 location scores table; ``values[model][(x, y)]`` overrides ``normalized``."""
    rows = []
    for model, cells in values.items():
        for y in GRID:
            for x in GRID:
                norm = cells.get((x, y), default)
                rows.append({"model": model, "x_coord": x, "y_coord": y, "n": n,
                             "correct": norm * 0.8 * n, "accuracy": norm * 0.8,
                             "ci_low": norm * 0.8 - 0.05, "ci_high": norm * 0.8 + 0.05,
                             "normalized": norm, "topk": 1})
    return pd.DataFrame(rows)


def render(fig: Figure, tmp_path: Path, name: str = "fig") -> np.ndarray:
    """Save as PNG at the figure's own dpi (so display coordinates are PNG pixels)."""
    path = save_figure(fig, tmp_path / name, ["png"], dpi=int(fig.dpi))[0]
    return np.asarray(Image.open(path).convert("RGBA"))


def pixel_at(fig: Figure, image: np.ndarray, ax, x: float, y: float) -> tuple[np.ndarray, int]:
    """The PNG pixel at data point (x, y) of ``ax``, and its row (0 = top of the image)."""
    dx, dy = ax.transData.transform((x, y))
    row = int(round(image.shape[0] - dy))
    return image[row, int(round(dx))].astype(int), row


def mesh_of(ax) -> QuadMesh:
    return next(c for c in ax.collections if isinstance(c, QuadMesh))


def expected(mesh: QuadMesh, value: float) -> np.ndarray:
    return np.round(np.array(mesh.cmap(mesh.norm(value))) * 255).astype(int)


def test_location_heatmap_pixels_show_values_in_image_orientation(tmp_path: Path) -> None:
    # model a: normalised 1 at the top-left object centre (x=0, y=0), 0.5 at bottom-right
    frame = location_frame({"a": {(0.0, 0.0): 1.0, (1.0, 1.0): 0.5}, "b": {}})
    fig = location_heatmaps(frame, width="single", annotate=False)  # no text over the pixels
    image = render(fig, tmp_path)
    ax = fig.axes[0]
    mesh = mesh_of(ax)
    top_left, row_tl = pixel_at(fig, image, ax, 0.0, 0.0)
    bottom_right, row_br = pixel_at(fig, image, ax, 1.0, 1.0)
    assert np.abs(top_left - expected(mesh, 1.0)).max() <= 2
    assert np.abs(bottom_right - expected(mesh, 0.5)).max() <= 2
    assert np.abs(top_left - bottom_right).sum() > 100  # clearly different colours
    assert row_tl < row_br  # y = 0 is at the top of the panel: image orientation
    assert ax.get_xlabel() == "object centre x" and ax.get_ylabel() == "object centre y"
    assert ax.yaxis_inverted()
    cbar_labels = [a.get_ylabel() for a in fig.axes[2:]]
    assert "normalised top-1 accuracy" in cbar_labels  # the file's normalized differs
    assert [a.get_title() for a in fig.axes[:2]] == ["a", "b"]


def test_location_comparison_is_centred_at_zero_with_shared_limits(tmp_path: Path) -> None:
    frame = location_frame({
        "base": {(0.0, 0.0): 0.6},
        "plus": {(0.0, 0.0): 0.9, (1.0, 1.0): 0.55},   # +0.3 top-left, -0.2 bottom-right
        "same": {(0.0, 0.0): 0.6, (1.0, 0.0): 0.85},   # 0 top-left, +0.1 top-right
    })
    fig = location_comparison(frame, "base", width="double", annotate=False)
    image = render(fig, tmp_path)
    base_ax, plus_ax, same_ax = fig.axes[:3]
    plus_mesh, same_mesh = mesh_of(plus_ax), mesh_of(same_ax)
    # shared, symmetric limits: one norm for every difference panel, centred at 0
    assert plus_mesh.norm.vmin == -plus_mesh.norm.vmax == same_mesh.norm.vmin
    assert plus_mesh.norm.vmax >= 0.3 and plus_mesh.norm(0.0) == pytest.approx(0.5)
    neutral = np.round(np.array(plus_mesh.cmap(0.5)) * 255).astype(int)
    zero, _ = pixel_at(fig, image, same_ax, 0.0, 0.0)
    assert np.abs(zero - neutral).max() <= 2
    assert min(neutral[:3]) > 230  # the neutral colour is near white
    gain, _ = pixel_at(fig, image, plus_ax, 0.0, 0.0)
    loss, _ = pixel_at(fig, image, plus_ax, 1.0, 1.0)
    assert gain[2] > gain[0] + 60  # better than the baseline: blue
    assert loss[0] > loss[2] + 60  # worse: red
    # the difference data are exact, and the baseline panel shows its normalised map
    values = plus_mesh.get_array().reshape(3, 3)
    assert values[0, 0] == pytest.approx(0.3) and values[2, 2] == pytest.approx(-0.2)
    assert mesh_of(base_ax).get_array().reshape(3, 3)[0, 0] == pytest.approx(0.6)
    labels = " ".join(a.get_xlabel() + a.get_ylabel() for a in fig.axes[3:])
    assert "normalised top-1 accuracy" in labels and "minus base" in labels


def test_difference_uses_the_files_diff_column_only_for_the_same_baseline() -> None:
    frame = location_frame({"base": {}, "m": {(0.5, 0.5): 0.95}})
    scores = from_frame(frame)
    computed = with_difference(scores, "base")
    cell = computed[(computed.model == "m") & (computed.x_coord == 0.5) & (computed.y_coord == 0.5)]
    assert cell["diff"].item() == pytest.approx(0.2)
    frame["baseline"] = "base"
    frame["diff_normalized"] = 0.123  # what siscore score wrote
    for col in ("diff_accuracy", "diff_ci_low", "diff_ci_high"):
        frame[col] = 0.0
    from_file = with_difference(from_frame(frame), "base")
    assert (from_file["diff"] == 0.123).all()
    other = with_difference(from_frame(frame), "m")  # a different baseline: recomputed
    assert other.loc[other.model == "m", "diff"].abs().max() == 0


def test_location_low_count_cells_are_hatched_and_explained() -> None:
    frame = location_frame({"a": {}})
    frame.loc[(frame.x_coord == 0.5) & (frame.y_coord == 0.0), ["n", "correct", "accuracy"]] = (
        3, 2, 2 / 3)
    fig = location_heatmaps(frame, min_count=20)
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_x() == pytest.approx(0.25)
    legend_text = " ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
    assert "fewer than 20 images" in legend_text


def rotation_frame() -> pd.DataFrame:
    rows = []
    for model, drop in (("base", 0.4), ("better", 0.1)):
        for area in (0.2, 1.0):
            for angle in (1, 91, 181, 271):
                norm = 1.0 - drop * (angle == 181) - 0.1 * (area == 0.2) * (angle != 1)
                rows.append({"model": model, "area": area, "rotation": angle, "n": 50,
                             "correct": int(norm * 40), "accuracy": norm * 0.8,
                             "normalized": norm, "topk": 1})
    return pd.DataFrame(rows)


def test_rotation_plot_lines_per_size_and_difference_rows() -> None:
    fig = rotation_plot(rotation_frame(), "base", width="single")
    top, diff = fig.axes[:2]
    lines = [ln for ln in top.get_lines() if len(ln.get_xdata()) == 4]
    assert len(lines) == 2  # one line per object size
    # the axis is centred on upright: 181 degrees is drawn at -179
    assert list(lines[1].get_xdata()) == [-179, -89, 1, 91]
    assert list(lines[1].get_ydata()) == pytest.approx([0.6, 1.0, 1.0, 1.0])  # area 1.0
    diff_lines = [ln for ln in diff.get_lines() if len(ln.get_xdata()) == 4]
    assert list(diff_lines[1].get_ydata()) == pytest.approx([0.3, 0, 0, 0])
    low, high = diff.get_ylim()
    assert low == -high and high >= 0.3
    assert any(list(ln.get_ydata()) == [0, 0] for ln in diff.get_lines())  # zero line
    assert "rotation angle" in diff.get_xlabel()
    legend_text = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "20%" in legend_text and "100%" in legend_text
    assert fig.get_suptitle()


def test_rotation_without_baseline_has_one_row_per_model_and_no_titles() -> None:
    fig = rotation_plot(rotation_frame(), titles=False)
    assert [a.get_title(loc="left") for a in fig.axes] == ["base", "better"]
    assert fig.get_suptitle() == ""


def size_frame() -> pd.DataFrame:
    rows = []
    for model, skill in (("small", 0.4), ("big", 0.7)):
        for pct in (5, 25, 50, 100):
            acc = round(skill * (0.5 + pct / 200) * 200) / 200
            rows.append({"model": model, "area": pct / 100, "n": 200, "correct": acc * 200,
                         "accuracy": acc, "ci_low": acc - 0.03, "ci_high": acc + 0.04,
                         "normalized": acc, "topk": 5})
    return pd.DataFrame(rows)


def test_size_plot_has_a_band_and_a_line_per_model() -> None:
    fig = size_plot(size_frame(), width="single")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("small", "big")]
    assert [ln.get_label() for ln in lines] == ["small", "big"]
    assert list(lines[1].get_xdata()) == [5, 25, 50, 100]
    assert lines[1].get_ydata()[-1] == pytest.approx(0.7)
    bands = ax.collections
    assert len(bands) == 2
    verts = bands[1].get_paths()[0].vertices
    assert verts[:, 1].max() == pytest.approx(0.74) and verts[:, 1].min() == pytest.approx(
        0.37 - 0.03)  # big at 5%: 0.7 * 0.525 rounded to whole images, minus 0.03
    assert ax.get_ylabel() == "top-5 accuracy" and "object area" in ax.get_xlabel()
    assert to_rgba(lines[0].get_color()) != to_rgba(lines[1].get_color())


def test_size_plot_with_baseline_adds_a_difference_panel() -> None:
    fig = size_plot(size_frame(), "small")
    diff = fig.axes[1]
    line = next(ln for ln in diff.get_lines() if ln.get_label() == "big")
    assert line.get_ydata()[0] == pytest.approx(0.37 - 0.21)  # big minus small at 5%
    low, high = diff.get_ylim()
    assert low == -high


def breakdown_frame() -> pd.DataFrame:
    rows = []
    for model, bonus in (("m1", 0.0), ("m2", 0.2)):
        for label, acc, n in (("zebra", 0.5, 100), ("koala", 0.8, 100), ("vase", 0.3, 10)):
            rows.append({"model": model, "label": label, "n": n, "correct": round(
                (acc + bonus) * n), "accuracy": acc + bonus, "normalized": 1.0, "topk": 1})
    return pd.DataFrame(rows)


def test_breakdown_heatmap_orders_classes_and_marks_low_counts(tmp_path: Path) -> None:
    fig = breakdown_heatmap(breakdown_frame(), min_count=20)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["koala", "zebra", "vase"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["m1", "m2"]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 2 and {p.get_x() for p in hatched} == {2.0}  # vase, both models
    legend_text = " ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
    assert "fewer than 20 images" in legend_text
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["80", "50", "30", "100", "70", "50"])
    image = render(fig, tmp_path)
    mesh = mesh_of(ax)
    koala_m2, _ = pixel_at(fig, image, ax, 0.2, 1.2)  # off the annotation text
    assert np.abs(koala_m2 - expected(mesh, 1.0)).max() <= 2


def test_breakdown_table_pools_other_factors() -> None:
    frame = pd.DataFrame({
        "model": ["a"] * 4, "label": ["x", "x", "y", "y"], "area": [0.2, 0.5, 0.2, 0.5],
        "n": [10, 30, 10, 10], "correct": [10, 0, 5, 5], "accuracy": [1.0, 0.0, 0.5, 0.5]})
    acc, counts = breakdown_table(from_frame(frame), "label", order="name")
    assert acc.loc["a", "x"] == pytest.approx(0.25) and counts.loc["a", "x"] == 40
    assert acc.loc["a", "y"] == pytest.approx(0.5)


def test_many_classes_are_transposed_into_blocks() -> None:
    rows = [{"model": m, "label": f"class{i:02d}", "n": 50, "correct": 25, "accuracy": 0.5}
            for m in ("a", "b") for i in range(62)]
    fig = breakdown_heatmap(pd.DataFrame(rows), width="double")
    blocks = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(blocks) > 1
    names = [t.get_text() for a in blocks for t in a.get_yticklabels()]
    assert sorted(names) == [f"class{i:02d}" for i in range(62)]


def test_wrong_kind_and_unknown_baseline_are_reported() -> None:
    with pytest.raises(ReportError, match="not location scores"):
        location_heatmaps(size_frame())
    with pytest.raises(ReportError, match=r"'nope' is not a model.*models: base, plus"):
        location_comparison(location_frame({"base": {}, "plus": {}}), "nope")
    with pytest.raises(ReportError, match="give a baseline"):
        location_comparison(location_frame({"base": {}, "plus": {}}))


@pytest.mark.parametrize("width", ["single", "double"])
def test_no_text_is_clipped_or_overlapping_the_figure_edge(width: str) -> None:
    from tests import report_scores as examples

    figures = [
        location_heatmaps(examples.location_scores(), width=width),
        location_comparison(examples.location_scores(), "model-a", width=width),
        rotation_plot(examples.rotation_scores(), "model-a", width=width),
        size_plot(examples.size_scores(), "model-a", width=width, min_count=900),
        breakdown_heatmap(examples.breakdown_scores("label"), width=width, min_count=20),
    ]
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        # every drawn axes (with its tick labels, axis labels and title), colour bar,
        # legend and the figure title lie inside the figure
        parts = [(ax.get_label() or ax.get_title(), ax.get_tightbbox(renderer))
                 for ax in fig.axes]
        parts += [("legend", leg.get_window_extent(renderer)) for leg in fig.legends]
        if fig._suptitle is not None:
            parts.append(("suptitle", fig._suptitle.get_window_extent(renderer)))
        for name, ext in parts:
            assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1, name
            assert ext.y0 >= box.y0 - 1 and ext.y1 <= box.y1 + 1, name
        assert fig.get_figwidth() == {"single": 3.3, "double": 6.9}[width]
