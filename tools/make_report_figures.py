"""Regenerate docs/img/report-*.png from real predictions: EfficientNet-Lite0/1/2 on the
small real grids of tests/data/report_real (see its README)::

    python tools/make_report_figures.py [--data tests/data/report_real] [--out docs/img]

The paper's subsets (location, rotation, size, by class) come from the grids built from
the SI-SCORE sample assets; the grids of one's own (area x rotation, blend), the
effective-robustness figure and the gallery from the two grids evaluated on the fly from
the embedded assets. The gallery screenshot (a JPEG) needs Chromium (Debian: apt-get install -y
chromium); without it that one image is skipped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from siscore.report import (
    breakdown_heatmap,
    load_scores,
    location_comparison,
    location_heatmaps,
    rotation_plot,
    save_figure,
    size_plot,
    write_report,
)
from siscore.report.bars import factor_bars
from siscore.report.effective import effective_plot
from siscore.report.maps import factor_comparison, factor_heatmaps
from siscore.report.scores import default_min_count
from siscore.report.writer import Images
from siscore.score import score_predictions

PAPER = {
    "location": {"normalize_method": "p95"},
    "size": {"normalize_method": "max"},
    "rotation": {"normalize_method": "max", "normalize_over": ["rotation"]},
    "label": {"by": ["label"]},
}
LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def score_all(data: Path, tmp: Path) -> dict[str, Path]:
    """Scores CSVs (with their summary JSON) of every grid of the fixture."""
    paths = {}
    for name, options in PAPER.items():
        subset = "location" if name == "label" else name
        result = score_predictions(data / subset, [data / f"{subset}-predictions.csv"],
                                   baseline="lite0", seed=0, **options)
        paths[name] = tmp / f"{name}.csv"
        result.write(paths[name])
    for name in ("area_rotation", "blend"):
        preds = [data / f"{name}-predictions" / f"{m}.csv" for m in LITE]
        result = score_predictions(data / name, preds, seed=0)
        paths[name] = tmp / f"{name}.csv"
        result.write(paths[name])
    return paths


def gallery_shot(scores: Path, data: Path, tmp: Path, out: Path) -> Path | None:
    """A screenshot of the top of Lite0's gallery on the area x rotation grid."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium not found: report-gallery.png not made")
        return None
    report = tmp / "report"
    preds = [data / "area_rotation-predictions" / f"{m}.csv" for m in LITE]
    write_report(scores, report, formats="png", dpi=80, images=Images(predictions=preds))
    page = report / "area_rotation-gallery-efficientnet_lite0.html"
    shot = tmp / "gallery.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1000,1250", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    target = out / "report-gallery.jpg"
    with Image.open(shot) as img:
        img.convert("RGB").resize((800, 1000), Image.Resampling.LANCZOS).save(
            target, quality=80, optimize=True)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("tests/data/report_real"))
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = score_all(args.data, Path(tmp))
        s = {k: load_scores(v) for k, v in paths.items()}
        mc = {k: default_min_count(v) for k, v in s.items()}
        figures = {
            "report-location": location_heatmaps(s["location"], min_count=mc["location"]),
            "report-location-diff": location_comparison(s["location"], "lite0",
                                                        min_count=mc["location"]),
            "report-rotation": rotation_plot(s["rotation"], "lite0", width="single",
                                             min_count=mc["rotation"]),
            "report-size": size_plot(s["size"], "lite0", width="single",
                                     value="normalized", min_count=mc["size"]),
            "report-by-label": breakdown_heatmap(s["label"], width="single",
                                                 min_count=mc["label"]),
            "report-area-rotation": factor_heatmaps(s["area_rotation"], "rotation", "area"),
            "report-area-rotation-diff": factor_comparison(s["area_rotation"], LITE[0],
                                                           "rotation", "area"),
            "report-blend": factor_bars(s["blend"], "blend", width="single"),
            "report-effective": effective_plot(s["area_rotation"], width="single"),
        }
        for name, fig in figures.items():
            dpi = args.dpi if fig.get_figwidth() > 5 else int(args.dpi * 1.5)
            print(save_figure(fig, args.out / name, ["png"], dpi)[0])
        print(gallery_shot(paths["area_rotation"], args.data, Path(tmp), args.out))


if __name__ == "__main__":
    main()
