"""OpenImages V5-V7: segmentation rows -> candidates, joined to their boxes for the flags.

Memory stays flat in the size of the segmentation CSV: it is streamed in
chunks and only rows of the wanted classes are kept (``--limit`` stops the
stream early). The box CSV is then streamed keeping only boxes of those
images and classes. A mask is joined to its box by (ImageID, LabelName) and
coordinates equal within ``box_tol`` (the box CSV has no BoxID).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

from siscore.extract.classes import ClassChoice, choose, openimages_table
from siscore.extract.records import Candidate, Tally
from siscore.extract.tables import read_classes, require, stream

SEG_COLUMNS = ["MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax"]
BOX_COLUMNS = ["ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax"]
FLAGS = {"IsOccluded": "occluded", "IsTruncated": "truncated", "IsGroupOf": "group_of",
         "IsDepiction": "depiction"}
SEG_HEADER = ",".join([*SEG_COLUMNS, "PredictedIoU", "Clicks"])
BOX_HEADER = ",".join([*BOX_COLUMNS[:2], "Confidence", *BOX_COLUMNS[2:], *FLAGS, "IsInside"])
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def _float(value: str) -> float:
    return float(value) if value.strip() else math.nan


def box_problem(box: tuple[float, float, float, float]) -> str:
    """Why a normalised (xmin, xmax, ymin, ymax) box is unusable, or ''."""
    xmin, xmax, ymin, ymax = box
    if any(math.isnan(v) for v in box):
        return "a box coordinate is empty"
    if not (-1e-6 <= xmin < xmax <= 1 + 1e-6 and -1e-6 <= ymin < ymax <= 1 + 1e-6):
        return f"box ({xmin}, {xmax}, {ymin}, {ymax}) is empty or outside [0, 1]"
    return ""


def flag_reason(flags: dict[str, str], keep_unknown: bool, where: str) -> tuple[str, str]:
    """(reason, detail) for the first flag that drops the object, or ('', '')."""
    unknown = []
    for name, reason in FLAGS.items():
        value = flags.get(name, "0").strip()
        if value == "1":
            return reason, f"{name}=1 ({where})"
        if value not in ("0", ""):
            unknown.append(f"{name}={value}")
    if unknown and not keep_unknown:
        return "unknown_flag", f"{', '.join(unknown)} ({where})"
    return "", ""


def read_segmentation(path: str | Path, names: dict[str, str], choice: ClassChoice,
                      limit: int | None, classes_only: bool) -> tuple[list[Candidate], Tally]:
    """Stream the segmentation CSV; candidates of the wanted classes, a tally of the rest."""
    cols = require(path, "--segmentation", SEG_COLUMNS, f"the OpenImages header {SEG_HEADER}")
    use = SEG_COLUMNS + (["PredictedIoU"] if "PredictedIoU" in cols else [])
    tally = Tally("openimages", f"row(s) of --segmentation {Path(path).name}, first at line")
    cands: list[Candidate] = []
    for chunk in stream(path, "--segmentation", use):
        mids = chunk["LabelName"]
        for mid, idx in chunk.groupby(mids, sort=False).groups.items():
            if mid not in names:
                tally.add("unknown_class", mid, len(idx), int(idx.min()) + 2)
            elif mid in choice.unmapped and not classes_only:
                tally.add("no_label_mapping", mid, len(idx), int(idx.min()) + 2)
        sub = chunk[mids.isin(choice.wanted)]
        if limit is not None:
            sub = sub.iloc[: max(0, limit - len(cands))]
        for line, rec in zip(sub.index + 2, sub.to_dict("records"), strict=True):
            cands.append(_candidate(rec, int(line), names, choice))
        del chunk, mids, sub
        if limit is not None and len(cands) >= limit:
            break
    return cands, tally


def _candidate(rec: dict[str, str], line: int, names: dict[str, str], choice: ClassChoice) -> Candidate:
    mid = rec["LabelName"]
    label, indices = choice.wanted[mid]
    problem = ""
    try:
        box = tuple(_float(rec[c]) for c in ("BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax"))
        iou = _float(rec.get("PredictedIoU", ""))
    except ValueError as exc:
        box, iou, problem = (math.nan,) * 4, math.nan, f"not a number ({exc})"
    c = Candidate(source="openimages", image_id=rec["ImageID"], box_id=rec["BoxID"], label=label,
                  imagenet=indices, label_name=mid, display_name=names[mid],
                  row=f"segmentation line {line}", image_file=f"{rec['ImageID']}.jpg",
                  box=box, predicted_iou=iou, mask=rec["MaskPath"], mask_name=rec["MaskPath"])
    for name in ("ImageID", "BoxID"):
        if not SAFE_ID.match(rec[name]):
            problem = problem or f"{name} {rec[name]!r} is empty or has characters not allowed in a file name"
    if not rec["MaskPath"].strip():
        problem = problem or "MaskPath is empty"
    problem = problem or box_problem(box)
    if problem:
        c.drop("bad_row", f"segmentation line {line}: {problem}")
    return c


def read_boxes(path: str | Path, image_ids: set[str], mids: set[str]) -> dict[tuple[str, str], list]:
    """Boxes of ``image_ids`` x ``mids``: (ImageID, LabelName) -> [(box, flags, line)]."""
    require(path, "--boxes", BOX_COLUMNS + list(FLAGS), f"the OpenImages header {BOX_HEADER}")
    index: dict[tuple[str, str], list] = defaultdict(list)
    for chunk in stream(path, "--boxes", BOX_COLUMNS + list(FLAGS)):
        hit = chunk[chunk["ImageID"].isin(image_ids) & chunk["LabelName"].isin(mids)]
        for line, rec in zip(hit.index + 2, hit.to_dict("records"), strict=True):
            try:
                box = tuple(float(rec[c]) for c in ("XMin", "XMax", "YMin", "YMax"))
            except ValueError:
                continue  # an unparseable box cannot match any mask
            index[(rec["ImageID"], rec["LabelName"])].append((box, {f: rec[f] for f in FLAGS}, int(line)))
    return index


def join_boxes(cands: list[Candidate], index: dict, box_tol: float, keep_unknown: bool) -> None:
    """Drop candidates without a matching box, or whose box carries a dropping flag."""
    for c in cands:
        if c.reason:
            continue
        boxes = index.get((c.image_id, c.label_name), [])
        match = next((b for b in boxes if all(abs(a - v) <= box_tol for a, v in zip(b[0], c.box, strict=True))), None)
        if match is None:
            near = min((max(abs(a - v) for a, v in zip(b[0], c.box, strict=True)) for b in boxes), default=None)
            c.drop("no_matching_box", f"no box of {c.label_name} in {c.image_id} within {box_tol} of "
                   f"{c.box}" + (f" (nearest differs by {near:.3g})" if near is not None else
                                 " (the image has no box of this class)"))
            continue
        reason, detail = flag_reason(match[1], keep_unknown, f"box CSV line {match[2]}")
        if reason:
            c.drop(reason, detail)


def openimages_candidates(segmentation: str | Path, boxes: str | Path, class_descriptions: str | Path, *,
                          label_map: str | Path | None = None, classes_only=None,
                          limit: int | None = None, box_tol: float = 1e-6,
                          keep_unknown_flags: bool = False, min_predicted_iou: float = 0.0
                          ) -> tuple[list[Candidate], list[dict[str, str]], list[str]]:
    """All candidates of an OpenImages split, the aggregated rows of other classes, and notes."""
    names = read_classes(class_descriptions)
    choice = choose(names, openimages_table(label_map), classes_only, f"--class-descriptions {class_descriptions}")
    cands, tally = read_segmentation(segmentation, names, choice, limit, bool(classes_only))
    index = read_boxes(boxes, {c.image_id for c in cands if not c.reason},
                       {c.label_name for c in cands})
    join_boxes(cands, index, box_tol, keep_unknown_flags)
    for c in cands:
        if not c.reason and c.predicted_iou < min_predicted_iou:
            c.drop("low_predicted_iou", f"PredictedIoU {c.predicted_iou} < --min-predicted-iou "
                                        f"{min_predicted_iou}")
    return cands, tally.rows(names, choice.unmapped), choice.notes
