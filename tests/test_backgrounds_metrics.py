"""Scores, perceptual hash and decoding of `siscore backgrounds` on real photos."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from siscore.backgrounds import metrics
from siscore.backgrounds.phash import distance, from_hex, near_duplicates, phash, to_hex
from siscore.backgrounds.scan import BadImage, decode, list_folder
from siscore.backgrounds.thresholds import Thresholds


def _rgb(grey: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def _jpeg_roundtrip(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_measure_returns_every_score() -> None:
    scores = metrics.measure(data.astronaut())
    assert set(scores) == set(metrics.SCORE_COLUMNS)
    assert all(isinstance(v, float) and np.isfinite(v) for v in scores.values())


def test_sharpness_falls_with_blur() -> None:
    grass = _rgb(data.grass())
    sharp = [metrics.measure(cv2.GaussianBlur(grass, (0, 0), s))["sharpness"] for s in (0.5, 2, 5)]
    assert sharp[0] > 10 * sharp[1] and sharp[1] > 5 * sharp[2]
    assert sharp[2] < Thresholds().min_sharpness < metrics.measure(grass)["sharpness"]


def test_exposure_counts_clipped_pixels() -> None:
    bright = np.clip(data.coffee().astype(int) * 3, 0, 255).astype(np.uint8)
    highlights, shadows = metrics.exposure(metrics.grey_of(bright))
    assert highlights > Thresholds().max_highlights and shadows < 0.01
    dark = (data.coffee() // 12).astype(np.uint8)
    assert metrics.exposure(metrics.grey_of(dark))[1] > Thresholds().max_shadows


def test_object_contrast_separates_an_object_from_a_texture() -> None:
    assert metrics.object_contrast(data.coffee()) > Thresholds().max_object_contrast
    assert metrics.object_contrast(_rgb(data.gravel())) < 5
    # the same cup pasted on plain grass is found; a flat image scores 0
    scene = _rgb(data.grass())
    scene[150:350, 150:350] = cv2.resize(data.coffee()[80:330, 150:450], (200, 200))
    assert metrics.object_contrast(scene) > 2 * metrics.object_contrast(_rgb(data.grass()))
    assert metrics.object_contrast(np.full((200, 300, 3), 90, np.uint8)) < 1e-3


def test_centre_focus_finds_a_subject_in_focus_in_a_blurred_surround() -> None:
    cat = data.chelsea()
    assert metrics.centre_focus(metrics.grey_of(cat)) > Thresholds().max_centre_focus
    blurred_sides = _rgb(data.grass())
    blurred_sides[:, :170] = cv2.GaussianBlur(blurred_sides[:, :170], (0, 0), 6)
    blurred_sides[:, 342:] = cv2.GaussianBlur(blurred_sides[:, 342:], (0, 0), 6)
    assert metrics.centre_focus(metrics.grey_of(blurred_sides)) > 1.0
    assert abs(metrics.centre_focus(metrics.grey_of(_rgb(data.grass())))) < 0.2


def test_scores_do_not_depend_much_on_the_file_resolution() -> None:
    photo = data.astronaut()
    big = cv2.resize(photo, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    a, b = metrics.measure(photo), metrics.measure(cv2.resize(big, (512, 512), interpolation=cv2.INTER_AREA))
    for key in ("object_contrast", "centre_focus", "clutter"):
        assert a[key] == pytest.approx(b[key], rel=0.15, abs=0.02), key


def test_phash_survives_resizing_and_jpeg_but_not_another_photo() -> None:
    photo = data.astronaut()
    h = phash(photo)
    assert distance(h, phash(cv2.resize(photo, (200, 200), interpolation=cv2.INTER_AREA))) <= 2
    assert distance(h, phash(_jpeg_roundtrip(photo, 30))) <= 4
    others = [data.coffee(), data.chelsea(), data.rocket(), _rgb(data.grass()), _rgb(data.camera())]
    assert min(distance(h, phash(o)) for o in others) > 16
    assert from_hex(to_hex(h)) == h and len(to_hex(h)) == 16
    with pytest.raises(ValueError, match="16-digit"):
        from_hex("abc")


def test_near_duplicates_keep_the_first_copy() -> None:
    a, b = phash(data.astronaut()), phash(data.coffee())
    near_a = a ^ 0b111  # 3 bits away
    assert near_duplicates([a, b, near_a], 10) == {2: (0, 3)}
    assert near_duplicates([near_a, a], 10) == {1: (0, 3)}
    assert near_duplicates([a, b, near_a], 2) == {}
    assert near_duplicates([a, a], -1) == {}


def test_decode_downscales_and_reports_the_full_size(tmp_path: Path) -> None:
    big = cv2.resize(data.coffee(), (1800, 1200))
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    rgb, size = decode(tmp_path / "big.jpg", 512)
    assert size == (1800, 1200) and max(rgb.shape[:2]) == 512 and rgb.shape[2] == 3
    small, size = decode(tmp_path / "big.jpg", 4000)  # never upscaled
    assert small.shape[:2] == (1200, 1800)


def test_decode_applies_exif_orientation_and_odd_modes(tmp_path: Path) -> None:
    img = Image.fromarray(data.coffee())  # 600x400
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees
    img.save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    rgb, size = decode(tmp_path / "rotated.jpg", 1000)
    assert size == (400, 600) and rgb.shape[:2] == (600, 400)
    sixteen = (data.camera().astype(np.uint16) * 257)
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    rgb, _ = decode(tmp_path / "deep.png", 512)
    assert rgb.dtype == np.uint8 and abs(int(rgb[..., 0].mean()) - int(data.camera().mean())) <= 1
    rgba = np.dstack([data.coffee(), np.full(data.coffee().shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    rgb, _ = decode(tmp_path / "alpha.png", 1000)
    assert rgb[0, 0].tolist() == [255, 255, 255]  # transparent -> white, as siscore.generate.assets does


def test_decode_and_list_bad_input(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 garbage")
    (tmp_path / "b.txt").write_text("hello")
    (tmp_path / ".hidden.jpg").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    with pytest.raises(BadImage, match="unreadable or truncated image"):
        decode(tmp_path / "a.jpg", 512)
    with pytest.raises(BadImage, match="file not found"):
        decode(tmp_path / "missing.jpg", 512)
    images, bad = list_folder(tmp_path)
    assert [p.name for p in images] == ["a.jpg"]
    assert [(b.file, b.reason.split(" (")[0]) for b in bad] == [("b.txt", "not an image file"),
                                                               ("sub", "sub-folder ignored")]
    with pytest.raises(FileNotFoundError, match="folder does not exist"):
        list_folder(tmp_path / "nope")
