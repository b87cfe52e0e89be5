"""A slow, high-quality reference for object resampling, and the quality measures.

The reference resamples the straight cut-out, premultiplied in floating point, with
Lanczos-3 (Pillow's antialiased ``LANCZOS`` on ``F`` images): directly to the size when
upright; when rotated, to 4x the size, then an 8x8 Lanczos rotation (OpenCV
``INTER_LANCZOS4``, float) onto a 4x canvas, then Lanczos-3 down to the canvas. At 4x
the rotation only interpolates frequencies far below its grid's Nyquist limit, so the
result is a single Lanczos resample to within the measure's precision. The geometry is
the original generator's (:func:`siscore.generate.geometry.rotation_matrix`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from siscore.generate.geometry import rotation_matrix

SUPERSAMPLE = 4


def _lanczos(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an HxWxC float32 array to ``size`` (w, h), channel by channel, Lanczos-3."""
    return np.dstack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., i]), "F")
                                 .resize(size, Image.Resampling.LANCZOS))
                      for i in range(planes.shape[2])])


def reference_object(straight: np.ndarray, size: tuple[int, int], angle: float) -> np.ndarray:
    """The premultiplied object (float32, 0-255, HxWx4) of a straight RGBA cut-out at
    ``size`` (w, h) rotated by ``angle`` degrees CCW on the original's expanded canvas."""
    rgba = straight.astype(np.float32)
    rgba[..., :3] *= rgba[..., 3:4] / 255.0
    w, h = size
    angle = angle % 360.0
    if angle in (0.0, 90.0, 180.0, 270.0):
        out = _lanczos(rgba, (w, h))
        return np.ascontiguousarray(np.rot90(out, int(angle) // 90))
    k = SUPERSAMPLE
    fine = _lanczos(rgba, (k * w, k * h))
    (cw, ch), (a, b, c, d, e, f) = rotation_matrix(w, h, angle)
    m = np.array([[a, b, k * c], [d, e, k * f]], dtype=np.float64)
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5  # Pillow's pixel centres (x + 0.5) to OpenCV's
    rotated = cv2.warpAffine(fine, m, (k * cw, k * ch), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    return _lanczos(rotated, (cw, ch))


def _psnr(err: np.ndarray) -> float:
    mse = float(np.mean(err.astype(np.float64) ** 2)) if err.size else 0.0
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def quality(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """How close ``ours`` (premultiplied uint8) is to ``ref`` (:func:`reference_object`).

    ``psnr``: PSNR in dB of the premultiplied (alpha-weighted) colour over the canvas;
    ``psnr_object``: the same over the pixels where either has some alpha (stricter: the
    transparent surroundings do not count); ``iou``: IoU of the alpha masks at 50 %;
    ``soft_iou``: sum(min) / sum(max) of the alphas.
    """
    if ours.shape != ref.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs {ref.shape}")
    ref = np.clip(ref, 0, 255)
    ours = ours.astype(np.float32)
    err = ours[..., :3] - ref[..., :3]
    support = (ours[..., 3] > 0) | (ref[..., 3] > 0.5)
    a, b = ours[..., 3], ref[..., 3]
    ma, mb = a > 127.5, b > 127.5
    return {
        "psnr": _psnr(err),
        "psnr_object": _psnr(err[support]),
        "iou": float((ma & mb).sum() / max((ma | mb).sum(), 1)),
        "soft_iou": float(np.minimum(a, b).sum() / max(np.maximum(a, b).sum(), 1e-9)),
    }
