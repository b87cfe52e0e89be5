"""Tiled JPEG: splicing re-encoded tiles into a background's JPEG gives the bytes of a whole
encode, which decode to the pixels of Pillow's plain JPEG; the renderer's spliced images
equal its rendered ones, encoded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from siscore.generate import compose, jpeg
from siscore.generate.assets import embedded_assets
from siscore.generate.build import make_plan
from siscore.generate.factors import Grid
from siscore.generate.render import Renderer


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus noise: tiles that differ and compress to real sizes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w, 1), y * 255 / max(h, 1), (x + y) % 256], axis=-1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def _plain(image: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


@pytest.mark.parametrize(("width", "blocks"), [(512, 8), (500, 8), (384, 8), (224, 2), (40, 1), (16, 1), (7, 1)])
def test_tiles_never_span_two_rows(width, blocks) -> None:
    assert jpeg.restart_blocks(width) == blocks
    assert -(-width // jpeg.MCU) % blocks == 0


@pytest.mark.parametrize(("h", "w"), [(512, 512), (333, 500), (24, 40), (9, 7)])
@pytest.mark.parametrize("quality", [75, 95])
def test_splice_equals_encoding_the_whole_composite(h, w, quality) -> None:
    background = _photo(h, w, 0)
    tiled = jpeg.Tiled.of(background, quality)
    assert tiled.data == jpeg.encode(background, quality)
    rng = np.random.default_rng(1)
    for _ in range(12):
        x0, y0 = (int(v) for v in rng.integers(-w // 2, w, 2))
        ow, oh = (int(v) for v in rng.integers(1, max(2, w // 2), 2))
        box = (x0, y0, x0 + ow, y0 + oh)
        rect = tiled.aligned(*box)
        left, top, right, bottom = rect
        full = background.copy()
        patch = _photo(max(0, bottom - top), max(0, right - left), 2)
        full[top:bottom, left:right] = patch
        # rect covers the box (clipped to the image) with whole tiles
        assert left <= max(0, x0) and top <= max(0, y0)
        if right > left:
            assert right >= min(w, x0 + ow) and bottom >= min(h, y0 + oh)
        assert tiled.splice(rect, patch) == jpeg.encode(full, quality)


@pytest.mark.parametrize(("h", "w"), [(512, 512), (333, 500), (9, 7)])
@pytest.mark.parametrize("quality", [1, 30, 75, 95, 100])
def test_opencv_writes_the_bytes_pillow_writes(h, w, quality) -> None:
    image = _photo(h, w, 4)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality,
                                restart_marker_blocks=jpeg.restart_blocks(w))
    assert jpeg.encode(image, quality) == buf.getvalue()


def test_tiled_jpeg_decodes_to_the_pixels_of_a_plain_jpeg() -> None:
    image = _photo(500, 500, 3)
    tiled, plain = jpeg.encode(image, 75), _plain(image, 75)
    assert np.array_equal(_decode(tiled), _decode(plain))
    assert tiled.count(b"\xff\xdd") == 1  # one DRI marker
    assert len(tiled) < 1.05 * len(plain)


def test_patch_that_does_not_fill_its_rectangle_is_refused() -> None:
    tiled = jpeg.Tiled.of(_photo(64, 256, 0))
    rect = tiled.aligned(10, 10, 20, 20)
    assert rect == (0, 0, 128, 32)
    with pytest.raises(ValueError, match="does not fill"):
        tiled.splice(rect, np.zeros((16, 16, 3), np.uint8))
    assert tiled.splice((0, 0, 0, 0), np.zeros((0, 0, 3), np.uint8)) == tiled.data


@pytest.mark.parametrize("rotation", [0, 33, 90])
def test_renderer_splices_the_bytes_it_would_encode(rotation) -> None:
    """Objects inside, straddling every border and mostly outside, upright and rotated."""
    fg, bg = embedded_assets()
    locations = [(x, y) for x in (0.0, 0.3, 0.97) for y in (0.0, 0.6, 1.0)]
    grid = Grid(location=locations, area=[0.05, 0.3], rotation=[rotation], resolution=[(200, 136)])
    plan = make_plan(grid, foregrounds=fg, backgrounds=bg)[0]
    renderer = Renderer(plan)
    checked = 0
    for image_id in range(0, len(plan), 3):
        item = plan.item(image_id)
        image, visible, _ = renderer.render(item)
        data, visible_spliced, _ = renderer.encode(item, "jpg", 80)
        assert data == compose.encode(image, "jpg", 80)
        assert visible_spliced == visible
        checked += 1
    assert checked >= 12
    assert renderer.coded.misses <= len(plan.backgrounds)


@pytest.mark.parametrize("interventions", [
    {"occluder": [0.3], "horizontal_flip": [True]},  # foreground stage: spliced
    {"background_blur": [2.0]},  # the whole image changes: encoded whole
    {"blend": ["poisson"]},
    {"jpeg_quality": [20]},
])
def test_renderer_encodes_the_same_bytes_with_interventions(interventions) -> None:
    fg, bg = embedded_assets()
    grid = Grid(location=[(0.5, 0.5), (0.05, 0.9)], area=[0.2], rotation=[0, 45],
                resolution=[(96, 96)], **interventions)
    plan = make_plan(grid, foregrounds=fg, backgrounds=bg)[0]
    renderer = Renderer(plan)
    for image_id in range(0, len(plan), 5):
        item = plan.item(image_id)
        image, visible, records = renderer.render(item)
        assert renderer.encode(item, "jpg", 75) == (compose.encode(image, "jpg", 75), visible, records)
        assert renderer.encode(item, "png", 75)[0] == compose.encode(image, "png", 75)
