"""Cut-out tooling: segment an object in a photo and turn it into a tight RGBA cut-out.

The embedded assets are made with these functions (see ``tools/make_assets.py``):
``grabcut_mask`` seeds OpenCV's GrabCut with a box (and optional hint
rectangles), ``clean_mask`` removes specks and fills holes, and ``cutout_rgba``
crops the object with an optionally feathered alpha edge. ``resize_rgba``
scales a cut-out without dark fringes and ``mask_iou`` compares masks.
All functions are pure: they never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Box = tuple[int, int, int, int]
"""A rectangle ``(x0, y0, x1, y1)`` in pixels; ``x1``/``y1`` are exclusive."""

Hint = tuple[str, Box]
"""A GrabCut hint: ``(kind, box)`` with kind ``fg``/``bg`` (certain) or ``pr_fg``/``pr_bg`` (probable)."""

_HINT_VALUES = {
    "fg": cv2.GC_FGD,
    "bg": cv2.GC_BGD,
    "pr_fg": cv2.GC_PR_FGD,
    "pr_bg": cv2.GC_PR_BGD,
}


def _as_rgb(image_rgb: np.ndarray) -> np.ndarray:
    img = np.asarray(image_rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    return img


def _clip_box(box: Sequence[int], width: int, height: int) -> Box:
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, x1 = max(0, min(x0, width)), max(0, min(x1, width))
    y0, y1 = max(0, min(y0, height)), max(0, min(y1, height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"box {tuple(box)} is empty inside a {width}x{height} image")
    return x0, y0, x1, y1


def grabcut_mask(
    image_rgb: np.ndarray,
    box: tuple[int, int, int, int],
    iterations: int = 5,
    seed: int = 0,
    hints: Sequence[Hint] = (),
) -> np.ndarray:
    """Segment the object inside ``box`` with OpenCV GrabCut; returns a bool HxW mask.

    Everything outside ``box`` is background; inside it starts as probable
    foreground. ``hints`` are rectangles painted over that seed in order
    (``fg``/``bg`` are hard constraints, ``pr_fg``/``pr_bg`` soft ones); they
    are clipped to the image. ``cv2.setRNGSeed(seed)`` makes the result
    deterministic.
    """
    img = _as_rgb(image_rgb)
    h, w = img.shape[:2]
    x0, y0, x1, y1 = _clip_box(box, w, h)
    seed_mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    seed_mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
    for kind, rect in hints:
        if kind not in _HINT_VALUES:
            raise ValueError(f"unknown hint kind {kind!r}; expected one of {sorted(_HINT_VALUES)}")
        hx0, hy0, hx1, hy1 = (int(v) for v in rect)
        seed_mask[max(0, hy0) : max(0, hy1), max(0, hx0) : max(0, hx1)] = _HINT_VALUES[kind]
    if not np.isin(seed_mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        raise ValueError("the box and hints leave no foreground to segment")
    cv2.setRNGSeed(int(seed))
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(img[..., ::-1])
    cv2.grabCut(bgr, seed_mask, None, bgd_model, fgd_model, int(iterations), cv2.GC_INIT_WITH_MASK)
    return (seed_mask == cv2.GC_FGD) | (seed_mask == cv2.GC_PR_FGD)


def clean_mask(
    mask: np.ndarray,
    min_island_frac: float = 0.01,
    fill_holes: bool = True,
    erode_px: int = 0,
    max_hole_frac: float = 1.0,
) -> np.ndarray:
    """Tidy a binary mask: keep the largest component plus islands, fill holes, erode.

    Components smaller than ``min_island_frac`` of the largest one are dropped.
    With ``fill_holes``, enclosed background regions up to ``max_hole_frac`` of
    the object area are filled (lower it to keep real holes such as a cup
    handle's). ``erode_px`` then shrinks the mask by that many pixels.
    """
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"expected an HxW mask, got shape {m.shape}")
    if not m.any():
        return m.copy()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= max(1.0, float(min_island_frac) * areas.max())) + 1
    keep = np.union1d(keep, [int(np.argmax(areas)) + 1])
    out = np.isin(labels, keep)
    if fill_holes:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (~out).astype(np.uint8), connectivity=4
        )
        border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        limit = float(max_hole_frac) * out.sum()
        holes = [
            i for i in range(1, count) if i not in border and stats[i, cv2.CC_STAT_AREA] <= limit
        ]
        if holes:
            out |= np.isin(labels, holes)
    if erode_px > 0:
        k = 2 * int(erode_px) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        out = (
            cv2.erode(out.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            > 0
        )
    return out


def mask_bbox(mask: np.ndarray) -> Box:
    """Bounding box ``(x0, y0, x1, y1)`` (exclusive ends) of a non-empty mask."""
    m = np.asarray(mask).astype(bool)
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask is empty")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def cutout_rgba(image_rgb: np.ndarray, mask: np.ndarray, feather_px: float = 0.0) -> np.ndarray:
    """Crop the masked object to an HxWx4 uint8 cut-out, tight to the mask's bounding box.

    Alpha is 255 on the mask and 0 elsewhere (RGB is zeroed there). A positive
    ``feather_px`` softens the edge inwards: alpha ramps up over about that
    many pixels from the boundary, so nothing outside the mask becomes visible.
    """
    img = _as_rgb(image_rgb)
    m = np.asarray(mask).astype(bool)
    if m.shape != img.shape[:2]:
        raise ValueError(f"mask shape {m.shape} does not match image shape {img.shape[:2]}")
    x0, y0, x1, y1 = mask_bbox(m)
    m = m[y0:y1, x0:x1]
    rgb = img[y0:y1, x0:x1]
    if feather_px > 0:
        padded = np.pad(m, 1).astype(np.uint8)
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        alpha = np.clip((dist - 0.5) / float(feather_px), 0.0, 1.0)
        alpha = np.where(m, np.maximum(alpha, 1.0 / 255.0), 0.0)
        a8 = np.round(alpha * 255.0).astype(np.uint8)
    else:
        a8 = np.where(m, 255, 0).astype(np.uint8)
    out = np.zeros((*a8.shape, 4), np.uint8)
    out[..., :3] = np.where(a8[..., None] > 0, rgb, 0)
    out[..., 3] = a8
    return out


def resize_rgba(rgba: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink a cut-out so its long side is at most ``max_side`` (premultiplied, no dark fringe).

    Returns a copy unchanged in size when it already fits; re-crops tightly
    afterwards so no fully transparent border row or column remains.
    """
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx4 uint8 image, got {arr.shape} {arr.dtype}")
    h, w = arr.shape[:2]
    scale = float(max_side) / max(h, w)
    if scale >= 1.0:
        return arr.copy()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    a = arr[..., 3:4].astype(np.float32) / 255.0
    premul = np.concatenate([arr[..., :3].astype(np.float32) * a, a * 255.0], axis=2)
    small = cv2.resize(premul, size, interpolation=cv2.INTER_AREA)
    alpha = small[..., 3:4]
    rgb = np.where(alpha > 0, small[..., :3] * 255.0 / np.maximum(alpha, 1e-6), 0.0)
    out = np.concatenate([rgb, alpha], axis=2)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    out[out[..., 3] == 0, :3] = 0
    if not out[..., 3].any():
        return out
    x0, y0, x1, y1 = mask_bbox(out[..., 3] > 0)
    return out[y0:y1, x0:x1].copy()


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two binary masks of the same shape (1.0 if both are empty)."""
    ma, mb = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    if ma.shape != mb.shape:
        raise ValueError(f"mask shapes differ: {ma.shape} vs {mb.shape}")
    union = np.logical_or(ma, mb).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(ma, mb).sum() / union)
