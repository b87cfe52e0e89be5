"""On-the-fly evaluation gives the pixels and predictions of evaluating the built dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

from siscore.cli import main
from siscore.evaluate import RenderedDataset, SidePaths, evaluate, read_predictions
from siscore.formats.dataset import load_dataset
from siscore.generate.build import build
from siscore.generate.factors import Grid

GRID_TOML = """
[grid]
location = {x = [0.0, 0.5, 1.0], y = [0.5, 0.9]}
area = [0.2]
resolution = [[96, 96]]

[build]
min_pct_inside = 0.4
"""


def grid() -> Grid:
    return Grid(location=[(x, y) for x in (0.0, 0.5, 1.0) for y in (0.5, 0.9)], area=[0.2],
                resolution=[(96, 96)])


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2),
                                  nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 1000))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


@pytest.fixture(scope="module")
def built(sample_fg: Path, sample_bg: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    result = build(grid(), out, foregrounds=sample_fg, backgrounds=sample_bg, min_pct_inside=0.4,
                   progress=False)
    assert result.complete and result.filtered > 0  # the filter is exercised
    return out


def test_same_pixels_and_predictions_as_the_built_dataset(built: Path, sample_fg: Path,
                                                          sample_bg: Path, tmp_path: Path) -> None:
    ds = RenderedDataset.from_grid(grid(), foregrounds=sample_fg, backgrounds=sample_bg,
                                   min_pct_inside=0.4)
    info = load_dataset(built)
    assert sorted(ds.image_ids) == sorted(info.metadata["image_id"].tolist())
    path_of = dict(zip(info.metadata["image_id"], info.metadata["path"]))
    for position in (0, 7, len(ds) - 1):
        img, _visible = ds.render(position)
        on_disk = np.asarray(Image.open(built / path_of[ds.image_ids[position]]).convert("RGB"))
        assert np.array_equal(np.asarray(img), on_disk)

    fly = evaluate(TinyCNN(), to_tensor, ds, tmp_path / "fly.csv", batch_size=16, workers=2,
                   logits=True, progress=False)
    disk = evaluate(TinyCNN(), to_tensor, built, tmp_path / "disk.csv", batch_size=16, logits=True,
                    progress=False)
    assert fly.complete and disk.complete
    a, b = read_predictions(tmp_path / "fly.csv"), read_predictions(tmp_path / "disk.csv")
    assert a["top1"].nunique() > 1  # the network tells images apart
    pd.testing.assert_frame_equal(a, b)
    la, lb = np.load(SidePaths(tmp_path / "fly.csv").logits), np.load(SidePaths(tmp_path / "disk.csv").logits)
    assert la["image_id"].tolist() == lb["image_id"].tolist()
    np.testing.assert_allclose(la["logits"], lb["logits"], rtol=1e-5, atol=1e-5)

    # the metadata-only dataset folder written beside the predictions reads like the build
    meta_dir = SidePaths(tmp_path / "fly.csv").dataset
    assert (meta_dir / "metadata.csv").read_text() == (built / "metadata.csv").read_text()
    side = load_dataset(meta_dir)
    assert side.classes == info.classes and side.imagenet == info.imagenet
    # a grid of one's own is no paper subset; its factors come from the grid, as in the build
    assert side.subset is None and info.subset is None
    assert side.factors == info.factors == ["x_coord", "y_coord"]


def test_cli_on_the_fly_equals_cli_on_the_build(built: Path, sample_fg: Path, sample_bg: Path,
                                                tmp_path: Path) -> None:
    (tmp_path / "grid.toml").write_text(GRID_TOML)
    runner = CliRunner()
    common = ["--model", "mobilenet_v3_small", "--random-weights", "--crop", "32", "--batch-size", "32",
              "-q"]
    r = runner.invoke(main, ["evaluate", "--config", str(tmp_path / "grid.toml"), "--foregrounds",
                             str(sample_fg), "--backgrounds", str(sample_bg), "--workers", "1",
                             "--out", str(tmp_path / "fly.csv"), *common])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["evaluate", "--dataset", str(built), "--workers", "0",
                             "--out", str(tmp_path / "disk.csv"), *common])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(read_predictions(tmp_path / "fly.csv"),
                                  read_predictions(tmp_path / "disk.csv"))
    r = runner.invoke(main, ["evaluate", "--config", str(tmp_path / "grid.toml"), "--foregrounds",
                             str(sample_fg), "--backgrounds", str(sample_bg),
                             "--out", str(tmp_path / "fly.csv"), *common[:-1]])
    assert r.exit_code == 0, r.output
    assert "0 now" in r.output and "from the cache" in r.output


def test_on_the_fly_resume_completes_metadata(built: Path, sample_fg: Path, sample_bg: Path,
                                              tmp_path: Path) -> None:
    ds = RenderedDataset.from_grid(grid(), to_tensor, foregrounds=sample_fg, backgrounds=sample_bg,
                                   min_pct_inside=0.4)
    out = tmp_path / "fly.csv"
    first = evaluate(TinyCNN(), None, ds, out, limit=20, batch_size=8, progress=False)
    assert len(first.predictions) == 20 and not first.complete
    side = SidePaths(out).dataset / "metadata.csv"
    assert len(pd.read_csv(side)) == 20
    rest = evaluate(TinyCNN(), None, ds, out, batch_size=8, progress=False)
    assert (rest.reused, rest.evaluated) == (20, len(ds) - 20)
    assert side.read_text() == (built / "metadata.csv").read_text()
    disk = evaluate(TinyCNN(), to_tensor, built, batch_size=16, progress=False)
    pd.testing.assert_frame_equal(read_predictions(out), disk.predictions)
