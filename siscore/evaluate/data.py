"""Torch datasets over SI-SCORE images: one family, four readers.

:class:`ImageSource` is the base: it knows ``image_ids``, ``labels`` (class names),
``valid`` (the valid ImageNet-1k indices of each image's label), ``fingerprint()`` and
how to decode the image at a position (:meth:`ImageSource.load`, refusing images above
``max_pixels``). Its readers are small subclasses:

- :class:`FolderDataset`: a dataset folder, or an official zip read in place;
- :class:`WebDatasetImages`: a ``--format webdataset`` build, read by offset from its shards;
- :class:`RenderedDataset`: a grid rendered when read, never written to disk.

:func:`as_dataset` picks the reader for a path. Each yields ``(image, position,
metadata)`` to ``siscore evaluate``'s runner: the transformed image, its position in the
dataset (``dataset.image_ids[position]`` is its ``image_id``) and, for rendered images, its
``metadata.csv`` row as one CSV line (empty for the others, which have their metadata.csv
already). :class:`SIScoreDataset` puts any of them behind the ``(image, target)`` interface
of torchvision's datasets, for one's own loops.

:class:`RenderedDataset` renders inside the DataLoader workers (one
:class:`~siscore.generate.render.Renderer` per worker, created lazily) and, by default,
round-trips every image through the same JPEG encoding as ``siscore build``, so
its pixels are exactly those a built dataset's files decode to.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from siscore.evaluate.images import (
    MAX_PIXELS,
    ImageReadError,
    ImageSource,
    Transform,
    checked_limit,
    decode,
    sha256_json,
)
from siscore.evaluate.rendered import RenderedDataset
from siscore.formats import wds
from siscore.formats.dataset import DatasetError, DatasetInfo, load_dataset

__all__ = ["MAX_PIXELS", "FolderDataset", "ImageReadError", "ImageSource", "RenderedDataset",
           "SIScoreDataset", "WebDatasetImages", "as_dataset", "decode", "loader_worker_init",
           "worker_init"]


class FolderDataset(ImageSource):
    """The images of a dataset folder or zip (a siscore build or an official SI-SCORE download).

    >>> ds = FolderDataset("data/location", transform=weights.transforms())  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | DatasetInfo, transform: Transform | None = None, *,
                 label_map: str | Path | None = None, max_pixels: int = MAX_PIXELS) -> None:
        self.info = root if isinstance(root, DatasetInfo) else load_dataset(root, label_map=label_map)
        self.root = self.info.root
        self.transform = transform
        self.max_pixels = checked_limit(max_pixels)
        md = self.info.metadata
        self.image_ids: list[int] = md["image_id"].tolist()
        self.labels: list[str] = list(md["label"])
        self.valid: list[tuple[int, ...]] = list(md["imagenet"])
        self.paths: list[str] = list(md["path"])

    def load(self, position: int) -> Image.Image:
        where = self.info.store.describe(self.paths[position])
        try:
            with self.info.open(self.paths[position]) as f:
                return decode(f, where, self.max_pixels)
        except DatasetError as exc:  # a path that leaves the dataset (a symbolic link)
            raise ImageReadError(str(exc)) from None
        except OSError as exc:
            raise ImageReadError(f"{where}: unreadable image ({exc.strerror or exc}); re-build or "
                                 "re-download it") from None

    def missing_files(self, positions: Sequence[int] | None = None) -> list[str]:
        """Paths (relative to the root) of images listed in metadata.csv but absent."""
        todo = range(len(self)) if positions is None else positions
        return [self.paths[i] for i in todo if not self.info.exists(self.paths[i])]

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the images: metadata.csv, the build spec, the label map."""
        parts: dict[str, Any] = {"kind": "folder", "metadata_sha256": self.info.sha256("metadata.csv")}
        if self.info.spec is not None:
            parts["spec_sha256"] = sha256_json(self.info.spec)
        parts["label_map_sha256"] = sha256_json({k: list(v) for k, v in sorted(self.info.imagenet.items())})
        return parts


class WebDatasetImages(FolderDataset):
    """A webdataset build's images, read by offset from the shards through ``shards.csv``
    (whose shard names are checked to stay inside the dataset)."""

    def __init__(self, root: str | Path | DatasetInfo, transform: Transform | None = None, *,
                 label_map: str | Path | None = None, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(root, transform, label_map=label_map, max_pixels=max_pixels)
        self.index = wds.read_index(self.info.store)
        missing = [i for i in self.image_ids if i not in self.index]
        if missing:
            raise ImageReadError(f"{self.info.store.describe(wds.INDEX)}: {len(missing)} image(s) of "
                                 f"metadata.csv are not in the shards, e.g. {missing[0]}; rebuild "
                                 "the dataset")
        self.paths = [f"{self.index[i][0]}#{wds.sample_key(i)}" for i in self.image_ids]

    def load(self, position: int) -> Image.Image:
        image_id = self.image_ids[position]
        shard, offset, size = self.index[image_id]
        where = f"{self.info.store.describe(shard)}: image {image_id}"
        try:
            with self.info.open(shard) as f:
                f.seek(offset)
                data = _read_upto(f, size)
        except DatasetError as exc:  # a path that leaves the dataset (a symbolic link)
            raise ImageReadError(str(exc)) from None
        except OSError as exc:
            raise ImageReadError(f"{where} unreadable ({exc.strerror or exc}); rebuild the "
                                 "dataset") from None
        if len(data) != size:
            raise ImageReadError(f"{where}: the shard ends before the image does (truncated); "
                                 "rebuild the dataset")
        return decode(io.BytesIO(data), where, self.max_pixels)

    def missing_files(self, positions: Sequence[int] | None = None) -> list[str]:
        todo = range(len(self)) if positions is None else positions
        shards = {self.index[self.image_ids[i]][0] for i in todo}
        absent = {s for s in shards if not self.info.exists(s)}
        return [self.paths[i] for i in todo if self.index[self.image_ids[i]][0] in absent]

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "kind": wds.FORMAT}


def _read_upto(f: Any, size: int, chunk: int = 1 << 20) -> bytes:
    """At most ``size`` bytes, read in chunks: a ``size`` in shards.csv far beyond the end of
    its shard costs the bytes that are there, not a ``size``-byte buffer (MemoryError)."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = f.read(min(left, chunk))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def as_dataset(dataset: Any, transform: Transform | None = None, *, label_map: str | Path | None = None,
               max_pixels: int = MAX_PIXELS) -> ImageSource | Dataset:
    """The reader for ``dataset``: a path or :class:`DatasetInfo` becomes a
    :class:`FolderDataset` (a :class:`WebDatasetImages` for a webdataset build), an
    :class:`SIScoreDataset` gives its source; ``transform`` replaces the dataset's."""
    if isinstance(dataset, SIScoreDataset):
        dataset = dataset.source
    if isinstance(dataset, (str, Path, DatasetInfo)):
        info = dataset if isinstance(dataset, DatasetInfo) else load_dataset(dataset, label_map=label_map)
        reader = WebDatasetImages if wds.is_webdataset(info.store) else FolderDataset
        return reader(info, transform, max_pixels=max_pixels)
    if transform is not None and hasattr(dataset, "with_transform"):
        return dataset.with_transform(transform)
    return dataset


def worker_init(worker_id: int) -> None:
    """``worker_init_fn`` of siscore's own data-loader workers that render: they exist only
    to load data, so they reuse freed image buffers (:mod:`siscore.generate.allocator`)."""
    from siscore.generate import allocator

    allocator.tune()


def loader_worker_init(dataset: Any) -> Callable[[int], None] | None:
    """The ``worker_init_fn`` for siscore evaluate's DataLoader over ``dataset``: allocator
    tuning when it renders (:class:`RenderedDataset`), else None."""
    return worker_init if isinstance(dataset, RenderedDataset) else None


class SIScoreDataset(Dataset):
    """A torch ``Dataset`` over SI-SCORE images yielding ``(image, target)``, for own loops.

    Reads a dataset folder, an official download (folder, parent folder or zip), a
    ``--format webdataset`` build, or a grid rendered on the fly (:meth:`rendered`); any
    :class:`ImageSource` is accepted as it is (``ds.source``).

    ``target`` is the ImageNet-1k index of the image's class (the first valid one;
    -1 for a class with none). Some classes have several valid indices (``laptop``:
    620 laptop and 681 notebook): ``valid_indices[i]`` holds all of them for item
    ``i``, and :meth:`is_correct` counts a prediction as right when it is any of
    them, as ``siscore score`` does, with the same label table as scoring.
    ``metadata`` is the dataset's metadata.csv (None for rendered images).

    >>> ds = SIScoreDataset("data/rotation", transform=weights.transforms())  # doctest: +SKIP
    >>> image, target = ds[0]  # doctest: +SKIP
    >>> ds = SIScoreDataset.rendered("location", foregrounds="fg/", backgrounds="bg/")  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | DatasetInfo | ImageSource, transform: Transform | None = None,
                 label_map: str | Path | None = None, *, max_pixels: int = MAX_PIXELS) -> None:
        self.source = root if isinstance(root, ImageSource) else as_dataset(
            root, label_map=label_map, max_pixels=max_pixels)
        self.transform = transform
        self.info: DatasetInfo | None = getattr(self.source, "info", None)
        self.metadata = self.info.metadata if self.info is not None else None
        self.image_ids: list[int] = list(self.source.image_ids)
        self.paths: list[str] | None = getattr(self.source, "paths", None)
        self.valid_indices: list[tuple[int, ...]] = list(self.source.valid)
        self.targets: list[int] = [v[0] if v else -1 for v in self.valid_indices]
        if self.info is not None:
            table = {c: tuple(self.info.imagenet.get(c, ())) for c in self.info.classes}
        else:
            table = dict(zip(self.source.labels, self.source.valid))
        self.class_valid_indices: dict[str, tuple[int, ...]] = table

    @classmethod
    def rendered(cls, grid: Any, transform: Transform | None = None, **kwargs: Any) -> SIScoreDataset:
        """A grid or subset name rendered when read (:meth:`RenderedDataset.from_grid`'s
        keywords: ``foregrounds``, ``backgrounds``, ``seed``, ``fmt``, ...)."""
        return cls(RenderedDataset.from_grid(grid, **kwargs), transform)

    from_grid = rendered

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        image = self.source.load(i)
        return (self.transform(image) if self.transform else image), self.targets[i]

    def is_correct(self, predictions: Sequence[int], positions: Sequence[int] | None = None
                   ) -> np.ndarray:
        """Per prediction (of items ``positions``, default all in order): in the valid set?"""
        positions = range(len(self)) if positions is None else positions
        return np.array([int(p) in self.valid_indices[i] for p, i in zip(predictions, positions,
                                                                          strict=True)])
