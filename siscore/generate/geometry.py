"""Pure geometry of the original SI-SCORE generator (no pixels involved).

Every function reproduces the arithmetic of ``dataset_generator.py`` (and of
Pillow's ``Image.rotate(expand=True)``) operation for operation, so that object
sizes, canvas sizes, positions and ``pct_inside_image`` are identical to the
original for the same assets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Affine = tuple[float, float, float, float, float, float]


def scaled_size(fg_w: int, fg_h: int, bg_w: int, bg_h: int, area: float) -> tuple[int, int]:
    """Size of a ``fg_w x fg_h`` cut-out resized to ``area`` of a ``bg_w x bg_h`` image.

    ``area`` is the fraction of the background covered by the cut-out's bounding
    image; sizes are truncated, as in the original.
    """
    fg_area_ratio = (fg_h * fg_w) / (bg_w * bg_h)
    factor = math.sqrt(area / fg_area_ratio)
    return int(fg_w * factor), int(fg_h * factor)


def rotation_matrix(w: int, h: int, angle: float) -> tuple[tuple[int, int], Affine]:
    """Canvas size and inverse affine map of Pillow's ``rotate(angle, expand=True)``.

    The matrix maps output coordinates to input coordinates (Pillow's AFFINE
    convention). ``angle`` is in degrees, counter-clockwise.
    """
    angle = angle % 360.0
    if angle == 0:
        return (w, h), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    if angle == 180:
        return (w, h), (-1.0, 0.0, float(w), 0.0, -1.0, float(h))
    if angle == 90:
        return (h, w), (0.0, -1.0, float(w), 1.0, 0.0, 0.0)
    if angle == 270:
        return (h, w), (0.0, 1.0, 0.0, -1.0, 0.0, float(h))
    cx, cy = w / 2, h / 2
    rad = -math.radians(angle)
    a, b = round(math.cos(rad), 15), round(math.sin(rad), 15)
    d, e = round(-math.sin(rad), 15), round(math.cos(rad), 15)

    def apply(x: float, y: float, c: float, f: float) -> tuple[float, float]:
        return a * x + b * y + c, d * x + e * y + f

    c, f = apply(-cx, -cy, 0.0, 0.0)
    c += cx
    f += cy
    corners = [apply(x, y, c, f) for x, y in ((0, 0), (w, 0), (w, h), (0, h))]
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    nw = math.ceil(max(xs)) - math.floor(min(xs))
    nh = math.ceil(max(ys)) - math.floor(min(ys))
    c, f = apply(-(nw - w) / 2.0, -(nh - h) / 2.0, c, f)
    return (nw, nh), (a, b, c, d, e, f)


def rotated_size(w: int, h: int, angle: float) -> tuple[int, int]:
    """Canvas size of a ``w x h`` image rotated by ``angle`` with an expanded canvas."""
    return rotation_matrix(w, h, angle)[0]


def top_left(x: float, y: float, w: int, h: int, bg_w: int, bg_h: int) -> tuple[int, int]:
    """Top-left corner of a ``w x h`` canvas whose centre is at ``(x, y)`` in [0, 1]."""
    cx = int(x * bg_w)
    cy = int(y * bg_h)
    return int(cx - w * 0.5), int(cy - h * 0.5)


def visible_box(
    x0: int, y0: int, w: int, h: int, bg_w: int, bg_h: int
) -> tuple[int, int, int, int]:
    """The part ``(left, top, right, bottom)`` of a canvas at ``(x0, y0)`` inside the image.

    Coordinates are relative to the canvas; the box is empty (right <= left or
    bottom <= top) when the canvas lies entirely outside.
    """
    left, top = max(0, -x0), max(0, -y0)
    right, bottom = min(w, bg_w - x0), min(h, bg_h - y0)
    return left, top, max(left, right), max(top, bottom)


def pct_inside(x0: int, y0: int, w: int, h: int, bg_w: int, bg_h: int) -> float:
    """Fraction of the canvas's bounding box inside the image (unrounded).

    Identical to the original's ``calc_pct_inside_image`` whenever the canvas
    overlaps the image; a canvas entirely outside scores 0 (the original could
    return a positive number there).
    """
    left, top, right, bottom = visible_box(x0, y0, w, h, bg_w, bg_h)
    return (right - left) * (bottom - top) / (w * h)


@dataclass(frozen=True)
class Placement:
    """Where one object lands in one image."""

    size: tuple[int, int]  # object size after scaling, before rotation
    canvas: tuple[int, int]  # size after rotation (expanded canvas)
    top_left: tuple[int, int]
    pct_inside: float  # unrounded; the metadata rounds it to 4 decimals


def place(
    fg_size: tuple[int, int],
    bg_size: tuple[int, int],
    area: float,
    angle: float,
    x: float,
    y: float,
) -> Placement:
    """All geometry of one image: scale, rotate, position and pct_inside."""
    bg_w, bg_h = bg_size
    w, h = scaled_size(fg_size[0], fg_size[1], bg_w, bg_h, area)
    cw, ch = rotated_size(w, h, angle) if w > 0 and h > 0 else (w, h)
    x0, y0 = top_left(x, y, cw, ch, bg_w, bg_h)
    inside = pct_inside(x0, y0, cw, ch, bg_w, bg_h) if cw > 0 and ch > 0 else 0.0
    return Placement((w, h), (cw, ch), (x0, y0), inside)
