"""``background_blur``: Gaussian blur of the background (sigma in pixels; 0 leaves it sharp)."""

import cv2
import numpy as np

from siscore.generate.interventions import intervention


def _check(value: float) -> str | None:
    return "must be >= 0 (Gaussian sigma in pixels)" if value < 0 else None


@intervention("background_blur", stage="background", value_type=(int, float), check=_check)
def background_blur(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Blur the background with a Gaussian of sigma ``value`` pixels."""
    if value == 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(value), borderType=cv2.BORDER_REFLECT)
