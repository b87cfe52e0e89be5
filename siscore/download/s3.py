"""Anonymous, parallel, resumable and verified fetching of S3 objects into a folder.

Each object is streamed to ``<name>.part`` (resumed with a byte range after a
kill), checked against its size and ETag, then renamed to its final name. A
single-part ETag is the object's MD5; a multipart ETag (``md5-of-md5s-N``) is
checked with the part size the server reports (``HEAD ?partNumber=1``), else
by trying the part sizes that give N parts in whole MiB (what the AWS tools
use); when the part size is unknown and none reproduces the ETag, the file is
kept as checked by size only and the summary says so. ``.siscore-download.jsonl`` in the output folder
records the ETag of each verified file, so a re-run reuses it without hashing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siscore.errors import SiscoreError
from siscore.utils.extras import require
from siscore.utils.progress import progress_bar

MANIFEST = ".siscore-download.jsonl"
CHUNK = 1 << 20
MIB = 1 << 20


class DownloadError(SiscoreError, RuntimeError):
    """A bucket that cannot be listed or an object that cannot be fetched; the message says why."""


@dataclass(frozen=True)
class S3Object:
    """One object of a listing: key, size in bytes and ETag (quotes stripped)."""

    key: str
    size: int
    etag: str


@dataclass
class Summary:
    """What a download did: files fetched, reused (already verified) and failed, with bytes."""

    fetched: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    size_only: list[str] = field(default_factory=list)  # multipart ETag not reproducible
    resumed: list[str] = field(default_factory=list)  # fetched from a .part left by a killed run
    bytes_fetched: int = 0
    bytes_reused: int = 0
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Summary) -> None:
        for name in ("fetched", "reused", "failed", "size_only", "resumed", "notes"):
            getattr(self, name).extend(getattr(other, name))
        self.bytes_fetched += other.bytes_fetched
        self.bytes_reused += other.bytes_reused

    def text(self) -> str:
        lines = [f"fetched {len(self.fetched)} file(s) ({_human(self.bytes_fetched)}"
                 + (f", {len(self.resumed)} resumed from a partial download" if self.resumed
                    else "")
                 + f"), reused {len(self.reused)} ({_human(self.bytes_reused)}), failed "
                 f"{len(self.failed)}"]
        if self.size_only:
            lines.append(f"{len(self.size_only)} file(s) checked by size only (multipart ETag "
                         f"with an unknown part size), e.g. {self.size_only[0]}")
        lines += [f"failed: {key}: {reason}" for key, reason in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"... and {len(self.failed) - 20} more failures")
        lines += self.notes
        return "\n".join(lines)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def make_client(endpoint_url: str | None = None, workers: int = 8) -> Any:
    """An anonymous (unsigned) boto3 S3 client; ``endpoint_url`` points it at a mirror."""
    boto3 = require("boto3", "siscore download")
    require("botocore", "siscore download")
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(signature_version=UNSIGNED, max_pool_connections=max(10, workers),
                    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=20,
                    read_timeout=60)
    try:
        return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint_url,
                            config=config)
    except ValueError as exc:
        raise DownloadError(f"--endpoint-url {endpoint_url!r}: {exc}; give a URL such as "
                            "http://127.0.0.1:9000") from None


def _client_error(exc: Exception, what: str) -> DownloadError:
    return DownloadError(f"{what}: {exc}; check the network (or --endpoint-url) and run again")


def list_objects(client: Any, bucket: str, prefix: str) -> list[S3Object]:
    """Every object under ``prefix`` (folder markers skipped), in key order."""
    from botocore.exceptions import BotoCoreError, ClientError

    out: list[S3Object] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    out.append(S3Object(item["Key"], int(item["Size"]), item["ETag"].strip('"')))
    except (BotoCoreError, ClientError) as exc:
        raise _client_error(exc, f"listing s3://{bucket}/{prefix}") from None
    return sorted(out, key=lambda o: o.key)


def head_object(client: Any, bucket: str, key: str) -> S3Object | None:
    """The object at ``key``, or None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise _client_error(exc, f"s3://{bucket}/{key}") from None
    except BotoCoreError as exc:
        raise _client_error(exc, f"s3://{bucket}/{key}") from None
    return S3Object(key, int(head["ContentLength"]), head["ETag"].strip('"'))


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


class Manifest:
    """``.siscore-download.jsonl``: one line per verified file (relative path, key, ETag, size,
    mtime_ns), appended as files finish so that 600,000 files cost one line each; on
    reading, the last line of a path wins and a torn last line is ignored."""

    def __init__(self, root: Path) -> None:
        self.path = root / MANIFEST
        self.lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
                self.entries[entry["path"]] = entry
            except (ValueError, KeyError, TypeError):
                continue

    def is_current(self, rel: str, target: Path, obj: S3Object) -> bool:
        entry = self.entries.get(rel)
        if not entry or entry.get("etag") != obj.etag or entry.get("size") != obj.size:
            return False
        try:
            st = target.stat()
        except OSError:
            return False
        return st.st_size == obj.size and st.st_mtime_ns == entry.get("mtime_ns")

    def record(self, rel: str, target: Path, obj: S3Object, check: str) -> None:
        entry = {"path": rel, "key": obj.key, "etag": obj.etag, "size": obj.size,
                 "mtime_ns": target.stat().st_mtime_ns, "check": check}
        with self.lock:
            self.entries[rel] = entry
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")


def _stream(client: Any, bucket: str, obj: S3Object, part: Path,
            advance: Callable[[int], None]) -> tuple[str, int]:
    """Append the object's missing bytes to ``part``; return the MD5 of the whole file and
    the bytes that were already there."""
    digest = hashlib.md5(usedforsecurity=False)
    have = part.stat().st_size if part.exists() else 0
    if have > obj.size:
        part.unlink()
        have = 0
    if have:
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
        advance(have)
    if have < obj.size:
        args: dict[str, Any] = {"Bucket": bucket, "Key": obj.key, "IfMatch": f'"{obj.etag}"'}
        if have:
            args["Range"] = f"bytes={have}-"
        body = client.get_object(**args)["Body"]
        with open(part, "ab") as f:
            for chunk in body.iter_chunks(CHUNK):
                f.write(chunk)
                digest.update(chunk)
                advance(len(chunk))
    return digest.hexdigest(), have


def fetch_objects(client: Any, bucket: str, objects: Iterable[S3Object], out: Path,
                  rel_path: Callable[[S3Object], str], *, workers: int = 8,
                  progress: bool | None = None, desc: str = "download") -> Summary:
    """Fetch ``objects`` into ``out`` (each at ``rel_path(obj)``), verified, in parallel.

    Files already present and verified are reused; a ``.part`` left by a killed run
    is resumed. Nothing is written outside ``out``.
    """
    from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

    objects = list(objects)
    out.mkdir(parents=True, exist_ok=True)
    root = out.resolve()
    manifest = Manifest(out)
    summary = Summary()
    lock = threading.Lock()
    bar = progress_bar(sum(o.size for o in objects), desc, "B", enabled=progress is not False,
                       unit_scale=True, unit_divisor=1024)

    def advance(n: int) -> None:
        with lock:
            bar.update(n)

    def one(obj: S3Object) -> None:
        rel = rel_path(obj)
        target = (out / rel).resolve()
        if root not in target.parents:
            with lock:
                summary.failed.append((obj.key, f"would be written outside {out}; skipped"))
            return
        if manifest.is_current(rel, target, obj):
            advance(obj.size)
            with lock:
                summary.reused.append(obj.key)
                summary.bytes_reused += obj.size
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        part_size = first_part_size(client, bucket, obj)
        try:
            if target.exists():  # present but unrecorded: keep it if it verifies
                check = verify(target, obj, part_size=part_size)
                manifest.record(rel, target, obj, check)
                advance(obj.size)
                with lock:
                    summary.reused.append(obj.key)
                    summary.bytes_reused += obj.size
                return
        except DownloadError:
            pass  # fetch it again below; the old file is replaced only once the new one verifies
        try:
            md5, resumed = _stream(client, bucket, obj, part, advance)
            check = verify(part, obj, known_md5=md5, part_size=part_size)
        except (DownloadError, FlexibleChecksumError) as exc:
            part.unlink(missing_ok=True)  # corrupt: the next run starts this file afresh
            with lock:
                summary.failed.append((obj.key, f"{exc}; deleted, run again to re-fetch"))
            return
        except (BotoCoreError, ClientError, OSError) as exc:
            with lock:
                summary.failed.append((obj.key, f"{exc}; run again to resume"))
            return
        os.replace(part, target)
        manifest.record(rel, target, obj, check)
        with lock:
            summary.fetched.append(obj.key)
            summary.bytes_fetched += obj.size
            if check == "size":
                summary.size_only.append(obj.key)
            if resumed:
                summary.resumed.append(obj.key)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(one, objects))
    finally:
        bar.close()
    return summary
