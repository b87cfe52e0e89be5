"""The SI-SCORE findings with real ImageNet models: EfficientNet-Lite0/1/2, all on the CPU, offline.

Renders the location, size and rotation subsets on the fly from the SI-SCORE
sample assets (../shared/data/si-score-samples when present, else siscore's
embedded assets), evaluates the three built-in Lite models in one pass per
subset, scores them (Lite0 as the baseline), writes the full report, prints the
findings (centre vs border, accuracy by object area, upright vs rotated,
whether the larger models are flatter), and with ``--docs-img`` redraws the
README's report figures from these real scores.

    python examples/real_models.py                          # predictions cached in examples/out/real-models
    python examples/real_models.py --docs-img docs/img      # also the README's figures
    python examples/real_models.py --stride 1 -j 8          # every image (29,000 forwards)

Predictions are a cache (``<out>/predictions/<subset>/<model>.csv``): a re-run
(e.g. after a change in the report) only scores and draws. ``--stride K``
evaluates every K-th image of each subset in image-id order (default: a
subsample sized for a 2-core CPU; 1 for all of them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "si-score-samples"
MODELS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
SUBSETS = ("location", "size", "rotation")
#: default subsample: every K-th image per subset (about 200 / 140 / 120 images on the samples)
STRIDES = {"location": 40, "size": 12, "rotation": 6}


def assets(which: str) -> tuple[Path | None, Path | None, str]:
    if which == "samples" or (which == "auto" and (SAMPLES / "foregrounds").is_dir()):
        return SAMPLES / "foregrounds", SAMPLES / "backgrounds", "SI-SCORE samples"
    return None, None, "embedded assets"


def predict(subset: str, out: Path, *, fg: Path | None, bg: Path | None, stride: int,
            jobs: int, batch_size: int) -> tuple[Path, list[Path]]:
    """Evaluate the three models on every ``stride``-th image of ``subset`` (one pass, cached)."""
    from siscore.evaluate import RenderedDataset, create_model, evaluate_many

    ds = RenderedDataset.from_grid(subset, foregrounds=fg, backgrounds=bg)
    order = sorted(range(len(ds)), key=lambda p: ds.image_ids[p])
    positions = order[::stride]
    folder = out / "predictions" / subset
    folder.mkdir(parents=True, exist_ok=True)
    outs = [folder / f"{m}.csv" for m in MODELS]
    models = [create_model(m) for m in MODELS]
    results = evaluate_many(models, ds, outs, positions=positions, workers=jobs,
                            batch_size=batch_size, device="cpu", progress=True)
    for r in results:
        print(f"  {r.summary()}")
    return outs[0].with_name(outs[0].name + ".dataset"), outs


#: coarse levels the subsample is scored on (a subsample leaves 0-1 image per original cell)
LOCATION_LEVELS = [0.1, 0.3, 0.5, 0.7, 0.9]  # object centre, each level a 0.2-wide band
AREA_BINS = [0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]  # object area as a fraction of the image


def coarsen(subset: str, dataset: Path, out: Path) -> Path:
    """A copy of the metadata-only dataset folder with its factor values put in coarse bins."""
    import shutil

    import numpy as np
    import pandas as pd

    target = out / "coarse" / subset
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(dataset, target)
    md = pd.read_csv(target / "metadata.csv")
    if subset == "location":
        levels = np.array(LOCATION_LEVELS)
        for col in ("x_coord", "y_coord"):
            md[col] = levels[np.abs(md[col].to_numpy()[:, None] - levels).argmin(axis=1)]
    if subset == "size":
        edges = np.array(AREA_BINS)
        mids = (edges[1:] + edges[:-1]) / 2
        md["area"] = mids[np.clip(np.searchsorted(edges, md["area"], side="left") - 1, 0,
                                  len(mids) - 1)].round(3)
    md.to_csv(target / "metadata.csv", index=False)
    return target


def score(subset: str, dataset: Path, preds: list[Path], out: Path, coarse: bool) -> Path:
    from siscore.score import score_predictions

    if coarse:
        dataset = coarsen(subset, dataset, out)
    result = score_predictions(dataset, preds, names=MODELS, baseline=MODELS[0], n_boot=200)
    path = out / "scores" / f"{subset}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    result.write(path)
    return path


def findings(scores: dict[str, Path], preds: dict[str, list[Path]]) -> dict:
    """The numbers the docs quote (top-1 in percent, on the images all three models have).

    Location: centre = object centre within 0.2 of the image centre (Chebyshev),
    border = within 0.1 of an edge. Size: by object area in percent, [top-1, images].
    Rotation: near upright = within 21 degrees, upside down = 139 degrees or more.
    """
    import numpy as np
    import pandas as pd

    from siscore.formats.dataset import load_dataset

    def pct(values: pd.Series) -> float | None:
        return round(100 * float(values.mean()), 1) if len(values) else None

    out: dict = {}
    for subset, files in preds.items():
        info = load_dataset(files[0].with_name(files[0].name + ".dataset"))
        md = info.metadata.set_index("image_id")
        frames = [pd.read_csv(f).set_index("image_id") for f in files]
        common = sorted(set.intersection(*(set(f.index) for f in frames)))  # the same images
        for model, frame in zip(MODELS, frames):
            df = frame.loc[common].merge(md, left_index=True, right_index=True,
                                         suffixes=("", "_md"))
            row = out.setdefault(model, {})
            row[f"{subset}_images"] = len(df)
            row[f"{subset}_top1"] = pct(df["correct1"])
            if subset == "location":
                d = np.maximum(abs(df["x_coord"] - 0.5), abs(df["y_coord"] - 0.5))
                row["centre_top1"] = pct(df.loc[d <= 0.2, "correct1"])  # centre within 0.2
                row["centre_images"] = int((d <= 0.2).sum())
                row["border_top1"] = pct(df.loc[d >= 0.4, "correct1"])  # within 0.1 of an edge
                row["border_images"] = int((d >= 0.4).sum())
            if subset == "size":
                bins = pd.cut(100 * df["area"], [0, 5, 10, 20, 40, 70, 100])
                row["top1_by_area_pct"] = {str(k): [pct(g), len(g)] for k, g in
                                           df.groupby(bins, observed=True)["correct1"]}
            if subset == "rotation":  # SI-SCORE angles are 1, 21, ..., 341 degrees
                tilt = np.minimum(df["rotation"] % 360, 360 - df["rotation"] % 360)
                row["near_upright_top1"] = pct(df.loc[tilt <= 21, "correct1"])  # 1, 21, 341
                row["near_upright_images"] = int((tilt <= 21).sum())
                row["upside_down_top1"] = pct(df.loc[tilt >= 139, "correct1"])  # 141 .. 221
                row["upside_down_images"] = int((tilt >= 139).sum())
    return out


def docs_images(scores: dict[str, Path], target: Path) -> list[Path]:
    """The README's report figures, from these real scores."""
    import pandas as pd

    from siscore.report import (
        breakdown_heatmap,
        location_comparison,
        location_heatmaps,
        rotation_plot,
        save_figure,
        size_plot,
    )
    loc = pd.read_csv(scores["location"])
    figures = {
        "report-location": location_heatmaps(loc),
        "report-location-diff": location_comparison(loc, MODELS[0]),
        "report-rotation": rotation_plot(pd.read_csv(scores["rotation"]), MODELS[0], width="single"),
        "report-size": size_plot(pd.read_csv(scores["size"]), MODELS[0], width="single"),
    }
    by_label = scores["size"].with_name("size-by-label.csv")
    if by_label.exists():
        figures["report-by-label"] = breakdown_heatmap(pd.read_csv(by_label), width="single",
                                                       min_count=10)
    target.mkdir(parents=True, exist_ok=True)
    return [save_figure(fig, target / name, ["png"], 110 if fig.get_figwidth() > 5 else 165)[0]
            for name, fig in figures.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "out" / "real-models")
    parser.add_argument("--assets", choices=["auto", "samples", "embedded"], default="auto")
    parser.add_argument("--stride", type=int, default=None,
                        help="every K-th image per subset (default: location 40, size 12, rotation 6)")
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, default=list(SUBSETS))
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--docs-img", type=Path, default=None,
                        help="also redraw the README's report figures into this folder")
    args = parser.parse_args(argv)

    from siscore.report.writer import write_report
    from siscore.score import score_predictions

    fg, bg, label = assets(args.assets)
    print(f"assets: {label}")
    scores, preds = {}, {}
    for subset in args.subsets:
        stride = args.stride or STRIDES[subset]
        print(f"{subset}: every {stride}th image")
        dataset, files = predict(subset, args.out, fg=fg, bg=bg, stride=stride, jobs=args.jobs,
                                 batch_size=args.batch_size)
        scores[subset] = score(subset, dataset, files, args.out, coarse=stride > 1)
        preds[subset] = files
        if subset == "size":  # the per-class breakdown figure
            by = score_predictions(dataset, files, names=MODELS, by=["label"])
            by.write(scores[subset].with_name("size-by-label.csv"))
    report = write_report(list(scores.values()), args.out / "report", baseline=MODELS[0],
                          formats=["png"], dpi=110)
    numbers = findings(scores, preds)
    numbers["assets"] = label
    (args.out / "findings.json").write_text(json.dumps(numbers, indent=1) + "\n")
    print(json.dumps(numbers, indent=1))
    if args.docs_img is not None:
        for p in docs_images(scores, args.docs_img):
            print(f"wrote {p}")
    index = next((f for f in report.files if Path(f).name == "index.html"), None)
    print(f"report: {index or args.out / 'report'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
