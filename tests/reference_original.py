"""An independent re-implementation of the original generator's per-image geometry.

It works on real Pillow images exactly as ``dataset_generator.py`` does
(resize, rotate with expand, centre placement, box-based pct_inside), so the
tests can check that siscore's pure geometry gives the same numbers.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def original_geometry(fg: Image.Image, bg_size: tuple[int, int], area: float, angle: float,
                      x: float, y: float) -> tuple[tuple[int, int], tuple[int, int], float]:
    """(rotated canvas size, top-left, pct_inside unrounded) as the original computes them.

    Geometry does not depend on pixel values, so a blank image of the cut-out's size
    stands in for it (much faster, same Pillow calls).
    """
    fg = Image.new("L", fg.size)
    bg_w, bg_h = bg_size
    ratio = fg.height * fg.width / (bg_w * bg_h)
    factor = np.sqrt(area / ratio)
    resized = fg.resize((int(fg.width * factor), int(fg.height * factor)), Image.BILINEAR)
    rotated = resized.rotate(angle, resample=Image.BICUBIC, expand=True)
    cx, cy = int(x * bg_w), int(y * bg_h)
    x0, y0 = int(cx - rotated.width * 0.5), int(cy - rotated.height * 0.5)
    x1, y1 = x0 + rotated.width, y0 + rotated.height
    inside = (min(x1, bg_w) - max(x0, 0)) * (min(y1, bg_h) - max(y0, 0))
    return rotated.size, (x0, y0), inside / (rotated.width * rotated.height)
