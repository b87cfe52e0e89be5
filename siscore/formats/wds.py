"""WebDataset output: a dataset as tar shards instead of one file per image.

A ``siscore build --format webdataset`` folder holds, besides the usual index
files (``metadata.csv``, ``foreground_classes.csv``, ..., ``dataset.json``)::

    shards/0000000.tar  shards/0000001.tar  ...   one shard per build task
    shards.csv                                    the shard index: image_id,shard,offset,size

Each shard holds, in increasing ``image_id``, two members per sample:
``<image_id:09d>.jpg`` (the image, encoded exactly as a folder build's file)
and ``<image_id:09d>.json`` (its ``metadata.csv`` row, plus ``label`` and the
valid ``imagenet`` indices). Tar headers are fixed (mtime 0, uid/gid 0, no
user names, mode 0644, USTAR), so shards are byte-identical whatever the
engine or the number of workers; a shard is written atomically by the task
that renders it, so a killed build resumes shard by shard.

The shards read with the ``webdataset`` library (``wds.WebDataset(urls)``) or
``torchdata``; siscore reads them by offset through ``shards.csv``
(:class:`siscore.evaluate.data.WebDatasetImages`), so ``siscore evaluate`` and ``siscore score``
read such a folder as they read a folder of files. ``shards.csv`` is untrusted input like
the rest of a dataset: a shard name that leaves the folder (``../../etc/hostname``), a
negative offset or a row that is not four integers-and-a-name is refused with one line
naming the row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siscore.formats.datastore import DatasetError, FolderStore, Store, outside_reason

FORMAT = "webdataset"
SHARD_DIR = "shards"
INDEX = "shards.csv"
INDEX_COLUMNS = ["image_id", "shard", "offset", "size"]


def sample_key(image_id: int) -> str:
    return f"{image_id:09d}"


def shard_name(task: int) -> str:
    """The shard of build task ``task``, relative to the dataset folder."""
    return f"{SHARD_DIR}/{task:07d}.tar"


def _store(source: str | Path | Store) -> Store:
    return source if isinstance(source, Store) else FolderStore(Path(source))


def is_webdataset(source: str | Path | Store) -> bool:
    """Whether ``source`` (a folder, or a dataset's store) was written with ``--format webdataset``."""
    return _store(source).exists(INDEX)


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def sample_json(header: Sequence[str], row: Sequence[str], label: str, imagenet: Sequence[int]) -> bytes:
    """A sample's metadata: its ``metadata.csv`` row (numbers as numbers), label, ImageNet indices."""
    record: dict[str, Any] = {k: _value(v) for k, v in zip(header, row)}
    record.update(label=label, imagenet=[int(i) for i in imagenet])
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def shard_bytes(samples: Sequence[tuple[int, bytes, bytes]], ext: str = "jpg") -> bytes:
    """A tar of ``(image_id, image bytes, json bytes)`` samples, headers fixed, ids increasing."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for image_id, image, meta in sorted(samples, key=lambda s: s[0]):
            key = sample_key(image_id)
            for name, data in ((f"{key}.{ext}", image), (f"{key}.json", meta)):
                tar.addfile(_member(name, len(data)), io.BytesIO(data))
    return buf.getvalue()


def write_shard(root: Path, task: int, data: bytes, tmp_dir: Path) -> None:
    """Write a shard through a temporary file and a rename."""
    from siscore.utils.files import atomic_write

    atomic_write(root / shard_name(task), data, tmp_dir)


def write_index(root: Path, tasks: Sequence[int], ext: str = "jpg") -> int:
    """Write ``shards.csv`` (image_id, shard, offset and size of its image), by image id."""
    rows = []
    for task in tasks:
        name = shard_name(task)
        with tarfile.open(root / name) as tar:
            for m in tar.getmembers():
                if m.name.endswith("." + ext):
                    rows.append((int(m.name.split(".")[0]), name, m.offset_data, m.size))
    rows.sort()
    tmp = root / f".{INDEX}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(INDEX_COLUMNS)
        w.writerows(rows)
    os.replace(tmp, root / INDEX)
    return len(rows)


def read_index(source: str | Path | Store) -> dict[int, tuple[str, int, int]]:
    """``image_id -> (shard, offset, size)`` from ``shards.csv`` of a folder (or a dataset's
    store), every row checked: :class:`DatasetError` names the first bad one."""
    store = _store(source)
    where = store.describe(INDEX)
    out: dict[int, tuple[str, int, int]] = {}
    shards: dict[str, str] = {}  # each name checked once
    with store.open(INDEX) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        try:
            if next(reader, None) != INDEX_COLUMNS:
                raise DatasetError(f"{where}: expected the header {','.join(INDEX_COLUMNS)}; "
                                   "rebuild the dataset")
            for n, row in enumerate(reader, start=2):
                out.update([_index_row(row, n, where, shards)])
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"{where}: not a readable CSV ({exc}); rebuild the dataset") from None
    return out


def _index_row(row: list[str], n: int, where: str, shards: dict[str, str]
               ) -> tuple[int, tuple[str, int, int]]:
    if len(row) != len(INDEX_COLUMNS):
        raise DatasetError(f"{where}, row {n}: {len(row)} fields, expected "
                           f"{','.join(INDEX_COLUMNS)}; rebuild the dataset")
    numbers = []
    for name, text in zip(("image_id", "offset", "size"), (row[0], row[2], row[3])):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not 0 <= value < 2**53:
            raise DatasetError(f"{where}, row {n}: {name} = {text!r} is not a whole number "
                               "in 0..2**53-1; rebuild the dataset")
        numbers.append(value)
    shard = row[1]
    if shard not in shards:
        why = outside_reason(shard)
        if why is not None:
            raise DatasetError(f"{where}, row {n}: shard {shard!r} {why}, outside the dataset; "
                               "this dataset is damaged or hostile, do not use it")
        shards[shard] = shard
    return numbers[0], (shards[shard], numbers[1], numbers[2])


def shard_urls(root: str | Path) -> list[str]:
    """The shard files of a webdataset folder, in order (for ``webdataset.WebDataset``)."""
    return sorted(str(p) for p in (Path(root) / SHARD_DIR).glob("*.tar"))
