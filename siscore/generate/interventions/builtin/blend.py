"""``blend``: how the object is pasted: ``alpha`` (hard alpha, the default paste),
``feather`` (alpha edge softened by a 2 px Gaussian) or ``poisson`` (cv2.seamlessClone).

Poisson blending needs the object inside the image; when it is not, the paste falls back
to alpha and the ``blend_fallback`` column records it.
"""

import cv2
import numpy as np

from siscore.generate.compose import Paste, Sprite
from siscore.generate.interventions import intervention

MODES = ("alpha", "feather", "poisson")


def _check(value: str) -> str | None:
    return None if value in MODES else f"must be one of {', '.join(MODES)}"


@intervention("blend", stage="paste", value_type=str, check=_check, records=("blend_fallback",))
def blend(paste: Paste, value: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Paste the object with the blending mode ``value``."""
    if value == "feather":
        rgba = paste.rgba
        alpha = cv2.GaussianBlur(rgba[..., 3], (0, 0), sigmaX=2.0)
        alpha = np.minimum(alpha, rgba[..., 3])  # soften inwards only: the box stays the same
        soft = np.dstack([rgba[..., :3], alpha])
        premul = (soft[..., :3].astype(np.uint16) * alpha[..., None] + 127) // 255
        return paste.alpha(Sprite.from_premultiplied(np.dstack([premul.astype(np.uint8), alpha]))), {
            "blend_fallback": False}
    if value == "poisson":
        rgba = paste.rgba
        mask = np.where(rgba[..., 3] > 127, 255, 0).astype(np.uint8)
        ys, xs = np.nonzero(mask)
        h, w = mask.shape
        bh, bw = paste.background.shape[:2]
        # seamlessClone needs the mask's box (with a 1 px margin) strictly inside the image
        fits = (len(xs) > 0 and paste.x + xs.min() >= 1 and paste.y + ys.min() >= 1
                and paste.x + xs.max() <= bw - 2 and paste.y + ys.max() <= bh - 2)
        if not fits:
            return paste.alpha(), {"blend_fallback": True}
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        center = (int(paste.x + (x0 + x1) // 2), int(paste.y + (y0 + y1) // 2))
        src = np.zeros_like(paste.background)
        src[paste.y + y0 : paste.y + y1, paste.x + x0 : paste.x + x1] = rgba[y0:y1, x0:x1, :3]
        full = np.zeros(paste.background.shape[:2], np.uint8)
        full[paste.y + y0 : paste.y + y1, paste.x + x0 : paste.x + x1] = mask[y0:y1, x0:x1]
        out = cv2.seamlessClone(src, np.ascontiguousarray(paste.background), full, center,
                                cv2.NORMAL_CLONE)
        return out, {"blend_fallback": False}
    return paste.alpha(), {"blend_fallback": False}
