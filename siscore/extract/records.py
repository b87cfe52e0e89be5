"""What the extraction stages pass to each other: candidates, report rows, reasons.

A :class:`Candidate` is one annotated object (an OpenImages mask or box, a COCO
annotation). The readers create candidates and may already decide to drop one
(flags, no box, crowd, ...); the worker decides the others from the pixels.
Every candidate ends as one row of ``extract_report.csv`` (:data:`COLUMNS`);
the kept ones are also rows of ``foregrounds.csv`` (:data:`MANIFEST_COLUMNS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from siscore.errors import SiscoreError

KEPT = "kept"

REASONS: dict[str, str] = {
    KEPT: "written to <label>/<ImageID>_<BoxID>.png",
    # decided while reading the annotations
    "unknown_class": "LabelName is not in the --class-descriptions file",
    "no_label_mapping": "the class has no ImageNet-1k index in the label map (add it with --label-map)",
    "bad_row": "a field could not be parsed, or the box is empty or outside [0, 1]",
    "duplicate": "the same <label>/<ImageID>_<BoxID> appeared earlier in the input",
    "low_predicted_iou": "PredictedIoU below --min-predicted-iou",
    "no_matching_box": "no box with the same ImageID, LabelName and coordinates (within --box-tol)",
    "occluded": "IsOccluded = 1",
    "truncated": "IsTruncated = 1",
    "group_of": "IsGroupOf = 1 (OpenImages) or iscrowd = 1 (COCO)",
    "depiction": "IsDepiction = 1",
    "unknown_flag": "a flag is -1 (unknown); keep such objects with --keep-unknown-flags",
    "bad_polygon": "no usable polygon (fewer than 3 points, e.g. 4 numbers, or an odd count), "
                   "or a vertex outside the image",
    # decided from the pixels
    "image_missing": "the image file is not in --images",
    "image_unreadable": "the image file cannot be decoded (truncated or not an image)",
    "mask_missing": "the mask PNG is neither in the --masks folder nor in its zip",
    "mask_unreadable": "the mask PNG (or RLE) cannot be decoded",
    "size_mismatch": "the image's size contradicts the annotation (mask aspect, COCO size or box)",
    "grabcut_failed": "OpenCV GrabCut could not segment the box",
    "empty_mask": "the mask has no object pixel (before or after cleaning)",
    "multiple_components": "more large connected components than --max-components",
    "islands": "tiny islands cover more than --max-island-frac of the mask",
    "too_small": "fewer object pixels than --min-pixels",
    "too_short": "the mask's bounding box has a side shorter than --min-object-side",
    "low_box_fill": "the mask fills less than --min-box-fill of its box",
    "touches_border": "the mask or its box touches the image border (truncation proxy); see --keep-border",
}

# Reasons decided from the pixels that a re-run keeps (the I/O failures are retried: the
# missing file may have been added since).
FINAL_PIXEL_REASONS = frozenset(
    {KEPT, "size_mismatch", "grabcut_failed", "empty_mask", "multiple_components", "islands",
     "too_small", "too_short", "low_box_fill", "touches_border"})

# Columns of extract_report.csv (and of the resume journal).
COLUMNS: list[str] = [
    "key", "status", "reason", "failed", "detail", "count", "source", "row",
    "image_id", "box_id", "label", "imagenet_index", "label_name", "display_name",
    "path", "image_file", "mask", "image_width", "image_height",
    "box_xmin", "box_xmax", "box_ymin", "box_ymax",
    "crop_x0", "crop_y0", "crop_x1", "crop_y1", "width", "height",
    "predicted_iou", "pixels", "side", "box_fill", "components", "island_frac", "touches_border",
    "author", "license", "original_url", "title",
]

# Columns of foregrounds.csv (one row per kept object).
MANIFEST_COLUMNS: list[str] = [
    "path", "label", "imagenet_index", "source", "image_id", "box_id", "label_name",
    "display_name", "image_file", "mask", "image_width", "image_height",
    "box_xmin", "box_xmax", "box_ymin", "box_ymax",
    "crop_x0", "crop_y0", "crop_x1", "crop_y1", "width", "height",
    "predicted_iou", "pixels", "side", "box_fill", "components", "island_frac",
    "author", "license", "original_url", "title",
]

INFO_COLUMNS: tuple[str, ...] = ("author", "license", "original_url", "title")


class ExtractError(SiscoreError, ValueError):
    """An input that stops a run before any work; the message names the file or option and the fix."""


class Drop(Exception):
    """Raised inside a worker: this object is dropped for ``reason`` (a key of :data:`REASONS`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def fmt(value: Any) -> str:
    """Deterministic text for a report cell ('' for None/NaN, 6 significant digits for floats)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, ".6g")
    return str(value)


@dataclass
class Candidate:
    """One annotated object and everything a worker needs to cut it out.

    ``box`` is ``(xmin, xmax, ymin, ymax)`` normalised to [0, 1] (OpenImages
    convention; COCO boxes are divided by the size the annotation file gives).
    ``mask`` is the OpenImages MaskPath, a COCO segmentation, or None for GrabCut;
    ``mask_name`` says which in the report.
    """

    source: str
    image_id: str
    box_id: str
    label: str
    imagenet: tuple[int, ...]
    label_name: str
    display_name: str
    row: str
    image_file: str
    box: tuple[float, float, float, float]
    predicted_iou: float = math.nan
    mask: Any = None
    mask_name: str = "grabcut"
    image_size: tuple[int, int] | None = None
    info: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    detail: str = ""

    @property
    def key(self) -> str:
        return f"{self.label}/{self.image_id}_{self.box_id}"

    @property
    def rel_path(self) -> str:
        return f"{self.key}.png"

    def drop(self, reason: str, detail: str = "") -> Candidate:
        """Mark the candidate as dropped before any pixel work (first reason wins)."""
        if not self.reason:
            self.reason, self.detail = reason, detail
        return self

    def report_row(self, reason: str = "", detail: str = "", failed: str = "",
                   **values: Any) -> dict[str, str]:
        """The report row of this candidate, with measured ``values`` (scores, crop, ...)."""
        reason = reason or self.reason or KEPT
        row = {c: "" for c in COLUMNS}
        row.update(
            key=self.key, status="kept" if reason == KEPT else "dropped", reason=reason,
            failed=failed or ("" if reason == KEPT else reason), detail=detail or self.detail,
            count="1", source=self.source, row=self.row, image_id=self.image_id,
            box_id=self.box_id, label=self.label,
            imagenet_index=" ".join(map(str, self.imagenet)), label_name=self.label_name,
            display_name=self.display_name, image_file=self.image_file,
            mask=self.mask_name,
            box_xmin=fmt(self.box[0]), box_xmax=fmt(self.box[1]),
            box_ymin=fmt(self.box[2]), box_ymax=fmt(self.box[3]),
            predicted_iou=fmt(self.predicted_iou),
        )
        row.update({k: v for k, v in self.info.items() if k in INFO_COLUMNS})
        if reason == KEPT:
            row["path"] = self.rel_path
        row.update({k: fmt(v) for k, v in values.items()})
        return row


@dataclass
class Tally:
    """Input rows of classes that are not extracted: count and first position per class.

    Its size is bounded by the number of classes, not by the input.
    """

    source: str
    what: str  # e.g. "row(s) of --segmentation x.csv, first at line"
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, reason: str, name: str, count: int, first: int) -> None:
        entry = self.counts.setdefault((reason, name), [0, first])
        entry[0] += count
        entry[1] = min(entry[1], first)

    def rows(self, names: dict[str, str], unmapped: dict[str, str]) -> list[dict[str, str]]:
        """One report row per (reason, class)."""
        out = []
        for (reason, name), (count, first) in sorted(self.counts.items()):
            display = names.get(name, "")
            label = unmapped.get(name, display.lower())
            if reason == "unknown_class":
                detail = f"{count} {self.what} {first}: {name} is not a known class"
            else:
                cell = f'"{label}"' if "," in label else label
                detail = (f"{count} {self.what} {first}: '{label}' has no ImageNet-1k index; "
                          f"add a row '{cell},<index>' to a --label-map CSV")
            out.append(aggregate_row(f"{reason}:{name}", self.source, reason, count, name,
                                     display, label, detail))
        return out


def aggregate_row(key: str, source: str, reason: str, count: int, label_name: str,
                  display_name: str, label: str, detail: str) -> dict[str, str]:
    """One report row standing for ``count`` input rows of a class that is not extracted."""
    row = {c: "" for c in COLUMNS}
    row.update(key=key, status="dropped", reason=reason, failed=reason, detail=detail,
               count=str(count), source=source, label=label, label_name=label_name,
               display_name=display_name)
    return row
