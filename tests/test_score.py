"""`siscore score` against hand-computed values, on dataset folders in the official layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import binomtest

from siscore.cli import main
from siscore.formats.dataset import load_dataset
from siscore.score import ScoreError, score, score_predictions
from siscore.score.effective import effective_robustness, torchvision_top1
from siscore.score.reference import OutputMap, read_output_map
from siscore.score.synthetic import simulate_predictions, write_metadata_folder

HEADER = ["image_id", "x_coord", "y_coord", "area", "rotation", "foreground_class",
          "foreground_instance", "background", "bg_resolution_width", "bg_resolution_height",
          "pct_inside_image"]
CLASSES = {"apple": 10, "bear": 20}  # label -> ImageNet index
OBJECTS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (foreground_class, foreground_instance)
LOC_K = {(0.0, 0.0): 1, (0.0, 0.5): 2, (0.0, 1.0): 1, (0.5, 0.0): 2, (0.5, 0.5): 4,
         (0.5, 1.0): 3, (1.0, 0.0): 0, (1.0, 0.5): 2, (1.0, 1.0): 1}  # correct of 4 per cell


def write_folder(root: Path, rows: list[dict]) -> Path:
    """A metadata-only dataset folder in the official layout (no images)."""
    root.mkdir(parents=True, exist_ok=True)
    md = pd.DataFrame(rows)
    for col, default in [("x_coord", 0.5), ("y_coord", 0.5), ("area", 0.2), ("rotation", 0),
                         ("bg_resolution_width", 500), ("bg_resolution_height", 500),
                         ("pct_inside_image", 1.0)]:
        if col not in md:
            md[col] = default
    md["image_id"] = np.arange(len(md))
    md["background"] = md["foreground_instance"] % 2
    md[HEADER].to_csv(root / "metadata.csv", index=False)
    labels = list(CLASSES)
    pd.DataFrame({"int": list(CLASSES.values()), "label": labels}).to_csv(
        root / "foreground_classes.csv", index=False)
    pd.DataFrame({"int": range(len(labels)), "label": labels}).to_csv(
        root / "foreground_classes_metadata_indices.csv", index=False)
    pd.DataFrame({"int": [0, 1], "label": ["beach.jpg", "forest.jpg"]}).to_csv(
        root / "backgrounds.csv", index=False)
    return root


def cells_with_k(factor_k: dict, columns: list[str]) -> tuple[list[dict], list[bool]]:
    """Four images per cell (one per object); the first k objects are predicted right."""
    rows, right = [], []
    for values, k in factor_k.items():
        values = values if isinstance(values, tuple) else (values,)
        for o, (c, inst) in enumerate(OBJECTS):
            rows.append({**dict(zip(columns, values, strict=True)), "foreground_class": c,
                         "foreground_instance": inst})
            right.append(o < k)
    return rows, right


def predictions_for(folder: Path, right: list[bool], path: Path, wrong: int = 999) -> Path:
    md = load_dataset(folder).metadata
    truth = np.array([CLASSES[label] for label in md["label"]])
    pd.DataFrame({"image_id": md["image_id"], "top1": np.where(right, truth, wrong)}).to_csv(
        path, index=False)
    return path


@pytest.fixture
def location(tmp_path: Path) -> tuple[Path, Path]:
    rows, right = cells_with_k(LOC_K, ["x_coord", "y_coord"])
    folder = write_folder(tmp_path / "loc", rows)
    return folder, predictions_for(folder, right, tmp_path / "model_a.csv")


def test_location_cells_normalisation_and_intervals_by_hand(location):
    folder, preds = location
    result = score_predictions(folder, [preds])
    t = result.scores.set_index(["x_coord", "y_coord"])
    assert list(result.scores.columns) == ["model", "x_coord", "y_coord", "n", "correct",
                                           "accuracy", "ci_low", "ci_high", "normalized",
                                           "normalize", "topk", "objects"]
    assert (result.scores["normalize"] == "p95").all()  # the normaliser, for the report
    assert (result.scores["model"] == "model_a").all() and (t["topk"] == 1).all()
    assert (t["n"] == 4).all()
    for cell, k in LOC_K.items():
        assert t.loc[cell, "correct"] == k
        assert t.loc[cell, "accuracy"] == k / 4
        ci = binomtest(k, 4).proportion_ci(method="exact")
        assert t.loc[cell, "ci_low"] == pytest.approx(ci.low, abs=1e-12)
        assert t.loc[cell, "ci_high"] == pytest.approx(ci.high, abs=1e-12)
    # sorted accuracies 0 .25 .25 .25 .5 .5 .5 .75 1; linear p95 at position 0.95*8 = 7.6
    p95 = 0.75 + 0.6 * (1.0 - 0.75)
    assert p95 == pytest.approx(np.percentile(t["accuracy"], 95))
    np.testing.assert_allclose(t["normalized"], t["accuracy"] / 0.9)
    assert t.loc[(0.5, 0.5), "normalized"] == pytest.approx(1 / 0.9)
    s = result.summary
    assert (s["subset"], s["factors"], s["normalize"], s["topk"]) == (
        "location", ["x_coord", "y_coord"], "p95", 1)
    m = s["models"]["model_a"]
    assert m["n_images"] == 36 and m["coverage"] == 1.0
    assert m["mean_accuracy"] == pytest.approx(4.0 / 9)
    assert m["worst_cell"] == {"x_coord": 1.0, "y_coord": 0.0, "accuracy": 0.0, "n": 4}
    # best tenth of 9 cells = the best cell (1.0): uniformity = mean / 1.0
    assert m["uniformity"] == pytest.approx(4.0 / 9)
    # centre = (0.5, 0.5) alone (1.0); border = the 8 others, mean 3/8
    assert m["border_ratio"] == pytest.approx(3.0 / 8)
    assert "rotation_retention" not in m
    for key in ("mean_accuracy", "uniformity", "border_ratio"):
        low, high = m[key + "_ci"]
        assert low <= m[key] <= high
    assert result.effective is None


def test_rotation_max_within_each_area_and_auc_by_hand(tmp_path):
    k = {(0.2, 1): 4, (0.2, 21): 2, (0.2, 41): 1, (0.5, 1): 2, (0.5, 21): 2, (0.5, 41): 1}
    rows, right = cells_with_k(k, ["area", "rotation"])
    folder = write_folder(tmp_path / "rot", rows)
    preds = predictions_for(folder, right, tmp_path / "m.csv")
    result = score_predictions(folder, [preds])
    t = result.scores.set_index(["area", "rotation"])
    assert result.summary["subset"] == "rotation"
    assert result.summary["normalize"] == "max"
    assert result.summary["normalize_over"] == ["rotation"]
    np.testing.assert_allclose(t["normalized"], [1, 0.5, 0.25, 1, 1, 0.5])
    # upright (within 20 degrees) = angle 1 only: area 0.2 keeps (1 + .5 + .25) / 3 of it,
    # area 0.5 (1 + 1 + .5) / 3; every (area, angle) cell weighs the same
    kept = result.summary["models"]["m"]["rotation_retention"]
    assert kept == pytest.approx((1 + 0.5 + 0.25 + 1 + 1 + 0.5) / 6)
    assert "border_ratio" not in result.summary["models"]["m"]
    # p95 within each area: area 0.2 has 1, .5, .25 -> .5 + .9 * .5 = .95
    p95 = score(folder, [preds], normalize_method="p95", normalize_over=["rotation"])
    np.testing.assert_allclose(p95["normalized"][:3], np.array([1, 0.5, 0.25]) / 0.95)
    flat = score(folder, [preds], normalize_method="none")
    np.testing.assert_allclose(flat["normalized"], flat["accuracy"])


def test_size_max_over_all_areas(tmp_path):
    rows, right = cells_with_k({0.1: 1, 0.2: 2, 0.3: 4}, ["area"])
    folder = write_folder(tmp_path / "size", rows)
    result = score_predictions(folder, [predictions_for(folder, right, tmp_path / "m.csv")])
    assert result.summary["subset"] == "size" and result.summary["normalize"] == "max"
    assert list(result.scores["area"]) == [0.1, 0.2, 0.3]
    np.testing.assert_allclose(result.scores["normalized"], [0.25, 0.5, 1.0])


def test_min_pct_inside_keeps_exactly_the_images_at_or_above_the_threshold(tmp_path):
    rows, right = cells_with_k(LOC_K, ["x_coord", "y_coord"])
    pct = [1.0, 0.95, 0.9499, 0.3] * 9  # per cell: objects 0 and 1 pass 0.95, 2 and 3 fail
    pct[4 * 4 + 2] = 0.96  # cell (0.5, 0.5): object 2 passes too
    pct[4 * 6], pct[4 * 6 + 1] = 0.5, 0.5  # cell (1.0, 0.0): nothing passes
    for row, p in zip(rows, pct, strict=True):
        row["pct_inside_image"] = p
    folder = write_folder(tmp_path / "loc", rows)
    preds = predictions_for(folder, right, tmp_path / "m.csv")
    result = score_predictions(folder, [preds], min_pct_inside=0.95)
    md = load_dataset(folder).metadata
    kept = md[md["pct_inside_image"] >= 0.95]  # parenthesised: (a == b) & (c >= t)
    expected = kept.assign(right=np.array(right)[kept.index]).groupby(
        ["x_coord", "y_coord"])["right"].agg(["size", "sum"])
    t = result.scores.set_index(["x_coord", "y_coord"])
    assert len(t) == 8 and (1.0, 0.0) not in t.index  # the cell with no image left is gone
    assert t["n"].to_dict() == expected["size"].to_dict()
    assert t["correct"].to_dict() == expected["sum"].astype(float).to_dict()
    assert t.loc[(0.5, 0.5), "n"] == 3 and t.loc[(0.0, 0.0), "n"] == 2
    m = result.summary["models"]["m"]
    assert result.summary["dataset_images"] == len(kept) == 17
    assert m["n_images"] == 17 and m["coverage"] == 1.0  # filtered images are not "missing"


def test_balance_classes_weighs_each_class_equally(tmp_path):
    # area 0.1: apple x1 (right), bear x3 (one right); area 0.2: apple x2 (one), bear x2 (both)
    rows = ([{"area": 0.1, "foreground_class": 0, "foreground_instance": 0}]
            + [{"area": 0.1, "foreground_class": 1, "foreground_instance": i} for i in range(3)]
            + [{"area": 0.2, "foreground_class": c, "foreground_instance": i}
               for c in (0, 1) for i in range(2)])
    right = [True, True, False, False, True, False, True, True]
    folder = write_folder(tmp_path / "size", rows)
    preds = predictions_for(folder, right, tmp_path / "m.csv")
    plain = score(folder, [preds]).set_index("area")
    assert plain.loc[0.1, "accuracy"] == 0.5 and plain.loc[0.2, "accuracy"] == 0.75
    bal = score(folder, [preds], balance_classes=True).set_index("area")
    assert bal.loc[0.1, "accuracy"] == pytest.approx((1 + 1 / 3) / 2)
    assert bal.loc[0.1, "correct"] == pytest.approx(4 * (1 + 1 / 3) / 2)
    assert bal.loc[0.1, "n"] == 4
    # Kish effective n = m^2 / sum(1/n_c) = 4 / (1 + 1/3) = 3, with 2 of 3 right
    ci = binomtest(2, 3).proportion_ci(method="exact")
    assert bal.loc[0.1, "ci_low"] == pytest.approx(ci.low, abs=1e-9)
    assert bal.loc[0.1, "ci_high"] == pytest.approx(ci.high, abs=1e-9)
    assert bal.loc[0.2, "accuracy"] == pytest.approx(0.75)  # balanced mix: unchanged
    ci = binomtest(3, 4).proportion_ci(method="exact")
    assert bal.loc[0.2, "ci_low"] == pytest.approx(ci.low, abs=1e-9)


def test_top5_counts_the_label_anywhere_in_the_five(location, tmp_path):
    folder, preds = location
    frame = pd.read_csv(preds)
    truth = np.array([CLASSES[label] for label in load_dataset(folder).metadata["label"]])
    # wrong at top-1, right somewhere in the top-5 on even ids; never right on odd ids
    filler = np.tile([999, 998, 997, 995, 996], (len(truth), 1))
    even = (frame["image_id"] % 2 == 0).to_numpy()
    top5 = filler.copy()
    top5[even, 3] = truth[even]
    frame["top1"] = 999
    frame["top5"] = [" ".join(map(str, r)) for r in top5]
    frame.to_csv(tmp_path / "five.csv", index=False)
    one = score(folder, [tmp_path / "five.csv"])
    five = score(folder, [tmp_path / "five.csv"], topk=5)
    assert (one["accuracy"] == 0).all()
    assert (five["accuracy"] == 0.5).all() and (five["topk"] == 5).all()


def test_by_label_and_background_name(location):
    folder, preds = location
    by_label = score(folder, [preds], by=["label"]).set_index("label")
    right = sum(min(k, 2) for k in LOC_K.values())  # objects 0 and 1 are apples
    assert by_label.loc["apple", "n"] == 18 and by_label.loc["apple", "correct"] == right
    np.testing.assert_allclose(by_label["normalized"], by_label["accuracy"])  # default: none
    by_bg = score(folder, [preds], by=["background_name"])
    assert list(by_bg["background_name"]) == ["beach.jpg", "forest.jpg"]
    assert by_bg["n"].sum() == 36


def test_label_space_dataset_takes_the_argmax_over_dataset_classes(location):
    folder, preds = location
    md = load_dataset(folder).metadata
    logits = np.zeros((len(md), 1000), dtype=np.float32)
    logits[:, 500] = 9.0  # an ImageNet class outside the dataset wins overall
    truth = np.array([CLASSES[label] for label in md["label"]])
    logits[np.arange(len(md)), truth] = 5.0  # the true class beats the other dataset class
    # the side file `siscore evaluate --logits` writes: <name>.logits.npz
    np.savez(preds.with_name(preds.name + ".logits.npz"), image_id=md["image_id"].to_numpy(),
             logits=logits)
    pd.DataFrame({"image_id": md["image_id"], "top1": 500}).to_csv(preds, index=False)
    assert (score(folder, [preds])["accuracy"] == 0).all()
    assert (score(folder, [preds], label_space="dataset")["accuracy"] == 1).all()


def test_output_map_translates_model_outputs(location, tmp_path):
    folder, _ = location
    md = load_dataset(folder).metadata
    code = md["foreground_class"].to_numpy()  # output 0 = apple, 1 = bear, 2 = nothing
    top1 = np.where(md["x_coord"] == 0.0, 2, code)
    pd.DataFrame({"image_id": md["image_id"], "top1": top1}).to_csv(tmp_path / "o.csv",
                                                                  index=False)
    by_labels = OutputMap("map.csv", labels=np.array(["apple", "bear", ""], dtype=object))
    by_index = OutputMap("map.csv", imagenet=np.array([10, 20, -1]))
    # `siscore evaluate --output-classes` text: one line per output, index or label
    (tmp_path / "classes.txt").write_text("# my 3-way head\n10\nbear\nnot-a-class\n")
    text = read_output_map(tmp_path / "classes.txt")
    assert list(text.imagenet) == [10, -1, -1] and list(text.labels) == ["", "bear", "not-a-class"]
    (tmp_path / "map.csv").write_text("output,imagenet_index,label\n0,10,\n1,,bear\n")
    mixed = read_output_map(tmp_path / "map.csv")
    assert mixed.n_outputs == 2
    for omap in (by_labels, by_index, text):
        t = score(folder, [tmp_path / "o.csv"], output_map=omap)
        np.testing.assert_allclose(t["accuracy"], np.where(t["x_coord"] == 0.0, 0.0, 1.0))


def test_baseline_differences_are_paired_and_deterministic(location, tmp_path):
    folder, preds_a = location
    better = {cell: min(4, k + 1) for cell, k in LOC_K.items()}
    _, right_b = cells_with_k(better, ["x_coord", "y_coord"])
    preds_b = predictions_for(folder, right_b, tmp_path / "model_b.csv")
    kw = {"baseline": "model_a", "n_boot": 300}
    result = score_predictions(folder, [preds_a, preds_b], **kw)
    t = result.scores
    assert list(t.columns[-5:]) == ["baseline", "diff_accuracy", "diff_ci_low",
                                    "diff_ci_high", "diff_normalized"]
    assert (t["baseline"] == "model_a").all()
    a, b = t[t["model"] == "model_a"], t[t["model"] == "model_b"]
    assert (a[["diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized"]] == 0).all().all()
    np.testing.assert_allclose(b["diff_accuracy"], b["accuracy"].to_numpy() - a["accuracy"])
    np.testing.assert_allclose(b["diff_normalized"],
                               b["normalized"].to_numpy() - a["normalized"].to_numpy())
    assert (b["diff_ci_low"] <= b["diff_accuracy"]).all()
    assert (b["diff_accuracy"] <= b["diff_ci_high"]).all()
    # B is never worse on any image: no resample can make the difference negative
    assert (b["diff_ci_low"] >= 0).all()
    again = score_predictions(folder, [preds_a, preds_b], **kw).scores
    pd.testing.assert_frame_equal(t, again)
    # the cell at (0.5, 0.5) is 4/4 for both: difference exactly 0 in every resample
    centre = b.set_index(["x_coord", "y_coord"]).loc[(0.5, 0.5)]
    assert (centre["diff_ci_low"], centre["diff_ci_high"]) == (0.0, 0.0)
    assert result.summary["bootstrap"] == {"resamples": 300, "seed": 0, "unit": "object",
                                           "objects": 4, "level": 0.95}


def test_bootstrap_depends_on_the_seed_only(tmp_path):
    folder = write_metadata_folder(tmp_path / "size", "size", n_classes=5, n_objects=40,
                                   bgs_per_fg=1)
    md = load_dataset(folder).metadata
    for i, name in enumerate(["a", "b", "c"]):
        simulate_predictions(md, 0.5 + 0.1 * i, seed=i, model=name).to_csv(
            tmp_path / f"{name}.csv", index=False)

    def diffs(paths: list[str], seed: int) -> pd.DataFrame:
        t = score(folder, [tmp_path / p for p in paths], baseline="a", n_boot=200, seed=seed)
        return t[t["model"] == "b"][["diff_accuracy", "diff_ci_low", "diff_ci_high"]]

    first = diffs(["a.csv", "b.csv"], 0)
    # the same seed gives the same intervals, whatever other models are scored alongside
    pd.testing.assert_frame_equal(first.reset_index(drop=True),
                                  diffs(["c.csv", "b.csv", "a.csv"], 0).reset_index(drop=True))
    other = diffs(["a.csv", "b.csv"], 1)
    np.testing.assert_array_equal(first["diff_accuracy"], other["diff_accuracy"])
    assert not np.array_equal(first["diff_ci_low"], other["diff_ci_low"])


def test_effective_robustness_matches_a_hand_least_squares_fit():
    x = {"a": 60.0, "b": 70.0, "c": 80.0, "d": 75.0, "e": 65.0, "f": 85.0, "g": 72.0}
    y = {"a": 30.0, "b": 45.0, "c": 55.0, "d": 60.0, "e": 36.0, "f": 62.0, "g": 50.0}
    fitted = ["a", "b", "c", "e", "f"]
    table, fit = effective_robustness(x, y, fit_models=fitted)
    px = np.array([x[m] for m in fitted]) / 100
    py = np.array([y[m] for m in fitted]) / 100
    lx, ly = np.log(px / (1 - px)), np.log(py / (1 - py))
    (b1, b0), *_ = np.linalg.lstsq(np.column_stack([lx, np.ones(5)]), ly, rcond=None)
    assert (fit["slope"], fit["intercept"]) == (pytest.approx(b1), pytest.approx(b0))
    d = table.set_index("model").loc["d"]
    pred = 100 / (1 + np.exp(-(b1 * np.log(0.75 / 0.25) + b0)))
    assert d["effective_robustness"] == pytest.approx(60.0 - pred)
    assert not d["in_fit"] and table.set_index("model").loc["a", "in_fit"]
    # the interval comes from the fit's uncertainty (statsmodels-free: OLS by hand)
    resid = ly - (b1 * lx + b0)
    s2 = resid @ resid / 3
    xbar, sxx = lx.mean(), ((lx - lx.mean()) ** 2).sum()
    se = np.sqrt(s2 * (1 / 5 + (np.log(3) - xbar) ** 2 / sxx))
    from scipy.stats import t as student_t
    mean = b1 * np.log(3) + b0
    hi = 60 - 100 / (1 + np.exp(-(mean - student_t.ppf(0.975, 3) * se)))
    assert d["effective_robustness_ci_high"] == pytest.approx(hi)
    assert d["effective_robustness_ci_low"] < d["effective_robustness"] < hi


def test_effective_robustness_refuses_a_trend_on_too_few_models():
    x = {"a": 60.0, "b": 70.0, "c": 80.0}
    y = {"a": 30.0, "b": 45.0, "c": 55.0}
    with pytest.raises(ScoreError, match="at least 5 models .*--testbed"):
        effective_robustness(x, y)
    testbed = {f"ref{i}": (55.0 + 5 * i, 25.0 + 6 * i + (i % 2)) for i in range(6)}
    table, fit = effective_robustness(x, y, testbed=testbed)
    assert fit["fitted_on"] == "--testbed" and fit["models"] == list(testbed)
    assert not table["in_fit"].any() and table["effective_robustness_ci_low"].notna().all()


def test_torchvision_weight_metadata_gives_imagenet_top1_offline():
    assert torchvision_top1("ResNet50_Weights.IMAGENET1K_V2") == pytest.approx(80.858)
    assert torchvision_top1("resnet50:IMAGENET1K_V1") == pytest.approx(76.13)
    assert torchvision_top1("resnet18_IMAGENET1K_V1") == pytest.approx(69.758)
    assert torchvision_top1("resnet50") is None  # weights unknown: not guessed
    assert torchvision_top1("my_model:IMAGENET1K_V9") is None


def test_effective_robustness_in_summary_and_csv(tmp_path):
    folder = write_metadata_folder(tmp_path / "loc", "location", n_classes=4, n_objects=8,
                                   bgs_per_fg=1)
    md = load_dataset(folder).metadata
    names = {"resnet18:IMAGENET1K_V1": 0.5, "resnet50:IMAGENET1K_V2": 0.7, "tiny": 0.3}
    paths = []
    for i, (name, acc) in enumerate(names.items()):
        paths.append(tmp_path / f"m{i}.csv")
        simulate_predictions(md, acc, seed=i, model=name).to_csv(paths[-1], index=False)
    # evaluate's meta.json names the weights of a bare model name
    simulate_predictions(md, 0.6, seed=9, model="resnet34").to_csv(tmp_path / "r34.csv",
                                                                   index=False)
    (tmp_path / "r34.csv.meta.json").write_text('{"weights": "ResNet34_Weights.IMAGENET1K_V1"}')
    paths.append(tmp_path / "r34.csv")
    for i, acc in enumerate((0.4, 0.55)):  # five models: enough for a trend
        paths.append(tmp_path / f"extra{i}.csv")
        simulate_predictions(md, acc, seed=20 + i, model=f"extra{i}").to_csv(paths[-1],
                                                                            index=False)
    result = score_predictions(folder, paths, imagenet_acc={"tiny": 60.0, "extra0": 65.0,
                                                            "extra1": 71.0})
    models = result.summary["models"]
    assert models["resnet34"]["imagenet_top1"] == pytest.approx(73.314)
    assert models["resnet50:IMAGENET1K_V2"]["imagenet_top1"] == pytest.approx(80.858)
    assert models["tiny"]["imagenet_top1"] == 60.0
    x = {n: models[n]["imagenet_top1"] for n in models}
    y = {n: 100 * models[n]["mean_accuracy"] for n in models}
    table, fit = effective_robustness(x, y)
    for row in table.itertuples():
        assert models[row.model]["effective_robustness"] == pytest.approx(
            row.effective_robustness)
    assert result.summary["effective_robustness_fit"]["slope"] == pytest.approx(fit["slope"])
    paths_written = result.write(tmp_path / "out" / "scores.csv")
    written = pd.read_csv(paths_written[2])
    assert list(written.columns) == ["model", "imagenet_top1", "siscore_accuracy",
                                     "predicted_accuracy", "effective_robustness",
                                     "effective_robustness_ci_low",
                                     "effective_robustness_ci_high", "in_fit"]


def test_effective_robustness_that_cannot_be_fitted_is_a_note_unless_asked(location, tmp_path):
    folder, preds = location
    frame = pd.read_csv(preds)
    for name in ("crop224", "crop288"):  # the same weights at two crops: one ImageNet top-1
        frame.assign(model=name).to_csv(tmp_path / f"{name}.csv", index=False)
        (tmp_path / f"{name}.csv.meta.json").write_text(
            '{"weights": "ResNet50_Weights.IMAGENET1K_V2"}')
    paths = [tmp_path / "crop224.csv", tmp_path / "crop288.csv"]
    result = score_predictions(folder, paths)
    assert result.effective is None
    assert any("no effective robustness" in n and "different ImageNet top-1" in n
               for n in result.notes)
    assert result.summary["models"]["crop224"]["imagenet_top1"] == pytest.approx(80.858)
    with pytest.raises(ScoreError, match="at least 5 models with different ImageNet top-1"):
        score_predictions(folder, paths, fit_models=["crop224", "crop288"])


def test_model_names_from_column_stem_and_name(location, tmp_path):
    folder, preds = location
    frame = pd.read_csv(preds)
    both = pd.concat([frame.assign(model="x"), frame.assign(model="y")])
    both.to_csv(tmp_path / "both.csv", index=False)
    t = score(folder, [tmp_path / "both.csv", preds])
    assert list(dict.fromkeys(t["model"])) == ["x", "y", "model_a"]
    t = score(folder, [preds], names=["renamed"])
    assert set(t["model"]) == {"renamed"}
    t = score(folder, [frame.assign(model="from_frame")])  # a DataFrame works too
    assert set(t["model"]) == {"from_frame"}


def test_metadata_csv_instead_of_a_dataset_folder(location, tmp_path):
    folder, preds = location
    expected = score(folder, [preds])
    md = pd.read_csv(folder / "metadata.csv")
    alone = tmp_path / "alone"
    alone.mkdir()
    # a label column, and a label map: no class files needed
    md.assign(label=np.where(md["foreground_class"] == 0, "apple", "bear")).to_csv(
        alone / "meta.csv", index=False)
    (alone / "map.csv").write_text("label,imagenet_index\napple,10\nbear,20\n")
    r = CliRunner().invoke(main, ["score", "--metadata", str(alone / "meta.csv"), "--label-map",
                                  str(alone / "map.csv"), "-p", str(preds), "--out",
                                  str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s.csv"), expected)
    # foreground_class and --class-names (old spelling: --classes) instead of a label column
    md.to_csv(alone / "meta2.csv", index=False)
    for option in ("--class-names", "--classes"):
        r = CliRunner().invoke(main, [
            "score", "--metadata", str(alone / "meta2.csv"), "--label-map", str(alone / "map.csv"),
            option, str(folder / "foreground_classes_metadata_indices.csv"), "-p", str(preds),
            "--out", str(tmp_path / "s2.csv")])
        assert r.exit_code == 0, r.output
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s2.csv"), expected)


def test_dataset_defaults_to_the_folder_evaluate_writes_beside_the_predictions(tmp_path):
    preds = tmp_path / "fly.csv"
    folder = write_metadata_folder(tmp_path / "fly.csv.dataset", "rotation", n_classes=2,
                                   n_objects=4, bgs_per_fg=1)
    simulate_predictions(load_dataset(folder).metadata, 0.5, model="resnet50").to_csv(
        preds, index=False)
    (tmp_path / "fly.csv.meta.json").write_text('{"weights": "ResNet50_Weights.IMAGENET1K_V2"}')
    r = CliRunner().invoke(main, ["score", "-p", str(preds), "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    assert "dataset: " in r.output and "fly.csv.dataset" in r.output
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["subset"] == "rotation" and summary["factors"] == ["area", "rotation"]
    assert summary["models"]["resnet50"]["weights"] == "ResNet50_Weights.IMAGENET1K_V2"
    r = CliRunner().invoke(main, ["score", "-p", str(tmp_path / "s.csv"), "--out",
                                  str(tmp_path / "t.csv")])
    assert r.exit_code != 0 and "give --dataset DIR" in r.output


def test_synthetic_folders_load_in_the_official_layout(tmp_path):
    for subset, cells in [("location", 441), ("size", 100), ("rotation", 72)]:
        folder = write_metadata_folder(tmp_path / subset, subset, n_classes=3, n_objects=3,
                                       bgs_per_fg=1)
        info = load_dataset(folder)
        assert info.subset == subset and len(info.metadata) == 3 * cells
        assert set(info.metadata["label"]) == {"class000", "class001", "class002"}


def test_cli_writes_the_contract_files(location, tmp_path):
    folder, preds = location
    out = tmp_path / "res" / "scores.csv"
    r = CliRunner().invoke(main, ["score", "--dataset", str(folder), "-p", str(preds),
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "model_a: 36 images (coverage 100.0%)" in r.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["model", "x_coord", "y_coord", "n", "correct", "accuracy",
                                   "ci_low", "ci_high", "normalized", "normalize", "topk",
                                   "objects"]
    summary = json.loads((tmp_path / "res" / "scores.summary.json").read_text())
    assert set(summary) >= {"subset", "factors", "normalize", "topk", "models"}
    assert set(summary["models"]["model_a"]) >= {
        "n_images", "coverage", "mean_accuracy", "worst_cell", "uniformity",
        "border_ratio", "mean_accuracy_ci"}
    assert not list((tmp_path / "res").glob("*.tmp"))
    report = pytest.importorskip("siscore.report.scores")
    loaded = report.load_scores(out)  # the report command reads what score writes
    assert loaded.kind == "location" and loaded.models == ["model_a"]


def test_cli_help_lists_every_option():
    r = CliRunner().invoke(main, ["score", "--help"])
    assert r.exit_code == 0
    for option in ["--dataset", "--metadata", "--predictions", "--name", "--out", "--by",
                   "--normalize", "--normalize-over", "--topk", "--label-space",
                   "--min-pct-inside", "--balance-classes", "--baseline", "--bootstrap",
                   "--seed", "--output-map", "--imagenet-acc", "--fit-models",
                   "--min-coverage"]:
        assert option in r.output


@pytest.fixture(scope="module")
def built(sample_fg: Path, sample_bg: Path, tmp_path_factory) -> Path:
    """A real dataset built by `siscore build` from the SI-SCORE samples (64 px, 3x3 grid)."""
    tmp = tmp_path_factory.mktemp("built")
    config = tmp / "grid.toml"
    config.write_text('[grid]\nlocation = {x = [0.1, 0.5, 0.9], y = [0.1, 0.5, 0.9]}\n'
                      'area = [0.2]\nresolution = [[64, 64]]\n')
    r = CliRunner().invoke(main, ["build", "--config", str(config), "--foregrounds",
                                  str(sample_fg), "--backgrounds", str(sample_bg), "--out",
                                  str(tmp / "loc"), "-q"])
    assert r.exit_code == 0, r.output
    return tmp / "loc"


def test_real_dataset_scored_from_real_torch_inference(built, tmp_path):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from PIL import Image

    info = load_dataset(built, check_files=True)
    md = info.metadata
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()  # random weights: the plumbing
    images = np.stack([np.asarray(Image.open(built / p).convert("RGB")) for p in md["path"]])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = net((x - 0.45) / 0.225)
    top5 = logits.topk(5, dim=1).indices.numpy()
    # make the first object of each class right at top-1, so the accuracy is not all zero
    truth = np.array([info.imagenet[label][0] for label in md["label"]])
    top1 = np.where(md["foreground_instance"] == 0, truth, top5[:, 0])
    pd.DataFrame({"image_id": md["image_id"], "top1": top1, "label": md["label"],
                  "top5": [" ".join(map(str, r)) for r in top5]}).to_csv(
        tmp_path / "resnet18.csv", index=False)
    out = tmp_path / "scores.csv"
    r = CliRunner().invoke(main, ["score", "--dataset", str(built), "-p",
                                  str(tmp_path / "resnet18.csv"), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out)
    assert len(t) == 9 and (t["n"] == len(md) // 9).all()
    expected = (md.assign(hit=top1 == truth).groupby(["x_coord", "y_coord"])["hit"].mean())
    np.testing.assert_allclose(t.set_index(["x_coord", "y_coord"])["accuracy"], expected)
