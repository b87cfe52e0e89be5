"""Asset libraries: foreground cut-outs and background photographs.

Foregrounds: ``DIR/<label>/<file>.png`` (RGBA). Backgrounds: a flat folder of
jpg/png/webp. Every file is checked once when the library is scanned, without
decoding it all: a PNG's header and chunk checksums are read (and a cut-out's
first rows decoded, to see that its alpha channel is not empty), a JPEG is
decoded at 1/8 scale, so even a huge image costs neither gigabytes nor seconds.
A bad file, a broken symbolic link, a link loop or a folder where a file should
be is skipped with a reason (never fatal), and the reason is reported in the
build summary and in ``dataset.json``. A class folder or a background file whose name a
spreadsheet would read as a formula (``=cmd``, ``+x``, ``-x``, ``@x``) is refused with one
line: its name is written to the CSV outputs (the label, backgrounds.csv).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from siscore.errors import ParamError
from siscore.formats.images import ASSET_MAX_PIXELS, above_limit, open_checked_later
from siscore.formats.labels import formula_lead, formula_refusal

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
# files and folders that siscore's own tools (extract, backgrounds filter) or a licence note put
# beside an asset library: not assets, and not worth reporting
COMPANIONS = frozenset({"foregrounds.csv", "extract_report.csv", "label_map.csv", "filter_report.csv",
                        "ATTRIBUTION.md", "README.md", "LICENSE", "audit"})
FOREGROUND_EXTENSIONS = (".png", ".webp")

Image.MAX_IMAGE_PIXELS = 200_000_000
FULL_CHECK_PIXELS = 4096 * 4096
"""Images up to this many pixels are decoded when scanned; larger ones are checked lazily."""


class AssetError(ParamError):
    """An asset file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Foreground:
    """One cut-out: ``label/name``, its pixel size and checksum."""

    label: str
    name: str
    path: str
    size: tuple[int, int]
    sha256: str
    imagenet: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.label}/{self.name}"


@dataclass(frozen=True)
class Background:
    """One background photograph."""

    name: str
    path: str
    size: tuple[int, int]
    sha256: str


@dataclass(frozen=True)
class Skipped:
    """An asset left out, and why."""

    path: str
    reason: str


def embedded_assets() -> tuple[Path, Path]:
    """Foreground and background folders of the assets shipped with siscore."""
    root = Path(str(resources.files("siscore._assets")))
    return root / "foregrounds", root / "backgrounds"


def _to_8bit(img: Image.Image) -> Image.Image:
    """16/32-bit greyscale (``I;16``, ``I``, ``F``) -> ``L``, scaling the value range."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = np.clip(arr, 0.0, 1.0 if arr.max() <= 1.0 else 255.0)
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        return Image.fromarray((arr * scale).round().astype(np.uint8), "L")
    peak = 65535 if arr.max() > 255 else 255
    return Image.fromarray((arr.astype(np.float64) * 255.0 / peak).round().astype(np.uint8), "L")


@contextlib.contextmanager
def _read_errors(path: str | Path) -> Iterator[None]:
    """Reading ``path`` fails as one :class:`AssetError` naming it."""
    try:
        yield
    except AssetError:
        raise
    except FileNotFoundError:
        raise AssetError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AssetError(f"{path}: unreadable or truncated image ({exc})") from None


def _open_header(path: str | Path) -> Image.Image:
    """``path`` opened (header read, no pixel decoded), refused above the asset pixel limit."""
    img = open_checked_later(path)
    why = above_limit(img.size, ASSET_MAX_PIXELS)
    if why:
        img.close()
        raise AssetError(f"{path}: {why}; shrink the photo")
    return img


def _open(path: str) -> Image.Image:
    with _read_errors(path):
        img = _open_header(path)
        img.load()
    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the image
        img = ImageOps.exif_transpose(img)  # photos as they are displayed
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        img = _to_8bit(img)
    return img


def load_foreground(path: str) -> np.ndarray:
    """Decode a cut-out as straight RGBA (HxWx4 uint8); ``AssetError`` if unusable."""
    img = _open(path)
    if not _has_alpha(img):
        raise AssetError(
            f"{path}: no alpha channel (mode {img.mode}); foregrounds must be RGBA cut-outs "
            "with a transparent background"
        )
    rgba = np.asarray(img.convert("RGBA"))
    if not rgba[..., 3].any():
        raise AssetError(f"{path}: the alpha channel is empty (fully transparent)")
    return rgba


def load_background(path: str) -> np.ndarray:
    """Decode a background as RGB (HxWx3 uint8); ``AssetError`` if unusable."""
    img = _open(path)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        img = flat
    return np.asarray(img.convert("RGB"))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _kind(entry: os.DirEntry) -> str:
    """``file``, ``dir``, or why the entry is neither: a broken link, a link loop, ..."""
    try:
        if entry.is_dir():
            return "dir"
        if entry.is_file():
            return "file"
        os.stat(entry.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT and entry.is_symlink():
            return "broken symbolic link (its target does not exist)"
        return f"unreadable ({exc.strerror})"
    return "not a regular file"


def _entries(folder: Path) -> list[tuple[os.DirEntry, str]]:
    """The entries of ``folder`` worth looking at, sorted by name, each with its kind."""
    return [(e, _kind(e)) for e in sorted(os.scandir(folder), key=lambda e: e.name)
            if not e.name.startswith(".") and e.name not in COMPANIONS]


def _files(folder: Path, extensions: tuple[str, ...]) -> tuple[list[Path], list[Skipped]]:
    files, skipped = [], []
    try:
        entries = _entries(folder)
    except OSError as exc:
        return [], [Skipped(str(folder), f"folder unreadable ({exc.strerror})")]
    for entry, kind in entries:
        if kind == "file" and entry.name.lower().endswith(extensions):
            files.append(Path(entry.path))
        elif kind == "file":
            skipped.append(Skipped(entry.path, f"not an image file (expected {'/'.join(extensions)})"))
        elif kind == "dir":
            skipped.append(Skipped(entry.path, "a folder, not an image file (sub-folders are not read)"))
        else:
            skipped.append(Skipped(entry.path, kind))
    return files, skipped


def _check_dir(folder: Path, param: str) -> None:
    try:
        os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AssetError("symbolic link loop", param=param, value=folder) from None
        if exc.errno == errno.ENOENT:
            raise AssetError("folder does not exist", param=param, value=folder) from None
        raise AssetError(f"cannot read it ({exc.strerror})", param=param, value=folder) from None
    if not folder.is_dir():
        raise AssetError("not a folder", param=param, value=folder)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )


TOP_ROWS = 16
"""A cut-out whose first rows are not all transparent is known not to be empty without
decoding the rest (extracted cut-outs are cropped to their mask: their first row is)."""


def _top_rows_alpha(img: Image.Image) -> bool | None:
    """Whether the first :data:`TOP_ROWS` rows of a PNG with an alpha channel have a
    non-transparent pixel (only those rows are decompressed); None when this cannot be told
    that way (another format or mode, or Pillow refused)."""
    if img.format != "PNG" or img.mode not in ("RGBA", "LA") or len(img.tile) != 1:
        return None
    w, h = img.size
    try:
        img.tile = [img.tile[0]._replace(extents=(0, 0, w, min(h, TOP_ROWS)))]
        img._size = (w, min(h, TOP_ROWS))  # decode the top rows only
        img.load()
        return img.getchannel("A").getbbox() is not None
    except Exception:  # noqa: BLE001 - whatever failed, the full decode decides (and names it)
        return None


def checked_size(path: str, foreground: bool) -> tuple[int, int]:
    """(width, height) of a usable asset as displayed; ``AssetError`` if it is unusable.

    Reads the header and checks the whole file without decoding it all: a PNG's chunk
    checksums (truncation and corruption), a JPEG decoded at 1/8 scale. A cut-out must have
    an alpha channel that is not empty: its first rows are decoded, and when they are all
    transparent, the whole image (if it has at most :data:`FULL_CHECK_PIXELS` pixels).
    Other files (WebP) are decoded in full.
    """
    with _read_errors(path), _open_header(path) as img:
        w, h = img.size
        fmt = img.format
        if foreground and not _has_alpha(img):
            raise AssetError(f"{path}: no alpha channel (mode {img.mode}); foregrounds must "
                             "be RGBA cut-outs with a transparent background")
        orientation = 1
        if fmt != "PNG" or "exif" in img.info:  # a PNG's getexif() decodes it
            with contextlib.suppress(Exception):
                orientation = img.getexif().get(0x0112, 1)
        size = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        if fmt == "JPEG":
            img.draft("RGB", (w // 8, h // 8))
            img.load()
            return size
        if fmt == "PNG":
            with Image.open(path) as fresh:  # every chunk's checksum, nothing decompressed
                fresh.verify()
            if not foreground or _top_rows_alpha(img) or w * h > FULL_CHECK_PIXELS:
                return size
    pixels = load_foreground(path) if foreground else load_background(path)
    return pixels.shape[1], pixels.shape[0]


def scan_foregrounds(
    folder: str | Path, label_map: Mapping[str, tuple[int, ...]], threads: int = 4
) -> tuple[list[Foreground], list[Skipped]]:
    """Check every ``folder/<label>/<file>`` and return the usable cut-outs, sorted.

    Classes are sorted by name and files by name within a class, so the
    ``foreground_class`` and ``foreground_instance`` indices are stable.
    """
    folder = Path(folder)
    _check_dir(folder, "foregrounds")
    candidates: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for entry, kind in _entries(folder):
        if kind == "file":
            skipped.append(Skipped(entry.path, "not inside a class folder (expected DIR/<label>/<file>.png)"))
            continue
        if kind != "dir":
            skipped.append(Skipped(entry.path, kind))
            continue
        if formula_lead(entry.name):  # its label would reach the CSV outputs as a formula
            raise AssetError(f"class folder {formula_refusal(entry.name)}",
                             param="foregrounds", value=folder)
        files, bad = _files(Path(entry.path), FOREGROUND_EXTENSIONS)
        skipped += bad
        if entry.name not in label_map or not label_map[entry.name]:
            for f in files:
                skipped.append(Skipped(str(f), f"label {entry.name!r} has no ImageNet-1k mapping; add it with --label-map"))
            continue
        candidates += [(entry.name, f) for f in files]

    def check(item: tuple[str, Path]) -> Foreground | Skipped:
        label, path = item
        try:
            size = checked_size(str(path), foreground=True)
        except AssetError as exc:
            return Skipped(str(path), str(exc).split(": ", 1)[-1])
        return Foreground(label, path.name, str(path), size, sha256_file(path), tuple(label_map[label]))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(check, candidates))
    good = [r for r in results if isinstance(r, Foreground)]
    skipped += [r for r in results if isinstance(r, Skipped)]
    return good, skipped


def scan_backgrounds(
    folder: str | Path, min_side: int = 0, threads: int = 4
) -> tuple[list[Background], list[Skipped]]:
    """Check every image in ``folder`` and return the usable backgrounds, sorted by name.

    A background whose shorter side is below ``min_side`` (the largest
    resolution to render) is skipped: it would have to be upscaled.
    """
    folder = Path(folder)
    _check_dir(folder, "backgrounds")
    files, skipped = _files(folder, IMAGE_EXTENSIONS)
    for path in files:
        if formula_lead(path.name):  # its name is written to backgrounds.csv
            raise AssetError(f"background file {formula_refusal(path.name)}",
                             param="backgrounds", value=folder)
    skipped = [Skipped(s.path, "sub-folder ignored (backgrounds are a flat folder)")
               if s.reason.startswith("a folder") and not s.path.lower().endswith(IMAGE_EXTENSIONS)
               else s for s in skipped]

    def check(path: Path) -> Background | Skipped:
        try:
            w, h = checked_size(str(path), foreground=False)
        except AssetError as exc:
            return Skipped(str(path), str(exc).split(": ", 1)[-1])
        if min(w, h) < min_side:
            return Skipped(
                str(path), f"too small ({w}x{h}): its square crop is below the {min_side} px resolution"
            )
        return Background(path.name, str(path), (w, h), sha256_file(path))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(check, files))
    good = [r for r in results if isinstance(r, Background)]
    skipped += [r for r in results if isinstance(r, Skipped)]
    return good, skipped
