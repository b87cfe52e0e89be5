"""Checking a downloaded file against its listing: size, then MD5 or the multipart ETag.

A single-part ETag is the object's MD5; a multipart ETag (``md5-of-md5s-N``) is
checked with the part size the server reports (``HEAD ?partNumber=1``), else by
trying the part sizes that give N parts in whole MiB (what the AWS tools use);
when the part size is unknown and none reproduces the ETag, the file is kept as
checked by size only and the summary says so.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from siscore.download.s3 import DownloadError, S3Object

CHUNK = 1 << 20
MIB = 1 << 20


def md5_file(path: Path, part_size: int | None = None) -> str:
    """The file's MD5 (hex), or with ``part_size`` the multipart ETag ``md5-of-md5s-N``."""
    if part_size is None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()
    parts = []
    with open(path, "rb") as f:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                part.update(chunk)
                left -= len(chunk)
            if left == part_size:
                break
            parts.append(part.digest())
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def part_sizes(size: int, n_parts: int) -> list[int]:
    """Part sizes in whole MiB that split ``size`` bytes into exactly ``n_parts`` parts."""
    if n_parts < 1 or size < 1:
        return []
    low = max(1, math.ceil(size / n_parts / MIB))
    out = []
    for mib in range(low, low + 4096):
        p = mib * MIB
        n = math.ceil(size / p)
        if n < n_parts:
            break
        if n == n_parts:
            out.append(p)
    return out[:64]


def first_part_size(client: Any, bucket: str, obj: S3Object) -> int | None:
    """The part size of a multipart object, from ``HEAD ?partNumber=1`` (None if unknown)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if "-" not in obj.etag:
        return None
    try:
        size = int(client.head_object(Bucket=bucket, Key=obj.key, PartNumber=1)["ContentLength"])
    except (BotoCoreError, ClientError, KeyError, ValueError):
        return None
    return size if 0 < size < obj.size else None


def verify(path: Path, obj: S3Object, known_md5: str | None = None,
           part_size: int | None = None) -> str:
    """``"md5"`` or ``"multipart"`` when the file matches the object, ``"size"`` when only its
    size can be checked; raises DownloadError naming the mismatch. ``part_size`` (of a
    multipart object, when known) makes the multipart check exact."""
    size = path.stat().st_size
    if size != obj.size:
        raise DownloadError(f"size {size} bytes, expected {obj.size}")
    if "-" not in obj.etag:
        md5 = known_md5 or md5_file(path)
        if md5 != obj.etag:
            raise DownloadError(f"MD5 {md5} does not match the ETag {obj.etag}")
        return "md5"
    if part_size is not None:
        etag = md5_file(path, part_size)
        if etag != obj.etag:
            raise DownloadError(f"multipart ETag {etag} does not match {obj.etag}")
        return "multipart"
    n = int(obj.etag.rsplit("-", 1)[1]) if obj.etag.rsplit("-", 1)[1].isdigit() else 0
    for p in part_sizes(obj.size, n):
        if md5_file(path, p) == obj.etag:
            return "multipart"
    return "size"


