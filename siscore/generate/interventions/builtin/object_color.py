"""Object colour: ``object_brightness``, ``object_contrast`` (factors, 1 = unchanged) and
``object_greyscale`` (0 = colour, 1 = fully grey)."""

import numpy as np

from siscore.generate.interventions import intervention


def _factor(value: float) -> str | None:
    return "must be >= 0 (1 leaves the object unchanged)" if value < 0 else None


def _fraction(value: float) -> str | None:
    return "must be in [0, 1]" if not 0 <= value <= 1 else None


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


@intervention("object_brightness", stage="foreground", value_type=(int, float), check=_factor)
def object_brightness(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply the object's colour by ``value`` (alpha unchanged)."""
    out = image.copy()
    out[..., :3] = np.clip(image[..., :3] * float(value), 0, 255).round().astype(np.uint8)
    return out


@intervention("object_contrast", stage="foreground", value_type=(int, float), check=_factor)
def object_contrast(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Scale the object's colours around its alpha-weighted mean grey level by ``value``."""
    rgb = image[..., :3].astype(np.float64)
    weight = image[..., 3].astype(np.float64)
    mean = float((_luma(rgb) * weight).sum() / max(weight.sum(), 1.0))
    out = image.copy()
    out[..., :3] = np.clip(mean + (rgb - mean) * float(value), 0, 255).round().astype(np.uint8)
    return out


@intervention("object_greyscale", stage="foreground", value_type=(int, float), check=_fraction)
def object_greyscale(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Blend the object towards its grey version: 0 keeps colour, 1 is fully grey."""
    rgb = image[..., :3].astype(np.float64)
    grey = _luma(rgb)[..., None]
    out = image.copy()
    out[..., :3] = np.clip(rgb + (grey - rgb) * float(value), 0, 255).round().astype(np.uint8)
    return out
