"""`backgrounds filter --model` (object mode): plants, crops, flowers, fungi and landscape are
scenery, not objects; the objects SI-SCORE pastes (fruit included) stay objects. Real
EfficientNet-Lite0 weights on the SI-SCORE sample photos."""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from siscore.backgrounds.model_check import SCENERY_CLASSES, SCENERY_GROUPS, object_classes
from siscore.backgrounds.thresholds import MODEL_MAX_PROB
from siscore.cli import main
from siscore.formats.labels import load_label_map


def imagenet_names() -> list[str]:
    text = files("siscore").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def test_the_scenery_list_names_imagenet_classes_and_no_foreground_class() -> None:
    names = imagenet_names()
    assert all(names[i] == name for i, name in SCENERY_CLASSES.items())
    assert len(SCENERY_CLASSES) == sum(len(g) for g in SCENERY_GROUPS.values())  # no overlap
    assert {"rapeseed", "daisy", "corn", "agaric", "hay", "maze", "alp"} <= set(
        SCENERY_CLASSES.values())
    foreground = {i for indices in load_label_map(None).values() for i in indices}
    assert not foreground & set(SCENERY_CLASSES)  # every class SI-SCORE pastes is an object
    objects = object_classes()
    assert len(objects) == 1000 - len(SCENERY_CLASSES)
    assert {"strawberry", "lemon", "mushroom", "vase", "zebra"} <= set(objects)
    assert "rapeseed" not in objects and "seashore" not in objects


def paste(background: Path, foreground: Path, out: Path, share: float = 0.5) -> None:
    """``foreground`` (a cut-out) centred on ``background``, its long side ``share`` of the
    short side of the photo."""
    with Image.open(background) as bg, Image.open(foreground) as fg:
        bg, fg = bg.convert("RGB"), fg.convert("RGBA")
        fg = fg.crop(fg.getbbox())
        scale = share * min(bg.size) / max(fg.size)
        fg = fg.resize((round(fg.width * scale), round(fg.height * scale)), Image.BICUBIC)
        bg.paste(fg, ((bg.width - fg.width) // 2, (bg.height - fg.height) // 2), fg)
        bg.save(out, quality=92)


def test_nature_photos_are_kept_and_fruit_on_them_rejected(samples: Path, tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    photos = tmp_path / "photos"
    photos.mkdir()
    field, forest = samples / "backgrounds" / "field1.jpg", samples / "backgrounds" / "forest1.jpeg"
    for src in (field, forest):
        (photos / src.name).write_bytes(src.read_bytes())
    for fruit, background, share in (("lemon", field, 0.9), ("strawberry", forest, 0.7)):
        paste(background, next((samples / "foregrounds" / fruit).glob("*.png")),
              photos / f"{background.stem}_with_{fruit}.jpg", share)
    out = tmp_path / "lib"
    res = CliRunner().invoke(main, [
        "backgrounds", "filter", str(photos), "--out", str(out), "--no-sheet", "-q",
        "--model", "efficientnet_lite0", "--device", "cpu", "--max-object-contrast", "off",
        "--max-centre-focus", "off", "--max-clutter", "off", "--max-saliency-peak", "off"])
    assert res.exit_code == 0, res.output
    with open(out / "filter_report.csv", newline="") as f:
        report = {r["file"]: r for r in csv.DictReader(f)}
    # a rapeseed field ('rapeseed' p=0.95) and a palm grove ('maze' 0.34) were rejected before
    for name in ("field1.jpg", "forest1.jpeg"):
        assert report[name]["decision"] == "kept", report[name]
        assert float(report[name]["model_prob"]) <= MODEL_MAX_PROB == 0.2
    for name, fruit in (("field1_with_lemon.jpg", "lemon"),
                        ("forest1_with_strawberry.jpg", "strawberry")):
        row = report[name]
        assert row["decision"] == "rejected", row
        assert row["reason"].startswith(f"model efficientnet_lite0 sees '{fruit}'"), row
