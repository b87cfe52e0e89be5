"""Pixel operations: background preparation, object resampling, compositing, encoding.

Pure functions on NumPy arrays (HxWx3 RGB or HxWx4 RGBA, uint8). Objects are
kept *premultiplied* (colour already multiplied by alpha) between resampling
and compositing, so interpolation never mixes the colour of transparent pixels
into the edge (no dark or light fringes), and an object is resampled exactly
once from its source, whatever its size and rotation.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from siscore.generate import jpeg
from siscore.generate.geometry import rotation_matrix

CropMode = Literal["topleft", "center", "saliency"]
CROP_MODES: tuple[str, ...] = ("topleft", "center", "saliency")


def square_crop_box(
    w: int, h: int, mode: str = "topleft", image: np.ndarray | None = None
) -> tuple[int, int, int, int]:
    """The largest square ``(left, top, right, bottom)`` inside a ``w x h`` image.

    ``topleft`` is the original generator's choice; ``center`` centres it;
    ``saliency`` picks the square that holds the least salient content
    (spectral-residual saliency, needs ``image``).
    """
    side = min(w, h)
    if mode == "topleft":
        return 0, 0, side, side
    if mode == "center":
        left, top = (w - side) // 2, (h - side) // 2
        return left, top, left + side, top + side
    if mode == "saliency":
        if image is None:
            raise ValueError("saliency crop needs the image")
        from siscore.generate.saliency import least_salient_square

        left, top = least_salient_square(image)
        return left, top, left + side, top + side
    raise ValueError(f"unknown crop mode {mode!r}; choose one of {', '.join(CROP_MODES)}")


def prepare_background(
    image: np.ndarray, resolution: tuple[int, int], crop: str = "topleft"
) -> np.ndarray:
    """Crop the largest square and resize it (bilinear, as the original) to ``resolution``."""
    h, w = image.shape[:2]
    box = square_crop_box(w, h, crop, image)
    pil = Image.fromarray(image).crop(box)
    if pil.size != tuple(resolution):
        pil = pil.resize(tuple(resolution), Image.Resampling.BILINEAR)
    return np.asarray(pil)


def premultiply(rgba: np.ndarray) -> Image.Image:
    """Straight RGBA array -> Pillow ``RGBa`` (premultiplied) image."""
    return Image.fromarray(rgba, "RGBA").convert("RGBa")


def unpremultiply(obj: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA array -> straight RGBA array."""
    return np.asarray(Image.fromarray(obj, "RGBa").convert("RGBA"))


def _clip_premultiplied(arr: np.ndarray) -> np.ndarray:
    """Keep colour <= alpha (cubic and Lanczos overshoot can break premultiplication)."""
    return cv2.min(arr, cv2.cvtColor(cv2.extractChannel(arr, 3), cv2.COLOR_GRAY2RGBA))


_ROTATE_90S = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
_MIN_LEVEL_SIDE = 16
# resampling starts from the smallest pyramid level this many times the target (or more):
# upright, a bicubic resize follows; rotated, the low-passed level is shared by every angle
# and a bilinear warp follows, accurate only for content below half the level's Nyquist
GAP = 2.0
GAP_ROTATED = 2.0
# the [-e, 1 + 2e, -e] boost folded into the low-pass before a bilinear warp: it offsets
# the blur of bilinear interpolation at half the Nyquist frequency (sinc^2(1/4) = 0.81)
EMPH = 0.117
# upright objects whose longer sides lie in the same 1/BANDS of an octave share one
# low-passed level (the size subset's 100 sizes need about 27 per object)
BANDS = 8
# upright objects of at most SMALL pixels a side are resampled alone, in one antialiased
# Lanczos resize (Pillow) from a level at least GAP times larger: cheap at that size, and
# it keeps their few edge pixels (a large share of their alpha) exact
SMALL = 64


@dataclass(frozen=True)
class Pyramid:
    """A premultiplied RGBA cut-out and its halvings (2x2 box averages, OpenCV's
    ``INTER_AREA``), built once per source, with a level at 1/sqrt(2) between each two
    halvings (Lanczos, Pillow), made from the halving above when first needed (so the
    remaining low-pass runs on a level 2-2.8, not 2-4, times the target). Resampling
    starts from the smallest level at least ``GAP`` (2) times the target, far enough for
    the boxes' blur to stay above the target's band: its cost follows the target's size,
    not the source's."""

    levels: tuple[np.ndarray, ...]
    _between: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, source: Image.Image | np.ndarray) -> Pyramid:
        """The pyramid of a premultiplied source (a Pillow ``RGBa`` image or its array)."""
        if isinstance(source, np.ndarray):
            source = Image.fromarray(source, "RGBa")
        if source.mode != "RGBa":
            raise ValueError(f"resampling needs a premultiplied RGBa image, got {source.mode}")
        level = np.asarray(source)
        levels = [level]
        while min(level.shape[:2]) >= 2 * _MIN_LEVEL_SIDE:
            level = cv2.resize(level, (level.shape[1] // 2, level.shape[0] // 2), interpolation=cv2.INTER_AREA)
            level.setflags(write=False)
            levels.append(level)
        return cls(tuple(levels))

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the source."""
        h, w = self.levels[0].shape[:2]
        return w, h

    @property
    def nbytes(self) -> int:
        """The bytes of every level, those in between included (made or not)."""
        return sum(level.nbytes for level in self.levels) * 3 // 2

    @staticmethod
    def _between_size(level: np.ndarray) -> tuple[int, int]:
        return round(level.shape[1] / math.sqrt(2)), round(level.shape[0] / math.sqrt(2))

    def between(self, i: int) -> np.ndarray:
        """The level between halvings ``i`` and ``i + 1`` (1/sqrt(2) of halving ``i``)."""
        if i not in self._between:
            above = Image.fromarray(self.levels[i], "RGBa")
            level = np.asarray(above.resize(self._between_size(self.levels[i]), Image.Resampling.LANCZOS))
            level.setflags(write=False)
            self._between[i] = level
        return self._between[i]

    def level_for(self, w: int, h: int, gap: float = GAP, between: bool = True) -> np.ndarray:
        """The smallest level with both sides at least ``gap`` times ``w x h`` (else the
        source); halvings only if not ``between``."""
        def fits(width: int, height: int) -> bool:
            return width >= gap * w and height >= gap * h

        for i, level in enumerate(self.levels[:-1]):
            if not between and fits(self.levels[i + 1].shape[1], self.levels[i + 1].shape[0]):
                continue
            if not between or not fits(*self._between_size(level)):
                return level
            below = self.levels[i + 1]
            if not fits(below.shape[1], below.shape[0]):
                return self.between(i)
        return self.levels[-1]


def lanczos_taps(scale: float, lobes: int = 3, emphasis: float = 0.0) -> np.ndarray:
    """The Lanczos kernel stretched by ``scale`` (> 1), sampled at whole pixels, normalised:
    the low-pass an antialiased Lanczos resize applies before shrinking by ``scale``.
    ``emphasis`` > 0 folds in a ``[-e, 1 + 2e, -e]`` boost that offsets the blur of the
    bilinear interpolation that follows."""
    radius = math.ceil(lobes * scale) - 1
    x = np.arange(-radius, radius + 1) / scale
    taps = np.sinc(x) * np.sinc(x / lobes)
    taps /= taps.sum()
    if emphasis:
        taps = np.convolve(taps, [-emphasis, 1 + 2 * emphasis, -emphasis])
    return taps.astype(np.float32)


def _edge_weights(n: int, taps: np.ndarray) -> np.ndarray:
    """Per position along an axis of ``n`` pixels, the sum of the taps that fall inside."""
    start = (len(taps) - 1) // 2  # the n central values ("same" would give max(n, len(taps)))
    return np.convolve(np.ones(n, np.float32), taps)[start : start + n].astype(np.float32)


def _to_u8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _filter(level: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    """Separable filter whose taps, near the edges, are renormalised over the pixels inside
    (as Pillow's resampling does), so that an object touching its cut-out's edge keeps its
    weight there. Only the edge strips are refiltered, in floating point."""
    out = cv2.sepFilter2D(level, -1, tx, ty, borderType=cv2.BORDER_CONSTANT)
    h, w = level.shape[:2]
    rx, ry = len(tx) // 2, len(ty) // 2
    nx, ny = _edge_weights(w, tx), _edge_weights(h, ty)
    if 4 * ry >= h or 4 * rx >= w:  # small: all of it in floating point
        f = cv2.sepFilter2D(level, cv2.CV_32F, tx, ty, borderType=cv2.BORDER_CONSTANT)
        return _to_u8(f / (ny[:, None, None] * nx[None, :, None]))
    for r0, r1, s0, s1 in ((0, ry, 0, 2 * ry), (h - ry, h, h - 2 * ry, h)):  # top, bottom rows
        f = cv2.sepFilter2D(level[s0:s1], cv2.CV_32F, tx, ty, borderType=cv2.BORDER_CONSTANT)
        out[r0:r1] = _to_u8(f[r0 - s0 : r1 - s0] / (ny[r0:r1, None, None] * nx[None, :, None]))
    for c0, c1, s0, s1 in ((0, rx, 0, 2 * rx), (w - rx, w, w - 2 * rx, w)):  # left, right columns
        f = cv2.sepFilter2D(np.ascontiguousarray(level[:, s0:s1]), cv2.CV_32F, tx, ty,
                            borderType=cv2.BORDER_CONSTANT)
        out[:, c0:c1] = _to_u8(f[:, c0 - s0 : c1 - s0] / (ny[:, None, None] * nx[None, c0:c1, None]))
    return out


def _lowpass(level: np.ndarray, kx: float, ky: float, emphasis: float = 0.0) -> np.ndarray:
    """Low-pass ``level`` before shrinking it by ``(kx, ky)`` (an axis not shrunk is left),
    with the ``emphasis`` boost of :func:`lanczos_taps` on both axes."""
    if kx <= 1.0 and ky <= 1.0 and not emphasis:
        return level
    boost = np.array([-emphasis, 1 + 2 * emphasis, -emphasis], np.float32)
    tx = lanczos_taps(kx, emphasis=emphasis) if kx > 1.0 else boost
    ty = lanczos_taps(ky, emphasis=emphasis) if ky > 1.0 else boost
    return _filter(level, tx, ty)


@dataclass(frozen=True)
class Prepared:
    """A pyramid level low-passed for several objects: what they resample from.

    Upright (angles that are multiples of 90 degrees), one level serves every size of a
    band (1/``BANDS`` of an octave of the object's longer side; objects up to ``SMALL``
    pixels a side have theirs): it is low-passed for the
    band's centre, and each size is one bicubic resize from it. Rotated, one level serves
    every angle of one size: it is exactly twice that size, band-limited to its
    resolution, for a bilinear warp. ``key`` (:meth:`key_for`) names what it serves.
    """

    level: np.ndarray
    key: tuple[str, int | tuple[int, int]]

    @staticmethod
    def key_for(size: tuple[int, int], angle: float) -> tuple[str, int | tuple[int, int]]:
        """``("band", band)``, ``("small", size)`` or ``("rotated", size)``: objects with
        the same key share a prepared level."""
        if not _is_upright(angle):
            return "rotated", (int(size[0]), int(size[1]))
        if max(size) <= SMALL:
            return "small", (int(size[0]), int(size[1]))
        return "band", math.floor(BANDS * math.log2(max(size)))

    @property
    def nbytes(self) -> int:
        return self.level.nbytes


def _is_upright(angle: float) -> bool:
    return angle % 360.0 in (0.0, 90.0, 180.0, 270.0)


def prepare(source: Image.Image | Pyramid, size: tuple[int, int], angle: float) -> Prepared:
    """The low-passed level that :func:`resample_object` needs for ``size`` and ``angle``,
    shared by every object with the same :meth:`Prepared.key_for`, and the same whichever
    of them asks first."""
    pyramid = source if isinstance(source, Pyramid) else Pyramid.of(source)
    kind, of = key = Prepared.key_for(size, angle)
    if kind == "small":  # Pillow's Lanczos, straight to the size
        w, h = size
        level = Image.fromarray(pyramid.level_for(w, h), "RGBa")
        filtered = _clip_premultiplied(np.asarray(level.resize((w, h), Image.Resampling.LANCZOS)))
    elif kind == "band":  # low-passed for the band's centre, from a level fitting the whole band
        sw, sh = pyramid.size
        scale = 2 ** ((of + 0.5) / BANDS) / max(sw, sh)
        w, h = sw * scale, sh * scale
        level = pyramid.level_for(math.ceil(w), math.ceil(h), GAP * 2 ** (0.5 / BANDS))
        filtered = _lowpass(level, level.shape[1] / w, level.shape[0] / h)
    else:  # low-pass, bicubic to twice the target (compact, shared by every angle), boost
        w, h = size
        level = pyramid.level_for(w, h, GAP_ROTATED, between=False)
        filtered = _lowpass(level, level.shape[1] / w, level.shape[0] / h)
        if filtered.shape[:2] != (2 * h, 2 * w):
            filtered = cv2.resize(filtered, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
        # clipped once here: a bilinear warp keeps colour <= alpha (a convex combination)
        filtered = _clip_premultiplied(_lowpass(filtered, 1.0, 1.0, EMPH))
    filtered.setflags(write=False)
    return Prepared(filtered, key)


def resample_object(source: Image.Image | Pyramid | Prepared, size: tuple[int, int],
                    angle: float) -> np.ndarray:
    """Scale a premultiplied source to ``size`` and rotate it by ``angle`` (CCW).

    ``source`` is a :class:`Pyramid` (reused across sizes), a :func:`prepare`-d level
    (reused across the sizes of a band when upright, across angles when rotated) or a
    Pillow ``RGBa`` image. One resampling from a level of the source's pyramid: a
    Lanczos-3 low-pass (edge taps renormalised, as Pillow's), then a bicubic resize when
    the angle is a multiple of 90 degrees (followed by an exact rotation), else one affine
    warp onto the canvas that the original's ``rotate(expand=True)`` after ``resize``
    gives: bilinear (its blur offset by a boost), from the low-passed level brought to
    exactly twice the target. Returns premultiplied RGBA.
    """
    angle = angle % 360.0
    key = Prepared.key_for(size, angle)
    prep = source if isinstance(source, Prepared) else prepare(source, size, angle)
    if prep.key != key:
        kind, of = prep.key
        serves = f"upright objects of band {of}" if kind == "band" else \
            f"{'rotated' if kind == 'rotated' else 'upright'} objects of size {of}"
        raise ValueError(f"this prepared level serves {serves}, not size {tuple(size)} at angle {angle}")
    w, h = size
    level = prep.level
    if key[0] != "rotated":
        out = level if level.shape[:2] == (h, w) else _clip_premultiplied(
            cv2.resize(level, (w, h), interpolation=cv2.INTER_CUBIC))
        return cv2.rotate(out, _ROTATE_90S[int(angle)]) if angle else out
    (cw, ch), (a, b, c, d, e, f) = rotation_matrix(w, h, angle)
    # Pillow's matrix maps output pixel centres (x + 0.5) to input coordinates whose pixel
    # centres are at i + 0.5; OpenCV samples at integer centres: shift by half a pixel.
    m = 2.0 * np.array([[a, b, c], [d, e, f]], dtype=np.float64)
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5
    return cv2.warpAffine(level, m, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))


@dataclass(frozen=True)
class Sprite:
    """A premultiplied object ready to paste: colour, 255 - alpha (3 channels), alpha, the
    alpha's total and the box (left, top, right, bottom) of its non-zero pixels."""

    rgb: np.ndarray
    inv_alpha: np.ndarray
    alpha: np.ndarray
    alpha_total: int
    box: tuple[int, int, int, int]

    @classmethod
    def from_premultiplied(cls, obj: np.ndarray) -> Sprite:
        obj = np.ascontiguousarray(obj)
        alpha = cv2.extractChannel(obj, 3)
        inv = cv2.cvtColor(cv2.bitwise_not(alpha), cv2.COLOR_GRAY2RGB)
        rgb = cv2.cvtColor(obj, cv2.COLOR_RGBA2RGB)
        x, y, w, h = cv2.boundingRect(alpha)
        sprite = cls(rgb, inv, alpha, int(cv2.sumElems(alpha)[0]), (x, y, x + w, y + h))
        for arr in (sprite.rgb, sprite.inv_alpha, sprite.alpha):
            arr.setflags(write=False)
        return sprite

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha.shape

    @property
    def nbytes(self) -> int:
        return self.rgb.nbytes + self.inv_alpha.nbytes + self.alpha.nbytes

    def premultiplied(self) -> np.ndarray:
        return np.dstack([self.rgb, self.alpha])


def composite(background: np.ndarray, obj: np.ndarray | Sprite, x0: int, y0: int) -> np.ndarray:
    """Paste a premultiplied RGBA object with its top-left corner at ``(x0, y0)``.

    Returns a new RGB array; parts of the object outside the image are dropped.
    ``out = obj + background * (1 - alpha)``, rounded in 8 bits.
    """
    sprite = obj if isinstance(obj, Sprite) else Sprite.from_premultiplied(obj)
    out = background.copy()
    bh, bw = background.shape[:2]
    oh, ow = sprite.shape
    left, top = max(0, -x0), max(0, -y0)
    right, bottom = min(ow, bw - x0), min(oh, bh - y0)
    if right <= left or bottom <= top:
        return out
    region = out[y0 + top : y0 + bottom, x0 + left : x0 + right]
    cv2.multiply(region, sprite.inv_alpha[top:bottom, left:right], dst=region, scale=1 / 255)
    cv2.add(region, sprite.rgb[top:bottom, left:right], dst=region)
    return out


@dataclass(frozen=True)
class Paste:
    """What a ``paste``-stage intervention receives: the background, the object and where it goes.

    ``background`` is RGB, ``sprite`` the premultiplied object, ``(x, y)`` its top-left
    corner (it may stick out of the image). :meth:`alpha` is the default paste.
    """

    background: np.ndarray
    sprite: Sprite
    x: int
    y: int

    @property
    def rgba(self) -> np.ndarray:
        """The object as straight (not premultiplied) RGBA."""
        return unpremultiply(self.sprite.premultiplied())

    @property
    def inside(self) -> bool:
        """Whether the whole object canvas lies inside the image."""
        h, w = self.sprite.shape
        bh, bw = self.background.shape[:2]
        return self.x >= 0 and self.y >= 0 and self.x + w <= bw and self.y + h <= bh

    def alpha(self, sprite: Sprite | None = None) -> np.ndarray:
        """Alpha compositing (premultiplied), optionally of another sprite at the same place."""
        return composite(self.background, sprite or self.sprite, self.x, self.y)


def alpha_mass_visible(alpha: np.ndarray, box: tuple[int, int, int, int],
                       total: float | None = None) -> float:
    """Fraction of the alpha mass of ``alpha`` inside ``box`` (left, top, right, bottom)."""
    total = float(alpha.sum(dtype=np.int64)) if total is None else float(total)
    if total == 0.0:
        return 0.0
    left, top, right, bottom = box
    return float(alpha[top:bottom, left:right].sum(dtype=np.int64)) / total


def encode(image: np.ndarray, fmt: str = "jpg", quality: int = 75) -> bytes:
    """Encode an RGB array as JPEG (:func:`siscore.generate.jpeg.encode`: ``quality``, restart
    markers between tiles) or PNG bytes."""
    if fmt == "jpg":
        return jpeg.encode(image, quality)
    if fmt != "png":
        raise ValueError(f"unknown image format {fmt!r}; choose jpg or png")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
