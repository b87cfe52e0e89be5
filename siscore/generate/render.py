"""Rendering one planned item to pixels, with bounded caches.

A :class:`Renderer` lives in each worker process. It keeps, under a memory
bound, prepared backgrounds per (background, resolution), decoded sources per
foreground, and resampled objects per (foreground, size, rotation): an object is
resampled once from its source and reused across locations and backgrounds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from PIL import Image

from siscore.errors import SiscoreError
from siscore.generate import compose, jpeg
from siscore.generate.assets import load_background, load_foreground
from siscore.generate.geometry import visible_box
from siscore.generate.interventions.registry import get_intervention
from siscore.generate.plan import Item, Plan


class InterventionError(SiscoreError, RuntimeError):
    """An intervention raised or returned something unusable for one image."""


class ByteLRU:
    """A least-recently-used cache bounded by the total size of its values in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.misses = 0

    def clear(self) -> None:
        self._data.clear()
        self.bytes = 0

    def get(self, key: Hashable, make: Callable[[], Any], nbytes: Callable[[Any], int]) -> Any:
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
            return hit[0]
        self.misses += 1
        value = make()
        size = nbytes(value)
        self._data[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._data) > 1:
            _, (_, old) = self._data.popitem(last=False)
            self.bytes -= old
        return value


def _array_bytes(a: Any) -> int:
    return a.nbytes


class Renderer:
    """Renders items of one plan; not shared between processes."""

    def __init__(self, plan: Plan, *, crop: str = "topleft", cache_mb: int = 256) -> None:
        self.plan = plan
        self.crop = crop
        budget = cache_mb * 1024 * 1024
        self.backgrounds = ByteLRU(budget // 4)
        self.sources = ByteLRU(budget // 4)
        self.prepared = ByteLRU(budget // 8)
        self.objects = ByteLRU(budget * 3 // 8)
        self.coded = ByteLRU(budget // 16)
        self._stages = {
            stage: [f for f in plan.grid.interventions if f.stage == stage]
            for stage in ("foreground", "background", "paste", "composite")
        }

    def forget_objects(self) -> None:
        """Drop decoded sources (pyramids) and resampled objects (a new block of foregrounds begins)."""
        self.sources.clear()
        self.prepared.clear()
        self.objects.clear()

    def background(self, bg_index: int, resolution: tuple[int, int]) -> np.ndarray:
        def make() -> np.ndarray:
            bg = self.plan.backgrounds[bg_index]
            arr = compose.prepare_background(load_background(bg.path), resolution, self.crop)
            arr.setflags(write=False)
            return arr

        return self.backgrounds.get((bg_index, resolution), make, _array_bytes)

    def coded_background(self, bg_index: int, resolution: tuple[int, int], quality: int) -> jpeg.Tiled:
        """The background's JPEG, in tiles to splice objects into."""
        return self.coded.get((bg_index, resolution, quality),
                              lambda: jpeg.Tiled.of(self.background(bg_index, resolution), quality),
                              lambda tiled: tiled.nbytes)

    def source(self, fg_index: int) -> compose.Pyramid:
        """A decoded cut-out, premultiplied, with its box reductions."""

        def make() -> compose.Pyramid:
            return compose.Pyramid.of(compose.premultiply(load_foreground(self.plan.foregrounds[fg_index].path)))

        return self.sources.get(fg_index, make, lambda pyramid: pyramid.nbytes)

    def object(self, fg_index: int, size: tuple[int, int], angle: float) -> compose.Sprite:
        """The premultiplied object, resampled once from its source for this size and angle,
        from the low-passed level it shares with the other sizes of its band (upright) or
        the other angles of its size (rotated)."""

        def make() -> compose.Sprite:
            key = compose.Prepared.key_for(size, angle)
            prep = self.prepared.get((fg_index, key),
                                     lambda: compose.prepare(self.source(fg_index), size, angle),
                                     lambda p: p.nbytes)
            return compose.Sprite.from_premultiplied(compose.resample_object(prep, size, angle))

        return self.objects.get((fg_index, size, float(angle) % 360.0), make, _array_bytes)

    def _call(self, factor: Any, arg: Any, item: Item, rng: np.random.Generator,
              records: dict[str, Any]) -> Any:
        """Run one intervention; split off its records; name it and the image on failure."""
        spec = get_intervention(factor.name)
        value = item.values[factor.name]
        try:
            out = spec.func(arg, value, rng)
        except Exception as exc:
            raise InterventionError(
                f"intervention {factor.name!r} (value {value!r}) raised {type(exc).__name__}: "
                f"{exc} while rendering {self.describe(item)}"
            ) from exc
        if spec.records:
            if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)
                    and set(out[1]) == set(spec.records)):
                raise InterventionError(
                    f"intervention {factor.name!r} declares records {list(spec.records)} and must "
                    f"return (image, {{...}}) with exactly those keys while rendering {self.describe(item)}"
                )
            out, extra = out
            records.update(extra)
        return out

    def _check(self, factor: Any, stage: str, out: Any, shape: tuple[int, ...], item: Item) -> np.ndarray:
        if isinstance(out, Image.Image):
            out = np.asarray(out)
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != shape:
            got = (f"a {out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray)
                   else type(out).__name__)
            raise InterventionError(
                f"intervention {factor.name!r} (stage {stage}, value {item.values[factor.name]!r}) "
                f"returned {got}; expected a uint8 array of shape {shape} (mode "
                f"{'RGBA' if shape[-1] == 4 else 'RGB'}) while rendering {self.describe(item)}"
            )
        return out

    def _apply(self, stage: str, image: np.ndarray, item: Item, rng: np.random.Generator,
               records: dict[str, Any]) -> np.ndarray:
        for factor in self._stages[stage]:
            out = self._call(factor, image.copy(), item, rng, records)
            image = self._check(factor, stage, out, image.shape, item)
        return image

    def describe(self, item: Item) -> str:
        fg = self.plan.foregrounds[item.fg_index]
        bg = self.plan.backgrounds[item.bg_index]
        return f"image {item.image_id} (foreground {fg.key}, background {bg.name})"

    def _placed(self, item: Item) -> tuple[compose.Sprite, float, np.random.Generator | None, dict[str, Any]]:
        """The object to paste (after foreground-stage interventions), ``pct_object_visible``,
        the item's random generator (None without interventions) and the records so far."""
        p = item.placement
        obj = self.object(item.fg_index, p.size, item.values["rotation"])
        needs_rng = any(self._stages.values())
        rng = np.random.default_rng(self.plan.item_seed(item)) if needs_rng else None
        records: dict[str, Any] = {}
        if self._stages["foreground"]:
            straight = compose.unpremultiply(obj.premultiplied())
            straight = self._apply("foreground", straight, item, rng, records)
            obj = compose.Sprite.from_premultiplied(np.asarray(compose.premultiply(straight)))
        x0, y0 = p.top_left
        h, w = obj.shape
        res_w, res_h = item.resolution
        box = visible_box(x0, y0, w, h, res_w, res_h)
        visible = 1.0 if box == (0, 0, w, h) else compose.alpha_mass_visible(obj.alpha, box, obj.alpha_total)
        return obj, visible, rng, records

    def render(self, item: Item, pixels: bool = True) -> tuple[np.ndarray | None, float, dict[str, Any]]:
        """The finished RGB image (None if ``pixels`` is False), ``pct_object_visible`` and the
        records reported by interventions."""
        obj, visible, rng, records = self._placed(item)
        if not pixels and not self._stages["paste"]:
            return None, visible, records
        x0, y0 = item.placement.top_left
        bg = self.background(item.bg_index, item.resolution)
        if self._stages["background"]:
            bg = self._apply("background", bg, item, rng, records)
        if self._stages["paste"]:
            factor = self._stages["paste"][0]
            out = self._call(factor, compose.Paste(bg, obj, x0, y0), item, rng, records)
            image = self._check(factor, "paste", out, bg.shape, item)
        else:
            image = compose.composite(bg, obj, x0, y0)
        if self._stages["composite"]:
            image = self._apply("composite", image, item, rng, records)
        return (image if pixels else None), visible, records

    def encode(self, item: Item, fmt: str, quality: int) -> tuple[bytes, float, dict[str, Any]]:
        """The finished image as ``fmt`` (``jpg`` or ``png``) bytes, ``pct_object_visible`` and
        the records: :meth:`render` then :func:`compose.encode`, except that a JPEG whose
        background only changes under the object (no background-, paste- or composite-stage
        intervention) encodes only the tiles the object covers (:class:`siscore.generate.jpeg.Tiled`),
        with the same bytes."""
        if fmt != "jpg" or any(self._stages[s] for s in ("background", "paste", "composite")):
            image, visible, records = self.render(item)
            return compose.encode(image, fmt, quality), visible, records
        obj, visible, _rng, records = self._placed(item)
        x0, y0 = item.placement.top_left
        coded = self.coded_background(item.bg_index, item.resolution, quality)
        box = obj.box
        rect = coded.aligned(x0 + box[0], y0 + box[1], x0 + box[2], y0 + box[3])
        left, top, right, bottom = rect  # empty when the object is wholly outside: the background
        patch = self.background(item.bg_index, item.resolution)[top:bottom, left:right]
        return coded.splice(rect, compose.composite(patch, obj, x0 - left, y0 - top)), visible, records
