"""Masks: read OpenImages PNGs (folder or zips), decode COCO segmentations, clean edges.

OpenImages masks ship as ``{split}-masks-{h}.zip`` files (``h`` = first hex
digit of the ImageID) with the PNGs at the zip root; they are read straight
from the zips. A mask's resolution is often not the image's: it is resized to
the image with nearest neighbour after checking that the aspect ratios agree.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from siscore.extract.cutout import clean_mask
from siscore.extract.records import Drop, ExtractError
from siscore.utils.extras import require

_ZIP_DIGIT = re.compile(r"-masks-([0-9a-f])\.zip$", re.IGNORECASE)
# per process: a zip's central directory is read once (keyed by its stat, so a changed file is reopened)
_OPEN_ZIPS: dict[str, tuple[tuple[int, int], zipfile.ZipFile]] = {}


def _open_zip(path: Path) -> zipfile.ZipFile:
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _OPEN_ZIPS.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if cached is not None:
        cached[1].close()
    zf = zipfile.ZipFile(path)
    _OPEN_ZIPS[str(path)] = (stamp, zf)
    return zf


def close_zips() -> None:
    """Close the zips this process opened (the driver calls it at the end of a run)."""
    while _OPEN_ZIPS:
        _OPEN_ZIPS.popitem()[1][1].close()


class MaskSource:
    """Where OpenImages mask PNGs are: a folder of PNGs, a folder of the 16 zips, or one zip."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        hint = ("give the folder of mask PNGs, the folder holding the {split}-masks-{0..f}.zip "
                "files, or one of those zips")
        if not self.path.exists():
            raise ExtractError(f"--masks {self.path}: not found; {hint}")
        self.folder: Path | None = None
        self.zips: dict[str, list[Path]] = {}
        if self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise ExtractError(f"--masks {self.path}: not a zip file; {hint}")
            self.zips["*"] = [self.path]
            return
        self.folder = self.path
        for z in sorted(self.path.glob("*.zip")):
            m = _ZIP_DIGIT.search(z.name)
            self.zips.setdefault(m.group(1).lower() if m else "*", []).append(z)

    def describe(self) -> str:
        n = sum(len(v) for v in self.zips.values())
        return f"{self.path} ({n} zip file(s))" if n else str(self.path)

    def read(self, name: str, image_id: str) -> bytes:
        """The bytes of mask ``name``; :class:`Drop` ``mask_missing``/``mask_unreadable``."""
        if self.folder is not None:
            f = self.folder / name
            if f.is_file():
                return f.read_bytes()
        zips = self.zips.get(image_id[:1].lower(), []) + self.zips.get("*", [])
        for z in zips:
            try:
                return _open_zip(z).read(name)
            except KeyError:
                continue
            except (OSError, zipfile.BadZipFile, ValueError) as exc:
                raise Drop("mask_unreadable", f"{name} in {z}: {exc}") from None
        where = ", ".join(z.name for z in zips) or "no zip"
        raise Drop("mask_missing", f"{name} is not in {self.path} (looked in the folder and in {where})")


def decode_png(data: bytes, name: str) -> np.ndarray:
    """A mask PNG as a bool array: values > 127 are object (0/1 masks: non-zero)."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if arr is None:
        raise Drop("mask_unreadable", f"{name}: not a decodable image")
    return arr > (0 if arr.max() <= 1 else 127)


def fit_to_image(mask: np.ndarray, width: int, height: int, size_tol: float, name: str) -> np.ndarray:
    """Resize ``mask`` to ``width`` x ``height`` (nearest neighbour) if the aspect ratios agree."""
    mh, mw = mask.shape
    if (mw, mh) == (width, height):
        return mask
    sx, sy = mw / width, mh / height
    if abs(sx - sy) > size_tol * max(sx, sy) + sx / width + sy / height:
        raise Drop("size_mismatch", f"{name} is {mw}x{mh} but the image is {width}x{height} "
                                    "(different aspect ratio: not this image's mask)")
    out = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return out.astype(bool)


# How far (px) a polygon vertex may lie outside the image: annotation tools round outwards.
# Anything further is refused before pycocotools, which overflows (and segfaults) on
# coordinates of about 1e9 and more.
POLYGON_MARGIN = 2.0


def _polygons(segm: list[Any]) -> tuple[list[list[float]], list[int]]:
    good, bad = [], []
    for poly in segm:
        ok = isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
        if ok:
            try:
                good.append([float(v) for v in poly])
                continue
            except (TypeError, ValueError, OverflowError):
                pass
        bad.append(len(poly) if isinstance(poly, list) else -1)
    return good, bad


def _check_inside(polys: list[list[float]], height: int, width: int) -> None:
    """Drop ``bad_polygon`` unless every vertex is finite and within the image (plus a margin)."""
    for poly in polys:
        xs, ys = np.asarray(poly[0::2]), np.asarray(poly[1::2])
        inside = (np.isfinite(xs) & np.isfinite(ys) & (xs >= -POLYGON_MARGIN) & (ys >= -POLYGON_MARGIN)
                  & (xs <= width + POLYGON_MARGIN) & (ys <= height + POLYGON_MARGIN))
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            raise Drop("bad_polygon", f"polygon vertex ({xs[i]:g}, {ys[i]:g}) lies outside the "
                                      f"{width}x{height} image (more than {POLYGON_MARGIN:g} px)")


def coco_mask(segm: Any, height: int, width: int) -> tuple[np.ndarray, str]:
    """Decode a COCO segmentation (polygons, RLE or uncompressed RLE) to a bool mask.

    Polygons with fewer than 3 points are ignored with a note: ``frPyObjects``
    would misread a 4-number polygon as a box. Returns ``(mask, note)``.
    """
    mask_utils = require("pycocotools.mask", "decoding COCO masks")

    note = ""
    try:
        if isinstance(segm, list):
            good, bad = _polygons(segm)
            if bad:
                note = f"ignored {len(bad)} polygon(s) with fewer than 3 points or an odd count (lengths {bad})"
            if not good:
                raise Drop("bad_polygon", f"{len(segm)} polygon(s), none usable: {note or 'empty list'}")
            _check_inside(good, height, width)
            rle = mask_utils.merge(mask_utils.frPyObjects(good, height, width))
        elif isinstance(segm, dict) and "counts" in segm and "size" in segm:
            size = [int(v) for v in segm["size"]]
            if size != [height, width]:
                raise Drop("size_mismatch", f"RLE size {size} but the image entry says height {height}, width {width}")
            counts = segm["counts"]
            if isinstance(counts, list):
                if sum(int(c) for c in counts) != height * width:
                    raise Drop("mask_unreadable", f"uncompressed RLE counts sum to {sum(counts)}, not {height}*{width}")
                rle = mask_utils.frPyObjects(segm, height, width)
            else:
                rle = {"size": size, "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
        else:
            raise Drop("mask_unreadable", "segmentation is neither a polygon list nor an RLE dict")
        with warnings.catch_warnings():  # pycocotools' numpy-2 copy= deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = mask_utils.decode(rle)
    except Drop:
        raise
    except Exception as exc:  # pycocotools raises TypeError/ValueError/... on malformed input
        raise Drop("mask_unreadable", f"pycocotools cannot decode the segmentation: {exc}") from None
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    return mask.astype(bool), note


@dataclass(frozen=True)
class Cleaning:
    """Edge cleaning after the gates: hole filling, erosion and alpha feathering."""

    fill_holes: bool = True
    max_hole_frac: float = 0.005
    erode_px: int = 0
    feather_px: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.max_hole_frac <= 1:
            raise ExtractError(f"--max-hole-frac {self.max_hole_frac}: must be in [0, 1]")
        if self.erode_px < 0 or self.feather_px < 0:
            raise ExtractError("--erode and --feather must be >= 0")


def clean(mask: np.ndarray, component_frac: float, cleaning: Cleaning) -> np.ndarray:
    """Drop islands (components below ``component_frac`` of the largest), fill holes, erode."""
    return clean_mask(mask, min_island_frac=component_frac, fill_holes=cleaning.fill_holes,
                      erode_px=cleaning.erode_px, max_hole_frac=cleaning.max_hole_frac)
