"""Images of a grid rendered when read, never written to disk: :class:`RenderedDataset`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from siscore import __version__
from siscore.evaluate.images import ImageSource, Transform, sha256_json
from siscore.utils.files import csv_text


class RenderedDataset(ImageSource):
    """Images of a :class:`~siscore.generate.plan.Plan`, rendered when read, never written to disk.

    ``fmt="jpg"`` (default) applies the JPEG round trip of ``siscore build``
    (``quality`` 75 as there); ``fmt="png"`` or ``"raw"`` gives the exact
    rendered pixels (what a ``--format png`` build decodes to). Images are read
    in *pair-major* order (all cells of one foreground/background pair, then the
    next), which keeps each worker's render caches warm; ``image_ids`` lists
    that order. ``siscore evaluate`` tunes the allocator of its own data-loader workers
    (:func:`worker_init`); a DataLoader of yours is left as it is.
    """

    def __init__(self, plan: Any, transform: Transform | None = None, *, fmt: str = "jpg",
                 quality: int = 75, crop: str = "topleft", cache_mb: int = 256,
                 subset: str | None = None) -> None:
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
    def from_grid(cls, grid: Any, transform: Transform | None = None, *,
                  foregrounds: str | Path | None = None, backgrounds: str | Path | None = None,
                  seed: int = 0, bgs_per_fg: int = 2, min_pct_inside: float | None = None,
                  label_map: str | Path | None = None, **kwargs: Any) -> RenderedDataset:
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_renderer"] = None  # each worker makes its own
        return state

    def render(self, position: int) -> tuple[Image.Image, list[str]]:
        """The image at ``position`` as a built dataset's file decodes, and its metadata row."""
        if self._renderer is None:
            from siscore.generate.interventions.registry import install_snapshot
            from siscore.generate.render import Renderer

            install_snapshot(self._snapshot)
            self._renderer = Renderer(self.plan, crop=self.crop, cache_mb=self.cache_mb)
        item = self.plan.item(self.image_ids[position])
        if self.fmt == "jpg":
            data, visible, records = self._renderer.encode(item, "jpg", self.quality)
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB"), self.plan.metadata_row(item, visible, records)
        pixels, visible, records = self._renderer.render(item)
        return Image.fromarray(np.ascontiguousarray(pixels)), self.plan.metadata_row(item, visible, records)

    def load(self, position: int) -> Image.Image:
        return self.render(position)[0]

    def __getitem__(self, position: int) -> tuple[Any, int, str]:
        img, row = self.render(position)
        return (self.transform(img) if self.transform else img), position, csv_text([row])

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
        return {"kind": "rendered", "spec_sha256": sha256_json(spec)}

    def metadata_header(self) -> list[str]:
        return self.plan.metadata_header()
