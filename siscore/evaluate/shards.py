"""Evaluation split across processes, GPUs and machines: ``--shard I/N`` or ``torchrun``.

The images of a dataset (in its reading order) are cut into N contiguous
parts; part I is predicted into ``OUT.shards/part-0000I-of-0000N.csv`` (a
predictions file of its own, so a lost rank resumes its part by running the
same command again). When every part is complete they are merged into
``OUT`` (and ``OUT.meta.json``, ``OUT.logits.npz``), the same files a
single-process run writes, and ``OUT.shards/`` is removed.

- Under ``torchrun`` (``WORLD_SIZE`` > 1): rank ``RANK`` predicts part
  ``RANK``; the ranks wait for each other (a ``gloo`` barrier, CPU or GPU) and
  rank 0 merges. With ``--device auto`` each rank uses GPU ``LOCAL_RANK``.
- With ``--shard I/N`` (SLURM job arrays, several machines sharing a
  folder): the process that completes the last part merges (under a lock file,
  :mod:`filelock`: an OS lock that vanishes with its process, so a killed merge leaves
  nothing stale to remove).

N may exceed the number of images (the extra parts are empty and merge as the others);
it is at most :data:`MAX_PARTS`, checked before anything is written.

>>> run = sharded(evaluate, "0/4")          # doctest: +SKIP
>>> run(model, None, "data/location", "preds.csv")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from siscore.errors import SiscoreError
from siscore.evaluate.predictions import PredictionStore, SidePaths, read_predictions
from siscore.utils.files import try_lock

#: Meta fields that describe one run's counts, not the predictions.
MAX_PARTS = 99_999
"""The most parts a dataset is split into (part files are named with five digits)."""
_RUN_FIELDS = {"format", "predictions", "fingerprint", "logits", "complete", "images", "images_total"}


class ShardError(SiscoreError, ValueError):
    """A shard option or a set of parts that cannot be used; the message names the fix."""


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` (or ``(I, N)``) checked; None when not given."""
    if text is None:
        return None
    try:
        i, n = (int(p) for p in text.split("/")) if isinstance(text, str) else text
    except ValueError:
        raise ShardError(f"--shard {text!r}: write it as I/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ShardError(f"--shard {i}/{n}: I must be in 0..N-1")
    if n > MAX_PARTS:
        raise ShardError(f"--shard {i}/{n}: N is at most {MAX_PARTS:,} parts; split the dataset "
                         "into fewer")
    return i, n


def from_torchrun() -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` when running under torchrun with more than one process."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return None
    return (rank, world) if world > 1 else None


def positions(total: int, shard: tuple[int, int]) -> range:
    """The reading positions of part ``shard`` = (I, N): a contiguous, balanced slice."""
    i, n = shard
    return range(i * total // n, (i + 1) * total // n)


def part_path(out: str | Path, shard: tuple[int, int]) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".shards") / f"part-{shard[0]:05d}-of-{shard[1]:05d}.csv"


class ShardView:
    """Part of a dataset (a FolderDataset, a webdataset folder...): the same interface,
    positions renumbered from 0, and a fingerprint naming the part. A part may be empty
    (more parts than images): it is predicted (nothing) and merged as the others."""

    may_be_empty = True

    def __init__(self, base: Any, shard: tuple[int, int]) -> None:
        self.base, self.shard = base, shard
        self.positions = positions(len(base), shard)
        self.image_ids = [base.image_ids[p] for p in self.positions]
        self.labels = [base.labels[p] for p in self.positions]
        self.valid = [base.valid[p] for p in self.positions]

    @property
    def transform(self) -> Any:
        return self.base.transform

    def with_transform(self, transform: Any) -> ShardView:
        return ShardView(self.base.with_transform(transform), self.shard)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[Any, int, Any]:
        image, _, meta = self.base[self.positions[i]]
        return image, i, meta

    def missing_files(self, todo: Sequence[int] | None = None) -> list[str]:
        todo = range(len(self)) if todo is None else todo
        return self.base.missing_files([self.positions[i] for i in todo])

    def fingerprint(self) -> dict[str, Any]:
        return {**self.base.fingerprint(), "shard": f"{self.shard[0]}/{self.shard[1]}"}

    def metadata_header(self) -> None:
        return None


def _read_meta(path: Path) -> dict[str, Any] | None:
    meta = SidePaths(path).meta
    try:
        return json.loads(meta.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def merge(out: str | Path, n: int, *, overwrite: bool = False) -> bool:
    """Merge the N complete parts of ``out`` into ``out``; False while a part is missing."""
    out = Path(out)
    metas = [_read_meta(part_path(out, (i, n))) for i in range(n)]
    if not all(m and m.get("complete") for m in metas):
        return False
    fingerprints = []
    for m in metas:
        fp = json.loads(json.dumps(m["fingerprint"]))
        fp["dataset"].pop("shard", None)
        fingerprints.append(fp)
    if any(fp != fingerprints[0] for fp in fingerprints):
        raise ShardError(f"--out {out}: its parts in {part_path(out, (0, n)).parent} come from "
                         "different models, transforms or datasets; remove that folder and run again")
    first = metas[0]
    keeps_logits = bool(first.get("logits"))
    store = PredictionStore(out, fingerprints[0], logits=keeps_logits, overwrite=overwrite)
    done = store.open({k: v for k, v in first.items() if k not in _RUN_FIELDS and k != "device"})
    total = 0
    for i, meta in enumerate(metas):
        path = part_path(out, (i, n))
        total += int(meta["images_total"])
        df = read_predictions(path)
        keep = ~df["image_id"].isin(done).to_numpy()
        rows = df[keep].to_numpy(dtype=object).tolist()
        logits = None
        if keeps_logits and rows:  # an empty part has no logits file
            with np.load(SidePaths(path).logits) as z:
                order = {int(x): j for j, x in enumerate(z["image_id"])}
                logits = np.asarray(z["logits"])[[order[int(r[0])] for r in rows]]
        if rows:
            store.append(rows, logits)
    store.finalize(total, {"device": first.get("device")})
    shutil.rmtree(part_path(out, (0, n)).parent)
    return True


def _try_merge_locked(out: Path, n: int, overwrite: bool) -> bool:
    """Merge under a lock (several array jobs may finish at once): each finisher waits for
    the lock and then merges if every part is complete, so the last one to finish merges
    (a finisher that came first found a part missing). The lock is an OS lock
    (:func:`~siscore.utils.files.try_lock`), released when its process ends however it ends."""
    folder = part_path(out, (0, n)).parent
    if not folder.is_dir():  # merged already by another process
        return False
    try:
        lock = try_lock(folder / "merge.lock", timeout=-1)
    except FileNotFoundError:  # the folder went away: merged by another process
        return False
    try:
        return merge(out, n, overwrite=overwrite)
    finally:
        lock.release()
        with contextlib.suppress(FileNotFoundError):  # re-created by a late lock: merged already
            if all(p.name.startswith("merge.lock") for p in folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)


def _part_of(shard: str | tuple[int, int] | None) -> tuple[tuple[int, int] | None, bool]:
    """The part this process predicts, from ``shard`` or torchrun, and whether torchrun set it."""
    part = parse_shard(shard)
    torchrun = from_torchrun() if part is None else None
    part = part or torchrun
    if part is None or part[1] == 1:
        return None, False
    return part, torchrun is not None


def sharded(evaluate: Callable[..., Any], shard: str | tuple[int, int] | None = None) -> Callable[..., Any]:
    """``evaluate`` itself, or, with ``shard`` or under torchrun, a function with its
    signature that predicts one part and merges the parts (see the module docstring)."""
    if _part_of(shard)[0] is None:
        return evaluate

    def run(model: Any, transform: Any, dataset: Any, out: str | Path | None = None, **kw: Any) -> Any:
        def one(view: Any, paths: list[Path], **kw_: Any) -> list[Any]:
            return [evaluate(model, transform, view, paths[0], **kw_)]

        return _run_part(one, dataset, [out], shard, kw)[0]

    return run


def sharded_many(evaluate_many: Callable[..., Any],
                 shard: str | tuple[int, int] | None = None) -> Callable[..., Any]:
    """:func:`sharded` for :func:`siscore.evaluate.evaluate_many` (several models, one
    predictions file each): every file is split, predicted and merged the same way."""
    if _part_of(shard)[0] is None:
        return evaluate_many

    def run(models: Any, dataset: Any, outs: Any, **kw: Any) -> list[Any]:
        def many(view: Any, paths: list[Path], **kw_: Any) -> list[Any]:
            return list(evaluate_many(models, view, paths, **kw_))

        return _run_part(many, dataset, list(outs), shard, kw)

    return run


def _run_part(call: Callable[..., list[Any]], dataset: Any, outs: list[Any],
              shard: str | tuple[int, int] | None, kw: dict[str, Any]) -> list[Any]:
    """Predict this process's part of ``dataset`` into one part file per output, then merge
    each output whose parts are all done."""
    from siscore.evaluate.data import RenderedDataset, as_dataset
    from siscore.evaluate.runner import EvalResult, EvaluateError

    part, torchrun = _part_of(shard)
    assert part is not None
    if any(out is None for out in outs):
        raise EvaluateError("--shard and torchrun write one part per process: give --out")
    if kw.get("limit") is not None:
        raise EvaluateError("--limit cannot be combined with --shard or torchrun")
    ds = as_dataset(dataset, None)
    if isinstance(ds, RenderedDataset):
        raise EvaluateError("--shard and torchrun read a built dataset (--dataset DIR); build it "
                            "first (siscore build, --format webdataset for large grids)")
    if torchrun and kw.get("device", "auto") in (None, "auto"):
        import torch

        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", part[0]))
            kw["device"] = f"cuda:{local % torch.cuda.device_count()}"
    view = ShardView(ds, part)
    missing = view.missing_files() if hasattr(ds, "missing_files") else []
    if missing:
        raise EvaluateError(f"{ds.root}: {len(missing)} image(s) listed in metadata.csv are missing, "
                            f"e.g. {missing[0]}; re-build or re-download the dataset")
    paths = [part_path(out, part) for out in outs]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    results = call(view, paths, **kw)
    final = []
    for out, result in zip(outs, results):
        if torchrun:
            merged = _merge_with_ranks(Path(out), part, bool(kw.get("overwrite")))
        else:
            merged = _try_merge_locked(Path(out), part[1], bool(kw.get("overwrite")))
        if not merged:
            final.append(result)
            continue
        df = read_predictions(out)
        final.append(EvalResult(df, Path(out), len(df), result.evaluated, len(df) - result.evaluated,
                                result.seconds, result.device))
    return final


def _merge_with_ranks(out: Path, part: tuple[int, int], overwrite: bool) -> bool:
    """torchrun: every rank waits for the others; rank 0 merges."""
    import torch.distributed as dist

    own = not dist.is_initialized()
    if own:
        dist.init_process_group("gloo")
    try:
        dist.barrier()
        merged = merge(out, part[1], overwrite=overwrite) if part[0] == 0 else False
        dist.barrier()
    finally:
        if own:
            dist.destroy_process_group()
    return merged
