"""Building a dataset: assets -> plan -> render (parallel, resumable) -> write.

The plan is cut into tasks (a group of grid cells x a block of asset pairs, see
:class:`~siscore.generate.plan.Chunking`) that depend only on the plan, never on ``jobs``.
Each task writes its images atomically and then its metadata rows as one part
file; a task with a part file is done. A killed build therefore resumes task by
task, re-rendering only images that are not
on disk, and the merged result is byte-identical to an uninterrupted build.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing as mp
import numbers
import os
import pickle
import platform
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siscore import __version__
from siscore.formats import wds
from siscore.formats.labels import LabelMapError, load_label_map
from siscore.generate.assets import Skipped, embedded_assets, scan_backgrounds, scan_foregrounds
from siscore.generate.compose import CROP_MODES
from siscore.generate.factors import MAX_IMAGES, SUBSETS, ConfigError, Grid
from siscore.generate.interventions.registry import install_snapshot, registry_snapshot
from siscore.generate.plan import Chunking, Plan, check_plan_size
from siscore.generate.render import Renderer
from siscore.generate.write import BuildLock, OutputDir, atomic_write
from siscore.utils.files import check_output_path
from siscore.utils.parallel import (
    check_scheduler,
    connected,
    is_parallel,
    run_tasks,
    warming,
    worker_state,
)
from siscore.utils.progress import progress_bar


@dataclass
class BuildResult:
    """What a build did (also what ``--dry-run`` would do)."""

    out: Path
    planned: int
    kept: int
    filtered: int
    written: int = 0
    reused: int = 0
    complete: bool = False
    skipped_assets: list[Skipped] = field(default_factory=list)
    per_class: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{self.out}: {self.kept} images in the plan ({self.filtered} filtered out by "
            f"min_pct_inside, of {self.planned}); {self.written} rendered now, {self.reused} already there"
            + (f", {self.written / self.seconds:.0f} images/s" if self.seconds > 0 and self.written else ""),
        ]
        if self.skipped_assets:
            lines.append(f"{len(self.skipped_assets)} asset(s) skipped:")
            lines += [f"  {s.path}: {s.reason}" for s in self.skipped_assets]
        lines.append("dataset complete" if self.complete else "dataset NOT complete (run again to resume)")
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    from importlib import metadata as importlib_metadata  # 25 ms: not for every worker

    out = {"python": platform.python_version(), "siscore": __version__}
    for dist in ("numpy", "pillow", "opencv-python-headless"):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            out[dist] = importlib_metadata.version(dist)
    return out


# -- worker side ----------------------------------------------------------------------------
@dataclass
class _Job:
    """What every task of one build needs; sent once per worker (see siscore.utils.parallel)."""

    plan: Plan
    chunking: Chunking
    out: str
    fmt: str
    quality: int
    crop: str
    cache_mb: int
    snapshot: bytes | dict
    token: str = ""
    sys_path: tuple[str, ...] = ()  # the caller's: a reused worker started before it changed


def _worker(job: _Job) -> dict[str, Any]:
    # The interventions travel pickled and are unpickled here, where a failure (a module the
    # worker cannot import) becomes the task's error, reported in one line by the caller.
    sys.path.extend(p for p in job.sys_path if p not in sys.path)
    try:
        install_snapshot(pickle.loads(job.snapshot) if isinstance(job.snapshot, bytes) else job.snapshot)
    except Exception as exc:
        raise ConfigError(
            f"worker processes cannot load the interventions of this grid ({type(exc).__name__}: "
            f"{exc}); define them in a module on PYTHONPATH (or installed) on every worker, "
            "or use jobs=1"
        ) from None
    if mp.current_process().name != "MainProcess" or mp.parent_process() is not None:
        import cv2

        from siscore.generate import allocator

        cv2.setNumThreads(1)  # one process per core already
        allocator.tune()
    return {"out": OutputDir(job.out), "block": None,
            "renderer": Renderer(job.plan, crop=job.crop, cache_mb=job.cache_mb)}


def _render_chunk(job: _Job, chunk: int) -> tuple[int, int, int]:
    """Render one task; returns (task, images rendered, images already on disk)."""
    state = worker_state(job.token, lambda: _worker(job))
    plan, out, renderer = job.plan, state["out"], state["renderer"]
    block = chunk // job.chunking.n_groups
    if state["block"] != block:  # tasks come block-major: the last block's objects are done
        renderer.forget_objects()
        state["block"] = block
    fmt, quality = job.fmt, job.quality
    if fmt == wds.FORMAT:
        return _render_shard(job, chunk, renderer, out)
    rows, rendered, reused = [], 0, 0
    for image_id in job.chunking.ids(chunk):
        item = plan.item(image_id)
        if not plan.is_kept(item):
            continue
        path = out.image_path(plan.label(item), item.image_id, fmt)
        if path.exists():
            _, visible, records = renderer.render(item, pixels=False)
            reused += 1
        else:
            data, visible, records = renderer.encode(item, fmt, quality)
            atomic_write(path, data, out.tmp)
            rendered += 1
        rows.append(plan.metadata_row(item, visible, records))
    out.write_part(chunk, rows)
    return chunk, rendered, reused


def _render_shard(job: _Job, chunk: int, renderer: Renderer, out: OutputDir) -> tuple[int, int, int]:
    """``--format webdataset``: the task's images go into one tar shard (see siscore.formats.wds)."""
    plan, header = job.plan, job.plan.metadata_header()
    rows, samples = [], []
    for image_id in job.chunking.ids(chunk):
        item = plan.item(image_id)
        if not plan.is_kept(item):
            continue
        data, visible, records = renderer.encode(item, "jpg", job.quality)
        row = plan.metadata_row(item, visible, records)
        rows.append(row)
        fg = plan.foregrounds[item.fg_index]
        samples.append((item.image_id, data,
                        wds.sample_json(header, row, fg.label, fg.imagenet)))
    wds.write_shard(out.root, chunk, wds.shard_bytes(samples), out.tmp)
    out.write_part(chunk, rows)
    return chunk, len(rows), 0


# -- parent side ----------------------------------------------------------------------------
def _resolve(
    grid: Grid | str, min_pct_inside: float | None
) -> tuple[Grid, float, str | None]:
    if isinstance(grid, str):
        if grid not in SUBSETS:
            raise ConfigError(f"choose one of {', '.join(SUBSETS)}", param="grid", value=grid, option="--subset")
        subset = SUBSETS[grid]
        return subset.grid, subset.min_pct_inside if min_pct_inside is None else min_pct_inside, grid
    if not isinstance(grid, Grid):
        raise ConfigError(f"expected a Grid or a subset name, got {type(grid).__name__}", param="grid")
    return grid, 0.0 if min_pct_inside is None else min_pct_inside, None


def _parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(p) for p in shard.split("/"))
        except ValueError:
            raise ConfigError("write it as I/N, e.g. 0/4", param="shard", value=shard) from None
    else:
        i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError("I must be in 0..N-1", param="shard", value=f"{i}/{n}")
    return i, n


def make_plan(
    grid: Grid,
    *,
    foregrounds: str | Path | None = None,
    backgrounds: str | Path | None = None,
    seed: int = 0,
    bgs_per_fg: int = 2,
    min_pct_inside: float = 0.0,
    label_map: str | Path | None = None,
) -> tuple[Plan, list[Skipped]]:
    """Scan the asset libraries (embedded ones by default) and plan the grid over them."""
    fg_dir, bg_dir = embedded_assets()
    fg_dir = Path(foregrounds) if foregrounds is not None else fg_dir
    bg_dir = Path(backgrounds) if backgrounds is not None else bg_dir
    try:
        labels = load_label_map(label_map)
    except LabelMapError as exc:
        raise ConfigError(f"label map: {exc}") from None
    min_side = max(max(r) for r in grid.resolution.values)
    fgs, skipped = scan_foregrounds(fg_dir, labels)
    bgs, bg_skipped = scan_backgrounds(bg_dir, min_side=min_side)
    skipped = [Skipped(os.path.relpath(s.path, fg_dir), s.reason) for s in skipped] + [
        Skipped(os.path.relpath(s.path, bg_dir), s.reason) for s in bg_skipped
    ]
    if not fgs:
        raise ConfigError("no usable foreground (expected DIR/<label>/<file>.png); "
                          + _why_none(skipped, "it holds no class folder with a .png cut-out"),
                          param="foregrounds", value=fg_dir)
    if not bgs:
        raise ConfigError("no usable background image (expected a flat folder of jpg/png/webp "
                          "photos); " + _why_none(bg_skipped, "it holds no image file"),
                          param="backgrounds", value=bg_dir)
    plan = Plan(grid, fgs, bgs, seed=seed, bgs_per_fg=bgs_per_fg, min_pct_inside=min_pct_inside)
    return plan, skipped


def _why_none(skipped: list[Skipped], empty: str) -> str:
    """The first reasons files were skipped, or what an empty folder lacks."""
    return "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5]) or empty


@connected()
def build(
    grid: Grid | str,
    out: str | Path,
    *,
    foregrounds: str | Path | None = None,
    backgrounds: str | Path | None = None,
    seed: int = 0,
    bgs_per_fg: int = 2,
    min_pct_inside: float | None = None,
    fmt: str = "jpg",
    quality: int = 75,
    jobs: int = 1,
    crop: str = "topleft",
    label_map: str | Path | None = None,
    shard: str | tuple[int, int] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    cache_mb: int = 256,
    max_images: int = MAX_IMAGES,
    scheduler: Any = None,
) -> BuildResult:
    """Render ``grid`` (a :class:`Grid` or a subset name) into the dataset folder ``out``.

    Deterministic (the same inputs and seed give byte-identical files whatever
    ``jobs`` is), resumable (run it again after an interruption) and parallel.
    Configuration errors raise :class:`ConfigError`, naming the parameter, before any
    work starts; so does a plan of more than ``max_images`` images. One build at a time
    writes to ``out`` (a second one raises :class:`ConfigError`); a full disk raises
    :class:`ConfigError` too, leaving nothing partial under a final name.
    ``scheduler`` runs the tasks elsewhere than ``jobs`` local processes: ``"local:N"``
    (a Dask LocalCluster), a Dask address (``"tcp://host:8786"``), ``"joblib:NAME"`` or
    a ``distributed.Client`` (see :mod:`siscore.utils.parallel`).
    """
    t0 = time.perf_counter()
    if not dry_run:
        check_output_path(out, folder=True)  # a device, a file as parent, no write permission
    grid, min_pct, subset = _resolve(grid, min_pct_inside)
    for name, value in (("seed", seed), ("bgs_per_fg", bgs_per_fg), ("quality", quality),
                        ("jobs", jobs), ("max_images", max_images), ("cache_mb", cache_mb)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError("must be an integer", param=name, value=value)
    if isinstance(min_pct, bool) or not isinstance(min_pct, numbers.Real):
        raise ConfigError("must be a number in [0, 1]", param="min_pct_inside", value=min_pct)
    seed, bgs_per_fg, quality, jobs = int(seed), int(bgs_per_fg), int(quality), int(jobs)  # NumPy ints too
    if fmt not in ("jpg", "png", wds.FORMAT):
        raise ConfigError(f"choose jpg, png or {wds.FORMAT}", param="fmt", value=fmt, option="--format")
    if not 1 <= quality <= 100:
        raise ConfigError("must be in 1..100", param="quality", value=quality)
    if jobs < 1:
        raise ConfigError("must be at least 1", param="jobs", value=jobs)
    if crop not in CROP_MODES:
        raise ConfigError(f"choose one of {', '.join(CROP_MODES)}", param="crop", value=crop, option="--bg-crop")
    shard_ = _parse_shard(shard)
    # the worker processes start while the assets are scanned and the plan counted
    with warming(1 if dry_run else jobs, scheduler, ("siscore.generate.build",)):
        plan, skipped = make_plan(
            grid, foregrounds=foregrounds, backgrounds=backgrounds, seed=seed,
            bgs_per_fg=bgs_per_fg, min_pct_inside=min_pct, label_map=label_map,
        )
        check_plan_size(plan, max_images)
        if dry_run:  # counted per geometry, not per image: instant for any allowed plan
            kept, per_class = plan.kept_counts()
            return BuildResult(Path(out), plan.size, kept, plan.size - kept, skipped_assets=skipped,
                               per_class=per_class)
        chunking = Chunking.for_plan(plan)
        n_chunks = len(chunking)
        kept_per_chunk = [0] * n_chunks
        per_class: Counter[str] = Counter()
        for item in plan.items():
            if plan.is_kept(item):
                kept_per_chunk[chunking.task_of(item.image_id)] += 1
                per_class[plan.label(item)] += 1
    kept = sum(kept_per_chunk)
    result = BuildResult(Path(out), plan.size, kept, plan.size - kept, skipped_assets=skipped,
                         per_class=dict(sorted(per_class.items())))
    spec = {
        "siscore_version": __version__,
        "subset": subset,
        "grid": grid.to_dict(),
        "min_pct_inside": min_pct,
        "seed": seed,
        "bgs_per_fg": bgs_per_fg,
        "format": fmt,
        "quality": quality,
        "bg_crop": crop,
        "chunking": {"block": chunking.block, "group": chunking.group},
        "foregrounds": {fg.key: fg.sha256 for fg in plan.foregrounds},
        "backgrounds": {bg.name: bg.sha256 for bg in plan.backgrounds},
        "label_map": {fg.label: list(fg.imagenet) for fg in plan.foregrounds},
    }
    check_scheduler(scheduler)
    snapshot = _snapshot(grid, is_parallel(jobs, scheduler, 2))  # errors before anything is written
    target = OutputDir(out)
    with _output_errors(target.root):
        if target.check(spec) == spec and target.is_complete():  # done: nothing is written
            result.reused, result.complete = kept, True
            return result
        with target.lock(shard_) as held:
            if target.is_complete() and target.existing_spec() == spec:
                result.reused, result.complete = kept, True
                return result
            target.prepare(spec, [] if fmt == wds.FORMAT else plan.classes, clean=shard_ is None)
            if fmt == wds.FORMAT:
                (target.root / wds.SHARD_DIR).mkdir(exist_ok=True)
            held.started()
            _render(target, plan, chunking, kept_per_chunk, shard_, spec, skipped, result, held,
                    jobs=jobs, fmt=fmt, quality=quality, crop=crop, cache_mb=cache_mb,
                    snapshot=snapshot, progress=progress, scheduler=scheduler)
    result.seconds = result.seconds or (time.perf_counter() - t0)
    return result


@contextlib.contextmanager
def _output_errors(out: Path) -> Iterator[None]:
    """A full disk (or a write refused under ``out``) as one :class:`ConfigError`."""
    try:
        yield
    except OSError as exc:
        name = str(exc.filename or "")
        inside = bool(name) and Path(os.path.abspath(name)).is_relative_to(os.path.abspath(out))
        if exc.errno in _DISK_FULL or (inside and exc.errno in _REFUSED):
            raise ConfigError(
                f"cannot write there ({exc.strerror}); free some space (or fix its permissions) and "
                "run the same command again: it resumes, nothing partial was kept",
                param="out", value=out) from None
        raise


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


def _render(target: OutputDir, plan: Plan, chunking: Chunking, kept_per_chunk: list[int],
            shard_: tuple[int, int] | None, spec: dict[str, Any], skipped: list[Skipped],
            result: BuildResult, held: BuildLock, *, jobs: int, fmt: str, quality: int, crop: str,
            cache_mb: int, snapshot: dict, progress: bool, scheduler: Any = None) -> None:
    """Render the tasks still to do (of this shard) and finish the dataset when all are done
    and no other shard runs (``held``: this build's locks)."""
    n_chunks = len(chunking)
    kept = sum(kept_per_chunk)
    todo = [c for c in range(n_chunks)
            if (shard_ is None or c % shard_[1] == shard_[0]) and not target.chunk_done(c)]
    done_before = sum(kept_per_chunk[c] for c in range(n_chunks) if target.chunk_done(c))
    result.reused = done_before
    # -- pool section (siscore.utils.parallel: local processes, Dask, any joblib backend) --
    parallel = is_parallel(jobs, scheduler, len(todo))
    job = _Job(plan, chunking, str(target.root), fmt, quality, crop, cache_mb,
               _dumps(snapshot) if parallel else snapshot, token=f"{target.root}|{uuid.uuid4()}",
               sys_path=tuple(sys.path))
    bar = _progress(sum(kept_per_chunk[c] for c in todo), progress)
    t_render = time.perf_counter()
    try:
        results = run_tasks(_render_chunk, todo, job, jobs=jobs, scheduler=scheduler)
        _consume((r for _, r in results), bar, result)
    finally:
        if bar is not None:
            bar.close()
    result.seconds = time.perf_counter() - t_render

    done = all(target.chunk_done(c) for c in range(n_chunks))
    if done and held.may_finish() and not target.is_complete():
        info = {
            "spec": spec,
            "packages": _versions(),
            "counts": {"planned": plan.size, "images": kept, "filtered_out": plan.size - kept,
                       "per_class": result.per_class},
            "skipped_assets": [{"path": s.path, "reason": s.reason} for s in skipped],
            "metadata_columns": plan.metadata_header(),
        }
        if fmt == wds.FORMAT:
            wds.write_index(target.root, range(n_chunks))
        target.finalize([chunking.tasks_of_group(g) for g in range(chunking.n_groups)],
                        plan.metadata_header(), plan.classes,
                        spec["label_map"], [b.name for b in plan.backgrounds],
                        info)
    result.complete = target.is_complete()


def _pool_context() -> mp.context.BaseContext:
    """A clean-interpreter multiprocessing context (kept for benchmarks/bench_build.py;
    the build itself runs on :mod:`siscore.utils.parallel`)."""
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _dumps(snapshot: dict) -> bytes:
    """The interventions for the workers: cloudpickle sends functions of ``__main__`` (a
    script or a notebook) by value, those of importable modules by reference."""
    try:
        import cloudpickle  # joblib >= 1.5 depends on it
    except ImportError:  # older joblib vendors it
        from joblib.externals import cloudpickle  # type: ignore[no-redef]

    return cloudpickle.dumps(snapshot)


def _importable(module: str) -> bool:
    """Whether a fresh interpreter with this ``sys.path`` can import ``module``'s package."""
    top = module.split(".")[0]
    for finder in sys.meta_path:  # not importlib.util.find_spec: it trusts sys.modules
        find = getattr(finder, "find_spec", None)
        with contextlib.suppress(Exception):
            if find is not None and find(top, None) is not None:
                return True
    return False


def _snapshot(grid: Grid, workers: bool) -> dict:
    """The grid's interventions, checked to be importable by worker processes."""
    registry = registry_snapshot()
    used = {f.name: registry[f.name] for f in grid.interventions}
    if workers:
        for name, spec in used.items():
            for part, fn in (("function", spec.func), ("check", spec.check)):
                if fn is None:
                    continue
                module = getattr(fn, "__module__", None) or ""
                ok = module == "__main__" or _importable(module)
                try:
                    _dumps(fn)
                except Exception:
                    ok = False
                if not ok:
                    raise ConfigError(
                        f"intervention {name!r}: its {part} {getattr(fn, '__qualname__', fn)!r} cannot be "
                        "sent to worker processes (a lambda, a local function or one defined in an "
                        "interactive session, or in a module that is not on sys.path); define it at "
                        "the top level of an importable module, or use jobs=1"
                    )
    return used


def _progress(total: int, enabled: bool) -> Any:
    return progress_bar(total, "rendering", "img", enabled=enabled, smoothing=0.1)


def _consume(results: Any, bar: Any, result: BuildResult) -> None:
    for _chunk, rendered, reused in results:
        result.written += rendered
        result.reused += reused
        if bar is not None:
            bar.update(rendered + reused)
