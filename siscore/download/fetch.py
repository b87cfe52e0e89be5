"""Parallel, resumable, verified and interruptible fetching of S3 objects into a folder.

Every key is checked before anything is written (:func:`plan`): its path must be
relative, free of ``..``, short enough, inside its folder once resolved, and fit
one folder tree with the other keys; else the whole download is refused. Each
object is then streamed to ``<name>.part`` (resumed with a byte range after a
kill), never past the size its listing declared, checked against its size and
ETag, and renamed to its final name. ``.siscore-download.jsonl`` in the output
folder records the ETag of each verified file, so a re-run reuses it without
hashing. Ctrl-C stops the worker threads at their next chunk (64 KiB) and returns
at once, leaving the ``.part`` files for the next run to resume.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from siscore.download.names import (
    MANIFEST,
    NAME_MAX,
    PART,
    RESERVED,
    clashes,
    in_the_way,
    relative,
    resolves_outside,
    unsafe_reason,
)
from siscore.download.s3 import DownloadError, S3Object, Summary
from siscore.download.verify import first_part_size, verify
from siscore.utils.progress import progress_bar

#: Bytes read from a response at a time: how soon a worker sees Ctrl-C.
READ_CHUNK = 1 << 16
#: Seconds Ctrl-C waits for the workers to close their files before returning.
STOP_GRACE = 0.5


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
        except (OSError, UnicodeDecodeError):
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


def plan(bucket: str, objects: Iterable[S3Object], out: Path,
         rel_path: Callable[[S3Object], str], folder: str = "") -> list[tuple[S3Object, str]]:
    """Each object with the relative path it is written to under ``out``; raises
    DownloadError, before anything is written, when a key is unsafe (absolute, ``..``,
    too long, outside ``folder``), when two keys clash (``a`` and ``a/b``), or when
    something local is in the way (a folder where a file goes)."""
    pairs: list[tuple[S3Object, str]] = []
    bad: list[tuple[str, str]] = []
    for obj in objects:
        name = rel_path(obj)
        reason = unsafe_reason(name, NAME_MAX - len(PART))
        rel = relative(name) if reason is None else ""
        if reason is None and folder and not rel.startswith(f"{folder}/"):
            reason = f"not inside {folder}/"
        if reason is None and rel in RESERVED:
            reason = "the name of siscore's own download record"
        if reason is None:
            pairs.append((obj, rel))
        else:
            bad.append((obj.key, reason))
    clash = clashes([(obj.key, rel) for obj, rel in pairs], parts=True)
    bad += [(obj.key, clash[obj.key]) for obj, _ in pairs if obj.key in clash]
    if bad:
        key, reason = bad[0]
        more = f" (and {len(bad) - 1} more keys like it)" if len(bad) > 1 else ""
        raise DownloadError(f"s3://{bucket}/{key}: unsafe key: {reason}{more}; nothing was "
                            "downloaded, as this bucket's keys cannot be written safely into "
                            "a folder (check --endpoint-url/--bucket)")
    root, resolved = out.resolve(), {}
    for obj, rel in pairs:
        reason = resolves_outside(root / folder if folder else root, rel[len(folder):].lstrip("/"),
                                resolved)
        local = in_the_way(out, rel)
        if reason is not None:
            raise DownloadError(f"s3://{bucket}/{obj.key}: would be written to {out / rel}, which "
                                f"{reason}; nothing was downloaded")
        if local is not None:
            raise DownloadError(f"{local}; nothing was downloaded: move it away or give "
                                "another --out")
    return pairs


def _stream(client: Any, bucket: str, obj: S3Object, part: Path,
            advance: Callable[[int], None], stop: threading.Event) -> tuple[str, int] | None:
    """Append the object's missing bytes to ``part``, never more than its listed size;
    return the MD5 of the whole file and the bytes that were already there, or None when
    ``stop`` was set (the ``.part`` stays for the next run)."""
    digest = hashlib.md5(usedforsecurity=False)
    have = part.stat().st_size if part.exists() else 0
    if have > obj.size:
        part.unlink()
        have = 0
    if have:
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        advance(have)
    if have < obj.size:
        args: dict[str, Any] = {"Bucket": bucket, "Key": obj.key, "IfMatch": f'"{obj.etag}"'}
        if have:
            args["Range"] = f"bytes={have}-"
        body = client.get_object(**args)["Body"]
        left = obj.size - have
        try:
            with open(part, "ab") as f:
                for chunk in body.iter_chunks(READ_CHUNK):
                    if stop.is_set():
                        return None
                    if len(chunk) > left:
                        raise DownloadError(f"the server sent more than the {obj.size} bytes "
                                            "its listing declared")
                    f.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
                    left -= len(chunk)
        finally:
            body.close()
    return digest.hexdigest(), have


def fetch_objects(client: Any, bucket: str, objects: Iterable[S3Object], out: Path,
                  rel_path: Callable[[S3Object], str], *, folder: str = "", workers: int = 8,
                  progress: bool | None = None, desc: str = "download") -> Summary:
    """Fetch ``objects`` into ``out`` (each at ``rel_path(obj)``, inside ``out/folder``),
    verified, in parallel; see the module. Files already present and verified are reused;
    a ``.part`` left by a killed or interrupted run is resumed."""
    from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError
    from urllib3.exceptions import HTTPError

    pairs = plan(bucket, objects, out, rel_path, folder)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out)
    summary = Summary()
    lock = threading.Lock()
    stop = threading.Event()
    bar = progress_bar(sum(o.size for o, _ in pairs), desc, "B", enabled=progress is not False,
                       unit_scale=True, unit_divisor=1024)

    def advance(n: int) -> None:
        with lock:
            bar.update(n)

    def reuse(obj: S3Object) -> None:
        advance(obj.size)
        with lock:
            summary.reused.append(obj.key)
            summary.bytes_reused += obj.size

    def one(obj: S3Object, rel: str) -> None:
        target = out / rel
        if manifest.is_current(rel, target, obj):
            return reuse(obj)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + PART)
        part_size = first_part_size(client, bucket, obj)
        try:
            if target.is_file():  # present but unrecorded: keep it if it verifies
                manifest.record(rel, target, obj, verify(target, obj, part_size=part_size))
                return reuse(obj)
        except DownloadError:
            pass  # fetch it again below; the old file is replaced only once the new one verifies
        try:
            streamed = _stream(client, bucket, obj, part, advance, stop)
            if streamed is None:  # Ctrl-C
                return
            md5, resumed = streamed
            check = verify(part, obj, known_md5=md5, part_size=part_size)
        except (DownloadError, FlexibleChecksumError) as exc:
            part.unlink(missing_ok=True)  # corrupt: the next run starts this file afresh
            with lock:
                summary.failed.append((obj.key, f"{exc}; deleted, run again to re-fetch"))
            return
        except (BotoCoreError, ClientError, HTTPError) as exc:
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

    todo = iter(pairs)
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            with lock:
                item = next(todo, None)
            if item is None:
                return
            try:
                one(*item)
            except OSError as exc:  # writing: a full disk, a file in the way
                with lock:
                    summary.failed.append((item[0].key, _os_reason(exc)))
            except BaseException as exc:  # a bug: raised in the caller's thread below
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=worker, daemon=True, name=f"siscore-download-{i}")
               for i in range(max(1, min(workers, len(pairs))))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.1)
    except BaseException:  # Ctrl-C: the workers stop at their next chunk; .part files stay
        stop.set()
        for t in threads:
            t.join(STOP_GRACE / len(threads))
        raise
    finally:
        bar.close()
    if errors:
        raise errors[0]
    return summary


def _os_reason(exc: OSError) -> str:
    """A failed write, said as what to do about it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{exc}; free some space, then run again to resume"
    return f"{exc}; run again to resume"
