"""The paper's location phenomenon, reproduced on a CPU in a few minutes.

Two copies of a small CNN are trained to recognise the embedded foreground
objects pasted on the embedded backgrounds:

- ``centred``: every training object is at the centre of the image (sizes and
  small rotations vary), like the object-centred photos of ImageNet;
- ``translated``: the same objects at uniformly random locations.

Both are then evaluated with ``siscore.evaluate`` on a SI-SCORE location grid
rendered on the fly, on backgrounds held out from training. The centred model's
accuracy falls away from the centre; training with random translations
flattens the map. The CNN ends in a fully connected layer over its last feature
map (no global pooling), so nothing in the architecture makes it invariant to
where the object is: what it learns about location comes from the data.

Run: ``python examples/train_location_cnn.py`` (about 4 minutes on a busy 2-core machine);
``--quick`` for a reduced run (seconds, for tests). Results go to ``examples/out/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from siscore.evaluate import RenderedDataset, evaluate
from siscore.formats.labels import load_label_map
from siscore.generate.assets import embedded_assets, scan_backgrounds, scan_foregrounds
from siscore.generate.factors import Grid
from siscore.generate.plan import Plan

HERE = Path(__file__).resolve().parent
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


@dataclass(frozen=True)
class Setup:
    """Sizes of one run (full or ``--quick``)."""

    resolution: int
    train_images: int
    epochs: int
    test_steps: tuple[float, ...]
    width: int  # channels of the first conv layer
    blocks: int  # conv blocks, each halving the feature map


FULL = Setup(32, 3000, 8, tuple(round(0.1 * i, 1) for i in range(11)), 12, 3)
QUICK = Setup(32, 800, 4, (0.0, 0.25, 0.5, 0.75, 1.0), 8, 3)


class SmallCNN(nn.Module):
    """Three conv blocks, then a linear layer over the flattened feature map."""

    def __init__(self, n_classes: int, resolution: int, width: int = 16, blocks: int = 3) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        chans = [3] + [width * min(2**i, 4) for i in range(blocks)]
        self.features = nn.Sequential(*(block(a, b) for a, b in zip(chans, chans[1:])))
        side = resolution // 2**blocks
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3),
                                  nn.Linear(chans[-1] * side * side, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_uint8(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x.float() / 255.0 - MEAN) / STD


def to_input(img: Image.Image) -> torch.Tensor:
    """The evaluation transform: PIL image -> normalised CHW float tensor."""
    return normalise(to_uint8(img))


def assets(foregrounds: Path, backgrounds: Path, resolution: int) -> tuple[list, list, list]:
    fgs, _ = scan_foregrounds(foregrounds, load_label_map())
    bgs, _ = scan_backgrounds(backgrounds, min_side=resolution)
    if len(fgs) < 2 or len(bgs) < 3:
        sys.exit(f"need at least 2 foregrounds and 3 backgrounds, found {len(fgs)} in {foregrounds} "
                 f"and {len(bgs)} in {backgrounds}")
    test_bgs = bgs[2::3]  # every 3rd background (sorted by name) is held out from training
    train_bgs = [b for b in bgs if b not in test_bgs]
    return fgs, train_bgs, test_bgs


def training_set(fgs: list, bgs: list, centred: bool, setup: Setup, seed: int,
                 workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rendered training images (uint8, N x 3 x H x W) and class indices."""
    steps = [round(0.05 * i, 2) for i in range(2, 19)]  # 0.1 .. 0.9
    location = [(0.5, 0.5)] if centred else [(x, y) for x in steps for y in steps]
    grid = Grid(location=location, area=[0.15, 0.2, 0.25], rotation=[-15, 0, 15],
                resolution=[(setup.resolution, setup.resolution)])
    plan = Plan(grid, fgs, bgs, seed=seed, bgs_per_fg=len(bgs))
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(plan.size, size=setup.train_images, replace=plan.size < setup.train_images))
    ds = RenderedDataset(plan, to_uint8)
    position = {image_id: p for p, image_id in enumerate(ds.image_ids)}
    subset = torch.utils.data.Subset(ds, [position[int(i)] for i in ids])
    images, labels = [], []
    for batch, positions, _ in DataLoader(subset, batch_size=256, num_workers=workers):
        images.append(batch)
        labels += [plan.fg_class[plan.item(ds.image_ids[p]).fg_index] for p in positions.tolist()]
    return torch.cat(images), torch.tensor(labels)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Horizontal flips and brightness/contrast jitter (no translation)."""
    x = normalise(x)
    flip = torch.rand(len(x), generator=g) < 0.5
    x[flip] = x[flip].flip(-1)
    scale = 1 + 0.4 * (torch.rand(len(x), 1, 1, 1, generator=g) - 0.5)
    shift = 0.4 * (torch.rand(len(x), 1, 1, 1, generator=g) - 0.5)
    return x * scale + shift


def train(images: torch.Tensor, labels: torch.Tensor, n_classes: int, setup: Setup, seed: int,
          name: str) -> SmallCNN:
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(n_classes, setup.resolution, setup.width, setup.blocks)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    steps = setup.epochs * (-(-len(images) // 64))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    model.train()
    t0 = time.perf_counter()
    for epoch in range(setup.epochs):
        order = torch.randperm(len(images), generator=g)
        total, correct = 0.0, 0
        for start in range(0, len(images), 64):
            idx = order[start:start + 64]
            x, y = augment(images[idx], g), labels[idx]
            with torch.random.fork_rng(devices=[]):  # dropout masks from the run's own generator
                torch.manual_seed(int(torch.randint(2**31, (1,), generator=g)))
                logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        print(f"  {name}: epoch {epoch + 1}/{setup.epochs}, loss {total / len(images):.3f}, "
              f"train accuracy {correct / len(images):.3f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    return model.eval()


def location_accuracy(model: nn.Module, fgs: list, test_bgs: list, classes: list[str],
                      setup: Setup, out: Path, name: str, seed: int, workers: int) -> pd.DataFrame:
    """Per-cell accuracy on the location grid, evaluated with siscore.evaluate on the fly."""
    steps = setup.test_steps
    grid = Grid(location=[(x, y) for x in steps for y in steps], area=[0.2],
                resolution=[(setup.resolution, setup.resolution)])
    plan = Plan(grid, fgs, test_bgs, seed=seed, bgs_per_fg=len(test_bgs))
    imagenet = {fg.label: fg.imagenet[0] for fg in fgs}
    result = evaluate(model, to_input, RenderedDataset(plan, subset="location"), out / f"{name}.csv",
                      name=name, output_classes=[imagenet[c] for c in classes], batch_size=128,
                      workers=workers, device="cpu", progress=False, overwrite=True)
    md = pd.read_csv(out / f"{name}.csv.dataset" / "metadata.csv")
    df = result.predictions.merge(md[["image_id", "x_coord", "y_coord"]], on="image_id")
    cells = df.groupby(["x_coord", "y_coord"], as_index=False)["correct1"].mean()
    cells = cells.rename(columns={"correct1": "accuracy"})
    cells["normalized"] = cells["accuracy"] / max(np.percentile(cells["accuracy"], 95), 1e-9)
    cells.insert(0, "model", name)
    return cells


def summary(cells: pd.DataFrame) -> dict[str, Any]:
    """Accuracy by distance from the centre (max(|x-0.5|, |y-0.5|)) and the usual contrasts."""
    d = np.maximum((cells["x_coord"] - 0.5).abs(), (cells["y_coord"] - 0.5).abs()).round(2)
    acc = cells["accuracy"]
    profile = {f"{k:g}": round(float(acc[d == k].mean()), 4) for k in sorted(d.unique())}
    centre, border = acc[d == 0].mean(), acc[d >= 0.5].mean()
    return {"centre": round(float(centre), 4),
            "off_centre": round(float(acc[(d >= 0.2) & (d <= 0.3)].mean()), 4),
            "border": round(float(border), 4), "mean": round(float(acc.mean()), 4),
            "centre_minus_border": round(float(centre - border), 4),
            "min_normalized": round(float(cells["normalized"].min()), 4),
            "by_distance": profile}


def ascii_map(cells: pd.DataFrame) -> str:
    """Accuracy per cell in percent; rows are y (top = 0), columns x."""
    table = cells.pivot(index="y_coord", columns="x_coord", values="accuracy")
    head = "y\\x  " + " ".join(f"{x:>4g}" for x in table.columns)
    rows = [f"{y:<4g} " + " ".join(f"{100 * v:4.0f}" for v in row) for y, row in table.iterrows()]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced run (for tests)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output folder")
    parser.add_argument("--foregrounds", type=Path, default=None, help="default: embedded assets")
    parser.add_argument("--backgrounds", type=Path, default=None, help="default: embedded assets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers for rendering")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> dict[str, Any]:
    setup = QUICK if args.quick else FULL
    fg_dir, bg_dir = embedded_assets()
    fgs, train_bgs, test_bgs = assets(args.foregrounds or fg_dir, args.backgrounds or bg_dir,
                                      setup.resolution)
    classes = sorted({fg.label for fg in fgs})
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{len(fgs)} objects in {len(classes)} classes; {len(train_bgs)} training backgrounds, "
          f"{len(test_bgs)} held-out test backgrounds ({', '.join(b.name for b in test_bgs)}); "
          f"{setup.resolution}x{setup.resolution} px", flush=True)
    t0 = time.perf_counter()
    results, all_cells, maps = {}, [], []
    for name, centred in (("centred", True), ("translated", False)):
        images, labels = training_set(fgs, train_bgs, centred, setup, args.seed, args.workers)
        model = train(images, labels, len(classes), setup, args.seed, name)
        cells = location_accuracy(model, fgs, test_bgs, classes, setup, args.out, name, args.seed,
                                  args.workers)
        results[name] = summary(cells)
        all_cells.append(cells)
        maps.append(f"{name} (top-1 accuracy %, chance {100 / len(classes):.0f}%):\n{ascii_map(cells)}")
    report = {
        "setup": {**setup.__dict__, "classes": classes, "objects": len(fgs),
                  "train_backgrounds": [b.name for b in train_bgs],
                  "test_backgrounds": [b.name for b in test_bgs], "seed": args.seed,
                  "quick": args.quick, "seconds": round(time.perf_counter() - t0, 1)},
        "definitions": {"distance": "max(|x - 0.5|, |y - 0.5|) of the object centre",
                        "centre": "the centre cell (0.5, 0.5), where the centred model was trained",
                        "off_centre": "cells at distance 0.2 to 0.3 (object inside the image)",
                        "border": "x or y in {0, 1} (half of the object outside the image)",
                        "min_normalized": "lowest cell accuracy divided by the 95th percentile",
                        "by_distance": "mean accuracy of the cells at each distance"},
        "results": results,
    }
    (args.out / "location_summary.json").write_text(json.dumps(report, indent=1) + "\n")
    pd.concat(all_cells).to_csv(args.out / "location_cells.csv", index=False)
    (args.out / "location_maps.txt").write_text("\n\n".join(maps) + "\n")
    print("\n" + "\n\n".join(maps) + "\n")
    dists = list(next(iter(results.values()))["by_distance"])
    print("top-1 accuracy by distance of the object centre from the image centre:")
    print(f"{'model':<12}" + "".join(f"{'d=' + k:>8}" for k in dists) + f"{'mean':>8}")
    for name, r in results.items():
        print(f"{name:<12}" + "".join(f"{r['by_distance'][k]:>8.3f}" for k in dists) + f"{r['mean']:>8.3f}")
    print(f"\n{'model':<12}{'centre':>8}{'off-centre':>12}{'border':>8}{'min norm.':>11}")
    for name, r in results.items():
        print(f"{name:<12}{r['centre']:>8.3f}{r['off_centre']:>12.3f}{r['border']:>8.3f}"
              f"{r['min_normalized']:>11.3f}")
    print(f"\nwritten: {args.out}/location_summary.json, location_cells.csv, location_maps.txt "
          f"({report['setup']['seconds']} s)")
    return report


if __name__ == "__main__":
    main()
