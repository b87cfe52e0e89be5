"""Spectral-residual saliency (Hou & Zhang, CVPR 2007) with NumPy and OpenCV core.

The opencv-python wheels have no ``saliency`` module (it lives in
opencv-contrib), so the method is written out here: on a small greyscale copy
of the image (64 px on the long side), the log amplitude spectrum minus its
local (3x3) average is the *spectral residual*; transformed back with the
original phase, squared and smoothed, it highlights what stands out from the
image's regular statistics.

:func:`least_salient_square` picks the background square for
``siscore build --bg-crop saliency``: the largest square that holds the least
salient mass, i.e. the one that best avoids a prominent object.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Long side (pixels) of the copy the spectrum is computed on, as in the paper.
MAP_SIDE = 64
#: Standard deviation (in map pixels) of the Gaussian that smooths the map.
MAP_SIGMA = 2.5


def _grey(image_rgb: np.ndarray) -> np.ndarray:
    if image_rgb.ndim == 2:
        return image_rgb.astype(np.float32)
    if image_rgb.ndim != 3 or image_rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {image_rgb.shape}")
    rgb = np.ascontiguousarray(image_rgb[..., :3])
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def spectral_residual_small(image_rgb: np.ndarray, side: int = MAP_SIDE) -> np.ndarray:
    """The saliency map at ``side`` px on the long side (float32 in [0, 1]).

    A constant image has no salient content: its map is all zeros.
    """
    grey = _grey(image_rgb)
    h, w = grey.shape
    if h == 0 or w == 0:
        raise ValueError("empty image")
    scale = side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    if float(small.std()) < 1e-3:
        return np.zeros(small.shape, np.float32)
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REPLICATE)
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), MAP_SIGMA)
    sal -= sal.min()
    peak = float(sal.max())
    return sal / peak if peak > 0 else np.zeros_like(sal)


def spectral_residual(image_rgb: np.ndarray) -> np.ndarray:
    """The spectral-residual saliency map of an RGB (or grey) image: HxW float32 in [0, 1]."""
    small = spectral_residual_small(image_rgb)
    h, w = image_rgb.shape[:2]
    full = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(full, 0.0, 1.0)


def saliency_peak(sal: np.ndarray) -> float:
    """How concentrated a saliency map is: the share of its mass in its largest blob.

    Blobs are the connected regions above three times the mean saliency (the
    object threshold of Hou & Zhang). 0: saliency spread evenly (a texture);
    towards 1: one spot holds it all.
    """
    total = float(sal.sum())
    if total <= 0:
        return 0.0
    mask = (sal > 3.0 * sal.mean()).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return 0.0
    masses = np.bincount(labels.ravel(), weights=sal.ravel().astype(np.float64), minlength=n)[1:]
    return float(masses.max() / total)


def least_salient_square(image_rgb: np.ndarray) -> tuple[int, int]:
    """``(left, top)`` of the largest square (side ``min(w, h)``) holding the least saliency.

    The square slides along the long side; ties go to the position nearest the
    centre. A square image returns ``(0, 0)``.
    """
    h, w = image_rgb.shape[:2]
    side = min(w, h)
    if w == h:
        return 0, 0
    small = spectral_residual_small(image_rgb)
    horizontal = w > h
    profile = small.sum(axis=0 if horizontal else 1).astype(np.float64)
    length = w if horizontal else h
    # the saliency per full-resolution column (or row), linearly interpolated
    centres = (np.arange(profile.size) + 0.5) * (length / profile.size)
    per_px = np.interp(np.arange(length) + 0.5, centres, profile)
    cumulative = np.concatenate([[0.0], np.cumsum(per_px)])
    mass = cumulative[side:] - cumulative[:-side]  # mass[o]: square starting at offset o
    offsets = np.arange(mass.size)
    tolerance = 1e-9 * max(float(cumulative[-1]), 1.0)
    best = mass <= mass.min() + tolerance
    centre = (length - side) / 2.0
    offset = int(offsets[best][np.argmin(np.abs(offsets[best] - centre))])
    return (offset, 0) if horizontal else (0, offset)
