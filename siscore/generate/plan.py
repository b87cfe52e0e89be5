"""The plan: the cross product of factor values and asset pairs, with ids and seeds.

Nothing here touches pixels. Items are computed on demand from their
``image_id`` (a mixed-radix decode), so a plan of 600,000 images costs no memory.
Every random choice is seeded from ``(seed, identity of the item it concerns)``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from siscore.generate.assets import Background, Foreground
from siscore.generate.factors import ConfigError, Grid, clean
from siscore.generate.geometry import Placement, place


def derive_seed(seed: int, *parts: Any) -> np.random.SeedSequence:
    """A seed sequence from ``seed`` and a stable description of an item."""
    text = "\x1f".join(clean(p) if not isinstance(p, str) else p for p in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.SeedSequence([seed & 0xFFFFFFFF, *words])


def sample_backgrounds(
    foregrounds: Sequence[Foreground], n_backgrounds: int, per_fg: int, seed: int
) -> list[tuple[int, int]]:
    """(foreground index, background index) pairs: ``per_fg`` distinct backgrounds each.

    The draw for a foreground depends only on the seed and the foreground's
    ``label/name``, so adding or removing other foregrounds changes nothing for it.
    """
    if per_fg < 1:
        raise ConfigError("must be at least 1", param="bgs_per_fg", value=per_fg)
    if per_fg > n_backgrounds:
        raise ConfigError(
            f"is larger than the {n_backgrounds} usable backgrounds; lower it or add backgrounds",
            param="bgs_per_fg", value=per_fg,
        )
    pairs = []
    for i, fg in enumerate(foregrounds):
        rng = np.random.default_rng(derive_seed(seed, "backgrounds", fg.key))
        for b in rng.choice(n_backgrounds, per_fg, replace=False):
            pairs.append((i, int(b)))
    return pairs


@dataclass(frozen=True)
class Item:
    """One image of the plan."""

    image_id: int
    values: dict[str, Any]  # factor name -> value (location, area, rotation, interventions)
    resolution: tuple[int, int]
    fg_index: int
    bg_index: int
    placement: Placement


class Plan:
    """The full list of images to render, computed lazily from ``image_id``."""

    def __init__(
        self,
        grid: Grid,
        foregrounds: Sequence[Foreground],
        backgrounds: Sequence[Background],
        *,
        seed: int = 0,
        bgs_per_fg: int = 2,
        min_pct_inside: float = 0.0,
    ) -> None:
        if not foregrounds:
            raise ConfigError("no usable foregrounds (see the skipped assets above)")
        if not backgrounds:
            raise ConfigError("no usable backgrounds (see the skipped assets above)")
        if not 0.0 <= min_pct_inside <= 1.0:
            raise ConfigError("must be in [0, 1]", param="min_pct_inside", value=min_pct_inside)
        self.grid = grid
        self.foregrounds = list(foregrounds)
        self.backgrounds = list(backgrounds)
        self.seed = seed
        self.bgs_per_fg = bgs_per_fg
        self.min_pct_inside = min_pct_inside
        self.pairs = sample_backgrounds(self.foregrounds, len(self.backgrounds), bgs_per_fg, seed)
        self.classes = sorted({fg.label for fg in self.foregrounds})
        class_index = {c: i for i, c in enumerate(self.classes)}
        self.fg_class = [class_index[fg.label] for fg in self.foregrounds]
        self.fg_instance: list[int] = []
        counts: dict[str, int] = {}
        for fg in self.foregrounds:
            self.fg_instance.append(counts.get(fg.label, 0))
            counts[fg.label] = counts.get(fg.label, 0) + 1
        # mixed radix, most significant first: grid factors, pair, resolution
        self.radices = [len(f) for f in grid.factors] + [len(self.pairs), len(grid.resolution)]
        self.size = math.prod(self.radices)

    def __len__(self) -> int:
        return self.size

    def digits(self, image_id: int) -> list[int]:
        out = []
        for r in reversed(self.radices):
            image_id, d = divmod(image_id, r)
            out.append(d)
        return out[::-1]

    @staticmethod
    @functools.lru_cache(maxsize=65536)
    def _place(fg_size: tuple[int, int], res: tuple[int, int], area: float, angle: float,
               x: float, y: float) -> Placement:
        # keyed by values only: a cache on the method would hold every Plan it saw (a worker
        # unpickles one per task), so a worker's memory grew with the library
        return place(fg_size, res, area, angle, x, y)

    def item(self, image_id: int) -> Item:
        if not 0 <= image_id < self.size:
            raise IndexError(image_id)
        *fdigits, pair_d, res_d = self.digits(image_id)
        values = {f.name: f.values[d] for f, d in zip(self.grid.factors, fdigits)}
        fg_i, bg_i = self.pairs[pair_d]
        res = self.grid.resolution.values[res_d]
        x, y = values["location"]
        placement = self._place(self.foregrounds[fg_i].size, res, values["area"], values["rotation"], x, y)
        return Item(image_id, values, res, fg_i, bg_i, placement)

    def is_kept(self, item: Item) -> bool:
        """Whether the item passes the size and ``--min-pct-inside`` filters."""
        w, h = item.placement.size
        return w > 0 and h > 0 and item.placement.pct_inside >= self.min_pct_inside

    def items(self, start: int = 0, stop: int | None = None) -> Iterator[Item]:
        for i in range(start, self.size if stop is None else min(stop, self.size)):
            yield self.item(i)

    def item_seed(self, item: Item) -> np.random.SeedSequence:
        """Seed of the per-image random generator handed to interventions."""
        fg = self.foregrounds[item.fg_index]
        bg = self.backgrounds[item.bg_index]
        parts = [fg.key, bg.name, *item.resolution]
        for name, value in item.values.items():
            parts += [name, *(value if isinstance(value, tuple) else (value,))]
        return derive_seed(self.seed, "image", *parts)

    def label(self, item: Item) -> str:
        return self.foregrounds[item.fg_index].label

    def metadata_header(self) -> list[str]:
        return METADATA_COLUMNS + ["pct_object_visible"] + self.grid.columns()

    def metadata_row(self, item: Item, pct_visible: float,
                     records: dict[str, Any] | None = None) -> list[str]:
        v = item.values
        x, y = v["location"]
        row = [
            str(item.image_id), clean(x), clean(y), clean(v["area"]), clean(v["rotation"]),
            str(self.fg_class[item.fg_index]), str(self.fg_instance[item.fg_index]),
            str(item.bg_index), str(item.resolution[0]), str(item.resolution[1]),
            clean(round(item.placement.pct_inside, 4)), clean(round(pct_visible, 4)),
        ]
        for f in self.grid.interventions:
            row += [clean(c) for c in f.row(v[f.name])]
            row += [clean((records or {}).get(col, "")) for col in f.columns[1:]]
        return row

    def kept_counts(self) -> tuple[int, dict[str, int]]:
        """Images kept, in all and per class, counted without listing them
        (:func:`siscore.generate.count.kept_counts`): seconds for 10^8 grid cells."""
        from siscore.generate.count import kept_counts

        return kept_counts(self)

    def counts(self) -> dict[str, int]:
        """Images kept and filtered out (geometry only: no pixels are read)."""
        kept = self.kept_counts()[0]
        return {"planned": self.size, "kept": kept, "filtered": self.size - kept}


def check_plan_size(plan: Plan, max_images: int) -> None:
    """Refuse a plan of more than ``max_images`` images (before anything is rendered), naming
    the parameter (``--max-images``) that raises the limit."""
    if plan.size > max_images:
        raise ConfigError(
            f"the plan has {plan.size:,} images ({plan.size // len(plan.pairs):,} grid cells x "
            f"{len(plan.pairs)} foreground/background pairs), more than this limit; raise it to "
            "build such a dataset", param="max_images", value=max_images)


@dataclass(frozen=True)
class Chunking:
    """Cuts a plan into tasks of (a group of grid cells) x (a block of asset pairs).

    A block holds the pairs of one foreground, so a task decodes one cut-out and resamples
    it once per size and angle for all its backgrounds and cells; the cells are split
    into groups only to give the workers enough tasks to share (at least ``MIN_TASKS``)
    and to keep a task under ``MAX_TASK_IMAGES`` images. Tasks are numbered block-major,
    so a worker taking the next task of the same block reuses its cached object. Within
    a task, ids increase. Depends only on the plan.
    """

    n_cells: int
    n_pairs: int
    n_res: int
    block: int
    group: int

    MIN_TASKS = 32
    MAX_TASK_IMAGES = 1024

    @classmethod
    def for_plan(cls, plan: Plan) -> Chunking:
        n_res, n_pairs = len(plan.grid.resolution), len(plan.pairs)
        n_cells = plan.size // (n_pairs * n_res)
        block = max(1, n_pairs // max(1, len(plan.foregrounds)))  # the pairs of one foreground
        n_blocks = -(-n_pairs // block)
        per_block = n_cells * block * n_res
        groups = max(-(-cls.MIN_TASKS // n_blocks), -(-per_block // cls.MAX_TASK_IMAGES))
        group = -(-n_cells // min(max(1, n_cells), groups))
        return cls(n_cells, n_pairs, n_res, block, group)

    @property
    def n_blocks(self) -> int:
        return -(-self.n_pairs // self.block)

    @property
    def n_groups(self) -> int:
        return -(-self.n_cells // self.group)

    def __len__(self) -> int:
        return self.n_blocks * self.n_groups

    def ids(self, task: int) -> Iterator[int]:
        """Image ids of ``task``, increasing."""
        b, g = divmod(task, self.n_groups)
        pairs = range(b * self.block, min((b + 1) * self.block, self.n_pairs))
        for cell in range(g * self.group, min((g + 1) * self.group, self.n_cells)):
            for pair in pairs:
                base = (cell * self.n_pairs + pair) * self.n_res
                yield from range(base, base + self.n_res)

    def task_of(self, image_id: int) -> int:
        cell, rest = divmod(image_id, self.n_pairs * self.n_res)
        return (rest // self.n_res // self.block) * self.n_groups + cell // self.group

    def tasks_of_group(self, g: int) -> list[int]:
        """The tasks holding the ids of cell group ``g`` (their rows interleave)."""
        return [b * self.n_groups + g for b in range(self.n_blocks)]


METADATA_COLUMNS = [
    "image_id", "x_coord", "y_coord", "area", "rotation", "foreground_class",
    "foreground_instance", "background", "bg_resolution_width", "bg_resolution_height",
    "pct_inside_image",
]
