"""The optional classifier check of `siscore backgrounds filter` (real torch inference)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from click.testing import CliRunner
from PIL import Image
from skimage import data
from torch import nn

from siscore.backgrounds import filter_folder
from siscore.backgrounds.model_check import (
    ModelCheck,
    ModelCheckError,
    load_model_check,
    parse_classes,
    square_views,
    study_classes,
)
from siscore.cli import main

CUP = 968  # ImageNet-1k "cup", the built-in label map's entry for "cup"


def blue_detector() -> nn.Module:
    """A tiny ImageNet-shaped classifier: the bluer the photo, the surer it is of "cup"."""
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 1000))
    with torch.no_grad():
        net[2].weight.zero_()
        net[2].bias.zero_()
        net[2].weight[CUP] = torch.tensor([-60.0, -60.0, 120.0])
    return net.eval()


def to_tensor(img: Image.Image) -> torch.Tensor:
    return TF.to_tensor(img.resize((64, 64), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.grass()).save(d / "grass.png")
    Image.fromarray(data.brick()).save(d / "brick.png")
    buf = io.BytesIO()
    Image.fromarray(data.rocket()).save(buf, "JPEG", quality=92)  # dusk sky: blue
    (d / "rocket.jpg").write_bytes(buf.getvalue())
    Image.fromarray(data.coffee()).save(d / "coffee.png")  # rejected before the model runs
    return d


def test_square_views_cover_the_whole_photo() -> None:
    img = Image.new("RGB", (900, 300))
    boxes = [v.size for v in square_views(img)]
    assert boxes == [(300, 300)] * 3
    assert len(square_views(Image.new("RGB", (300, 300)))) == 1
    tall = Image.new("RGB", (300, 500))
    tall.paste((255, 0, 0), (0, 490, 300, 500))  # a red strip at the very bottom
    views = square_views(tall)
    assert all(v.size == (300, 300) for v in views)
    assert np.asarray(views[-1])[-1, 0].tolist() == [255, 0, 0]


def test_object_at_the_edge_is_seen_through_the_end_square(tmp_path: Path) -> None:
    arr = np.full((300, 900, 3), 128, np.uint8)
    arr[:, 800:] = (0, 0, 255)  # a blue thing at the right end only
    Image.fromarray(arr).save(tmp_path / "edge.png")
    check = ModelCheck(blue_detector(), to_tensor, {"cup": (CUP,)}, folder=tmp_path)
    label, prob = check(["edge.png"])["edge.png"]
    assert label == "cup" and prob > 0.99
    centre_only = ModelCheck(blue_detector(), to_tensor, {"cup": (CUP,)}).probabilities(
        Image.fromarray(arr[:, 300:600]))
    assert centre_only[0] < 0.01


def test_filter_rejects_what_the_model_sees(photos: Path, tmp_path: Path) -> None:
    check = ModelCheck(blue_detector(), to_tensor, study_classes(["cup", "zebra"]), max_prob=0.3,
                       name="blue-detector", folder=photos)
    result = filter_folder(photos, tmp_path / "lib", model=check, sheet=False)
    rows = {r["file"]: r for r in result.rows}
    assert rows["rocket.jpg"]["decision"] == "rejected"
    assert rows["rocket.jpg"]["reason"].startswith("model blue-detector sees 'cup': p=")
    assert "(--max-prob)" in rows["rocket.jpg"]["reason"]
    assert rows["grass.png"]["decision"] == rows["brick.png"]["decision"] == "kept"
    assert rows["grass.png"]["model_prob"] < 0.01  # checked, and clean
    assert rows["coffee.png"]["model_class"] == ""  # rejected earlier: never shown to the model
    with open(tmp_path / "lib" / "filter_report.csv", newline="") as f:
        report = {r["file"]: r for r in csv.DictReader(f)}
    assert report["rocket.jpg"]["model_class"] == "cup" and float(report["rocket.jpg"]["model_prob"]) > 0.3


def test_classes_and_their_errors(tmp_path: Path) -> None:
    assert study_classes(["cup"]) == {"cup": (CUP,)}
    with pytest.raises(ModelCheckError, match=r"'unicorn' is not in the label map; add a row"):
        study_classes(["unicorn"])
    custom = tmp_path / "map.csv"
    custom.write_text("label,imagenet_index\nunicorn,339\n")
    assert study_classes(["unicorn"], custom) == {"unicorn": (339,)}
    (tmp_path / "fg" / "cup").mkdir(parents=True)
    (tmp_path / "fg" / "zebra").mkdir()
    assert parse_classes(str(tmp_path / "fg")) == ["cup", "zebra"]
    assert parse_classes(" cup, zebra ") == ["cup", "zebra"]
    with pytest.raises(ModelCheckError, match="--max-prob 1.5"):
        ModelCheck(blue_detector(), to_tensor, {"cup": (CUP,)}, max_prob=1.5)


def test_loader_needs_weights_and_says_which_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelCheckError, match="has random weights, which recognise nothing; use a "
                       "pretrained model .efficientnet_lite0"):
        load_model_check("resnet18", classes=["cup"])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelCheckError) as exc:
        load_model_check("resnet18", classes=["cup"], weights="IMAGENET1K_V1", offline=True)
    message = str(exc.value)
    assert message.startswith("--model resnet18: weights ResNet18_Weights.IMAGENET1K_V1")
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-") in message


def test_cli_model_check_with_a_checkpoint(photos: Path, tmp_path: Path) -> None:
    """A real torchvision network loaded from a state dict by siscore.evaluate.models."""
    import torchvision

    net = torchvision.models.mobilenet_v3_small(weights=None)
    with torch.no_grad():  # a head that reads "cup" in every photo
        net.classifier[-1].weight.zero_()
        net.classifier[-1].bias.zero_()
        net.classifier[-1].bias[CUP] = 10.0
    checkpoint = tmp_path / "cup-everywhere.pt"
    torch.save(net.state_dict(), checkpoint)
    out = tmp_path / "lib"
    res = CliRunner().invoke(main, [
        "backgrounds", "filter", str(photos), "--out", str(out), "--no-sheet", "-q",
        "--model", "mobilenet_v3_small", "--checkpoint", str(checkpoint),
        "--classes", "cup,zebra", "--max-prob", "0.5"])
    assert res.exit_code == 0, res.output
    with open(out / "filter_report.csv", newline="") as f:
        report = {r["file"]: r for r in csv.DictReader(f)}
    for name in ("grass.png", "brick.png", "rocket.jpg"):
        assert report[name]["decision"] == "rejected"
        assert report[name]["reason"].startswith("model mobilenet_v3_small sees 'cup': p=0.9")
    res = CliRunner().invoke(main, ["backgrounds", "filter", str(photos), "--out", str(out),
                                    "--model", "mobilenet_v3_small"])
    assert res.exit_code == 1 and "has random weights" in res.output


def test_object_mode_with_a_real_model_names_the_class(tmp_path: Path) -> None:
    """EfficientNet-Lite0 (real ImageNet weights) rejects a sky with a macaw, keeps the sky."""
    pytest.importorskip("efficientnet_lite_pytorch")
    from siscore.backgrounds.model_check import (
        GEOLOGICAL_FORMATIONS,
        SCENERY_CLASSES,
        object_classes,
    )
    from siscore.generate.assets import embedded_assets

    fg, bg = embedded_assets()
    photos = tmp_path / "photos"
    photos.mkdir()
    with Image.open(bg / "sky_clouds.jpg") as sky:
        sky = sky.convert("RGB")
    sky.save(photos / "sky.jpg", quality=92)
    with Image.open(next((fg / "macaw").glob("*.png"))) as bird:
        bird = bird.convert("RGBA").crop(bird.convert("RGBA").getbbox())
    scale = 0.8 * min(sky.size) / max(bird.size)
    bird = bird.resize((round(bird.width * scale), round(bird.height * scale)), Image.BICUBIC)
    with_bird = sky.copy()
    with_bird.paste(bird, ((sky.width - bird.width) // 2, (sky.height - bird.height) // 2), bird)
    with_bird.save(photos / "sky_with_macaw.jpg", quality=92)
    out = tmp_path / "lib"
    res = CliRunner().invoke(main, ["backgrounds", "filter", str(photos), "--out", str(out),
                                    "--no-sheet", "-q", "--model", "efficientnet_lite0", "--max-object-contrast", "off",
                                    "--max-centre-focus", "off", "--max-clutter", "off",
                                    "--device", "cpu"])
    assert res.exit_code == 0, res.output
    with open(out / "filter_report.csv", newline="") as f:
        report = {r["file"]: r for r in csv.DictReader(f)}
    assert report["sky.jpg"]["decision"] == "kept"
    assert float(report["sky.jpg"]["model_prob"]) < 0.3
    assert report["sky_with_macaw.jpg"]["decision"] == "rejected"
    assert report["sky_with_macaw.jpg"]["reason"].startswith("model efficientnet_lite0 sees 'macaw'")
    names = object_classes()
    assert len(names) == 1000 - len(SCENERY_CLASSES) and "seashore" not in names
    assert sorted(GEOLOGICAL_FORMATIONS.values())[:3] == ["alp", "cliff", "coral reef"]
    assert len(object_classes(scenery=GEOLOGICAL_FORMATIONS)) == 990
