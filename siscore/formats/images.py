"""Reading a dataset's images as untrusted input: the size is read from the header and an
image above ``max_pixels`` is refused before a pixel is decoded. Torch-free, so the report
reads images the way evaluate does."""

from __future__ import annotations

import warnings
from typing import IO, Any

from PIL import Image

from siscore.errors import ParamError, SiscoreError

MAX_PIXELS = 89_478_485
"""The largest image decoded by default (width x height): Pillow's own default limit,
0.27 GB as RGB; SI-SCORE images have 0.25 M pixels. A dataset's image above it is refused
with one line; ``max_pixels=`` (``siscore evaluate --max-pixels``) raises it."""


ASSET_MAX_PIXELS = 200_000_000
"""The largest foreground or background photo decoded (assets, ``siscore backgrounds``):
photos are larger than SI-SCORE's images, but a 20000 x 20000 one (1.2 GB as RGB) is not."""


def above_limit(size: tuple[int, int], max_pixels: int) -> str | None:
    """Why an image of ``size`` (width, height, from its header) is refused, or None."""
    width, height = size
    if width * height <= max_pixels:
        return None
    return (f"{width}x{height} image ({width * height:,} pixels) is above the limit of "
            f"{max_pixels:,} pixels")


def open_checked_later(file: Any) -> Image.Image:
    """``Image.open`` without Pillow's DecompressionBombWarning, for a caller that checks the
    size from the header itself (:func:`above_limit`) before decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(file)


class ImageReadError(SiscoreError, RuntimeError):
    """An image that cannot be read (the message names it, in one line).

    Raised in a DataLoader worker, it reaches the caller as torch re-raises it: the same
    class, built from the text of the worker's traceback; only its last line, the
    original message, is kept."""

    def __init__(self, message: str = "") -> None:
        if message.startswith(f"Caught {type(self).__name__}") and "Traceback" in message:
            last = message.rstrip().splitlines()[-1]
            message = last.partition(": ")[2] or last
        super().__init__(message)


def decode(file: IO[bytes], where: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The RGB image in ``file``, its size read from the header and checked against
    ``max_pixels`` before any pixel is decoded; :class:`ImageReadError` names ``where``."""
    try:
        with open_checked_later(file) as img:
            why = above_limit(img.size, max_pixels)
            if why:
                raise ImageReadError(f"{where}: {why}; if it is meant to be that large, raise the "
                                     "limit (max_pixels=, siscore evaluate --max-pixels)")
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{where}: refused by Pillow ({exc}); such an image cannot be "
                             "read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{where}: unreadable image ({exc}); re-build or re-download it") from None


def checked_limit(max_pixels: Any) -> int:
    """``max_pixels`` if it is a positive whole number, else :class:`ParamError`."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ParamError("must be a positive whole number of pixels", param="max_pixels",
                         value=max_pixels)
    return max_pixels
