"""Finding and decoding the photographs of a folder; bad input is reported, never fatal."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from siscore.errors import SiscoreError
from siscore.formats.images import ASSET_MAX_PIXELS, above_limit, open_checked_later
from siscore.generate.assets import IMAGE_EXTENSIONS

Image.MAX_IMAGE_PIXELS = 200_000_000


class BadImage(SiscoreError, ValueError):
    """A file that cannot be decoded as an image; the message is the reason."""


@dataclass(frozen=True)
class BadInput:
    """A folder entry that is not a usable image, and why."""

    file: str
    reason: str


def folder_problem(folder: str | Path) -> str | None:
    """Why ``folder`` cannot be listed (does not exist, a symlink loop, not a folder), or None."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop, not a folder"
        if os.path.islink(folder):
            return f"a symbolic link to {os.readlink(folder)}, which does not exist"
        if exc.errno == errno.ENOENT:
            return "folder does not exist"
        return f"cannot be read ({exc.strerror})"
    return None if stat.S_ISDIR(st.st_mode) else "not a folder"


def _entry_problem(entry: os.DirEntry[str]) -> str | None:
    """Why a folder entry is not a photo file (a link loop, a dangling link, a folder...)."""
    try:
        st = os.stat(entry.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (skipped)"
        if entry.is_symlink():
            return f"dangling symbolic link to {os.readlink(entry.path)} (skipped)"
        return f"cannot be read ({exc.strerror}; skipped)"
    if stat.S_ISDIR(st.st_mode):
        if entry.name.lower().endswith(IMAGE_EXTENSIONS):
            return "a folder named like an image, not a photo (skipped)"
        return "sub-folder ignored (give a flat folder of photos)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, socket or device; skipped)"
    if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
        return f"not an image file (expected {'/'.join(IMAGE_EXTENSIONS)})"
    return None


def list_folder(folder: str | Path) -> tuple[list[Path], list[BadInput]]:
    """The image files of a flat ``folder`` (sorted by name) and the entries left out.

    Hidden entries are ignored; files without an image extension, sub-folders
    (also those named like ``x.png``), symbolic link loops, dangling links and
    special files are reported as bad input.
    """
    folder = Path(folder)
    problem = folder_problem(folder)
    if problem == "folder does not exist":
        raise FileNotFoundError(f"{folder}: {problem}")
    if problem is not None:
        raise NotADirectoryError(f"{folder}: {problem}")
    images: list[Path] = []
    bad: list[BadInput] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        why = _entry_problem(entry)
        if why is None:
            images.append(Path(entry.path))
        else:
            bad.append(BadInput(entry.name, why))
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
    rgb, full, _ = _decode(path, max_side, with_hash=False)
    return rgb, full


def decode_with_hash(path: str | Path, max_side: int) -> tuple[np.ndarray, tuple[int, int], int]:
    """:func:`decode`, plus the ``imagehash.phash`` of the stored full-size image.

    The hash needs the full image, so JPEGs are not decoded at reduced scale here.
    """
    rgb, full, digest = _decode(path, max_side, with_hash=True)
    assert digest is not None
    return rgb, full, digest


def _decode(path: str | Path, max_side: int, with_hash: bool
            ) -> tuple[np.ndarray, tuple[int, int], int | None]:
    from siscore.backgrounds.phash import phash

    digest = None
    try:
        with open_checked_later(path) as img:
            full = img.size
            why = above_limit(full, ASSET_MAX_PIXELS)
            if why:
                raise BadImage(why)
            if img.format == "JPEG" and not with_hash:
                img.draft("RGB", (max_side, max_side))
            img.load()
            if with_hash:
                digest = phash(img)
            try:
                transposed = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block must not lose the image
                transposed = img
            if transposed.size[0] != img.size[0] and img.size[0] != img.size[1]:
                full = (full[1], full[0])
            rgb = _to_rgb(transposed)
    except BadImage:
        raise
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
    return np.asarray(rgb), full, digest
