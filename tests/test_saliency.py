"""Spectral-residual saliency and the saliency-avoiding background crop (siscore build --bg-crop)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from siscore.cli import main
from siscore.generate.compose import prepare_background, square_crop_box
from siscore.generate.saliency import least_salient_square, saliency_peak, spectral_residual


def _cat_patch(side: int = 140) -> np.ndarray:
    """The cat's face from scikit-image's 'chelsea' photo: a real, salient object."""
    return cv2.resize(data.chelsea()[40:260, 110:330], (side, side), interpolation=cv2.INTER_AREA)


def _plain(w: int, h: int) -> np.ndarray:
    """A smooth grey ramp with a little sensor-like noise (seeded)."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(60, 200, w), (h, 1))[..., None].repeat(3, axis=2)
    return np.clip(ramp + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)


def test_spectral_residual_is_a_normalised_map_of_the_image_size() -> None:
    img = data.astronaut()
    sal = spectral_residual(img)
    assert sal.shape == img.shape[:2]
    assert sal.dtype == np.float32
    assert sal.min() >= 0.0 and sal.max() <= 1.0 and sal.max() > 0.9
    # grey input works too, and a constant image has no salient content at all
    assert spectral_residual(data.camera()).shape == data.camera().shape
    assert not spectral_residual(np.full((50, 80, 3), 128, np.uint8)).any()


def test_saliency_peaks_on_a_pasted_object() -> None:
    img = _plain(600, 300)
    img[80:220, 20:160] = _cat_patch()
    sal = spectral_residual(img)
    inside, outside = sal[80:220, 20:160].mean(), sal[:, 300:].mean()
    assert inside > 3 * outside
    assert saliency_peak(sal) > saliency_peak(spectral_residual(data.grass()))


@pytest.mark.parametrize("x0, expected_side", [(20, "right"), (440, "left")])
def test_least_salient_square_avoids_the_object(x0: int, expected_side: str) -> None:
    img = _plain(600, 300)
    img[80:220, x0:x0 + 140] = _cat_patch()
    left, top = least_salient_square(img)
    assert top == 0 and 0 <= left <= 300
    assert (left >= x0 + 140) if expected_side == "right" else (left + 300 <= x0)
    # the same in a portrait photo: the square slides vertically
    left_t, top_t = least_salient_square(np.ascontiguousarray(img.transpose(1, 0, 2)))
    assert (left_t, top_t) == (0, left)


def test_least_salient_square_of_a_square_image_is_the_image() -> None:
    assert least_salient_square(data.astronaut()) == (0, 0)
    assert square_crop_box(512, 512, "saliency", data.astronaut()) == (0, 0, 512, 512)


def test_saliency_crop_of_a_real_photo(sample_bg: Path) -> None:
    """A cat pasted on the left of the SI-SCORE 'ocean1' photo pushes the square to the right."""
    img = np.asarray(Image.open(sample_bg / "ocean1.jpg").convert("RGB")).copy()
    h, w = img.shape[:2]
    img[150:290, 20:160] = _cat_patch()
    left, top = least_salient_square(img)
    assert top == 0 and left >= 160 and left + h <= w


def test_build_with_saliency_crop(tmp_path: Path) -> None:
    """`siscore build --bg-crop saliency` renders the square away from a salient object."""
    (tmp_path / "fg" / "cup").mkdir(parents=True)
    (tmp_path / "bg").mkdir()
    bg = _plain(600, 300)
    bg[80:220, 20:160] = _cat_patch()
    Image.fromarray(bg).save(tmp_path / "bg" / "cat_left.png")
    disk = np.zeros((64, 64, 4), np.uint8)
    cv2.circle(disk, (32, 32), 28, (200, 30, 30, 255), -1)
    Image.fromarray(disk, "RGBA").save(tmp_path / "fg" / "cup" / "disk.png")
    config = tmp_path / "grid.toml"
    config.write_text("[grid]\nlocation = [[0.1, 0.1]]\narea = [0.01]\nresolution = [150]\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "build", "--config", str(config), "--foregrounds", str(tmp_path / "fg"),
        "--backgrounds", str(tmp_path / "bg"), "--bg-crop", "saliency", "--bgs-per-fg", "1",
        "--format", "png", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "dataset.json").read_text())["spec"]
    assert spec["bg_crop"] == "saliency"
    rendered = np.asarray(Image.open(out / "cup" / "0.png").convert("RGB")).astype(int)
    want = prepare_background(bg, (150, 150), "saliency").astype(int)
    topleft = prepare_background(bg, (150, 150), "topleft").astype(int)
    region = (slice(40, 150), slice(40, 150))  # well away from the small object at (0.1, 0.1)
    assert np.abs(rendered[region] - want[region]).mean() < 1.0
    assert np.abs(rendered[region] - topleft[region]).mean() > 10.0
