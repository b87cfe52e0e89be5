"""Geometry against hand-computed cases, Pillow itself and the original generator's arithmetic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from siscore.generate.factors import SUBSETS
from siscore.generate.geometry import (
    pct_inside,
    place,
    rotated_size,
    scaled_size,
    top_left,
    visible_box,
)
from tests.reference_original import original_geometry


def test_scaled_size_hand_computed() -> None:
    # 100x50 object, 500x500 image, 20 %: ratio 0.02, factor sqrt(10) = 3.1623 -> 316.2 x 158.1
    assert scaled_size(100, 50, 500, 500, 0.2) == (316, 158)
    # the area is that of the bounding image: a 50x50 object at 1 % of 512x512 -> 51.2 -> 51
    assert scaled_size(50, 50, 512, 512, 0.01) == (51, 51)
    # 100 % of the image for a square object is the image itself
    assert scaled_size(37, 37, 512, 512, 1.0) == (512, 512)


@pytest.mark.parametrize("w,h", [(101, 57), (64, 64), (300, 211), (1, 9)])
def test_rotated_size_matches_pillow_expand(w: int, h: int) -> None:
    img = Image.new("RGBA", (w, h))
    for angle in [0, 1, 21, 45, 89.5, 90, 141, 180, 201, 270, 301, 341, 359]:
        assert rotated_size(w, h, angle) == img.rotate(angle, expand=True).size, angle


def test_centre_placement_and_truncation() -> None:
    # centre 250; an odd 101-wide canvas starts at int(250 - 50.5) = 199
    assert top_left(0.5, 0.5, 101, 101, 500, 500) == (199, 199)
    # x = 0.05 on 500 px: cx = 25; a 60 px canvas starts at -5
    assert top_left(0.05, 0.0, 60, 40, 500, 500) == (-5, -20)
    # int() truncates towards zero: int(25 - 50.5) = -25, not -26
    assert top_left(0.05, 0.05, 101, 101, 500, 500) == (-25, -25)


@pytest.mark.parametrize(
    "x,y,expected",
    [((0.5), (0.5), 1.0), (0.0, 0.5, 0.5), (1.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.0, 0.0, 0.25),
     (1.0, 1.0, 0.25), (0.0, 1.0, 0.25)],
)
def test_pct_inside_at_edges_and_corners(x: float, y: float, expected: float) -> None:
    x0, y0 = top_left(x, y, 100, 100, 500, 500)
    assert pct_inside(x0, y0, 100, 100, 500, 500) == pytest.approx(expected)


def test_pct_inside_odd_canvas_and_outside() -> None:
    # 101 px canvas centred on the left edge: starts at int(0 - 50.5) = -50, 51 columns inside
    x0, y0 = top_left(0.0, 0.5, 101, 100, 500, 500)
    assert pct_inside(x0, y0, 101, 100, 500, 500) == pytest.approx(51 / 101)
    assert pct_inside(600, 600, 50, 50, 500, 500) == 0.0
    assert visible_box(-10, 490, 30, 30, 500, 500) == (10, 0, 30, 10)


def test_place_combines_scale_rotation_and_position() -> None:
    p = place((100, 50), (500, 500), 0.2, 90, 0.5, 0.5)
    assert p.size == (316, 158) and p.canvas == (158, 316)
    assert p.top_left == (int(250 - 79.0), int(250 - 158.0))
    assert p.pct_inside == 1.0


def _sample_images(sample_fg):
    return [Image.open(p) for p in sorted(sample_fg.glob("*/*.png"))]


def test_size_and_rotation_match_original_on_real_assets(sample_fg) -> None:
    """pct_inside and the kept set equal the original generator's for every (object, cell)."""
    fgs = _sample_images(sample_fg)
    for name in ("size", "rotation"):
        subset = SUBSETS[name]
        res = subset.grid.resolution.values[0]
        cells = itertools.product(subset.grid.factors[0].values, subset.grid.factors[1].values,
                                  subset.grid.factors[2].values)
        for (x, y), area, angle in cells:
            for fg in fgs:
                size, corner, inside = original_geometry(fg, res, area, angle, x, y)
                ours = place(fg.size, res, area, angle, x, y)
                assert (ours.canvas, ours.top_left) == (size, corner)
                assert ours.pct_inside == inside
                assert (ours.pct_inside >= subset.min_pct_inside) == (inside >= subset.min_pct_inside)


def test_location_matches_original_on_real_assets(sample_fg) -> None:
    fgs = _sample_images(sample_fg)
    grid = SUBSETS["location"].grid
    for (x, y) in grid.factors[0].values[::7]:
        for fg in fgs:
            size, corner, inside = original_geometry(fg, (500, 500), 0.2, 0, x, y)
            ours = place(fg.size, (500, 500), 0.2, 0, x, y)
            assert (ours.canvas, ours.top_left, round(ours.pct_inside, 4)) == (size, corner, round(inside, 4))


def test_paper_subsets_have_table1_sizes() -> None:
    grids = {k: s.grid for k, s in SUBSETS.items()}
    assert grids["size"].size == 100 and grids["location"].size == 441 and grids["rotation"].size == 72
    assert grids["location"].resolution.values == ((500, 500),)
    assert grids["rotation"].factors[2].values[:3] == (1, 21, 41)
    assert np.allclose(grids["size"].factors[1].values, np.arange(1, 101) / 100)
