"""Compositing quality: premultiplied resampling, no fringes, exact clipping."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siscore.generate.compose import (
    composite,
    encode,
    premultiply,
    prepare_background,
    resample_object,
    square_crop_box,
)


def soft_white_disc(size: int = 240) -> np.ndarray:
    """A white disc whose alpha falls off over 12 px; transparent pixels are *black*
    (the worst case for straight-alpha interpolation)."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - size / 2 + 0.5, yy - size / 2 + 0.5)
    alpha = np.clip((size * 0.4 - r) / 12.0, 0, 1)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
    rgba[..., :3][alpha > 0] = 255
    return rgba


@pytest.mark.parametrize("size,angle", [((80, 80), 0), ((80, 80), 21), ((150, 150), 301), ((300, 300), 0)])
def test_white_soft_edge_on_black_and_white_has_no_fringe(size, angle) -> None:
    obj = resample_object(premultiply(soft_white_disc()), size, angle)
    black = np.zeros((400, 400, 3), np.uint8)
    white = np.full((400, 400, 3), 255, np.uint8)
    on_black = composite(black, obj, 20, 30)
    on_white = composite(white, obj, 20, 30)
    # on white, a white object leaves the image white: any dark ring would show
    assert on_white.min() >= 254
    # on black, a white object shows exactly its alpha: no darker or lighter ring
    h, w = obj.shape[:2]
    alpha = obj[..., 3].astype(int)
    got = on_black[30 : 30 + h, 20 : 20 + w].astype(int)
    assert np.abs(got - alpha[..., None]).max() <= 1


def test_straight_alpha_resize_would_fringe() -> None:
    """The failure the premultiplied path avoids: a straight-alpha resize darkens the edge."""
    naive = np.asarray(Image.fromarray(soft_white_disc(), "RGBA").convert("RGB").resize((80, 80), Image.BILINEAR))
    alpha = np.asarray(Image.fromarray(soft_white_disc()[..., 3]).resize((80, 80), Image.BILINEAR))
    edge = (alpha > 20) & (alpha < 235)
    assert naive[edge].min() < 250  # colour pulled towards the black of transparent pixels


def test_composite_clips_at_every_border() -> None:
    bg = np.full((50, 60, 3), 10, np.uint8)
    obj = np.zeros((20, 30, 4), np.uint8)
    obj[...] = (200, 100, 50, 255)
    for x0, y0, inside in [(-10, -5, 20 * 15), (50, 40, 10 * 10), (-40, 0, 0), (0, 0, 600)]:
        out = composite(bg, obj, x0, y0)
        assert int((out[..., 0] == 200).sum()) == inside
        assert bg[0, 0, 0] == 10  # the input is never modified


def test_composite_half_alpha_rounds_exactly() -> None:
    bg = np.full((4, 4, 3), 100, np.uint8)
    obj = np.zeros((4, 4, 4), np.uint8)
    obj[..., 3] = 128
    obj[..., :3] = 128  # premultiplied white at alpha 128
    out = composite(bg, obj, 0, 0)
    assert (out == 128 + round(100 * 127 / 255)).all()


def test_prepare_background_crops_square_then_resizes() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, 300:] = 255  # the right quarter is white
    top_left = prepare_background(img, (100, 100), "topleft")
    centred = prepare_background(img, (100, 100), "center")
    assert top_left.shape == (100, 100, 3) and top_left.max() == 0  # white lies outside
    assert centred[:, -1].min() > 200  # centred square [50, 350) holds white on the right
    assert square_crop_box(400, 300, "topleft") == (0, 0, 300, 300)
    with pytest.raises(ValueError, match="unknown crop mode"):
        square_crop_box(4, 4, "middle")


def test_resample_rejects_straight_alpha() -> None:
    with pytest.raises(ValueError, match="premultiplied"):
        resample_object(Image.new("RGBA", (4, 4)), (2, 2), 0)


def test_encode_jpeg_and_png_round_trip() -> None:
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    import io

    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode(img, "png")))), img)
    jpg = Image.open(io.BytesIO(encode(img, "jpg", 90)))
    assert jpg.format == "JPEG" and jpg.size == (32, 32)
    with pytest.raises(ValueError, match="jpg or png"):
        encode(img, "gif")


@pytest.mark.parametrize("area,angle", [(0.2, 21), (0.5, 141), (0.05, 301), (1.0, 61), (0.2, 90)])
def test_objects_land_where_the_original_pipeline_puts_them(sample_fg, area, angle) -> None:
    """One resampling from the source gives the same silhouette as the original's
    resize-then-rotate (alpha IoU >= 0.99, centroid within 0.3 px)."""
    from siscore.generate.geometry import scaled_size

    for path in sorted(sample_fg.glob("*/*.png")):
        src = Image.open(path).convert("RGBA")
        size = scaled_size(src.width, src.height, 512, 512, area)
        ours = resample_object(premultiply(np.asarray(src)), size, angle)[..., 3] > 127
        ref = np.asarray(src.resize(size, Image.BILINEAR).rotate(angle, Image.BICUBIC, expand=True))[..., 3] > 127
        assert ours.shape == ref.shape
        assert (ours & ref).sum() / (ours | ref).sum() >= 0.99, path.name
        (ya, xa), (yb, xb) = np.nonzero(ours), np.nonzero(ref)
        assert abs(xa.mean() - xb.mean()) < 0.3 and abs(ya.mean() - yb.mean()) < 0.3, path.name
