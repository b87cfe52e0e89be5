"""Regenerate docs/img/report-*.png from real predictions: EfficientNet-Lite0/1/2 on the
small real grids of tests/data/report_real (see its README)::

    python tools/make_report_figures.py [--data tests/data/report_real] [--out docs/img]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from siscore.report import (
    breakdown_heatmap,
    load_scores,
    location_comparison,
    location_heatmaps,
    rotation_plot,
    save_figure,
    size_plot,
)
from siscore.report.scores import default_min_count
from siscore.score import score_predictions

OPTIONS = {
    "location": {"normalize_method": "p95"},
    "size": {"normalize_method": "max"},
    "rotation": {"normalize_method": "max", "normalize_over": ["rotation"]},
    "label": {"by": ["label"]},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("tests/data/report_real"))
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args()
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in OPTIONS.items():
            subset = "location" if name == "label" else name
            result = score_predictions(args.data / subset,
                                       [args.data / f"{subset}-predictions.csv"],
                                       baseline="lite0", seed=0, **options)
            path = Path(tmp) / f"{name}.csv"
            result.write(path)
            scores[name] = load_scores(path)
        mc = {k: default_min_count(v) for k, v in scores.items()}
        figures = {
            "report-location": location_heatmaps(scores["location"], min_count=mc["location"]),
            "report-location-diff": location_comparison(scores["location"], "lite0",
                                                        min_count=mc["location"]),
            "report-rotation": rotation_plot(scores["rotation"], "lite0", width="single",
                                             min_count=mc["rotation"]),
            "report-size": size_plot(scores["size"], "lite0", width="single",
                                     value="normalized", min_count=mc["size"]),
            "report-by-label": breakdown_heatmap(scores["label"], width="single",
                                                 min_count=mc["label"]),
        }
    for name, fig in figures.items():
        dpi = args.dpi if fig.get_figwidth() > 5 else int(args.dpi * 1.5)
        print(save_figure(fig, args.out / name, ["png"], dpi)[0])


if __name__ == "__main__":
    main()
