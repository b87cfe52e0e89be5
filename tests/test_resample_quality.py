"""Object resampling against a slow high-quality reference (Lanczos in floating point).

Issue 15 asks for PSNR >= 40 dB on the premultiplied colour and alpha IoU >= 0.995. The
median over a representative subset of the paper's sizes and angles must meet it with
margin (45 dB, 0.998); every single object must come within 2 dB and 0.01 of it (the
finest textures rotated, and objects of a few hundred pixels, fall just short: see
``benchmarks/bench_resample.py`` for the full sweep over every size and angle).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siscore.generate.compose import Prepared, Pyramid, premultiply, prepare, resample_object
from siscore.generate.geometry import scaled_size
from tests.resample_reference import quality, reference_object

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "foregrounds"
# (area, angle) cells of the size and rotation subsets: smallest, middle and largest sizes,
# upright and three angles
CELLS = [(0.01, 0), (0.2, 0), (1.0, 0), (0.2, 21), (0.5, 141), (1.0, 301)]


def _check(paths: list[Path], cells=CELLS, resolution=(512, 512)) -> None:
    psnr, iou = [], []
    for path in paths:
        straight = np.asarray(Image.open(path).convert("RGBA"))
        pyramid = Pyramid.of(premultiply(straight))
        for area, angle in cells:
            size = scaled_size(straight.shape[1], straight.shape[0], *resolution, area)
            q = quality(resample_object(pyramid, size, angle), reference_object(straight, size, angle))
            assert q["psnr"] >= 38 and q["iou"] >= 0.985, (path.name, area, angle, q)
            psnr.append(q["psnr"])
            iou.append(q["iou"])
    assert np.median(psnr) >= 45 and np.median(iou) >= 0.998, (np.median(psnr), np.median(iou))


def test_embedded_cutouts_match_the_reference() -> None:
    _check(sorted(ASSETS.glob("*/*.png"))[::2])


def test_sample_cutouts_match_the_reference(sample_fg: Path) -> None:
    _check(sorted(sample_fg.glob("*/*.png")), cells=CELLS[::2] + [(0.8, 61)])


def test_prepared_level_is_shared_by_every_angle_of_a_size() -> None:
    straight = np.asarray(Image.open(sorted(ASSETS.glob("*/*.png"))[0]).convert("RGBA"))
    pyramid = Pyramid.of(premultiply(straight))
    prep = prepare(pyramid, (120, 90), 21)
    for angle in (21, 141, 301):
        assert np.array_equal(resample_object(prep, (120, 90), angle), resample_object(pyramid, (120, 90), angle))
    with pytest.raises(ValueError, match="rotated"):
        resample_object(prep, (120, 90), 90)


def test_pyramid_levels_halve_until_small_with_a_level_between() -> None:
    pyramid = Pyramid.of(premultiply(np.zeros((300, 200, 4), np.uint8)))
    assert [lv.shape[:2] for lv in pyramid.levels] == [(300, 200), (150, 100), (75, 50), (37, 25)]
    assert pyramid.level_for(40, 60).shape[:2] == (150, 100)  # the smallest >= 2x the target
    assert pyramid.level_for(30, 45).shape[:2] == (106, 71)  # made from the halving above when needed
    assert pyramid.level_for(30, 45) is pyramid.level_for(30, 45)
    assert pyramid.level_for(60, 90).shape[:2] == (212, 141)
    assert pyramid.level_for(300, 400) is pyramid.levels[0]  # enlarging starts from the source
    assert pyramid.level_for(1, 1).shape[:2] == (37, 25)
    assert pyramid.level_for(30, 45, between=False).shape[:2] == (150, 100)
    assert pyramid.level_for(1, 1, between=False).shape[:2] == (37, 25)


def test_sizes_of_a_band_share_one_level_made_the_same_whoever_asks_first() -> None:
    straight = np.asarray(Image.open(sorted(ASSETS.glob("*/*.png"))[0]).convert("RGBA"))
    h, w = straight.shape[:2]
    sizes = [(round(w * s), round(h * s)) for s in (0.5, 0.505, 0.51)]
    keys = {Prepared.key_for(size, 0) for size in sizes}
    assert len(keys) == 1 and next(iter(keys))[0] == "band"
    first = prepare(Pyramid.of(premultiply(straight)), sizes[0], 0)
    last = prepare(Pyramid.of(premultiply(straight)), sizes[-1], 180)
    assert np.array_equal(first.level, last.level)
    for size in sizes:
        assert np.array_equal(resample_object(first, size, 0), resample_object(Pyramid.of(premultiply(straight)), size, 0))
    with pytest.raises(ValueError, match="upright objects of band"):
        resample_object(first, (w // 4, h // 4), 0)


@pytest.mark.parametrize("size,angle", [((60, 60), 0), ((150, 150), 0), ((40, 40), 0), ((90, 90), 90)])
def test_an_opaque_cutout_stays_opaque_to_its_edges(size, angle) -> None:
    """The low-pass renormalises its taps at the cut-out's edges, as Pillow does: a solid
    square scaled down stays solid, its border pixels included."""
    solid = np.full((400, 400, 4), 255, np.uint8)
    out = resample_object(Pyramid.of(premultiply(solid)), size, angle)
    assert out.shape[:2] == size[::-1] and (out[..., 3] >= 254).all(), out[..., 3].min()


@pytest.mark.parametrize("shape", [(3, 3), (1, 200), (200, 1), (17, 33), (300, 40)])
def test_tiny_and_thin_cutouts_resample_at_any_size_and_angle(shape) -> None:
    """Levels smaller than the low-pass's taps (a 3 px cut-out shrunk, a 1 px line) work too,
    and colour never exceeds alpha."""
    rng = np.random.default_rng(0)
    pyramid = Pyramid.of(premultiply(rng.integers(0, 256, (*shape, 4), dtype=np.uint8)))
    for size in [(1, 1), (2, 5), (40, 7), (65, 80), (100, 300), (500, 20)]:
        for angle in (0, 90, 21, 301):
            out = resample_object(pyramid, size, angle)
            assert out.dtype == np.uint8 and out.shape[2] == 4
            assert (out[..., :3] <= out[..., 3:4]).all(), (shape, size, angle)
