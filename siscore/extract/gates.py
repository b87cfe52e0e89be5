"""Quality gates: measure a mask and say which thresholds it fails.

Every threshold is an option and every failure is reported (the first one in
:data:`GATE_ORDER` is the row's ``reason``, all of them are in ``failed``).
Components and islands are measured on the raw mask; size, fill and border on
the cleaned one, i.e. on what is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

GATE_ORDER = ("multiple_components", "islands", "too_small", "too_short", "low_box_fill",
              "touches_border")


@dataclass(frozen=True)
class Gates:
    """Thresholds of the quality gates (a value of 0 disables a minimum)."""

    min_predicted_iou: float = 0.5
    min_pixels: int = 2500
    min_object_side: int = 32
    min_box_fill: float = 0.2
    max_components: int = 1
    component_frac: float = 0.1
    max_island_frac: float = 0.02
    drop_border: bool = True
    border_px: int = 1

    def __post_init__(self) -> None:
        checks = {
            "min_predicted_iou": 0 <= self.min_predicted_iou <= 1,
            "min_pixels": self.min_pixels >= 0,
            "min_object_side": self.min_object_side >= 0,
            "min_box_fill": 0 <= self.min_box_fill <= 1,
            "max_components": self.max_components >= 1,
            "component_frac": 0 < self.component_frac <= 1,
            "max_island_frac": 0 <= self.max_island_frac <= 1,
            "border_px": self.border_px >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            from siscore.extract.records import ExtractError

            name = bad[0]
            raise ExtractError(f"--{name.replace('_', '-')} {getattr(self, name)}: out of range "
                               "(fractions are in [0, 1], counts and pixels >= 0, "
                               "--max-components and --border-px >= 1)")

    def to_dict(self) -> dict[str, float | int | bool]:
        """The gates by name; ``min_object_side`` under its old key ``min_side``, so a library
        extracted before the option was renamed still resumes."""
        d = asdict(self)
        d["min_side"] = d.pop("min_object_side")
        return d


@dataclass(frozen=True)
class Components:
    """Connected components of a raw mask: large ones and the share of tiny islands."""

    large: int
    island_frac: float


def components(mask: np.ndarray, component_frac: float) -> Components:
    """Count components at least ``component_frac`` of the largest; the rest are islands."""
    m = mask.astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.int64)
    if areas.size == 0:
        return Components(0, 0.0)
    big = areas >= component_frac * areas.max()
    return Components(int(big.sum()), float(areas[~big].sum() / areas.sum()))


def box_pixels(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A normalised ``(xmin, xmax, ymin, ymax)`` box as pixel ``(x0, y0, x1, y1)``, clipped."""
    xmin, xmax, ymin, ymax = box
    x0 = int(np.clip(round(xmin * width), 0, width))
    x1 = int(np.clip(round(xmax * width), 0, width))
    y0 = int(np.clip(round(ymin * height), 0, height))
    y1 = int(np.clip(round(ymax * height), 0, height))
    return x0, y0, x1, y1


def measure(clean: np.ndarray, crop: tuple[int, int, int, int], box_px: tuple[int, int, int, int],
            image_size: tuple[int, int], border_px: int) -> dict[str, float | int]:
    """Scores of a cleaned mask given as its tight ``crop`` (x0, y0, x1, y1) of the image.

    ``touches_border`` is 1 when the mask or the annotated box comes within
    ``border_px`` of the image border (COCO polygons often stop half a pixel short).
    """
    x0, y0, x1, y1 = crop
    w, h = image_size
    bx0, by0, bx1, by1 = box_px
    ix0, iy0, ix1, iy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
    inside = 0
    if ix1 > ix0 and iy1 > iy0:
        inside = int(clean[iy0 - y0: iy1 - y0, ix0 - x0: ix1 - x0].sum())
    box_area = max(1, (bx1 - bx0) * (by1 - by0))
    border = any(a < border_px or b < border_px or c > w - border_px or d > h - border_px
                 for a, b, c, d in (crop, (bx0, by0, bx1, by1)))
    return {
        "pixels": int(clean.sum()),
        "side": int(min(x1 - x0, y1 - y0)),
        "box_fill": inside / box_area,
        "touches_border": int(border),
    }


def failures(scores: dict[str, float | int], comps: Components, gates: Gates) -> list[str]:
    """Names of the gates the object fails, in :data:`GATE_ORDER`."""
    failed = []
    if comps.large > gates.max_components:
        failed.append("multiple_components")
    if comps.island_frac > gates.max_island_frac:
        failed.append("islands")
    if scores["pixels"] < gates.min_pixels:
        failed.append("too_small")
    if scores["side"] < gates.min_object_side:
        failed.append("too_short")
    if scores["box_fill"] < gates.min_box_fill:
        failed.append("low_box_fill")
    if gates.drop_border and scores["touches_border"]:
        failed.append("touches_border")
    return failed
