"""COCO instance annotations -> candidates (masks decoded later by pycocotools).

Polygons, compressed RLE and uncompressed RLE are supported; ``iscrowd = 1``
annotations are dropped as groups. COCO has no truncation flag: the border
gate (a mask touching the image border) is the usual proxy. Categories go
through the COCO label map (:func:`siscore.extract.classes.coco_table`).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

from siscore.extract.classes import choose, coco_table, openimages_table
from siscore.extract.openimages import SAFE_ID
from siscore.extract.records import Candidate, ExtractError, Tally, aggregate_row
from siscore.utils.extras import require

ANN_KEYS = ("id", "image_id", "category_id", "segmentation", "bbox")
IMG_KEYS = ("id", "file_name", "width", "height")


def _json_kind(value: Any) -> str:
    kinds = {list: "array (list)", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), "null")


def _load(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ExtractError(f"--annotations {path}: cannot read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExtractError(f"--annotations {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ExtractError(f"--annotations {path}: the top level is a JSON {_json_kind(data)}, "
                           "not an object; expected a COCO instances file with 'images', "
                           "'annotations' and 'categories' lists")
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(data.get(k), list)]
    if missing:
        raise ExtractError(f"--annotations {path}: missing key(s) {', '.join(missing)}; expected a "
                           "COCO instances file with 'images', 'annotations' and 'categories' lists")
    return data


def _mask_name(segm: Any) -> str:
    if isinstance(segm, dict):
        return "rle-uncompressed" if isinstance(segm.get("counts"), list) else "rle"
    return "polygon"


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _validate(data: dict[str, Any], path: str | Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Drop image entries and annotations lacking required keys; report each dropped annotation."""
    bad_rows: list[dict[str, str]] = []
    images = [im for im in data["images"] if isinstance(im, dict) and all(k in im for k in IMG_KEYS)
              and _positive_int(im["width"]) and _positive_int(im["height"])
              and isinstance(im["id"], (int, str))]
    image_ids = {im["id"] for im in images}
    anns = []
    for pos, ann in enumerate(data["annotations"]):
        missing = [k for k in ANN_KEYS if not isinstance(ann, dict) or k not in ann]
        if not missing and not isinstance(ann["id"], (int, str)):
            missing = ["an integer id"]
        elif not missing and (not isinstance(ann["image_id"], (int, str)) or ann["image_id"] not in image_ids):
            missing = [f"an image entry with id {ann['image_id']} (with {', '.join(IMG_KEYS)})"]
        if missing:
            ident = ann.get("id", f"#{pos}") if isinstance(ann, dict) else f"#{pos}"
            bad_rows.append(aggregate_row(
                f"bad_row:annotation {ident}", "coco", "bad_row", 1, "", "", "",
                f"--annotations {Path(path).name}: annotation {ident} (position {pos}) lacks "
                f"{', '.join(missing)}"))
            continue
        anns.append(ann)
    categories = [c for c in data["categories"] if isinstance(c, dict) and isinstance(c.get("id"), (int, str))
                  and "name" in c]
    return {**data, "images": images, "annotations": anns, "categories": categories}, bad_rows


def _info(image: dict[str, Any], licenses: dict[Any, dict[str, Any]]) -> dict[str, str]:
    lic = licenses.get(image.get("license"), {})
    return {"license": str(lic.get("name", "")), "original_url": str(image.get("flickr_url") or image.get("coco_url") or ""),
            "author": "", "title": ""}


def _table_with_fallback(names: dict[str, str], label_map: str | Path | None
                         ) -> tuple[dict[str, tuple[str, tuple[int, ...]]], list[str]]:
    """The COCO label map, plus the generator's label table for categories COCO does not have.

    A COCO-format file of one's own may have categories outside COCO's 80 (``koala``):
    those the generator's table (with ``label_map``) knows are mapped through it, with a note.
    """
    table = coco_table(label_map)
    extra = [(cat, name) for cat, name in names.items() if name.lower() not in table]
    if not extra:
        return table, []
    generator = openimages_table(label_map)
    notes = []
    for cat, name in extra:
        if name.lower() in generator:
            table[name.lower()] = generator[name.lower()]
            idx = " ".join(map(str, generator[name.lower()][1]))
            notes.append(f"category {name!r} (id {cat}) is not a COCO category: mapped with the "
                         f"built-in label table to ImageNet-1k index {idx}")
    return table, notes


def coco_candidates(annotations: str | Path, *, label_map: str | Path | None = None,
                    classes_only=None, limit: int | None = None
                    ) -> tuple[list[Candidate], list[dict[str, str]], list[str]]:
    """All candidates of a COCO instances file, aggregated rows of other classes, and notes."""
    COCO = require("pycocotools.coco", "reading COCO annotations").COCO

    data, bad_rows = _validate(_load(annotations), annotations)
    names = {str(c["id"]): str(c["name"]) for c in data["categories"]}
    table, fallback_notes = _table_with_fallback(names, label_map)
    choice = choose(names, table, classes_only, f"--annotations {annotations}")
    choice.notes[:0] = fallback_notes
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    licenses = {lic.get("id"): lic for lic in data.get("licenses", []) if isinstance(lic, dict)}
    tally = Tally("coco", f"annotation(s) of --annotations {Path(annotations).name}, first id")
    cands: list[Candidate] = []
    for img_id in sorted(coco.getImgIds()):
        image = coco.loadImgs([img_id])[0]
        for ann in sorted(coco.loadAnns(coco.getAnnIds(imgIds=[img_id])), key=lambda a: a["id"]):
            cat = str(ann["category_id"])
            if cat not in names:
                tally.add("unknown_class", cat, 1, ann["id"])
                continue
            if cat in choice.unmapped and not classes_only:
                tally.add("no_label_mapping", cat, 1, ann["id"])
            if cat not in choice.wanted:
                continue
            cands.append(_candidate(ann, image, names[cat], choice.wanted[cat], licenses))
            if limit is not None and len(cands) >= limit:
                return cands, bad_rows + tally.rows(names, choice.unmapped), choice.notes
    return cands, bad_rows + tally.rows(names, choice.unmapped), choice.notes


def _candidate(ann: dict[str, Any], image: dict[str, Any], name: str,
               mapped: tuple[str, tuple[int, ...]], licenses: dict) -> Candidate:
    width, height = int(image["width"]), int(image["height"])
    stem = Path(str(image["file_name"])).stem
    try:
        x, y, w, h = (float(v) for v in ann["bbox"])
    except (TypeError, ValueError):
        x = y = w = h = math.nan
    c = Candidate(source="coco", image_id=stem, box_id=str(ann["id"]), label=mapped[0],
                  imagenet=mapped[1], label_name=str(ann["category_id"]), display_name=name,
                  row=f"annotation id {ann['id']}", image_file=str(image["file_name"]),
                  box=(x / width, (x + w) / width, y / height, (y + h) / height),
                  mask=ann["segmentation"], mask_name=_mask_name(ann["segmentation"]),
                  image_size=(width, height), info=_info(image, licenses))
    if not SAFE_ID.match(stem):
        return c.drop("bad_row", f"file_name {image['file_name']!r} is not usable in a file name")
    if any(math.isnan(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return c.drop("bad_row", f"annotation {ann['id']}: bbox {ann['bbox']} is not [x, y, w, h] "
                                 "with a positive width and height")
    if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
        return c.drop("size_mismatch", f"annotation {ann['id']}: bbox {ann['bbox']} extends beyond "
                                       f"the {width}x{height} image")
    if ann.get("iscrowd", 0):
        return c.drop("group_of", f"annotation {ann['id']}: iscrowd = 1")
    return c
