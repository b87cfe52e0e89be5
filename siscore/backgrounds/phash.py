"""Perceptual hash (the standard DCT pHash of ``imagehash``) and near-duplicate detection.

The hash is ``imagehash.phash`` of the stored image (grey, 32x32 Lanczos, 2-D DCT,
the 8x8 lowest frequencies against their median), written as the same 16 hex
digits as ``str(imagehash.phash(PIL.Image.open(path)))``, so hashes can be
compared with other tools. It is robust to resizing, re-encoding and small
edits: two photos whose hashes differ in at most ~10 of the 64 bits are almost
always the same picture at another size, quality or crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

HASH_BITS = 64
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def phash(image: Image.Image | np.ndarray) -> int:
    """The 64-bit ``imagehash.phash`` of a PIL image (or an RGB/grey array), as an int.

    Give the image as stored (full size) to get the hash other tools compute.
    """
    import imagehash

    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.ascontiguousarray(image))
    return int(str(imagehash.phash(image)), 16)


def to_hex(h: int) -> str:
    """A hash as 16 hexadecimal digits (the form written in the CSV files)."""
    return f"{h:016x}"


def from_hex(text: str) -> int:
    """Parse a hash written by :func:`to_hex`; raises ``ValueError`` if it is not one."""
    text = text.strip()
    if len(text) != 16:
        raise ValueError(f"{text!r} is not a 16-digit hexadecimal hash")
    return int(text, 16)


def distance(a: int, b: int) -> int:
    """Hamming distance between two hashes (0..64)."""
    return (a ^ b).bit_count()


def _distances_to(hashes: np.ndarray, h: np.uint64) -> np.ndarray:
    x = np.bitwise_xor(hashes, h)
    return _POPCOUNT[x.view(np.uint8)].reshape(-1, 8).sum(axis=1)


def near_duplicates(hashes: Sequence[int], max_distance: int) -> dict[int, tuple[int, int]]:
    """Which items duplicate an earlier one: ``{index: (index_kept, distance)}``.

    Items are taken in the given order (put the best copies first): an item
    within ``max_distance`` bits of an item already kept is a duplicate of the
    nearest such item; otherwise it is kept. ``max_distance < 0`` disables it.
    """
    result: dict[int, tuple[int, int]] = {}
    if max_distance < 0 or not hashes:
        return result
    arr = np.array([h & 0xFFFFFFFFFFFFFFFF for h in hashes], dtype=np.uint64)
    kept: list[int] = []
    kept_arr = np.empty(arr.size, dtype=np.uint64)
    for i, h in enumerate(arr):
        if kept:
            d = _distances_to(kept_arr[: len(kept)], h)
            j = int(np.argmin(d))
            if int(d[j]) <= max_distance:
                result[i] = (kept[j], int(d[j]))
                continue
        kept_arr[len(kept)] = h
        kept.append(i)
    return result
