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

from siscore.geometry import rotation_matrix

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
        from siscore.saliency import least_salient_square

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
    return cv2.min(arr, cv2.cvtColor(np.ascontiguousarray(arr[..., 3]), cv2.COLOR_GRAY2RGBA))


_ROTATE_90S = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
_MIN_LEVEL_SIDE = 16
# resampling starts from the smallest pyramid level this many times the target (or more):
# upright, a bicubic resize follows; rotated, the low-passed level is shared by every angle
# and a bilinear warp follows, accurate only for content below half the level's Nyquist
GAP = 1.5
GAP_ROTATED = 2.0
# the [-e, 1 + 2e, -e] boost folded into the low-pass before a bilinear warp: it offsets
# the blur of bilinear interpolation at half the Nyquist frequency (sinc^2(1/4) = 0.81)
EMPH = 0.117


@dataclass(frozen=True)
class Pyramid:
    """A premultiplied RGBA cut-out and its Lanczos halvings (Pillow, antialiased), built
    once per source, with a level at 1/sqrt(2) between each two halvings, made from the
    halving above when first needed (so the remaining low-pass runs on a level 1.5-2.1,
    not 1.5-3, times the target). Resampling starts from the smallest level at least 1.5
    times the target, so its cost follows the target's size, not the source's."""

    levels: tuple[np.ndarray, ...]
    _between: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, source: Image.Image | np.ndarray) -> Pyramid:
        """The pyramid of a premultiplied source (a Pillow ``RGBa`` image or its array)."""
        if isinstance(source, np.ndarray):
            source = Image.fromarray(source, "RGBa")
        if source.mode != "RGBa":
            raise ValueError(f"resampling needs a premultiplied RGBa image, got {source.mode}")
        levels, image = [np.asarray(source)], source
        while min(image.size) >= 2 * _MIN_LEVEL_SIDE:
            image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
            levels.append(np.asarray(image))
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


def _lowpass(level: np.ndarray, kx: float, ky: float, emphasis: float = 0.0) -> np.ndarray:
    """Low-pass ``level`` before shrinking it by ``(kx, ky)`` (an axis not shrunk is left),
    with the ``emphasis`` boost of :func:`lanczos_taps` on both axes."""
    if kx <= 1.0 and ky <= 1.0 and not emphasis:
        return level
    boost = np.array([-emphasis, 1 + 2 * emphasis, -emphasis], np.float32)
    tx = lanczos_taps(kx, emphasis=emphasis) if kx > 1.0 else boost
    ty = lanczos_taps(ky, emphasis=emphasis) if ky > 1.0 else boost
    return cv2.sepFilter2D(level, -1, tx, ty, borderType=cv2.BORDER_CONSTANT)


@dataclass(frozen=True)
class Prepared:
    """A pyramid level low-passed for one object size: what every angle of that size
    resamples from. ``(kx, ky)`` is the remaining shrink factor, ``rotated`` whether it is
    meant for a bilinear warp (angles off the multiples of 90 degrees): then the level is
    exactly twice the target, band-limited to the target's resolution."""

    level: np.ndarray
    kx: float
    ky: float
    rotated: bool

    @property
    def nbytes(self) -> int:
        return self.level.nbytes


def _is_upright(angle: float) -> bool:
    return angle % 360.0 in (0.0, 90.0, 180.0, 270.0)


def prepare(source: Image.Image | Pyramid, size: tuple[int, int], angle: float) -> Prepared:
    """The low-passed level that :func:`resample_object` needs for ``size`` and ``angle``;
    it depends on the angle only through whether it is a multiple of 90 degrees."""
    pyramid = source if isinstance(source, Pyramid) else Pyramid.of(source)
    w, h = size
    rotated = not _is_upright(angle)
    # rotated: halvings only (a size serves every angle from one prepared level, whose
    # low-pass costs less than making a level between two halvings)
    level = pyramid.level_for(w, h, GAP_ROTATED, between=False) if rotated else pyramid.level_for(w, h)
    kx, ky = level.shape[1] / w, level.shape[0] / h
    if not rotated:
        filtered = _lowpass(level, kx, ky)
    else:  # low-pass, bicubic to twice the target (compact, shared by every angle), boost
        filtered = _lowpass(level, kx, ky)
        if filtered.shape[:2] != (2 * h, 2 * w):
            filtered = cv2.resize(filtered, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
        filtered = _lowpass(filtered, 1.0, 1.0, EMPH)
        kx = ky = 2.0
    filtered.setflags(write=False)
    return Prepared(filtered, kx, ky, rotated)


def resample_object(source: Image.Image | Pyramid | Prepared, size: tuple[int, int],
                    angle: float) -> np.ndarray:
    """Scale a premultiplied source to ``size`` and rotate it by ``angle`` (CCW).

    ``source`` is a :class:`Pyramid` (reused across sizes), the :func:`prepare`-d level for
    this size (reused across angles) or a Pillow ``RGBa`` image. One resampling from a
    level of the source's pyramid (the smallest at least 1.5 times the target): a
    Lanczos-3 low-pass at the remaining shrink factor, then a bicubic resize when the
    angle is a multiple of 90 degrees (followed by an exact rotation), else one affine
    warp onto the canvas that the original's ``rotate(expand=True)`` after ``resize``
    gives: bilinear (its blur offset by a boost), from the low-passed level brought to
    exactly twice the target (bicubic), which every angle of that size shares.
    Returns premultiplied RGBA.
    """
    angle = angle % 360.0
    prep = source if isinstance(source, Prepared) else prepare(source, size, angle)
    if prep.rotated == _is_upright(angle):
        raise ValueError(f"this prepared level is for {'rotated' if prep.rotated else 'upright'} objects, "
                         f"not for angle {angle}")
    w, h = size
    level, kx, ky = prep.level, prep.kx, prep.ky
    if not prep.rotated:
        if level.shape[:2] == (h, w):
            out = level
        else:
            out = _clip_premultiplied(cv2.resize(level, (w, h), interpolation=cv2.INTER_CUBIC))
        return cv2.rotate(out, _ROTATE_90S[int(angle)]) if angle else out
    (cw, ch), (a, b, c, d, e, f) = rotation_matrix(w, h, angle)
    # Pillow's matrix maps output pixel centres (x + 0.5) to input coordinates whose pixel
    # centres are at i + 0.5; OpenCV samples at integer centres: shift by half a pixel.
    m = np.array([[kx * a, kx * b, kx * c], [ky * d, ky * e, ky * f]], dtype=np.float64)
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5
    out = cv2.warpAffine(level, m, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    return _clip_premultiplied(out)


@dataclass(frozen=True)
class Sprite:
    """A premultiplied object ready to paste: colour, 255 - alpha (3 channels), alpha."""

    rgb: np.ndarray
    inv_alpha: np.ndarray
    alpha: np.ndarray
    alpha_total: int

    @classmethod
    def from_premultiplied(cls, obj: np.ndarray) -> Sprite:
        obj = np.ascontiguousarray(obj)
        alpha = cv2.extractChannel(obj, 3)
        inv = cv2.cvtColor(cv2.bitwise_not(alpha), cv2.COLOR_GRAY2RGB)
        rgb = cv2.cvtColor(obj, cv2.COLOR_RGBA2RGB)
        sprite = cls(rgb, inv, alpha, int(cv2.sumElems(alpha)[0]))
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
    """Encode an RGB array as JPEG (Pillow, ``quality``) or PNG bytes."""
    buf = io.BytesIO()
    pil = Image.fromarray(image)
    if fmt == "jpg":
        pil.save(buf, format="JPEG", quality=quality)
    elif fmt == "png":
        pil.save(buf, format="PNG", compress_level=3)
    else:
        raise ValueError(f"unknown image format {fmt!r}; choose jpg or png")
    return buf.getvalue()
