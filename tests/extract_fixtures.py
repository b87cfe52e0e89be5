"""Fixtures for ``siscore extract``: OpenImages and COCO files built from real photographs.

Known cut-outs (the SI-SCORE sample foregrounds when ../shared is there, else
objects cut out of scikit-image's bundled photos with a known silhouette) are
pasted into real photos at known places, so every object's true mask is known.
The annotation files are then written exactly as the real ones are: OpenImages
segmentation/box/class CSVs (V5 and V6 header styles, the V6 train box file's
XClick columns), masks as PNGs at a larger resolution than the image, in a
folder or in ``{split}-masks-{h}.zip`` files; a COCO instances JSON with
polygons, compressed and uncompressed RLE. Every case the extractor must drop
is present once, with the reason it must report.

The LabelName MIDs are fixture values in the real ``/m/...`` form.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

PHOTO_LONG_SIDE = 400
SEG_HEADER = ["MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin",
              "BoxYMax", "PredictedIoU", "Clicks"]
BOX_HEADER = ["ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax",
              "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside"]
XCLICKS = [f"XClick{i}{a}" for i in range(1, 5) for a in "XY"]
INFO_HEADER = ["ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License",
               "AuthorProfileURL", "Author", "Title", "OriginalSize", "OriginalMD5",
               "Thumbnail300KURL", "Rotation"]
FLAG_NAMES = ["IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction"]

# class MID -> DisplayName (as in class-descriptions-boxable.csv)
CLASSES = {
    "/m/09k_b": "Lemon", "/m/07fbm7": "Strawberry", "/m/01j61q": "Bagel",
    "/m/0cnyhnx": "Koala", "/m/0898b": "Zebra", "/m/054fyh": "Pitcher (Container)",
    "/m/02ctlc": "Volleyball (Ball)", "/m/0138tl": "Toaster", "/m/02zt3": "Kite",
    "/m/01g317": "Person", "/m/0fx9l": "Flower, cut",
}
MID = {v.lower(): k for k, v in CLASSES.items()}


@dataclass
class Kit:
    """Cut-outs (name -> RGBA, at most 260 px) and photos (RGB) to build fixtures from."""

    cutouts: dict[str, np.ndarray]
    photos: list[np.ndarray]
    source: str = "samples"  # or "skimage"


def _shrink(img: Image.Image, long_side: int) -> Image.Image:
    s = long_side / max(img.size)
    return img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.BILINEAR)


def make_kit(samples: Path | None) -> Kit:
    """The kit from the SI-SCORE samples folder, or from scikit-image's photos if None."""
    if samples is not None:
        cutouts = {p.parent.name: np.asarray(_shrink(Image.open(p).convert("RGBA"), 260))
                   for p in sorted((samples / "foregrounds").glob("*/*.png"))}
        photos = [np.asarray(_shrink(Image.open(p).convert("RGB"), PHOTO_LONG_SIDE))
                  for p in sorted((samples / "backgrounds").iterdir())]
        return Kit(cutouts, photos)
    from skimage import data

    horse = np.asarray(data.horse()) == 0  # the silhouette is black on white
    cat = np.asarray(Image.fromarray(data.chelsea()).resize(horse.shape[::-1]))
    rgba = np.dstack([cat, np.where(horse, 255, 0).astype(np.uint8)])
    coffee = data.coffee()[60:340, 150:450]
    disc = np.hypot(*np.mgrid[-140:140, -150:150]) < 130
    cup = np.dstack([coffee, np.where(disc, 255, 0).astype(np.uint8)])
    suit = data.astronaut()[250:450, 60:360]
    oval = (np.mgrid[-100:100, -150:150] ** 2 / np.array([90.0 ** 2, 140.0 ** 2])[:, None, None]).sum(0) < 1
    box = np.dstack([suit, np.where(oval, 255, 0).astype(np.uint8)])
    cutouts = {"lemon": cup, "strawberry": rgba, "bagel": cup, "koala": rgba, "zebra": rgba,
               "vase": cup, "toaster": box}
    photos = [np.asarray(_shrink(Image.fromarray(p), PHOTO_LONG_SIDE))
              for p in (data.rocket(), data.astronaut(), data.immunohistochemistry())]
    return Kit({k: np.asarray(_shrink(Image.fromarray(v), 260)) for k, v in cutouts.items()}, photos,
               "skimage")


@dataclass
class Obj:
    """One annotated object of the OpenImages fixture and the outcome the extractor must give."""

    name: str
    cutout: str
    cls: str
    expect: str
    size: int = 150
    at: tuple[float, float] = (0.5, 0.5)  # centre, as a fraction of the image
    flags: tuple[str, str, str, str] = ("0", "0", "0", "0")
    iou: str = "0.85"
    mask_scale: float = 1.6
    mask: str = "normal"  # normal|missing|empty|wrong_aspect|speckles|islands|two|pinhole
    image: str = "normal"  # normal|missing|truncated
    box: str = "tight"  # tight|shifted|loose|inverted
    photo: int = 0
    image_key: str = ""  # objects sharing it share one image


def default_objects() -> list[Obj]:
    """Every case of issue 3 once (kept ones first)."""
    return [
        Obj("lemon_keep", "lemon", "lemon", "kept", photo=0),
        Obj("strawberry_keep", "strawberry", "strawberry", "kept", size=130, at=(0.28, 0.5),
            image_key="pair", mask_scale=2.0, photo=1),
        Obj("koala_keep", "koala", "koala", "kept", size=140, at=(0.72, 0.5), image_key="pair",
            mask_scale=2.0, photo=1),
        Obj("pitcher_keep", "vase", "pitcher (container)", "kept", size=170, mask_scale=1.0, photo=2),
        Obj("bagel_keep_no_iou", "bagel", "bagel", "kept", iou="", photo=3),
        Obj("volleyball_specks_keep", "lemon", "volleyball (ball)", "kept", mask="pinhole", photo=4),
        Obj("zebra_unknown_flag", "zebra", "zebra", "unknown_flag", flags=("0", "0", "0", "-1"), photo=5),
        Obj("koala_occluded", "koala", "koala", "occluded", flags=("1", "0", "0", "0"), photo=6),
        Obj("lemon_truncated", "lemon", "lemon", "truncated", flags=("0", "1", "0", "0"), photo=7),
        Obj("lemon_group", "lemon", "lemon", "group_of", flags=("0", "0", "1", "0"), mask="two", photo=0),
        Obj("toaster_depiction", "toaster", "toaster", "depiction", flags=("0", "0", "0", "1"), photo=1),
        Obj("bagel_low_iou", "bagel", "bagel", "low_predicted_iou", iou="0.31", photo=2),
        Obj("lemon_no_box", "lemon", "lemon", "no_matching_box", box="shifted", photo=3),
        Obj("lemon_mask_missing", "lemon", "lemon", "mask_missing", mask="missing", photo=4),
        Obj("lemon_image_missing", "lemon", "lemon", "image_missing", image="missing", photo=5),
        Obj("lemon_image_truncated", "lemon", "lemon", "image_unreadable", image="truncated", photo=6),
        Obj("lemon_wrong_aspect", "lemon", "lemon", "size_mismatch", mask="wrong_aspect", photo=7),
        Obj("lemon_empty", "lemon", "lemon", "empty_mask", mask="empty", photo=0),
        Obj("strawberry_border", "strawberry", "strawberry", "touches_border", at=(0.05, 0.5), photo=1),
        Obj("lemon_tiny", "lemon", "lemon", "too_small", size=34, photo=2),
        Obj("toaster_two_parts", "toaster", "toaster", "multiple_components", mask="two", size=110, photo=3),
        Obj("koala_islands", "koala", "koala", "islands", mask="islands", photo=4),
        Obj("lemon_loose_box", "lemon", "lemon", "low_box_fill", box="loose", size=70, photo=5),
        Obj("lemon_bad_row", "lemon", "lemon", "bad_row", box="inverted", photo=6),
    ]


def image_id(name: str) -> str:
    """A 16-hex-digit ImageID like OpenImages', stable per fixture name."""
    return hashlib.sha1(name.encode()).hexdigest()[:16]


def box_id(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()[:8]


def paste(photo: np.ndarray, rgba: np.ndarray, size: int, centre: tuple[float, float]
          ) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``rgba`` scaled to ``size`` (long side) at ``centre``; returns (image, true mask)."""
    img = Image.fromarray(rgba)
    img = _shrink(img, size)
    alpha = np.asarray(img)[..., 3] > 127
    h, w = photo.shape[:2]
    x0 = int(centre[0] * w - img.width / 2)
    y0 = int(centre[1] * h - img.height / 2)
    truth = np.zeros((h, w), bool)
    sx0, sy0 = max(0, -x0), max(0, -y0)
    ex, ey = min(img.width, w - x0), min(img.height, h - y0)
    truth[y0 + sy0: y0 + ey, x0 + sx0: x0 + ex] = alpha[sy0:ey, sx0:ex]
    out = photo.copy()
    rgb = np.zeros_like(photo)
    rgb[y0 + sy0: y0 + ey, x0 + sx0: x0 + ex] = np.asarray(img.convert("RGB"))[sy0:ey, sx0:ex]
    out[truth] = rgb[truth]
    return out, truth


def bbox_of(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Normalised (xmin, xmax, ymin, ymax) of a mask, as OpenImages writes them."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    return (round(xs.min() / w, 6), round((xs.max() + 1) / w, 6),
            round(ys.min() / h, 6), round((ys.max() + 1) / h, 6))


def png_bytes(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


def write_csv(path: Path, header: list[str] | None, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        if header:
            w.writerow(header)
        w.writerows(rows)


def write_jpeg(path: Path, rgb: np.ndarray, mode: str = "normal") -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 3] if mode == "truncated" else data)


@dataclass
class OIFixture:
    """Paths of an OpenImages fixture, the true mask and expected reason of every object."""

    root: Path
    segmentation: Path
    boxes: Path
    classes: Path
    images: Path
    masks: Path
    image_info: Path
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # key -> HxW bool
    expect: dict[str, str] = field(default_factory=dict)  # key -> reason
    keys: dict[str, str] = field(default_factory=dict)  # fixture name -> key
    unmapped_rows: int = 0


def _speckles(mask: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """3x3 specks near the object (outside it) covering about ``frac`` of its area."""
    rng = np.random.default_rng(seed)
    out = mask.copy()
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    n = max(1, int(frac * mask.sum() / 9))
    placed = 0
    while placed < n:
        y = int(rng.integers(max(0, ys.min() - 20), min(h - 3, ys.max() + 20)))
        x = int(rng.integers(max(0, xs.min() - 20), min(w - 3, xs.max() + 20)))
        ring = mask[max(0, y - 3): y + 6, max(0, x - 3): x + 6]
        if ring.any() or out[max(0, y - 3): y + 6, max(0, x - 3): x + 6].any():
            continue
        out[y: y + 3, x: x + 3] = True
        placed += 1
    return out


def _annotated_mask(o: Obj, truth: np.ndarray) -> np.ndarray | None:
    """The mask PNG content of ``o`` at image size (None: no PNG is written)."""
    if o.mask == "missing":
        return None
    if o.mask == "empty":
        return np.zeros_like(truth)
    if o.mask == "pinhole":
        m = _speckles(truth, 0.0005, seed=1)
        ys, xs = np.nonzero(truth)
        cy, cx = int(ys.mean()), int(xs.mean())
        m[cy - 1: cy + 2, cx - 1: cx + 2] = False
        return m
    if o.mask == "islands":
        return _speckles(truth, 0.06, seed=2)
    return truth


def _mask_png(o: Obj, mask: np.ndarray) -> bytes:
    h, w = mask.shape
    size = (round(w * o.mask_scale), round(h * o.mask_scale))
    if o.mask == "wrong_aspect":
        size = (round(w * o.mask_scale), round(h * o.mask_scale * 1.3))
    img = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L").resize(size, Image.NEAREST)
    return png_bytes(np.asarray(img) > 127)


def _box(o: Obj, truth: np.ndarray) -> tuple[list[float], list[float]]:
    """(box written in the segmentation CSV, box written in the box CSV)."""
    b = list(bbox_of(truth))
    if o.box == "loose":
        grow = [-0.25, 0.25, -0.25, 0.25]
        b = [round(min(1.0, max(0.0, v + g)), 6) for v, g in zip(b, grow, strict=True)]
    seg, box = list(b), list(b)
    if o.box == "shifted":
        box = [round(v + 0.01, 6) for v in b]
    if o.box == "inverted":
        seg = [b[1], b[0], b[2], b[3]]
    return seg, box


def build_openimages(root: Path, kit: Kit, *, version: str = "v6", masks: str = "zip",
                     objects: list[Obj] | None = None, split: str = "validation") -> OIFixture:
    """Write an OpenImages fixture under ``root`` (see the module docstring)."""
    objects = default_objects() if objects is None else objects
    root.mkdir(parents=True, exist_ok=True)
    fx = OIFixture(root, root / f"{split}-annotations-object-segmentation.csv",
                   root / ("oidv6-train-annotations-bbox.csv" if version != "v5"
                           else f"{split}-annotations-bbox.csv"),
                   root / "class-descriptions-boxable.csv", root / "images", root / "masks",
                   root / "image_ids.csv")
    fx.images.mkdir(exist_ok=True)
    fx.masks.mkdir(exist_ok=True)
    by_image: dict[str, list[Obj]] = {}
    for o in objects:
        by_image.setdefault(o.image_key or o.name, []).append(o)
    seg_rows, box_rows, info_rows, pngs = [], [], [], {}
    for key, objs in by_image.items():
        iid = image_id(key)
        photo = kit.photos[objs[0].photo % len(kit.photos)]
        image, truths = photo, {}
        for o in objs:
            cut = kit.cutouts[o.cutout]
            if o.mask == "two":
                image, t1 = paste(image, cut, o.size, (o.at[0] - 0.22, o.at[1]))
                image, t2 = paste(image, cut, o.size, (o.at[0] + 0.22, o.at[1]))
                truths[o.name] = t1 | t2
            else:
                image, truths[o.name] = paste(image, cut, o.size, o.at)
        if objs[0].image != "missing":
            write_jpeg(fx.images / f"{iid}.jpg", image, objs[0].image)
        h, w = image.shape[:2]
        info_rows.append([iid, split, f"https://farm.example/{iid}_o.jpg",
                          f"https://www.flickr.com/photos/x/{iid}",
                          "https://creativecommons.org/licenses/by/2.0/", "https://www.flickr.com/people/x/",
                          f"Author {iid[:4]}", f"Photo {key}", f"{w * 3}x{h * 3}", "bWQ1", "", "0"])
        for o in objs:
            mid, bid = MID[o.cls], box_id(o.name)
            mask_path = f"{iid}_{mid.replace('/', '')}_{bid}.png"
            truth = truths[o.name]
            seg, box = _box(o, truth)
            seg_rows.append([mask_path, iid, mid, bid, *map(str, seg), o.iou,
                             "0.51 0.42 1;0.55 0.47 0;0.49 0.40 1"])
            extra = [f"{v:.6f}" for v in (box[0], box[2], box[1], box[2], box[1], box[3], box[0], box[3])]
            box_rows.append([iid, "xclick", mid, "1", *map(str, box), *o.flags, "0",
                             *(extra if version != "v5" else [])])
            mask = _annotated_mask(o, truth)
            if mask is not None:
                pngs[mask_path] = _mask_png(o, mask)
            k = f"{o.cls}/{iid}_{bid}"
            fx.truth[k], fx.expect[k], fx.keys[o.name] = truth, o.expect, k
        box_rows.append([iid, "xclick", MID["person"], "1", "0.0", "0.1", "0.0", "0.1", "0", "0", "0", "0", "0",
                         *(["-1"] * 8 if version != "v5" else [])])
    # rows of classes that are not extracted: unmapped (Kite, Person, a name with a comma), unknown MID
    first_iid = image_id(objects[0].image_key or objects[0].name)
    for i, mid in enumerate(["/m/02zt3", "/m/01g317", "/m/01g317", "/m/0fx9l", "/m/0zzzzz"]):
        seg_rows.insert(1 + i, [f"{first_iid}_{mid.replace('/', '')}_{i:08x}.png", first_iid, mid,
                                f"{i:08x}", "0.1", "0.2", "0.1", "0.2", "0.7", ""])
    fx.unmapped_rows = 5
    write_csv(fx.segmentation, SEG_HEADER, seg_rows)
    write_csv(fx.boxes, BOX_HEADER + (XCLICKS if version != "v5" else []), box_rows)
    write_csv(fx.classes, None if version == "v5" else ["LabelName", "DisplayName"],
              [[k, v] for k, v in CLASSES.items()])
    write_csv(fx.image_info, INFO_HEADER, info_rows)
    if masks == "zip":
        zips: dict[str, zipfile.ZipFile] = {}
        for name in sorted(pngs):
            h = name[0]
            if h not in zips:
                zips[h] = zipfile.ZipFile(fx.masks / f"{split}-masks-{h}.zip", "w", zipfile.ZIP_STORED)
            zips[h].writestr(name, pngs[name])
        for z in zips.values():
            z.close()
    else:
        for name, data in pngs.items():
            (fx.masks / name).write_bytes(data)
    return fx


# -- COCO -----------------------------------------------------------------------------------
COCO_CATEGORIES = {1: "person", 24: "zebra", 38: "kite", 53: "apple", 55: "orange", 86: "vase",
                   88: "teddy bear"}


@dataclass
class CocoObj:
    name: str
    cutout: str
    category: int
    expect: str
    segm: str = "polygon"  # polygon|rle|rle-uncompressed|four|polygon+four|none
    size: int = 220
    at: tuple[float, float] = (0.5, 0.5)
    iscrowd: int = 0
    image: str = "normal"  # normal|missing|truncated|size_lie
    bbox: str = "tight"  # tight|outside
    photo: int = 0


def default_coco_objects() -> list[CocoObj]:
    return [
        CocoObj("orange_polygon", "lemon", 55, "kept", photo=0),
        CocoObj("teddy_rle", "koala", 88, "kept", segm="rle", photo=1),
        CocoObj("zebra_rle_uncompressed", "zebra", 24, "kept", segm="rle-uncompressed", photo=2),
        CocoObj("vase_polygon_and_four", "toaster", 86, "kept", segm="polygon+four", photo=3),
        CocoObj("apple_crowd", "strawberry", 53, "group_of", segm="rle-uncompressed", iscrowd=1, photo=4),
        CocoObj("orange_four_numbers", "lemon", 55, "bad_polygon", segm="four", photo=5),
        CocoObj("apple_border", "strawberry", 53, "touches_border", size=160, at=(0.06, 0.5), photo=6),
        CocoObj("person", "koala", 1, "no_label_mapping", photo=7),
        CocoObj("kite", "lemon", 38, "no_label_mapping", photo=0),
        CocoObj("orange_size_lie", "lemon", 55, "size_mismatch", image="size_lie", photo=1),
        CocoObj("orange_no_segmentation", "lemon", 55, "bad_row", segm="none", photo=2),
        CocoObj("orange_bbox_outside", "lemon", 55, "size_mismatch", bbox="outside", photo=3),
        CocoObj("orange_truncated_jpeg", "lemon", 55, "image_unreadable", image="truncated", photo=4),
        CocoObj("orange_missing_jpeg", "lemon", 55, "image_missing", image="missing", photo=5),
    ]


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths in column-major order, starting with zeros."""
    flat = mask.astype(np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


def _segmentation(kind: str, truth: np.ndarray):
    import cv2
    from pycocotools import mask as mask_utils

    if kind == "rle":
        rle = mask_utils.encode(np.asfortranarray(truth.astype(np.uint8)))
        return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
    if kind == "rle-uncompressed":
        return uncompressed_rle(truth)
    contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    polys = [[round(float(v), 2) for v in (c.reshape(-1, 2) + 0.5).flatten()] for c in contours
             if len(c) >= 3]
    ys, xs = np.nonzero(truth)
    four = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]
    if kind == "four":
        return [four]
    if kind == "polygon+four":
        return [*polys, four]
    return polys


@dataclass
class CocoFixture:
    annotations: Path
    images: Path
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    expect: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)


def build_coco(root: Path, kit: Kit, objects: list[CocoObj] | None = None) -> CocoFixture:
    """Write ``root/instances.json`` and ``root/images/`` (one object per image)."""
    import json

    from siscore.extract.classes import builtin_coco_table

    objects = default_coco_objects() if objects is None else objects
    table = builtin_coco_table()
    fx = CocoFixture(root / "instances.json", root / "images")
    fx.images.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for n, o in enumerate(objects, start=1):
        photo = kit.photos[o.photo % len(kit.photos)]
        image, truth = paste(photo, kit.cutouts[o.cutout], o.size, o.at)
        h, w = truth.shape
        file_name = f"{n:012d}.jpg"
        if o.image != "missing":
            write_jpeg(fx.images / file_name, image, o.image)
        jw, jh = (w + 40, h + 30) if o.image == "size_lie" else (w, h)
        images.append({"id": n, "file_name": file_name, "width": jw, "height": jh, "license": 4,
                       "flickr_url": f"http://farm.example/{n}.jpg", "coco_url": f"http://images.example/{file_name}"})
        ys, xs = np.nonzero(truth)
        bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        if o.bbox == "outside":
            bbox[2] = float(w)
        ann = {"id": 1000 + n, "image_id": n, "category_id": o.category, "iscrowd": o.iscrowd,
               "area": float(truth.sum()), "bbox": bbox}
        if o.segm != "none":
            ann["segmentation"] = _segmentation(o.segm, truth)
        anns.append(ann)
        name = COCO_CATEGORIES[o.category]
        label = table[name][0]
        k = f"{label}/{Path(file_name).stem}_{1000 + n}"
        fx.truth[k], fx.expect[k], fx.keys[o.name] = truth, o.expect, k
    data = {"info": {"description": "siscore test fixture"},
            "licenses": [{"id": 4, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"}],
            "images": images, "annotations": anns,
            "categories": [{"id": i, "name": nm, "supercategory": "x"} for i, nm in COCO_CATEGORIES.items()]}
    fx.annotations.write_text(json.dumps(data), encoding="utf-8")
    return fx


# -- helpers for the tests ------------------------------------------------------------------
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "si-score-samples"


@functools.lru_cache(maxsize=2)
def cached_kit(use_samples: bool = True) -> Kit:
    """The kit from ../shared when present (else scikit-image's photos), built once.

    Set SISCORE_TESTS_NO_SHARED=1 to use scikit-image's photos even when ../shared is there.
    """
    use = use_samples and not os.environ.get("SISCORE_TESTS_NO_SHARED")
    return make_kit(SAMPLES if use and (SAMPLES / "foregrounds").is_dir() else None)


def report(out: Path) -> dict[str, dict[str, str]]:
    """extract_report.csv as key -> row."""
    with open(out / "extract_report.csv", encoding="utf-8", newline="") as f:
        return {r["key"]: r for r in csv.DictReader(f)}


def recovered_mask(out: Path, row: dict[str, str], shape: tuple[int, int]) -> np.ndarray:
    """The written cut-out's alpha placed back at its crop in the source image."""
    alpha = np.asarray(Image.open(out / row["path"]))[..., 3] > 0
    full = np.zeros(shape, bool)
    full[int(row["crop_y0"]): int(row["crop_y1"]), int(row["crop_x0"]): int(row["crop_x1"])] = alpha
    return full


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (hidden state excluded)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith("."):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
