"""The base of siscore's torch datasets over SI-SCORE images, and the guarded decoder.

:class:`ImageSource` knows ``image_ids``, ``labels`` (class names), ``valid`` (the valid
ImageNet-1k indices of each image's label), ``fingerprint()`` and how to decode the
image at a position; the readers of :mod:`siscore.evaluate.data` and
:mod:`siscore.evaluate.rendered` subclass it. :func:`decode` reads an image's size from
its header and refuses one above ``max_pixels`` before decoding a pixel.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from typing import IO, Any

from PIL import Image
from torch.utils.data import Dataset

from siscore.errors import ParamError, SiscoreError

Transform = Callable[[Image.Image], Any]

MAX_PIXELS = 89_478_485
"""The largest image decoded by default (width x height): Pillow's own default limit,
0.27 GB as RGB; SI-SCORE images have 0.25 M pixels. A dataset's image above it is refused
with one line; ``max_pixels=`` (``siscore evaluate --max-pixels``) raises it."""


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


def sha256_json(obj: Any) -> str:
    """The SHA-256 of ``obj`` as canonical JSON (keys sorted): part of a fingerprint."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


def decode(file: IO[bytes], where: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The RGB image in ``file``, its size read from the header and checked against
    ``max_pixels`` before any pixel is decoded; :class:`ImageReadError` names ``where``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(file)
        with img:
            width, height = img.size
            if width * height > max_pixels:
                raise ImageReadError(
                    f"{where}: {width}x{height} image ({width * height:,} pixels) is above the limit "
                    f"of {max_pixels:,} pixels; if it is meant to be that large, raise the limit "
                    "(max_pixels=, siscore evaluate --max-pixels)")
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{where}: refused by Pillow ({exc}); such an image cannot be "
                             "read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{where}: unreadable image ({exc}); re-build or re-download it") from None


class ImageSource(Dataset):
    """The base of siscore's image datasets (see the module docstring)."""

    image_ids: list[int]
    labels: list[str]
    valid: list[tuple[int, ...]]
    transform: Transform | None = None
    max_pixels: int = MAX_PIXELS

    def __len__(self) -> int:
        return len(self.image_ids)

    def load(self, position: int) -> Image.Image:
        """The decoded RGB image at ``position``."""
        raise NotImplementedError

    def __getitem__(self, position: int) -> tuple[Any, int, str]:
        img = self.load(position)
        return (self.transform(img) if self.transform else img), position, ""

    def with_transform(self, transform: Transform | None) -> ImageSource:
        """A copy reading the same images with another transform."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__getstate__())
        new.transform = transform
        return new

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def missing_files(self, positions: Sequence[int] | None = None) -> list[str]:
        """Files of images listed but absent (none for rendered images)."""
        return []

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the images (the predictions cache compares it)."""
        raise NotImplementedError

    def metadata_header(self) -> list[str] | None:
        """The metadata.csv header of the rows __getitem__ yields (None: the dataset has its file)."""
        return None


def checked_limit(max_pixels: Any) -> int:
    """``max_pixels`` if it is a positive whole number, else :class:`ParamError`."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ParamError("must be a positive whole number of pixels", param="max_pixels",
                         value=max_pixels)
    return max_pixels
