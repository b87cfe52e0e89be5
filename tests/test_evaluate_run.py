"""siscore.evaluate.evaluate: real CPU inference on a dataset folder in the official layout.

A tiny network (mean colour -> linear layer) makes every prediction computable
by hand: the expected logits are recomputed with NumPy from the decoded pixels.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from siscore.evaluate import (
    COLUMNS,
    EvaluateError,
    FolderDataset,
    ImageReadError,
    PredictionsError,
    SidePaths,
    evaluate,
    read_predictions,
)

CLASSES = {"bagel": 931, "lemon": 951, "zebra": 340}  # official foreground_classes.csv
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "mixed": (153, 0, 102)}
# (label, colour) per image: bagel<-red, zebra<-green, lemon<-blue are right; the others are not
IMAGES = [("bagel", "red"), ("bagel", "red"), ("bagel", "green"), ("lemon", "blue"),
          ("lemon", "red"), ("lemon", "mixed"), ("zebra", "green"), ("zebra", "blue"),
          ("zebra", "green"), ("bagel", "mixed"), ("lemon", "blue")]


class ColourNet(nn.Module):
    """logits = W @ mean RGB + b: red -> 931 (bagel), green -> 340 (zebra), blue -> 951 (lemon)."""

    def __init__(self, n_out: int = 1000) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.fc = nn.Linear(3, n_out)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(n_out, 3, generator=g) * 0.1)
            self.fc.bias.fill_(-3.0)
            for index, channel in ((931, 0), (340, 1), (951, 2)):
                if index < n_out:
                    self.fc.weight[index] = torch.zeros(3)
                    self.fc.weight[index, channel] = 10.0
                    self.fc.bias[index] = -5.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


def expected_logits(net: ColourNet, path: Path) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    w = net.fc.weight.detach().numpy().astype(np.float64)
    b = net.fc.bias.detach().numpy().astype(np.float64)
    return w @ pixels.reshape(-1, 3).mean(axis=0) + b


def write_official(root: Path, images: list[tuple[str, str]] = IMAGES) -> Path:
    """A dataset folder exactly as the official SI-SCORE downloads lay it out (no siscore files)."""
    root.mkdir()
    labels = sorted(CLASSES)
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "x_coord", "y_coord", "area", "rotation", "foreground_class",
                    "foreground_instance", "background", "bg_resolution_width",
                    "bg_resolution_height", "pct_inside_image"])
        for i, (label, colour) in enumerate(images):
            image_id = 10 * i + 3  # ids with gaps, as after filtering
            (root / label).mkdir(exist_ok=True)
            Image.new("RGB", (24, 24), COLOURS[colour]).save(root / label / f"{image_id}.jpg")
            w.writerow([image_id, 0.1 * (i % 3), 0.5, 0.2, 0, labels.index(label), 0, i % 2, 24, 24, 1.0])
    with open(root / "foreground_classes.csv", "w", newline="") as f:
        csv.writer(f).writerows([["int", "label"], *([CLASSES[c], c] for c in labels)])
    with open(root / "foreground_classes_metadata_indices.csv", "w", newline="") as f:
        csv.writer(f).writerows([["int", "label"], *([i, c] for i, c in enumerate(labels))])
    return root


@pytest.fixture()
def official(tmp_path: Path) -> Path:
    return write_official(tmp_path / "official")


def test_predictions_match_hand_computed_logits(official: Path, tmp_path: Path) -> None:
    net = ColourNet()
    out = tmp_path / "preds.csv"
    result = evaluate(net, to_tensor, official, out, name="colournet", batch_size=4, logits=True,
                      progress=False)
    assert result.complete and result.evaluated == len(IMAGES) and result.reused == 0
    df = read_predictions(out)
    assert list(df.columns) == COLUMNS
    assert df["image_id"].tolist() == [10 * i + 3 for i in range(len(IMAGES))]
    saved = np.load(SidePaths(out).logits)
    assert saved["image_id"].tolist() == df["image_id"].tolist()
    for row, (label, _colour), logits in zip(df.itertuples(), IMAGES, saved["logits"]):
        exp = expected_logits(net, official / label / f"{row.image_id}.jpg")
        np.testing.assert_allclose(logits, exp, rtol=0, atol=1e-4)
        top5 = np.argsort(-exp, kind="stable")[:5].tolist()
        assert row.top1 == top5[0]
        assert row.top5 == " ".join(map(str, top5))
        assert row.label == label and row.model == "colournet"
        assert row.correct1 == int(top5[0] == CLASSES[label])
        assert row.correct5 == int(CLASSES[label] in top5)
    # the designed cases: right, wrong, and right only within the top 5
    by_colour = {(lab, col): r for (lab, col), r in zip(IMAGES, df.itertuples())}
    assert by_colour[("bagel", "red")].correct1 == 1
    assert by_colour[("lemon", "red")].correct1 == 0 and by_colour[("lemon", "red")].correct5 == 0
    assert by_colour[("lemon", "mixed")].correct1 == 0 and by_colour[("lemon", "mixed")].correct5 == 1
    assert result.predictions.equals(df)


def test_several_valid_indices_per_label(official: Path) -> None:
    (official / "label_map.csv").write_text("label,imagenet_index\nbagel,931\nlemon,951 931\nzebra,340\n")
    df = evaluate(ColourNet(), to_tensor, official, progress=False).predictions
    lemon_as_bagel = df[(df["label"] == "lemon") & (df["top1"] == 931)]  # the red and mixed ones
    assert len(lemon_as_bagel) == 2 and lemon_as_bagel["correct1"].tolist() == [1, 1]


def test_model_with_dataset_classes_needs_output_classes(official: Path, tmp_path: Path) -> None:
    small = ColourNet(n_out=1000)
    with torch.no_grad():  # keep only three outputs: 340, 931, 951 in this order
        rows = small.fc.weight[[340, 931, 951]].clone(), small.fc.bias[[340, 931, 951]].clone()
    net = nn.Sequential()
    net.fc = nn.Linear(3, 3)
    with torch.no_grad():
        net.fc.weight.copy_(rows[0])
        net.fc.bias.copy_(rows[1])

    class Three(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = net.fc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.mean(dim=(2, 3)))

    with pytest.raises(EvaluateError, match="3 outputs, not the 1000 ImageNet-1k classes"):
        evaluate(Three(), to_tensor, official, progress=False)
    out = tmp_path / "three.csv"
    df = evaluate(Three(), to_tensor, official, out, output_classes=[340, 931, 951], logits=True,
                  progress=False).predictions
    saved = np.load(SidePaths(out).logits)
    assert saved["logits"].shape == (len(IMAGES), 3)
    assert saved["output_classes"].tolist() == [340, 931, 951]
    full = evaluate(ColourNet(), to_tensor, official, progress=False).predictions
    assert df["top1"].tolist() == full["top1"].tolist()
    assert df["correct1"].tolist() == full["correct1"].tolist()
    assert all(len(t.split()) == 3 for t in df["top5"])


class Interrupting(ColourNet):
    """ColourNet that stops the run (like Ctrl-C) at its ``stop_at``-th forward pass."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.stop_at = stop_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().forward(x)


def test_resume_after_interruption_and_torn_write(official: Path, tmp_path: Path) -> None:
    reference = evaluate(ColourNet(), to_tensor, official, tmp_path / "ref.csv", batch_size=2,
                         logits=True, progress=False)
    out = tmp_path / "preds.csv"
    with pytest.raises(KeyboardInterrupt):
        evaluate(Interrupting(stop_at=3), to_tensor, official, out, name="ColourNet",
                 batch_size=2, logits=True, progress=False)
    paths = SidePaths(out)
    assert not out.exists()  # nothing partial under the final name
    rows = (paths.partial / "rows.csv").read_text()
    assert rows.count("\n") == 4  # two batches of two were flushed
    with open(paths.partial / "rows.csv", "a") as f:  # a crash in the middle of a write
        f.write("83,931,931 3")
    result = evaluate(ColourNet(), to_tensor, official, out, batch_size=2, logits=True, progress=False)
    assert (result.reused, result.evaluated) == (4, len(IMAGES) - 4)
    df = read_predictions(out)
    assert df["image_id"].is_unique
    pd.testing.assert_frame_equal(df, read_predictions(tmp_path / "ref.csv"))
    a, b = np.load(paths.logits), np.load(SidePaths(tmp_path / "ref.csv").logits)
    assert a["image_id"].tolist() == b["image_id"].tolist()
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-6)
    assert not paths.partial.exists()
    assert json.loads(paths.meta.read_text())["complete"] is True
    assert reference.complete
    again = evaluate(ColourNet(), to_tensor, official, out, logits=True, progress=False)
    assert (again.evaluated, again.reused) == (0, len(IMAGES))


def test_limit_then_finish(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    first = evaluate(ColourNet(), to_tensor, official, out, limit=4, logits=True, progress=False)
    assert len(read_predictions(out)) == 4 and not first.complete
    assert json.loads(SidePaths(out).meta.read_text())["complete"] is False
    assert len(np.load(SidePaths(out).logits)["image_id"]) == 4
    rest = evaluate(ColourNet(), to_tensor, official, out, logits=True, progress=False)
    assert (rest.reused, rest.evaluated) == (4, len(IMAGES) - 4) and rest.complete
    df = read_predictions(out)
    assert df["image_id"].is_unique and len(df) == len(IMAGES)
    saved = np.load(SidePaths(out).logits)
    assert saved["image_id"].tolist() == df["image_id"].tolist()
    with pytest.raises(PredictionsError, match="was started with --logits"):
        evaluate(ColourNet(), to_tensor, official, out, progress=False)


def test_a_different_run_is_refused_unless_overwrite(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    evaluate(ColourNet(), to_tensor, official, out, progress=False)
    before = out.read_bytes()
    other = ColourNet()
    with torch.no_grad():
        other.fc.bias += 1.0
    with pytest.raises(PredictionsError, match=r"differs in: module_sha256.*--overwrite"):
        evaluate(other, to_tensor, official, out, progress=False)
    with pytest.raises(PredictionsError, match="differs in: transform"):
        evaluate(ColourNet(), lambda im: to_tensor(im) * 2, official, out, progress=False)
    assert out.read_bytes() == before  # nothing lost
    result = evaluate(other, to_tensor, official, out, overwrite=True, progress=False)
    assert result.evaluated == len(IMAGES)


def test_files_without_fingerprint_are_not_resumed(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    out.write_text("image_id,top1\n3,931\n")
    with pytest.raises(PredictionsError, match=r"preds.csv.meta.json.*--overwrite"):
        evaluate(ColourNet(), to_tensor, official, out, progress=False)
    assert out.read_text() == "image_id,top1\n3,931\n"


def test_missing_and_corrupt_images(official: Path, tmp_path: Path) -> None:
    (official / "zebra" / "63.jpg").unlink()
    with pytest.raises(EvaluateError, match=r"1 image\(s\) listed in metadata.csv are missing, e.g. zebra/63.jpg"):
        evaluate(ColourNet(), to_tensor, official, tmp_path / "p.csv", progress=False)
    assert list(tmp_path.glob("p.csv*")) == []  # refused before any file (no lone meta.json)
    Image.new("RGB", (24, 24)).save(official / "zebra" / "63.jpg")
    (official / "lemon" / "33.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageReadError, match=r"lemon/33.jpg: unreadable image"):
        evaluate(ColourNet(), to_tensor, official, tmp_path / "p.csv", progress=False)


def test_dataloader_workers_give_the_same_rows(official: Path) -> None:
    one = evaluate(ColourNet(), to_tensor, FolderDataset(official), batch_size=3, progress=False)
    two = evaluate(ColourNet(), to_tensor, official, batch_size=5, workers=2, progress=False)
    pd.testing.assert_frame_equal(one.predictions, two.predictions)


def test_amp_and_channels_last_on_cpu(official: Path, tmp_path: Path) -> None:
    plain = evaluate(ColourNet(), to_tensor, official, progress=False).predictions
    fast = evaluate(ColourNet(), to_tensor, official, tmp_path / "amp.csv", amp=True,
                    channels_last=True, device="cpu", progress=False)
    assert fast.device == "cpu"
    assert fast.predictions["top1"].tolist() == plain["top1"].tolist()  # bfloat16: same winners
    meta = json.loads(SidePaths(tmp_path / "amp.csv").meta.read_text())
    assert meta["fingerprint"]["amp"] is True
    with pytest.raises(EvaluateError, match="--device 'bogus'"):
        evaluate(ColourNet(), to_tensor, official, device="bogus", progress=False)
