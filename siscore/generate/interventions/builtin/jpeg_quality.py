"""``jpeg_quality``: a JPEG round trip of the finished image at quality ``value`` (1-100).

The dataset's own encoding (``--quality``, ``--format``) follows; use ``--format png`` to
keep only these artefacts.
"""

import io

import numpy as np
from PIL import Image

from siscore.generate.interventions import intervention


def _check(value: int) -> str | None:
    return "must be in 1..100" if not 1 <= value <= 100 else None


@intervention("jpeg_quality", stage="composite", value_type=int, check=_check)
def jpeg_quality(image: np.ndarray, value: int, rng: np.random.Generator) -> np.ndarray:
    """Encode as JPEG at quality ``value`` and decode again."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(value))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
