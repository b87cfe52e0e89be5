"""The base of siscore's torch datasets over SI-SCORE images, and the guarded decoder.

:class:`ImageSource` knows ``image_ids``, ``labels`` (class names), ``valid`` (the valid
ImageNet-1k indices of each image's label), ``fingerprint()`` and how to decode the
image at a position; the readers of :mod:`siscore.evaluate.data` and
:mod:`siscore.evaluate.rendered` subclass it. :func:`~siscore.formats.images.decode` reads an image's size
from its header and refuses one above ``max_pixels`` before decoding a pixel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from siscore.formats.images import (  # noqa: F401 - re-exported: the readers' names
    MAX_PIXELS,
    ImageReadError,
    checked_limit,
    decode,
)

Transform = Callable[[Image.Image], Any]

def sha256_json(obj: Any) -> str:
    """The SHA-256 of ``obj`` as canonical JSON (keys sorted): part of a fingerprint."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


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


