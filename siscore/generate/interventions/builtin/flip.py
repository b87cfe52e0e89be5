"""``horizontal_flip``: mirror the object left-right (``true``/``false``)."""

import numpy as np

from siscore.generate.interventions import intervention


@intervention("horizontal_flip", stage="foreground", value_type=bool)
def horizontal_flip(image: np.ndarray, value: bool, rng: np.random.Generator) -> np.ndarray:
    """Mirror the object (its canvas and position do not change)."""
    return np.ascontiguousarray(image[:, ::-1]) if value else image
