"""The shipped assets (assets/) and the cut-out tooling that made them (siscore/cutout.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siscore.extract.cutout import (
    clean_mask,
    cutout_rgba,
    grabcut_mask,
    mask_bbox,
    mask_iou,
    resize_rgba,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FOREGROUNDS = sorted((ASSETS / "foregrounds").glob("*/*.png"))
BACKGROUNDS = sorted((ASSETS / "backgrounds").glob("*.jpg"))
ALLOWED_LICENCES = {"Public domain", "CC0-1.0", "CC-BY-4.0"}


def _rel(path: Path) -> str:
    return path.relative_to(ASSETS).as_posix()


# --- the shipped files -------------------------------------------------------------------


def test_enough_assets_and_small_enough():
    classes = {p.parent.name for p in FOREGROUNDS}
    assert len(classes) >= 5, classes
    assert len(BACKGROUNDS) >= 6
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total < 4_000_000, f"assets/ is {total / 1e6:.2f} MB"


@pytest.mark.parametrize("path", FOREGROUNDS, ids=_rel)
def test_foreground_is_a_tight_rgba_cutout(path: Path):
    assert path.parent.name == path.parent.name.lower(), "labels are lowercase class names"
    with Image.open(path) as img:
        assert img.mode == "RGBA"
        rgba = np.asarray(img)
    alpha = rgba[..., 3]
    assert max(alpha.shape) <= 600
    assert (alpha == 0).any() and (alpha == 255).any()
    assert (alpha == 255).sum() > 0.7 * (alpha > 0).sum(), "only the edge may be soft"
    # tightly cropped: no fully transparent border row or column
    for edge in (alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]):
        assert edge.any()
    # nothing of the original background hides under alpha 0
    assert not rgba[alpha == 0, :3].any()


@pytest.mark.parametrize("path", BACKGROUNDS, ids=_rel)
def test_background_is_a_large_enough_rgb_jpeg(path: Path):
    assert path.stat().st_size < 300_000
    with Image.open(path) as img:
        assert img.format == "JPEG"
        rgb = np.asarray(img.convert("RGB"))
    assert min(rgb.shape[:2]) >= 640
    assert rgb.std() > 5, "a photograph, not a flat colour"


def test_attribution_names_every_file_with_an_allowed_licence():
    text = (ASSETS / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for path in FOREGROUNDS + BACKGROUNDS:
        assert f"`{_rel(path)}`" in text, f"{_rel(path)} is not credited"
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    assert len(sections) == len(FOREGROUNDS) + len(BACKGROUNDS)
    for section in sections:
        licence = re.search(r"^- Licence: (.+?) <", section, re.M)
        assert licence and licence.group(1) in ALLOWED_LICENCES, section.splitlines()[0]
        assert re.search(r"^- Author: \S", section, re.M)
        assert re.search(r"^- Changes: \S", section, re.M)


# --- issue 11: what the first cut-outs kept of their photos --------------------------------


def _make_assets():
    """tools/make_assets.py as a module (its specs; nothing is downloaded or written)."""
    import importlib.util
    import sys

    if "make_assets" not in sys.modules:
        path = ASSETS.parent / "tools" / "make_assets.py"
        spec = importlib.util.spec_from_file_location("make_assets", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_assets"] = module  # its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules["make_assets"]


@pytest.mark.parametrize("path", FOREGROUNDS, ids=_rel)
def test_foreground_is_one_piece(path: Path):
    """No loose piece (a fin cut off by the box, a speck of ground): one opaque component."""
    import cv2

    opaque = (np.asarray(Image.open(path))[..., 3] >= 128).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(opaque, connectivity=8)
    areas = sorted(stats[1:, cv2.CC_STAT_AREA], reverse=True)
    assert areas[0] >= 0.999 * opaque.sum(), areas[:4]


def test_puffer_carries_no_water():
    """The puffer's first cut-out kept a patch of its source's blue water under the tail."""
    rgba = _load_rgba("foregrounds/puffer/spotted_puffer.png").astype(int)
    r, g, b = rgba[..., 0], rgba[..., 1], rgba[..., 2]
    opaque = rgba[..., 3] >= 128
    water = opaque & (b > 120) & (b > g + 40) & (r < 60)  # the deep blue of the photo's sea
    assert water.sum() <= 0.001 * opaque.sum(), f"{water.sum()} water-blue pixels"


def test_german_shepherd_has_no_ground_between_its_front_legs():
    """Rows across the lower front legs show two legs with a transparent gap, not grass."""
    opaque = _load_rgba("foregrounds/german shepherd/german_shepherd.png")[..., 3] >= 128
    h, w = opaque.shape
    for y in range(int(0.81 * h), int(0.94 * h)):
        row = opaque[y, int(0.66 * w): int(0.86 * w)].astype(int)
        runs = np.flatnonzero(np.diff(np.r_[0, row, 0])).reshape(-1, 2)
        gaps = runs[1:, 0] - runs[:-1, 1]
        assert len(runs) >= 2 and gaps.max() >= 8, (y, runs.tolist())


def test_seabed_crop_leaves_out_the_fish_and_matches_its_credit():
    """sea1.webp has a fish at (30-95, 850-885); the crop must leave it out."""
    m = _make_assets()
    fish = m.SEABED_FISH
    spec = next(b for b in m.BACKGROUNDS if b.out == "seabed.jpg")
    assert spec.crop is not None
    x0, y0, x1, y1 = spec.crop
    assert fish[2] <= x0 or fish[0] >= x1 or fish[3] <= y0 or fish[1] >= y1
    with Image.open(ASSETS / "backgrounds" / "seabed.jpg") as img:
        size = img.size
    assert size[1] == spec.short_side and abs(size[0] / size[1] - (x1 - x0) / (y1 - y0)) < 0.01
    text = (ASSETS / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert f"cropped to {spec.crop}, resized to {size[0]}x{size[1]} px" in text


@pytest.mark.parametrize("name", ["puffer/spotted_puffer.png", "german shepherd/german_shepherd.png"])
def test_cleaned_cutouts_are_credited_with_their_hints(name: str):
    """ATTRIBUTION.md lists the box and hints that tools/make_assets.py uses now."""
    m = _make_assets()
    spec = next(f for f in m.FOREGROUNDS if f.out == name)
    with Image.open(ASSETS / "foregrounds" / name) as img:
        size = img.size
    assert m._fg_notes(spec, size) in (ASSETS / "ATTRIBUTION.md").read_text(encoding="utf-8")


# --- siscore.extract.cutout on a real photo --------------------------------------------------------


def _load_rgba(rel: str) -> np.ndarray:
    return np.asarray(Image.open(ASSETS / rel).convert("RGBA"))


def _composite(fg_rel: str, bg_rel: str, size: int, obj: int, at: tuple[int, int]):
    """Paste a shipped cut-out (long side ``obj``) onto a ``size`` square crop of a background."""
    fg = resize_rgba(_load_rgba(fg_rel), obj)
    bg = np.asarray(Image.open(ASSETS / bg_rel).convert("RGB"))[:size, :size].astype(np.float32)
    h, w = fg.shape[:2]
    x, y = at
    a = fg[..., 3:4].astype(np.float32) / 255.0
    bg[y : y + h, x : x + w] = bg[y : y + h, x : x + w] * (1 - a) + fg[..., :3] * a
    truth = np.zeros((size, size), bool)
    truth[y : y + h, x : x + w] = fg[..., 3] >= 128
    return np.round(bg).astype(np.uint8), truth, (x, y, x + w, y + h)


@pytest.mark.parametrize(
    ("fg", "bg"),
    [
        ("foregrounds/ram/sheep.png", "backgrounds/meadow_grass.jpg"),
        ("foregrounds/macaw/scarlet_macaw.png", "backgrounds/sky_clouds.jpg"),
        ("foregrounds/cup/espresso_cup.png", "backgrounds/seabed.jpg"),
    ],
)
def test_grabcut_recovers_a_pasted_cutout(fg: str, bg: str):
    image, truth, (x0, y0, x1, y1) = _composite(fg, bg, size=320, obj=200, at=(60, 70))
    box = (x0 - 8, y0 - 8, x1 + 8, y1 + 8)
    mask = clean_mask(grabcut_mask(image, box, iterations=5, seed=0))
    assert mask_iou(mask, truth) >= 0.9
    assert not mask[: y0 - 8].any() and not mask[:, : x0 - 8].any(), "nothing outside the box"


def test_grabcut_is_deterministic_and_hints_are_obeyed():
    image, truth, (x0, y0, x1, y1) = _composite(
        "foregrounds/ox/holstein_cow.png", "backgrounds/alpine_meadow.jpg", 256, 180, (40, 60)
    )
    box = (x0 - 6, y0 - 6, x1 + 6, y1 + 6)
    a = grabcut_mask(image, box, seed=3)
    b = grabcut_mask(image, box, seed=3)
    assert a.dtype == bool and a.shape == image.shape[:2]
    assert np.array_equal(a, b)
    hinted = grabcut_mask(image, box, hints=[("bg", (x0, y0, x0 + 40, y1)), ("fg", (0, 0, 4, 4))])
    assert not hinted[y0:y1, x0 : x0 + 40].any()
    assert hinted[:4, :4].all()
    with pytest.raises(ValueError):
        grabcut_mask(image, box, hints=[("maybe", (0, 0, 4, 4))])
    with pytest.raises(ValueError):
        grabcut_mask(image, (10, 10, 10, 50))


# --- siscore.extract.cutout helpers ----------------------------------------------------------------


def test_clean_mask_islands_holes_and_erosion():
    m = np.zeros((60, 60), bool)
    m[10:40, 10:40] = True  # object, 900 px
    m[20:24, 20:24] = False  # a hole
    m[50:52, 50:52] = True  # a speck: 4 px < 1% of 900
    m[2:8, 50:56] = True  # an island: 36 px > 1% of 900
    out = clean_mask(m)
    assert out[20:24, 20:24].all() and not out[50:52, 50:52].any() and out[2:8, 50:56].all()
    assert not clean_mask(m, fill_holes=False)[20:24, 20:24].any()
    assert not clean_mask(m, max_hole_frac=0.01)[20:24, 20:24].any()  # 16 px hole > 9 px limit
    eroded = clean_mask(m, erode_px=2)
    assert eroded.sum() < out.sum() and not eroded[10:12].any() and eroded[20:30, 20:30].all()
    assert not clean_mask(np.zeros((5, 5), bool)).any()
    assert np.array_equal(m, m.copy()), "input left untouched"


def test_cutout_rgba_crops_tightly_and_feathers_inwards():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    mask = np.zeros((50, 70), bool)
    mask[12:40, 20:61] = True
    hard = cutout_rgba(image, mask)
    assert hard.shape == (28, 41, 4) and hard.dtype == np.uint8
    assert (hard[..., 3] == 255).all()
    assert np.array_equal(hard[..., :3], image[12:40, 20:61])
    soft = cutout_rgba(image, mask, feather_px=2.0)
    assert soft.shape == hard.shape
    assert 0 < soft[0, 10, 3] < 255 and soft[14, 20, 3] == 255
    assert (soft[..., 3] > 0).all(), "feathering never turns mask pixels fully transparent"
    assert mask_bbox(mask) == (20, 12, 61, 40)
    with pytest.raises(ValueError):
        cutout_rgba(image, np.zeros((50, 70), bool))


def test_resize_rgba_keeps_colour_at_edges_and_stays_tight():
    rgba = np.zeros((100, 200, 4), np.uint8)
    rgba[20:80, 10:190] = (200, 40, 40, 255)
    small = resize_rgba(rgba, 50)
    assert max(small.shape[:2]) <= 50
    for edge in (small[0], small[-1], small[:, 0], small[:, -1]):
        assert edge[..., 3].any()
    visible = small[..., 3] > 0
    assert np.abs(small[visible][:, :3].astype(int) - (200, 40, 40)).max() <= 2, "no dark fringe"
    assert resize_rgba(rgba, 500).shape == rgba.shape


def test_mask_iou():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    assert mask_iou(a, b) == 1.0
    a[:5] = True
    b[:, :5] = True
    assert mask_iou(a, b) == pytest.approx(25 / 75)
    assert mask_iou(a, a) == 1.0
    with pytest.raises(ValueError):
        mask_iou(a, np.zeros((5, 5), bool))
