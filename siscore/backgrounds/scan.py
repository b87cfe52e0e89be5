"""Finding and decoding the photographs of a folder; bad input is reported, never fatal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from siscore.assets import IMAGE_EXTENSIONS

Image.MAX_IMAGE_PIXELS = 200_000_000


class BadImage(ValueError):
    """A file that cannot be decoded as an image; the message is the reason."""


@dataclass(frozen=True)
class BadInput:
    """A folder entry that is not a usable image, and why."""

    file: str
    reason: str


def list_folder(folder: str | Path) -> tuple[list[Path], list[BadInput]]:
    """The image files of a flat ``folder`` (sorted by name) and the entries left out.

    Hidden entries are ignored; files without an image extension and
    sub-folders are reported as bad input.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: folder does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    images: list[Path] = []
    bad: list[BadInput] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            bad.append(BadInput(entry.name, "sub-folder ignored (give a flat folder of photos)"))
        elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
            images.append(Path(entry.path))
        else:
            bad.append(BadInput(entry.name, f"not an image file (expected {'/'.join(IMAGE_EXTENSIONS)})"))
    return images, bad


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        peak = 1.0 if img.mode == "F" and arr.max() <= 1.0 else (65535.0 if arr.max() > 255 else 255.0)
        img = Image.fromarray(np.clip(arr * 255.0 / peak, 0, 255).round().astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def decode(path: str | Path, max_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode ``path`` as RGB no larger than ``max_side`` on its long side.

    Returns the (downscaled, never upscaled) HxWx3 uint8 array and the full
    pixel size ``(width, height)`` as displayed (EXIF orientation applied).
    JPEGs are decoded at reduced scale directly. Raises :class:`BadImage`.
    """
    try:
        with Image.open(path) as img:
            full = img.size
            if img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))
            img.load()
            try:
                transposed = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block must not lose the image
                transposed = img
            if transposed.size[0] != img.size[0] and img.size[0] != img.size[1]:
                full = (full[1], full[0])
            rgb = _to_rgb(transposed)
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except Image.DecompressionBombError as exc:
        raise BadImage(f"image too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"unreadable or truncated image ({exc})") from None
    if rgb.width < 1 or rgb.height < 1:
        raise BadImage("empty image (0 pixels)")
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BOX)
    return np.asarray(rgb), full
