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

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from siscore.dataset import DatasetInfo, load_dataset


class SIScoreDataset(Dataset):
    """Items ``(transform(image), imagenet_target)`` in metadata.csv order."""

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
