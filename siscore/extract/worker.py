"""The pixel stage: for each object of one image, mask -> gates -> clean -> RGBA PNG.

Runs in worker processes. One call handles every candidate of one image so the
photo is decoded once. Each PNG is written to a temporary name and renamed, so
an interrupted run never leaves a partial file under a final name.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from siscore.extract.cutout import cutout_rgba, grabcut_mask, mask_bbox
from siscore.extract.gates import Gates, box_pixels, components, failures, measure
from siscore.extract.masks import Cleaning, MaskSource, clean, coco_mask, decode_png, fit_to_image
from siscore.extract.records import KEPT, Candidate, Drop

Image.MAX_IMAGE_PIXELS = 200_000_000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


@dataclass(frozen=True)
class Context:
    """Everything a worker needs besides the candidates (small and picklable)."""

    out: str
    images: str
    masks: MaskSource | None
    gates: Gates
    cleaning: Cleaning
    size_tol: float = 0.01
    grabcut_iters: int = 5
    grabcut_margin: float = 0.25


def find_image(images: str, image_file: str) -> Path:
    """``images/image_file``, also trying the other usual extensions; Drop if absent."""
    path = Path(images) / image_file
    if path.is_file():
        return path
    for ext in IMAGE_EXTENSIONS:
        alt = path.with_suffix(ext)
        if alt.is_file():
            return alt
    raise Drop("image_missing", f"{path} not found")


def load_image(path: Path) -> np.ndarray:
    """Decode a photo as RGB in its stored pixel frame (EXIF orientation is NOT applied:
    OpenImages and COCO annotations refer to the stored frame)."""
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Drop("image_unreadable", f"{path}: {exc}") from None


def _grabcut(c: Candidate, image: np.ndarray, ctx: Context) -> np.ndarray:
    """GrabCut seeded by the box, on the box plus a margin of context (seeded per object)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box_pixels(c.box, w, h)
    mx, my = int(ctx.grabcut_margin * (x1 - x0)) + 8, int(ctx.grabcut_margin * (y1 - y0)) + 8
    cx0, cy0, cx1, cy1 = max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)
    if (x0, y0, x1, y1) == (cx0, cy0, cx1, cy1):
        raise Drop("grabcut_failed", "the box covers the whole image: no background to learn from")
    seed = zlib.crc32(c.key.encode("utf-8")) & 0x7FFFFFFF  # cv2.setRNGSeed takes a C int
    try:
        part = grabcut_mask(image[cy0:cy1, cx0:cx1], (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0),
                            iterations=ctx.grabcut_iters, seed=seed)
    except (ValueError, cv2.error) as exc:
        raise Drop("grabcut_failed", str(exc).strip().splitlines()[-1]) from None
    mask = np.zeros((h, w), bool)
    mask[cy0:cy1, cx0:cx1] = part
    return mask


def object_mask(c: Candidate, image: np.ndarray, ctx: Context) -> tuple[np.ndarray, str]:
    """The raw HxW bool mask of ``c`` at the image's size, and a note for the report."""
    h, w = image.shape[:2]
    if c.source == "coco":
        if c.image_size is not None and c.image_size != (w, h):
            raise Drop("size_mismatch", f"{c.image_file} is {w}x{h} but the annotation file says "
                                        f"{c.image_size[0]}x{c.image_size[1]}")
        return coco_mask(c.mask, h, w)
    if c.mask is None:
        return _grabcut(c, image, ctx), ""
    assert ctx.masks is not None
    mask = decode_png(ctx.masks.read(c.mask, c.image_id), c.mask)
    return fit_to_image(mask, w, h, ctx.size_tol, c.mask), ""


def _explain(name: str, scores: dict[str, Any], large: int, island_frac: float, g: Gates) -> str:
    return {
        "multiple_components": f"{large} large components > --max-components {g.max_components}",
        "islands": f"islands cover {island_frac:.3f} of the mask > --max-island-frac {g.max_island_frac}",
        "too_small": f"{scores['pixels']} px < --min-pixels {g.min_pixels}",
        "too_short": f"shorter side {scores['side']} px < --min-object-side {g.min_object_side}",
        "low_box_fill": f"fills {scores['box_fill']:.3f} of its box < --min-box-fill {g.min_box_fill}",
        "touches_border": f"the mask or its box is within --border-px {g.border_px} of the "
                          "image border (treated as truncated)",
    }[name]


def write_png(path: Path, rgba: np.ndarray, tmp_dir: Path) -> None:
    """Encode an RGBA cut-out as PNG and move it into place atomically."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA),
                            [cv2.IMWRITE_PNG_COMPRESSION, 3,  # RLE: ~1.5x faster, as small
                             cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE])
    if not ok:
        raise OSError(f"cannot encode {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{os.getpid()}-{path.name}.tmp"
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)


def process_one(c: Candidate, image: np.ndarray, ctx: Context) -> dict[str, str]:
    """Cut one object out of ``image``; returns its report row."""
    h, w = image.shape[:2]
    values: dict[str, Any] = {"image_width": w, "image_height": h}
    g = ctx.gates
    try:
        raw, note = object_mask(c, image, ctx)
        if not raw.any():
            raise Drop("empty_mask", "the mask has no object pixel")
        x0, y0, x1, y1 = mask_bbox(raw)
        raw = raw[y0:y1, x0:x1]
        comps = components(raw, g.component_frac)
        values.update(components=comps.large, island_frac=round(comps.island_frac, 6))
        cleaned = clean(raw, g.component_frac, ctx.cleaning)
        if not cleaned.any():
            raise Drop("empty_mask", f"nothing left after cleaning (--erode {ctx.cleaning.erode_px})")
        cx0, cy0, cx1, cy1 = mask_bbox(cleaned)
        cleaned = cleaned[cy0:cy1, cx0:cx1]
        crop = (x0 + cx0, y0 + cy0, x0 + cx1, y0 + cy1)
        scores = measure(cleaned, crop, box_pixels(c.box, w, h), (w, h), g.border_px)
        values.update(scores, crop_x0=crop[0], crop_y0=crop[1], crop_x1=crop[2], crop_y1=crop[3],
                      box_fill=round(scores["box_fill"], 6))
        failed = failures(scores, comps, g)
        if failed:
            detail = _explain(failed[0], scores, comps.large, comps.island_frac, g)
            return c.report_row(failed[0], "; ".join(filter(None, [detail, note])),
                                failed=";".join(failed), **values)
        rgba = cutout_rgba(image[crop[1]:crop[3], crop[0]:crop[2]], cleaned, ctx.cleaning.feather_px)
        out = Path(ctx.out)
        write_png(out / c.rel_path, rgba, out / ".extract" / "tmp")
        values.update(width=rgba.shape[1], height=rgba.shape[0])
        return c.report_row(KEPT, note, **values)
    except Drop as d:
        return c.report_row(d.reason, d.detail, **values)


def process_image(cands: list[Candidate], ctx: Context) -> list[dict[str, str]]:
    """Process every candidate of one image (they share ``image_file``)."""
    try:
        image = load_image(find_image(ctx.images, cands[0].image_file))
    except Drop as d:
        return [c.report_row(d.reason, d.detail) for c in cands]
    return [process_one(c, image, ctx) for c in cands]
