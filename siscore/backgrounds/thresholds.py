"""The filter's thresholds (no heavy imports: the CLI reads the defaults from here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: ``--max-prob`` of the model check: a photo is rejected when the model gives one object (or
#: study) class more. 0.2 keeps every usable labelled photo the scenery classes keep and every
#: SI-SCORE sample background, and catches more pasted objects than 0.3 (docs/backgrounds.md).
MODEL_MAX_PROB = 0.2


@dataclass(frozen=True)
class Thresholds:
    """The filter's thresholds; ``None`` switches a check off.

    The defaults keep every one of the 8 SI-SCORE sample backgrounds and reject
    photos with one prominent subject (see docs/backgrounds.md for how they
    were chosen and what they achieve on a labelled set).
    """

    min_photo_side: int = 256
    max_aspect: float | None = 2.5
    min_sharpness: float | None = 3.0
    max_clutter: float | None = None
    max_highlights: float | None = 0.25
    max_shadows: float | None = 0.25
    max_object_contrast: float | None = 28.0
    max_centre_focus: float | None = 0.8
    max_saliency_peak: float | None = None
    dup_distance: int = 10

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
