#!/usr/bin/env python
"""Rebuild siscore's embedded assets from their original, freely licensed sources.

Writes ``assets/foregrounds/<label>/<name>.png`` (RGBA cut-outs made with
``siscore.extract.cutout``), ``assets/backgrounds/<name>.jpg`` and ``assets/ATTRIBUTION.md``.
Every box, hint rectangle and crop is hard-coded below, and GrabCut is seeded,
so a rebuild from the same inputs gives the same masks.

Sources (the script checks each image's licence in the package's own credits):

* scikit-image (the installed pip package): ``skimage/data/coffee.png``.
* Debian 12 "bookworm" package ``gcompris-qt-data`` 3.1-2: photos inside the Qt
  resource files ``usr/share/gcompris-qt/rcc/*.rcc``, with the per-folder
  ``README`` credits that GCompris ships next to them.
* Debian 12 package ``lomiri-wallpapers-16.04`` 20.04.0-2: wallpaper JPEGs, with
  per-file licences in ``usr/share/doc/lomiri-wallpapers-16.04/copyright``.

How to run (from the repository root; needs numpy, pillow, opencv and scikit-image,
e.g. ``pip install -e '.[dev]'``; no root and no dpkg needed, the .deb files are
read directly)::

    mkdir -p /tmp/siscore-debs
    (cd /tmp/siscore-debs && apt-get download gcompris-qt-data=3.1-2 \
        lomiri-wallpapers-16.04=20.04.0-2)
    .venv/bin/python tools/make_assets.py --debs /tmp/siscore-debs --preview /tmp/previews

``--preview DIR`` also saves, per cut-out, the source with the mask, box and
hints drawn on it next to the cut-out, to check a cut by eye. ``--only NAME``
rebuilds a subset (names as in the asset paths). The .deb checksums are checked
against the versions above; ``--any-version`` accepts others (boxes may then no
longer fit). Not run by CI: the shipped assets are committed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import struct
import sys
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siscore.extract.cutout import (  # noqa: E402
    Box,
    Hint,
    clean_mask,
    cutout_rgba,
    grabcut_mask,
    resize_rgba,
)

ASSETS = ROOT / "assets"

DEBS = {
    "gcompris-qt-data": (
        "gcompris-qt-data_3.1-2_all.deb",
        "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f",
    ),
    "lomiri-wallpapers-16.04": (
        "lomiri-wallpapers-16.04_20.04.0-2_all.deb",
        "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab",
    ),
}
GC_RCC = "usr/share/gcompris-qt/rcc/"
LOMIRI_COPYRIGHT = "usr/share/doc/lomiri-wallpapers-16.04/copyright"
ALLOWED = {"public domain": "Public domain", "cc0-1.0": "CC0-1.0", "cc-by-4.0": "CC-BY-4.0"}
LICENCE_URLS = {
    "Public domain": "https://creativecommons.org/publicdomain/mark/1.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
}


@dataclass(frozen=True)
class Source:
    """Where one original photo lives: ``kind`` is skimage, gcompris or lomiri."""

    kind: str
    path: str  # skimage: file in skimage/data; gcompris: "<file>.rcc:<resource path>"; lomiri: path in .deb


@dataclass(frozen=True)
class Foreground:
    out: str  # "<label>/<name>.png" under assets/foregrounds
    imagenet: str  # ImageNet-1k index (and name) the label stands for
    source: Source
    box: Box
    hints: tuple[Hint, ...] = ()
    iterations: int = 5
    erode_px: int = 0
    max_hole_frac: float = 1.0
    feather_px: float = 1.0
    max_side: int = 512


@dataclass(frozen=True)
class Background:
    out: str  # "<name>.jpg" under assets/backgrounds
    source: Source
    crop: Box | None = None  # (x0, y0, x1, y1) in the original; None = whole photo
    short_side: int = 640
    quality: int = 90


@dataclass
class Credit:
    author: str
    title: str
    url: str
    licence: str
    provenance: str  # package, version and path inside it
    notes: list[str] = field(default_factory=list)


def _gc(rcc: str, folder: str, name: str) -> Source:
    inner = "/".join(p for p in (f"/gcompris/src/activities/{rcc}/resource", folder, name) if p)
    return Source("gcompris", f"{rcc}.rcc:{inner}")


FARM = WORLD = "animals"
FOREGROUNDS: tuple[Foreground, ...] = (
    Foreground(
        "ox/holstein_cow.png",
        "345 ox",
        _gc("explore_farm_animals", FARM, "cow.webp"),
        (228, 290, 935, 700),
        hints=(
            ("bg", (545, 560, 745, 710)),
            ("bg", (228, 560, 440, 710)),
            ("bg", (840, 620, 870, 710)),
            ("bg", (918, 380, 940, 570)),
            ("pr_bg", (884, 480, 897, 560)),
            ("bg", (745, 548, 768, 610)),
            ("bg", (846, 525, 874, 558)),
        ),
    ),
    Foreground(
        "german shepherd/german_shepherd.png",
        "235 German shepherd",
        _gc("explore_farm_animals", FARM, "dog.webp"),
        (40, 20, 915, 735),
        hints=(
            ("bg", (400, 530, 630, 740)),
            ("bg", (40, 625, 238, 740)),
            ("bg", (40, 20, 190, 420)),
            ("bg", (40, 20, 560, 200)),
            ("bg", (840, 430, 915, 735)),
            ("bg", (320, 610, 400, 686)),
            ("bg", (240, 728, 400, 740)),
            # issue 11: the grass between the front legs, and a grey stone behind the far paw
            ("bg", (684, 590, 703, 660)),
            ("bg", (702, 672, 726, 690)),
            ("fg", (664, 668, 682, 690)),  # the far front paw (dark, like the ground)
        ),
        erode_px=1,
    ),
    Foreground(
        "ram/sheep.png",
        "348 ram",
        _gc("explore_farm_animals", FARM, "sheep.webp"),
        (228, 80, 735, 685),
    ),
    Foreground(
        "bison/american_bison.png",
        "347 bison",
        _gc("explore_world_animals", WORLD, "bison.webp"),
        (198, 90, 830, 580),
        hints=(
            ("bg", (706, 128, 790, 168)),
            ("pr_bg", (214, 195, 227, 222)),
            ("bg", (578, 455, 640, 540)),
        ),
        erode_px=3,
        feather_px=1.5,
    ),
    Foreground(
        "hedgehog/hedgehog.png",
        "334 porcupine, hedgehog",
        _gc("explore_world_animals", WORLD, "hedgehog.webp"),
        (195, 130, 870, 600),
        hints=(("fg", (790, 380, 850, 425)),),
    ),
    Foreground(
        "macaw/scarlet_macaw.png",
        "88 macaw",
        _gc("explore_world_animals", WORLD, "scarlet_macaw.webp"),
        (230, 100, 930, 775),
        hints=(("bg", (602, 608, 625, 640)), ("bg", (850, 628, 866, 662))),
    ),
    Foreground(
        "cup/espresso_cup.png",
        "968 cup (967 espresso)",
        Source("skimage", "coffee.png"),
        (70, 12, 485, 396),
        hints=(
            ("bg", (70, 350, 120, 396)),
            ("bg", (70, 378, 170, 396)),
            ("bg", (440, 330, 485, 396)),
            ("bg", (395, 372, 485, 396)),
        ),
        iterations=8,
    ),
    Foreground(
        "cup/porcelain_cup.png",
        "968 cup",
        _gc("categorization", "images/others", "buffetset.webp"),
        (45, 85, 275, 215),
    ),
    Foreground(
        "hammer/ball_peen_hammer.png",
        "587 hammer",
        _gc("categorization", "images/tools", "hammer2.webp"),
        (40, 60, 290, 190),
    ),
    Foreground(
        "hammer/claw_hammer.png",
        "587 hammer",
        _gc("categorization", "images/tools", "hammer5.webp"),
        (10, 5, 316, 185),
    ),
    Foreground(
        "screwdriver/screwdriver.png",
        "784 screwdriver",
        _gc("categorization", "images/tools", "screwDriver2.webp"),
        (30, 10, 210, 310),
    ),
    Foreground(
        "puffer/spotted_puffer.png",
        "397 puffer",
        _gc("categorization", "images/fishes", "fish28.webp"),
        # issue 11: the box reaches below the anal fin, which GrabCut then leaves out whole (the
        # old box cut it into a loose piece), and the water between tail and fin is background
        (35, 50, 235, 165),
        hints=(("bg", (75, 127, 90, 135)),),
    ),
)

_LOMIRI = "usr/share/backgrounds/"
SEABED_FISH = (30, 850, 95, 885)  # (x0, y0, x1, y1) of a fish in sea1.webp (1440x1080)
BACKGROUNDS: tuple[Background, ...] = (
    # issue 11: the crop leaves out the fish swimming at the bottom left (SEABED_FISH)
    Background("seabed.jpg", _gc("clickgame", "", "sea1.webp"), crop=(130, 0, 1440, 1080)),
    Background("underwater_arch.jpg", _gc("clickgame", "", "sea5.webp")),
    Background("underwater_rocks.jpg", _gc("clickgame", "", "sea2.webp")),
    Background(
        "meadow_grass.jpg",
        Source("lomiri", _LOMIRI + "aitzgorri_by_Aitzol_Berasategi.jpg"),
        crop=(0, 1400, 1000, 2056),
    ),
    Background(
        "autumn_mountains.jpg",
        Source("lomiri", _LOMIRI + "aitzgorri_by_Aitzol_Berasategi.jpg"),
    ),
    Background(
        "sky_clouds.jpg",
        Source("lomiri", _LOMIRI + "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
        crop=(0, 0, 1400, 1050),
    ),
    Background(
        "alpine_meadow.jpg",
        Source("lomiri", _LOMIRI + "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
        crop=(1400, 1700, 2400, 2450),
    ),
    Background(
        "sunset_sky.jpg",
        Source("lomiri", _LOMIRI + "sunset_by_Aitzol_Berasategi.jpg"),
        crop=(900, 0, 3000, 1575),
    ),
)


# --- reading the packages -------------------------------------------------------------


def read_deb(path: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    """Members of a .deb's data archive whose paths (without ``./``) are in ``wanted``."""
    blob = path.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{path}: not a Debian package (ar archive)")
    pos, data = 8, None
    while pos + 60 <= len(blob):
        name = blob[pos : pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48 : pos + 58].decode().strip())
        if name.startswith("data.tar"):
            data = blob[pos + 60 : pos + 60 + size]
            break
        pos += 60 + size + (size & 1)
    if data is None:
        raise ValueError(f"{path}: no data.tar member")
    want, found = set(wanted), {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name in want and member.isfile():
                found[name] = tar.extractfile(member).read()
    missing = want - set(found)
    if missing:
        raise KeyError(f"{path}: missing {sorted(missing)}")
    return found


def read_rcc(blob: bytes) -> dict[str, bytes]:
    """All files of a compiled Qt resource (.rcc) file, by resource path."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt .rcc file")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version < 2 else 22
    out: dict[str, bytes] = {}

    def name_at(off: int) -> str:
        (n,) = struct.unpack(">H", blob[names + off : names + off + 2])
        return blob[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        o = tree + index * node_size
        name_off, flags = struct.unpack(">IH", blob[o : o + 6])
        path = f"{prefix}/{name_at(name_off)}" if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", blob[o + 6 : o + 14])
            for i in range(count):
                walk(first + i, path)
            return
        (off,) = struct.unpack(">I", blob[o + 10 : o + 14])
        (size,) = struct.unpack(">I", blob[data + off : data + off + 4])
        raw = blob[data + off + 4 : data + off + 4 + size]
        if flags & 4:
            raise ValueError(f"{path}: zstd-compressed resource, not supported")
        out[path] = zlib.decompress(raw[4:]) if flags & 1 else raw

    walk(0, "")
    return out


def parse_gcompris_readme(text: str) -> dict[str, dict[str, str]]:
    """GCompris credit blocks (``Copyright:``/``Source:``/``License:``/``Files:``) by file name."""
    credits: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        key = None
        for line in block.splitlines():
            m = re.match(r"^(Copyright|Source|License|Comments?|Files):\s*(.*)$", line)
            if m:
                key, value = m.group(1), m.group(2).strip()
                if key == "Files":
                    files += value.split()
                else:
                    fields[key] = value
            elif key == "Files" and line.strip():
                files += line.split()
        for f in files:
            credits[f] = fields
    return credits


def parse_debian_copyright(text: str) -> dict[str, tuple[str, str]]:
    """Machine-readable debian/copyright: file pattern -> (copyright, licence) for single files."""
    table: dict[str, tuple[str, str]] = {}
    for para in re.split(r"\n\s*\n", text):
        m_files = re.search(r"^Files:\s*(.+)$", para, re.M)
        m_lic = re.search(r"^License:\s*(\S+)", para, re.M)
        m_cr = re.search(r"^Copyright:\s*(.+)$", para, re.M)
        if m_files and m_lic:
            for f in m_files.group(1).split():
                table[f] = (m_cr.group(1).strip() if m_cr else "", m_lic.group(1))
    return table


def _licence(raw: str, what: str) -> str:
    key = raw.strip().lower()
    if key not in ALLOWED:
        raise ValueError(f"{what}: licence {raw!r} is not public domain, CC0 or CC-BY")
    return ALLOWED[key]


class Library:
    """Loads original photos and their credits from the installed / downloaded packages."""

    def __init__(self, debs: Path, any_version: bool) -> None:
        self.debs = debs
        self.any_version = any_version
        self._rcc: dict[str, dict[str, bytes]] = {}
        self._lomiri: dict[str, bytes] = {}

    def _deb(self, package: str) -> Path:
        filename, sha = DEBS[package]
        path = self.debs / filename
        if not path.exists():
            matches = sorted(self.debs.glob(f"{package}_*.deb"))
            if not matches:
                raise FileNotFoundError(
                    f"{self.debs}: no {package}_*.deb (run apt-get download {package})"
                )
            path = matches[-1]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha and not self.any_version:
            raise ValueError(
                f"{path}: sha256 {digest} is not that of {filename}; use --any-version"
            )
        return path

    def _load_gcompris(self, needed: set[str]) -> None:
        todo = {f"{GC_RCC}{r}" for r in needed if r not in self._rcc}
        if todo:
            for name, blob in read_deb(self._deb("gcompris-qt-data"), todo).items():
                self._rcc[name.removeprefix(GC_RCC)] = read_rcc(blob)

    def _load_lomiri(self, needed: set[str]) -> None:
        todo = (needed | {LOMIRI_COPYRIGHT}) - set(self._lomiri)
        if todo:
            self._lomiri.update(read_deb(self._deb("lomiri-wallpapers-16.04"), todo))

    def preload(self, sources: Iterable[Source]) -> None:
        sources = list(sources)
        self._load_gcompris({s.path.split(":", 1)[0] for s in sources if s.kind == "gcompris"})
        self._load_lomiri({s.path for s in sources if s.kind == "lomiri"})

    def image(self, src: Source) -> np.ndarray:
        if src.kind == "skimage":
            import skimage

            path = Path(skimage.__file__).parent / "data" / src.path
            img = Image.open(path)
        elif src.kind == "gcompris":
            rcc, inner = src.path.split(":", 1)
            self._load_gcompris({rcc})
            img = Image.open(io.BytesIO(self._rcc[rcc][inner]))
        elif src.kind == "lomiri":
            self._load_lomiri({src.path})
            img = Image.open(io.BytesIO(self._lomiri[src.path]))
        else:
            raise ValueError(src.kind)
        return np.asarray(img.convert("RGB"))

    def credit(self, src: Source) -> Credit:
        if src.kind == "skimage":
            import skimage
            import skimage.data

            doc = skimage.data.coffee.__doc__ or ""
            if src.path != "coffee.png" or "CC0" not in doc:
                raise ValueError(f"no licence statement known for skimage/data/{src.path}")
            return Credit(
                "Rachel Michetti (photo courtesy of Pikolo Espresso Bar)",
                "Coffee cup (skimage.data.coffee)",
                "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.coffee",
                "CC0-1.0",
                f"PyPI scikit-image {skimage.__version__}, skimage/data/{src.path}",
                [
                    'licence as stated in the docstring of skimage.data.coffee: "No copyright '
                    'restrictions. CC0 by the photographer (Rachel Michetti)."'
                ],
            )
        if src.kind == "gcompris":
            rcc, inner = src.path.split(":", 1)
            self._load_gcompris({rcc})
            folder, name = inner.rsplit("/", 1)
            readme = self._rcc[rcc][f"{folder}/README"].decode("utf-8")
            info = parse_gcompris_readme(readme).get(name)
            if info is None:
                raise KeyError(f"{inner}: not credited in {folder}/README")
            licence = _licence(info.get("License", ""), inner)
            url = info.get("Source", "")
            title = url.rsplit("/", 1)[-1].removeprefix("File:") if url else name
            return Credit(
                info.get("Copyright", "unknown"),
                title,
                url,
                licence,
                f"Debian package gcompris-qt-data 3.1-2, {GC_RCC}{rcc} (Qt resource), {inner}",
                [
                    f"licence as stated in the GCompris credits file {folder}/README in the same "
                    "resource file, which names the original above; the file used is GCompris's "
                    "downscaled WebP copy of that original"
                    + (f" (GCompris notes: {info['Comments']})" if info.get("Comments") else "")
                ],
            )
        if src.kind == "lomiri":
            self._load_lomiri({src.path})
            table = parse_debian_copyright(self._lomiri[LOMIRI_COPYRIGHT].decode("utf-8"))
            name = src.path.rsplit("/", 1)[-1]
            author, raw = table[f"16.04/{name}"]
            licence = _licence(raw, src.path)
            title = name.removesuffix(".jpg").replace("_", " ")
            return Credit(
                author,
                title,
                "https://gitlab.com/ubports/development/core/lomiri-wallpapers",
                licence,
                f"Debian package lomiri-wallpapers-16.04 20.04.0-2, {src.path}",
                [f"licence as stated in {LOMIRI_COPYRIGHT} (Files: 16.04/{name})"],
            )
        raise ValueError(src.kind)


# --- building ---------------------------------------------------------------------------


def _checker(h: int, w: int, step: int = 12) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    c = ((x // step + y // step) % 2).astype(bool)
    return np.where(c[..., None], np.uint8(205), np.uint8(125)).repeat(3, axis=2)


def save_preview(
    path: Path, img: np.ndarray, mask: np.ndarray, spec: Foreground, rgba: np.ndarray
) -> None:
    over = img.astype(np.float32)
    over[~mask] = over[~mask] * 0.35 + np.array([0, 0, 140], np.float32) * 0.65
    left = Image.fromarray(over.astype(np.uint8))
    draw = ImageDraw.Draw(left)
    draw.rectangle(
        [spec.box[0], spec.box[1], spec.box[2] - 1, spec.box[3] - 1], outline=(255, 255, 0), width=2
    )
    for kind, (x0, y0, x1, y1) in spec.hints:
        colour = (0, 255, 0) if kind.endswith("fg") else (255, 60, 60)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=2)
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    h, w = rgba.shape[:2]
    on_checker = _checker(h, w) * (1 - a) + rgba[..., :3] * a
    sheet = Image.new("RGB", (left.width + w + 10, max(left.height, h)), "white")
    sheet.paste(left, (0, 0))
    sheet.paste(Image.fromarray(on_checker.astype(np.uint8)), (left.width + 10, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def build_foreground(lib: Library, spec: Foreground, preview: Path | None) -> np.ndarray:
    img = lib.image(spec.source)
    mask = grabcut_mask(img, spec.box, iterations=spec.iterations, seed=0, hints=spec.hints)
    mask = clean_mask(
        mask,
        min_island_frac=0.01,
        fill_holes=True,
        erode_px=spec.erode_px,
        max_hole_frac=spec.max_hole_frac,
    )
    rgba = resize_rgba(cutout_rgba(img, mask, feather_px=spec.feather_px), spec.max_side)
    out = ASSETS / "foregrounds" / spec.out
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(out, optimize=True, compress_level=9)
    if preview is not None:
        save_preview(preview / (spec.out.replace("/", "__")), img, mask, spec, rgba)
    return rgba


def build_background(lib: Library, spec: Background) -> tuple[int, int]:
    img = Image.fromarray(lib.image(spec.source))
    if spec.crop is not None:
        img = img.crop(spec.crop)
    scale = spec.short_side / min(img.size)
    if scale < 1.0:
        img = img.resize(
            (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
        )
    out = ASSETS / "backgrounds" / spec.out
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, quality=spec.quality, optimize=True, subsampling="4:2:0")
    return img.size


def _fg_notes(spec: Foreground, size: tuple[int, int]) -> str:
    hints = ", ".join(f"{k} {v}" for k, v in spec.hints) or "none"
    return (
        f"cut out with `siscore.extract.cutout`: `grabcut_mask` box {spec.box}, hint rectangles: {hints}, "
        f"{spec.iterations} iterations, seed 0; `clean_mask` (min_island_frac 0.01, holes filled"
        f"{'' if spec.max_hole_frac >= 1 else f' up to {spec.max_hole_frac} of the object area'}"
        f"{f', eroded {spec.erode_px} px' if spec.erode_px else ''}); `cutout_rgba` feather "
        f"{spec.feather_px} px; `resize_rgba` to at most {spec.max_side} px; result {size[0]}x{size[1]} px"
    )


def write_attribution(entries: list[tuple[str, Credit, str, str]]) -> None:
    lines = [
        "# Attribution of the embedded assets",
        "",
        "All files in this folder are derived from real photographs that are in the public domain,",
        "dedicated to it (CC0 1.0), or licensed under CC BY 4.0. They were made by",
        "`tools/make_assets.py` (which checks each licence in the package's own credits) with the",
        "cut-out tooling in `siscore/cutout.py`. Each file's author, source, licence and the changes made",
        "are listed below. CC BY 4.0 files may be reused if their author is credited, the licence is",
        "linked and the changes are indicated, as done here.",
        "",
        "Foreground folder names are ImageNet-1k class labels; the index is the 0-based ImageNet-1k class.",
        "",
        "A caution on the GCompris files: the `debian/copyright` of gcompris-qt-data 3.1-2 predates",
        "the pictures it ships. It still describes the earlier `.jpg` pictures of these folders (for",
        "some folders under GPL-3, for `scarlet_macaw` a different, CC-BY-SA photo), while the package",
        "now ships new WebP pictures whose upstream credits (a `README` beside them in each Qt resource",
        "file) name each Wikimedia Commons original, its author and its licence. The licences below",
        "are those credits; the Commons pages (linked) are the authority for them. Spot check: the",
        "macaw picture is perched as in its new credit, not flying as in the old one.",
        "",
    ]
    for section, kind in (("Foregrounds", "foregrounds"), ("Backgrounds", "backgrounds")):
        lines += [f"## {section}", ""]
        for rel, credit, extra, notes in entries:
            if not rel.startswith(kind + "/"):
                continue
            lines += [
                f"### `{rel}`",
                "",
                *([f"- ImageNet-1k class: {extra}"] if extra else []),
                f"- Original: {credit.title}" + (f" <{credit.url}>" if credit.url else ""),
                f"- Author: {credit.author}",
                f"- Licence: {credit.licence} <{LICENCE_URLS[credit.licence]}>",
                f"- Taken from: {credit.provenance}",
                *[f"- Note: {n}" for n in credit.notes],
                f"- Changes: {notes}",
                "",
            ]
    (ASSETS / "ATTRIBUTION.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--debs", type=Path, required=True, help="folder with the downloaded .deb files"
    )
    parser.add_argument("--preview", type=Path, help="save a check image per cut-out here")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="rebuild only assets whose path contains one of these",
    )
    parser.add_argument(
        "--any-version", action="store_true", help="accept .deb files of other versions"
    )
    args = parser.parse_args(argv)

    lib = Library(args.debs, args.any_version)
    lib.preload([s.source for s in FOREGROUNDS] + [s.source for s in BACKGROUNDS])

    def selected(path: str) -> bool:
        return args.only is None or any(o in path for o in args.only)

    entries: list[tuple[str, Credit, str, str]] = []
    for fg in FOREGROUNDS:
        rel = f"foregrounds/{fg.out}"
        if selected(rel):
            rgba = build_foreground(lib, fg, args.preview)
            print(f"{rel}: {rgba.shape[1]}x{rgba.shape[0]}")
        size = Image.open(ASSETS / rel).size
        entries.append((rel, lib.credit(fg.source), fg.imagenet, _fg_notes(fg, size)))
    for bg in BACKGROUNDS:
        rel = f"backgrounds/{bg.out}"
        if selected(rel):
            size = build_background(lib, bg)
            print(f"{rel}: {size[0]}x{size[1]}")
        size = Image.open(ASSETS / rel).size
        crop = f"cropped to {bg.crop}, " if bg.crop else ""
        notes = (
            f"{crop}resized to {size[0]}x{size[1]} px (Lanczos), saved as JPEG quality {bg.quality}"
        )
        entries.append((rel, lib.credit(bg.source), "", notes))
    write_attribution(entries)
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    print(f"assets/: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
