"""``occluder``: a grey band that covers the fraction ``value`` of the object.

The band enters from a side drawn per image (left, right, top or bottom) and is
as deep as needed to hide ``value`` of the object's alpha mass; it is part of the
pasted object, so it moves with it.
"""

import numpy as np

from siscore.generate.interventions import intervention

GREY = 128


def _check(value: float) -> str | None:
    return "must be in [0, 1] (fraction of the object covered)" if not 0 <= value <= 1 else None


@intervention("occluder", stage="foreground", value_type=(int, float), check=_check)
def occluder(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Cover the fraction ``value`` of the object with an opaque grey band."""
    side = int(rng.integers(4))
    if value <= 0:
        return image
    alpha = image[..., 3].astype(np.float64)
    profile = alpha.sum(axis=0) if side < 2 else alpha.sum(axis=1)
    if side % 2:  # from the right or the bottom
        profile = profile[::-1]
    covered = np.cumsum(profile) / max(profile.sum(), 1.0)
    depth = int(np.searchsorted(covered, float(value) - 1e-9)) + 1
    out = image.copy()
    n = len(profile)
    band = slice(0, depth) if side % 2 == 0 else slice(n - depth, n)
    if side < 2:
        out[:, band] = (GREY, GREY, GREY, 255)
    else:
        out[band, :] = (GREY, GREY, GREY, 255)
    return out
