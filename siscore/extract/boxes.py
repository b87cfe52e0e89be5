"""Boxes without masks -> candidates segmented by OpenCV GrabCut seeded with the box.

Reads the OpenImages box CSV format (normalised ``XMin,XMax,YMin,YMax``, flags
by name; extra columns such as ``XClick1X`` are ignored). With ``--class-descriptions``
the LabelName column holds MIDs; without it, LabelName is the class name. The
flag columns are optional here (a missing one is not filtered on, with a
note). The box CSV has no BoxID: each box gets ``g`` + 8 hex digits of a CRC
of its class and coordinates, stable across runs and filters.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

from siscore.extract.classes import choose, openimages_table
from siscore.extract.openimages import (
    BOX_COLUMNS,
    BOX_HEADER,
    FLAGS,
    SAFE_ID,
    box_problem,
    flag_reason,
)
from siscore.extract.records import Candidate, ExtractError, Tally
from siscore.extract.tables import read_classes, require, stream


def box_id(mid: str, coords: list[str]) -> str:
    """The stable id of a box: ``g`` + CRC32 (hex) of its class and coordinate strings."""
    return f"g{zlib.crc32(','.join([mid, *coords]).encode('utf-8')):08x}"


def boxes_candidates(boxes: str | Path, class_descriptions: str | Path | None = None, *,
                     label_map: str | Path | None = None, classes_only=None,
                     limit: int | None = None, keep_unknown_flags: bool = False
                     ) -> tuple[list[Candidate], list[dict[str, str]], list[str]]:
    """Candidates of a box CSV, aggregated rows of other classes, and notes."""
    cols = require(boxes, "--boxes", BOX_COLUMNS, f"the OpenImages header {BOX_HEADER}")
    flags = [f for f in FLAGS if f in cols]
    notes = [f"--boxes {boxes}: no {f} column; boxes are not filtered on it" for f in FLAGS if f not in cols]
    if class_descriptions is not None:
        names = read_classes(class_descriptions)
    else:
        names = {}
        for chunk in stream(boxes, "--boxes", ["LabelName"]):
            names.update({n: n for n in chunk["LabelName"].unique() if n not in names})
    choice = choose(names, openimages_table(label_map), classes_only,
                    f"--class-descriptions {class_descriptions}" if class_descriptions else f"--boxes {boxes}")
    if class_descriptions is None and not names:
        raise ExtractError(f"--boxes {boxes}: no rows")
    tally = Tally("boxes", f"row(s) of --boxes {Path(boxes).name}, first at line")
    cands: list[Candidate] = []
    for chunk in stream(boxes, "--boxes", BOX_COLUMNS + flags):
        for mid, idx in chunk.groupby("LabelName", sort=False).groups.items():
            first = int(idx.min()) + 2
            if mid not in names:
                tally.add("unknown_class", mid, len(idx), first)
            elif mid in choice.unmapped and not classes_only:
                tally.add("no_label_mapping", mid, len(idx), first)
        sub = chunk[chunk["LabelName"].isin(choice.wanted)]
        if limit is not None:
            sub = sub.iloc[: max(0, limit - len(cands))]
        for line, rec in zip(sub.index + 2, sub.to_dict("records"), strict=True):
            cands.append(_candidate(rec, int(line), names, choice.wanted, keep_unknown_flags))
        del chunk, sub
        if limit is not None and len(cands) >= limit:
            break
    return cands, tally.rows(names, choice.unmapped), notes + choice.notes


def _candidate(rec: dict[str, str], line: int, names: dict[str, str],
               wanted: dict[str, tuple[str, tuple[int, ...]]], keep_unknown: bool) -> Candidate:
    mid = rec["LabelName"]
    label, indices = wanted[mid]
    coords = [rec[c] for c in ("XMin", "XMax", "YMin", "YMax")]
    problem = ""
    try:
        box = tuple(float(v) if v.strip() else math.nan for v in coords)
    except ValueError as exc:
        box, problem = (math.nan,) * 4, f"not a number ({exc})"
    c = Candidate(source="boxes", image_id=rec["ImageID"], box_id=box_id(mid, coords), label=label,
                  imagenet=indices, label_name=mid, display_name=names[mid],
                  row=f"boxes line {line}", image_file=f"{rec['ImageID']}.jpg", box=box)
    if not SAFE_ID.match(rec["ImageID"]):
        problem = problem or f"ImageID {rec['ImageID']!r} is empty or not usable in a file name"
    problem = problem or box_problem(box)
    if problem:
        return c.drop("bad_row", f"boxes line {line}: {problem}")
    reason, detail = flag_reason(rec, keep_unknown, f"boxes line {line}")
    return c.drop(reason, detail) if reason else c
