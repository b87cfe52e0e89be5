"""Synthetic scores tables shaped like ``siscore score`` output, for demos and docs.

The numbers are made up (smooth accuracy surfaces plus binomial noise from a fixed
seed); they only illustrate the figures. ``python -m siscore.report.examples OUT``
writes the example CSVs and a full report into OUT.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from siscore.report.scores import clopper_pearson

#: (model name, overall skill, sensitivity to the factor): bigger models trained on more
#: data are better and less sensitive, as in the paper.
MODELS = (("resnet50-imagenet", 0.55, 1.0), ("resnet50-imagenet21k", 0.66, 0.7),
          ("resnet101x3-jft", 0.74, 0.45))


def _finish(rows: list[dict], factors: list[str], seed: int, per: str) -> pd.DataFrame:
    """Sample correct counts, add intervals and the per-model normaliser."""
    frame = pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    frame["correct"] = rng.binomial(frame["n"].to_numpy(), frame.pop("p").to_numpy())
    frame["accuracy"] = frame["correct"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = clopper_pearson(frame["correct"], frame["n"])
    groups = frame.groupby(["model", *([per] if per else [])], sort=False)["accuracy"]
    if per == "area":  # rotation: divide by the best angle for each size
        frame["normalized"] = frame["accuracy"] / groups.transform("max")
    else:  # location: divide by the 95th percentile over cells
        frame["normalized"] = frame["accuracy"] / groups.transform(lambda a: a.quantile(0.95))
    frame["topk"] = 1
    return frame[["model", *factors, "n", "correct", "accuracy", "ci_low", "ci_high",
                  "normalized", "topk"]]


def location_scores(seed: int = 0, n: int = 1228) -> pd.DataFrame:
    """21 x 21 object centres; accuracy falls towards the borders (more so at the bottom)."""
    grid = np.round(np.arange(21) * 0.05, 2)
    rows = []
    for model, skill, sens in MODELS:
        for y in grid:
            for x in grid:
                r = np.hypot(x - 0.5, (y - 0.45) * 1.15)
                p = skill * (1 - sens * 0.55 * r**2.2 * 2.2)
                rows.append({"model": model, "x_coord": x, "y_coord": y, "n": n,
                             "p": float(np.clip(p, 0.02, 0.98))})
    return _finish(rows, ["x_coord", "y_coord"], seed, "")


def rotation_scores(seed: int = 1, n: int = 549) -> pd.DataFrame:
    """4 sizes x 18 angles; upside-down objects are hardest, small objects most of all."""
    rows = []
    for model, skill, sens in MODELS:
        for area in (0.2, 0.5, 0.8, 1.0):
            for angle in range(1, 342, 20):
                dip = (1 - np.cos(np.radians(angle))) / 2
                p = skill * (0.8 + 0.25 * area) * (1 - sens * 0.45 * dip * (1.3 - 0.5 * area))
                rows.append({"model": model, "area": area, "rotation": angle, "n": n,
                             "p": float(np.clip(p, 0.02, 0.98))})
    return _finish(rows, ["area", "rotation"], seed, "area")


def size_scores(seed: int = 2, n: int = 930) -> pd.DataFrame:
    """Object areas 1%..100%: accuracy rises steeply for small objects."""
    rows = []
    for model, skill, sens in MODELS:
        for pct in range(1, 101):
            area = pct / 100
            p = skill * (1.1 - sens * 0.9 * np.exp(-area / 0.12)) - 0.05 * area
            rows.append({"model": model, "area": area, "n": max(20, int(n * (1 - area) ** 0.5)),
                         "p": float(np.clip(p, 0.01, 0.98))})
    return _finish(rows, ["area"], seed, "")


def breakdown_scores(by: str = "label", seed: int = 3) -> pd.DataFrame:
    """Per-class (``label``) or per-background (``background_name``) accuracy."""
    names = (["bagel", "koala", "lemon", "printer", "starfish", "strawberry", "toaster", "vase",
              "zebra"] if by == "label" else
             ["beach2", "field1", "forest1", "grass1", "mountains_blue_sky", "ocean1", "ocean3",
              "sky1"])
    rng = np.random.default_rng(seed + 100)
    ease = rng.uniform(-0.35, 0.3, len(names))
    counts = rng.integers(400, 1800, len(names))
    counts[-2] = 12  # one rare cell, to show the low-count marking
    rows = []
    for model, skill, _ in MODELS:
        for name, e, c in zip(names, ease, counts, strict=True):
            rows.append({"model": model, by: name, "n": int(c),
                         "p": float(np.clip(skill + e, 0.02, 0.99))})
    return _finish(rows, [by], seed, "")


def write_examples(out: str | Path) -> dict[str, Path]:
    """Write the example scores CSVs into ``out``; return their paths by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"location": location_scores(), "rotation": rotation_scores(),
              "size": size_scores(), "label": breakdown_scores("label"),
              "background": breakdown_scores("background_name")}
    paths = {}
    for name, frame in tables.items():
        paths[name] = out / f"{name}_scores.csv"
        frame.to_csv(paths[name], index=False, float_format="%.6g")
    return paths


def write_docs_images(out: str | Path, dpi: int = 110) -> list[Path]:
    """The README's example PNGs (one per figure kind), small enough to ship in docs/img.

    Single-column figures get 1.5 times ``dpi`` so that all show about as wide."""
    from siscore.report import (
        breakdown_heatmap,
        location_comparison,
        location_heatmaps,
        rotation_plot,
        save_figure,
        size_plot,
    )

    out = Path(out)
    base = MODELS[0][0]
    figures = {
        "report-location": location_heatmaps(location_scores()),
        "report-location-diff": location_comparison(location_scores(), base),
        "report-rotation": rotation_plot(rotation_scores(), base, width="single"),
        "report-size": size_plot(size_scores(), base, width="single"),
        "report-by-label": breakdown_heatmap(breakdown_scores("label"), width="single",
                                             min_count=20),
    }
    return [save_figure(fig, out / name, ["png"],
                        dpi if fig.get_figwidth() > 5 else int(dpi * 1.5))[0]
            for name, fig in figures.items()]


def main(argv: list[str] | None = None) -> None:
    """``python -m siscore.report.examples OUT``: example scores and a full report in OUT;
    ``python -m siscore.report.examples --docs docs/img``: the README's example images."""
    from siscore.report.writer import write_report

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--docs"]:
        paths = write_docs_images(args[1] if len(args) > 1 else "docs/img")
        print("\n".join(str(p) for p in paths))
        return
    out = Path(args[0] if args else "report-example")
    paths = write_examples(out / "scores")
    result = write_report(list(paths.values()), out, baseline=MODELS[0][0])
    print(f"wrote {len(result.files)} files into {out}")


if __name__ == "__main__":
    main()
