"""Torch datasets over SI-SCORE images: a dataset folder on disk, or rendered on the fly.

Both yield ``(image, position, metadata)``: the transformed image, its position
in the dataset (``dataset.image_ids[position]`` is its ``image_id``) and, for
rendered images, its ``metadata.csv`` row as one CSV line (empty for folders,
which have their metadata.csv already).
Both expose ``image_ids``, ``labels`` (class names), ``valid`` (the valid
ImageNet-1k indices of each image's label) and ``fingerprint()``.

:class:`RenderedDataset` renders inside the DataLoader workers (one
:class:`~siscore.generate.render.Renderer` per worker, created lazily) and, by default,
round-trips every image through the same JPEG encoding as ``siscore build``, so
its pixels are exactly those a built dataset's files decode to.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset, get_worker_info

from siscore import __version__
from siscore.errors import SiscoreError
from siscore.formats import wds
from siscore.formats.dataset import DatasetInfo, load_dataset

Transform = Callable[[Image.Image], Any]


class ImageReadError(SiscoreError, RuntimeError):
    """An image file that cannot be decoded (the message names it)."""


def _sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


class FolderDataset(Dataset):
    """The images of a dataset folder (a siscore build or an official SI-SCORE download).

    >>> ds = FolderDataset("data/location", transform=weights.transforms())  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | DatasetInfo, transform: Transform | None = None) -> None:
        self.info = root if isinstance(root, DatasetInfo) else load_dataset(root)
        self.root = self.info.root
        self.transform = transform
        md = self.info.metadata
        self.image_ids: list[int] = [int(i) for i in md["image_id"]]
        self.labels: list[str] = list(md["label"])
        self.valid: list[tuple[int, ...]] = list(md["imagenet"])
        self.paths: list[str] = list(md["path"])

    def __len__(self) -> int:
        return len(self.image_ids)

    def with_transform(self, transform: Transform | None) -> FolderDataset:
        new = object.__new__(FolderDataset)
        new.__dict__.update(self.__dict__)
        new.transform = transform
        return new

    def load(self, position: int) -> Image.Image:
        """The decoded RGB image at ``position``."""
        path = self.root / self.paths[position]
        try:
            with self.info.open(self.paths[position]) as f, Image.open(f) as img:
                return img.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{path}: unreadable image ({exc}); re-build or re-download it") from None

    def __getitem__(self, position: int) -> tuple[Any, int, str]:
        img = self.load(position)
        return (self.transform(img) if self.transform else img), position, ""

    def missing_files(self, positions: Sequence[int] | None = None) -> list[str]:
        """Paths (relative to the root) of images listed in metadata.csv but absent."""
        todo = range(len(self)) if positions is None else positions
        return [self.paths[i] for i in todo if not self.info.exists(self.paths[i])]

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the images: metadata.csv, the build spec, the label map."""
        parts: dict[str, Any] = {"kind": "folder", "metadata_sha256": self.info.sha256("metadata.csv")}
        if self.info.spec is not None:
            parts["spec_sha256"] = _sha256_json(self.info.spec)
        parts["label_map_sha256"] = _sha256_json({k: list(v) for k, v in sorted(self.info.imagenet.items())})
        return parts

    def metadata_header(self) -> None:
        """Folders already have their metadata.csv (nothing to write)."""
        return None


class RenderedDataset(Dataset):
    """Images of a :class:`~siscore.generate.plan.Plan`, rendered when read, never written to disk.

    ``fmt="jpg"`` (default) applies the JPEG round trip of ``siscore build``
    (``quality`` 75 as there); ``fmt="png"`` or ``"raw"`` gives the exact
    rendered pixels (what a ``--format png`` build decodes to). Images are read
    in *pair-major* order (all cells of one foreground/background pair, then the
    next), which keeps each worker's render caches warm; ``image_ids`` lists
    that order.
    """

    def __init__(
        self,
        plan: Any,
        transform: Transform | None = None,
        *,
        fmt: str = "jpg",
        quality: int = 75,
        crop: str = "topleft",
        cache_mb: int = 256,
        subset: str | None = None,
    ) -> None:
        from siscore.generate.compose import CROP_MODES
        from siscore.generate.factors import ConfigError
        from siscore.generate.interventions.registry import registry_snapshot

        if fmt not in ("jpg", "png", "raw"):
            raise ConfigError(f"format {fmt!r}: choose jpg, png or raw")
        if not 1 <= quality <= 100:
            raise ConfigError(f"--quality {quality}: must be in 1..100")
        if crop not in CROP_MODES:
            raise ConfigError(f"--bg-crop {crop!r}: choose one of {', '.join(CROP_MODES)}")
        self.plan = plan
        self.transform = transform
        self.fmt, self.quality, self.crop, self.cache_mb = fmt, quality, crop, cache_mb
        self.subset = subset
        n_res = len(plan.grid.resolution)
        n_pairs = len(plan.pairs)
        kept = [(it.image_id, it.fg_index) for it in plan.items() if plan.is_kept(it)]
        kept.sort(key=lambda k: ((k[0] // n_res) % n_pairs, k[0]))
        self.image_ids: list[int] = [i for i, _ in kept]
        self.labels: list[str] = [plan.foregrounds[f].label for _, f in kept]
        self.valid: list[tuple[int, ...]] = [plan.foregrounds[f].imagenet for _, f in kept]
        self._snapshot = registry_snapshot()
        self._renderer: Any = None

    @classmethod
    def from_grid(
        cls,
        grid: Any,
        transform: Transform | None = None,
        *,
        foregrounds: str | Path | None = None,
        backgrounds: str | Path | None = None,
        seed: int = 0,
        bgs_per_fg: int = 2,
        min_pct_inside: float | None = None,
        label_map: str | Path | None = None,
        **kwargs: Any,
    ) -> RenderedDataset:
        """Plan ``grid`` (a :class:`~siscore.generate.factors.Grid` or a subset name) over asset folders.

        Defaults (seed, backgrounds per foreground, ``min_pct_inside`` of the
        subset) are those of ``siscore build``: the same arguments give the same images.
        """
        from siscore.generate.build import make_plan
        from siscore.generate.factors import SUBSETS, ConfigError

        subset = None
        if isinstance(grid, str):
            if grid not in SUBSETS:
                raise ConfigError(f"--subset {grid!r}: choose one of {', '.join(SUBSETS)}")
            subset = grid
            min_pct = SUBSETS[grid].min_pct_inside if min_pct_inside is None else min_pct_inside
            grid = SUBSETS[grid].grid
        else:
            min_pct = 0.0 if min_pct_inside is None else min_pct_inside
        plan, _skipped = make_plan(grid, foregrounds=foregrounds, backgrounds=backgrounds, seed=seed,
                                   bgs_per_fg=bgs_per_fg, min_pct_inside=min_pct, label_map=label_map)
        return cls(plan, transform, subset=subset, **kwargs)

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_renderer"] = None  # each worker makes its own
        return state

    def with_transform(self, transform: Transform | None) -> RenderedDataset:
        new = object.__new__(RenderedDataset)
        new.__dict__.update(self.__getstate__())
        new.transform = transform
        return new

    def render(self, position: int) -> tuple[Image.Image, list[str]]:
        """The image at ``position`` as a built dataset's file decodes, and its metadata row."""
        if self._renderer is None:
            from siscore.generate.interventions.registry import install_snapshot
            from siscore.generate.render import Renderer

            install_snapshot(self._snapshot)
            self._renderer = Renderer(self.plan, crop=self.crop, cache_mb=self.cache_mb)
            _tune_if_data_worker()
        item = self.plan.item(self.image_ids[position])
        if self.fmt == "jpg":
            data, visible, records = self._renderer.encode(item, "jpg", self.quality)
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB"), self.plan.metadata_row(item, visible, records)
        pixels, visible, records = self._renderer.render(item)
        return Image.fromarray(np.ascontiguousarray(pixels)), self.plan.metadata_row(item, visible, records)

    def __getitem__(self, position: int) -> tuple[Any, int, str]:
        img, row = self.render(position)
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(row)
        return (self.transform(img) if self.transform else img), position, line.getvalue()

    def spec(self) -> dict[str, Any]:
        """The build-like description of these images (as in a build's dataset.json)."""
        plan = self.plan
        return {
            "siscore_version": __version__,
            "subset": self.subset,
            "grid": plan.grid.to_dict(),
            "min_pct_inside": plan.min_pct_inside,
            "seed": plan.seed,
            "bgs_per_fg": plan.bgs_per_fg,
            "format": "png" if self.fmt == "raw" else self.fmt,
            "quality": self.quality,
            "bg_crop": self.crop,
            "foregrounds": {fg.key: fg.sha256 for fg in plan.foregrounds},
            "backgrounds": {bg.name: bg.sha256 for bg in plan.backgrounds},
            "label_map": {fg.label: list(fg.imagenet) for fg in plan.foregrounds},
        }

    def fingerprint(self) -> dict[str, Any]:
        spec = self.spec()
        if spec["format"] == "png":
            spec.pop("quality")
        return {"kind": "rendered", "spec_sha256": _sha256_json(spec)}

    def metadata_header(self) -> list[str]:
        return self.plan.metadata_header()


class WebDatasetImages(FolderDataset):
    """A webdataset folder's images, read from the shards through ``shards.csv``."""

    def __init__(self, root: str | Path, transform: Any = None) -> None:
        super().__init__(root, transform)
        self.index = wds.read_index(self.root)
        missing = [i for i in self.image_ids if i not in self.index]
        if missing:
            raise ImageReadError(f"{self.root / wds.INDEX}: {len(missing)} image(s) of metadata.csv are "
                                 f"not in the shards, e.g. {missing[0]}; rebuild the dataset")
        self.paths = [f"{self.index[i][0]}#{wds.sample_key(i)}" for i in self.image_ids]

    def with_transform(self, transform: Any) -> Any:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.transform = transform
        return new

    def load(self, position: int) -> Any:
        shard, offset, size = self.index[self.image_ids[position]]
        path = self.root / shard
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(size)
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{path}: image {self.image_ids[position]} unreadable ({exc}); "
                                 "rebuild the dataset") from None

    def missing_files(self, positions: Sequence[int] | None = None) -> list[str]:
        todo = range(len(self)) if positions is None else positions
        shards = {self.index[self.image_ids[i]][0] for i in todo}
        absent = {s for s in shards if not (self.root / s).is_file()}
        return [self.paths[i] for i in todo if self.index[self.image_ids[i]][0] in absent]

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "kind": wds.FORMAT}



def as_dataset(dataset: Any, transform: Transform | None) -> FolderDataset | RenderedDataset | Dataset:
    """A path or DatasetInfo becomes a :class:`FolderDataset`; ``transform`` replaces the dataset's."""
    if isinstance(dataset, (str, Path, DatasetInfo)):
        root = dataset.root if isinstance(dataset, DatasetInfo) else dataset
        if wds.is_webdataset(root):
            return WebDatasetImages(root, transform)
        return FolderDataset(dataset, transform)
    if transform is not None and hasattr(dataset, "with_transform"):
        return dataset.with_transform(transform)
    return dataset


def _tune_if_data_worker() -> None:
    """A DataLoader worker process exists only to load data: let it reuse freed image
    buffers (siscore.generate.allocator); the process that owns the DataLoader is left alone."""
    if get_worker_info() is not None:
        from siscore.generate import allocator

        allocator.tune()


class SIScoreDataset(Dataset):
    """A torch ``Dataset`` over a SI-SCORE dataset yielding ``(image, target)``, for own loops.

    ``target`` is the ImageNet-1k index of the image's class (the first valid one;
    -1 for a class with none). Some classes have several valid indices (``laptop``:
    620 laptop and 681 notebook): ``valid_indices[i]`` holds all of them for item
    ``i``, and :meth:`is_correct` counts a prediction as right when it is any of
    them, as ``siscore score`` does. Works on siscore builds and the official
    downloads (folder, parent folder or zip), with the same label table as scoring.

    >>> ds = SIScoreDataset("data/rotation", transform=weights.transforms())  # doctest: +SKIP
    >>> image, target = ds[0]  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | DatasetInfo, transform: Callable[[Image.Image], Any] | None = None,
                 label_map: str | Path | None = None) -> None:
        self.info = root if isinstance(root, DatasetInfo) else load_dataset(root, label_map=label_map)
        self.transform = transform
        md = self.info.metadata
        self.metadata = md
        self.image_ids: list[int] = md["image_id"].astype(int).tolist()
        self.paths: list[str] = md["path"].tolist()
        self.valid_indices: list[tuple[int, ...]] = list(md["imagenet"])
        self.targets: list[int] = [v[0] if v else -1 for v in self.valid_indices]
        self.class_valid_indices: dict[str, tuple[int, ...]] = {
            c: tuple(self.info.imagenet.get(c, ())) for c in self.info.classes}

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        with self.info.open(self.paths[i]) as f, Image.open(f) as img:
            image = img.convert("RGB")
        return (self.transform(image) if self.transform else image), self.targets[i]

    def is_correct(self, predictions: Sequence[int], positions: Sequence[int] | None = None
                   ) -> np.ndarray:
        """Per prediction (of items ``positions``, default all in order): in the valid set?"""
        positions = range(len(self)) if positions is None else positions
        return np.array([int(p) in self.valid_indices[i] for p, i in zip(predictions, positions,
                                                                          strict=True)])
