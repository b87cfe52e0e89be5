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
read such a folder as they read a folder of files.
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

FORMAT = "webdataset"
SHARD_DIR = "shards"
INDEX = "shards.csv"
INDEX_COLUMNS = ["image_id", "shard", "offset", "size"]


def sample_key(image_id: int) -> str:
    return f"{image_id:09d}"


def shard_name(task: int) -> str:
    """The shard of build task ``task``, relative to the dataset folder."""
    return f"{SHARD_DIR}/{task:07d}.tar"


def is_webdataset(root: str | Path) -> bool:
    """Whether ``root`` is a dataset folder written with ``--format webdataset``."""
    return (Path(root) / INDEX).is_file()


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


def read_index(root: str | Path) -> dict[int, tuple[str, int, int]]:
    """``image_id -> (shard, offset, size)`` from ``shards.csv``."""
    path = Path(root) / INDEX
    out: dict[int, tuple[str, int, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if next(reader, None) != INDEX_COLUMNS:
            raise ValueError(f"{path}: expected the header {','.join(INDEX_COLUMNS)}; rebuild the dataset")
        for row in reader:
            out[int(row[0])] = (row[1], int(row[2]), int(row[3]))
    return out


def shard_urls(root: str | Path) -> list[str]:
    """The shard files of a webdataset folder, in order (for ``webdataset.WebDataset``)."""
    return sorted(str(p) for p in (Path(root) / SHARD_DIR).glob("*.tar"))
