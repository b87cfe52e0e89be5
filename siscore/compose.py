"""Pixel operations: background preparation, object resampling, compositing, encoding.

Pure functions on NumPy arrays (HxWx3 RGB or HxWx4 RGBA, uint8). Objects are
kept *premultiplied* (colour already multiplied by alpha) between resampling
and compositing, so interpolation never mixes the colour of transparent pixels
into the edge (no dark or light fringes), and an object is resampled exactly
once from its source, whatever its size and rotation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
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
    """Keep colour <= alpha (bicubic overshoot can break premultiplication), in place."""
    np.minimum(arr, arr[..., 3:4], out=arr)
    return arr


_TRANSPOSE = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _prefilter(src: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Low-pass a source before shrinking it by ``(sx, sy)``: two box filters of the
    shrink factor's width, i.e. the triangle filter of an antialiased bilinear resize."""
    kx, ky = max(1, round(sx)), max(1, round(sy))
    if kx == 1 and ky == 1:
        return src
    out = cv2.blur(src, (kx, ky), borderType=cv2.BORDER_CONSTANT)
    # an even box is centred half a pixel off; the second box is shifted back by as much
    anchor = (kx // 2 - (kx % 2 == 0), ky // 2 - (ky % 2 == 0))
    return cv2.blur(out, (kx, ky), anchor=anchor, borderType=cv2.BORDER_CONSTANT)


def resample_object(source: Image.Image, size: tuple[int, int], angle: float,
                    source_array: np.ndarray | None = None) -> np.ndarray:
    """Scale a premultiplied ``RGBa`` source to ``size`` and rotate it by ``angle`` (CCW).

    One resampling from the source: a bilinear (antialiased) resize when the
    angle is a multiple of 90 degrees (followed by an exact transpose), else a
    single bicubic affine warp from the source, low-pass filtered first when it
    shrinks so that it does not alias. The canvas is expanded exactly as the
    original's ``rotate(expand=True)`` after ``resize``. Returns premultiplied RGBA.
    ``source_array`` is ``np.asarray(source)`` if the caller already has it.
    """
    if source.mode != "RGBa":
        raise ValueError(f"resample_object needs a premultiplied RGBa image, got {source.mode}")
    w, h = size
    angle = angle % 360.0
    if angle in (0.0, 90.0, 180.0, 270.0):
        img = source if source.size == (w, h) else source.resize((w, h), Image.Resampling.BILINEAR)
        if angle:
            img = img.transpose(_TRANSPOSE[int(angle)])
        return np.asarray(img)
    src_w, src_h = source.size
    sx, sy = src_w / w, src_h / h
    (cw, ch), (a, b, c, d, e, f) = rotation_matrix(w, h, angle)
    src = _prefilter(np.asarray(source) if source_array is None else source_array, sx, sy)
    # Pillow's matrix maps output pixel centres (x + 0.5) to input coordinates whose pixel
    # centres are at i + 0.5; OpenCV samples at integer centres: shift by half a pixel.
    m = np.array([[sx * a, sx * b, sx * c], [sy * d, sy * e, sy * f]], dtype=np.float64)
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5
    out = cv2.warpAffine(src, m, (cw, ch), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
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
