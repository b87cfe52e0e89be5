"""Running a classifier over a dataset: batching, device, AMP, channels_last, the cache.

:func:`evaluate` is the library entry point behind ``siscore evaluate``; it
takes any ``torch.nn.Module`` and transform (or a :class:`LoadedModel`) and a
dataset folder or :class:`RenderedDataset`, reads images in a deterministic
order, and writes (or resumes) a predictions file.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from siscore import __version__
from siscore.evaluate.data import FolderDataset, RenderedDataset, as_dataset, loader_worker_init
from siscore.evaluate.predictions import COLUMNS, PredictionStore, dataset_index_files
from siscore.evaluate.types import EvaluateError, LoadedModel, select_device
from siscore.utils.files import check_output_path
from siscore.utils.progress import progress_bar

N_IMAGENET = 1000


@dataclass
class EvalResult:
    """Predictions of one model on one dataset, and what the run did."""

    predictions: pd.DataFrame  # columns COLUMNS, sorted by image_id
    out: Path | None
    total: int  # images in the dataset
    evaluated: int  # predicted in this run
    reused: int  # taken from the cache
    seconds: float
    device: str
    logits: np.ndarray | None = field(default=None, repr=False)  # in-memory runs with logits=True

    @property
    def complete(self) -> bool:
        return len(self.predictions) == self.total

    def summary(self) -> str:
        df = self.predictions
        n = len(df)
        head = f"{self.out}: " if self.out else ""
        text = (f"{head}{n} of {self.total} images predicted ({self.evaluated} now, {self.reused} "
                f"from the cache) on {self.device}")
        if self.evaluated and self.seconds > 0:
            text += f", {self.evaluated / self.seconds:.1f} images/s"
        if n:
            text += (f"; top-1 accuracy {100 * df['correct1'].mean():.2f}%, "
                     f"top-5 {100 * df['correct5'].mean():.2f}%")
        return text


def module_digest(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def describe_transform(transform: Any) -> str:
    """A stable text of a transform (its repr without memory addresses)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(transform))


def _logits_of(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise EvaluateError(f"the model returned {type(output).__name__}; expected a tensor of logits (N, classes)")


class _MemorySink:
    """The store used without ``out``: rows kept in memory."""

    def __init__(self, logits: bool) -> None:
        self.rows: list[list[Any]] = []
        self.logits: list[np.ndarray] | None = [] if logits else None
        self.keeps_logits = logits

    def append(self, rows: list[list[Any]], logits: np.ndarray | None = None,
               metadata_lines: Any = None) -> None:
        self.rows += rows
        if self.logits is not None and logits is not None:
            self.logits.append(logits)

    def close(self) -> None:
        pass


def _predict_rows(logits: torch.Tensor, positions: Sequence[int], image_ids: Sequence[int],
                  labels: Sequence[str], valid: Sequence[tuple[int, ...]],
                  to_imagenet: torch.Tensor | None, name: str) -> list[list[Any]]:
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    if to_imagenet is not None:
        top = to_imagenet[top]
    rows = []
    for pos, t in zip(positions, top.tolist()):
        ok = valid[pos]
        rows.append([image_ids[pos], t[0], " ".join(map(str, t)), labels[pos],
                     int(t[0] in ok), int(any(c in ok for c in t)), name])
    return rows


class MultiTransform:
    """Applies several transforms to one image: a tuple of tensors, one per distinct transform."""

    def __init__(self, transforms: Sequence[Callable[[Any], torch.Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> tuple[torch.Tensor, ...]:
        return tuple(t(image) for t in self.transforms)

    def __repr__(self) -> str:
        return "MultiTransform(" + ", ".join(describe_transform(t) for t in self.transforms) + ")"


@dataclass
class _Job:
    """One model of a pass: its module, the slot of its transform, its store and pending images."""

    name: str
    module: nn.Module
    slot: int
    to_imagenet: torch.Tensor | None
    store: Any
    pending: list[int]
    out: Path | None
    done: int = 0


def pending_positions(ds: Any, limit: int | None = None,
                      positions: Sequence[int] | None = None) -> list[int]:
    """Positions to predict in reading order: ``positions`` (default all), the first ``limit``."""
    total = len(ds)
    if positions is None:
        order = list(range(total))
    else:
        order = sorted(set(int(p) for p in positions))
        if order and not 0 <= order[0] <= order[-1] < total:
            raise EvaluateError(f"positions: must lie in 0..{total - 1}")
    return order if limit is None else order[:max(limit, 0)]


def evaluate(
    model: nn.Module | LoadedModel,
    transform: Callable[[Any], torch.Tensor] | None,
    dataset: str | Path | FolderDataset | RenderedDataset,
    out: str | Path | None = None,
    *,
    name: str | None = None,
    output_classes: Sequence[int] | None = None,
    **kwargs: Any,
) -> EvalResult:
    """Predict every image of ``dataset`` with ``model`` and write (or resume) ``out``.

    ``model`` is any module mapping a batch (N, C, H, W) to logits (N, K), or a
    :class:`LoadedModel` (its transform, name and output classes are then the
    defaults). ``transform`` maps a PIL image to a CHW tensor (None: the
    LoadedModel's, or the dataset's own). ``dataset`` is a dataset folder (path)
    or a :class:`FolderDataset` / :class:`RenderedDataset`. With K != 1000,
    ``output_classes`` gives the ImageNet-1k index of each output.

    With ``out``, predictions are a cache: rows are appended batch by batch, a
    re-run with the same fingerprint (model name, parameters, transform,
    dataset, AMP) skips finished images, a different fingerprint raises unless
    ``overwrite``. ``limit`` predicts only the first ``limit`` images (in
    reading order). The module is moved to the device and set to eval mode.
    Other keywords: those of :func:`evaluate_many`.
    """
    return evaluate_many([model], dataset, [out], transforms=[transform], names=[name],
                         output_classes=[output_classes], **kwargs)[0]


def evaluate_many(
    models: Sequence[nn.Module | LoadedModel],
    dataset: str | Path | FolderDataset | RenderedDataset,
    outs: Sequence[str | Path | None],
    *,
    transforms: Sequence[Callable[[Any], torch.Tensor] | None] | None = None,
    names: Sequence[str | None] | None = None,
    output_classes: Sequence[Sequence[int] | None] | None = None,
    imagenet_top1: Sequence[float | None] | None = None,
    batch_size: int = 64,
    workers: int = 0,
    device: str | torch.device | None = "auto",
    amp: bool = False,
    channels_last: bool = False,
    logits: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    positions: Sequence[int] | None = None,
    progress: bool = True,
) -> list[EvalResult]:
    """Several models in one pass: each image is read (or rendered) once and fed to every model.

    Each model gets its own transform (the distinct ones are applied in the
    data-loader workers), its own predictions file ``outs[i]`` (resumable on its
    own: a model whose file is complete costs nothing) and its own result.
    ``transforms``, ``names``, ``output_classes`` and ``imagenet_top1`` are
    per-model lists (None entries: the LoadedModel's own). The results equal
    separate :func:`evaluate` runs. ``positions`` (dataset positions, e.g. a
    shard or a subsample) restricts the pass to those images; ``limit`` then
    keeps the first ``limit`` of them.
    """
    t0 = time.perf_counter()
    n = len(models)
    if n == 0:
        raise EvaluateError("models: give at least one model")
    if len(outs) != n:
        raise EvaluateError(f"outs: {len(outs)} predictions files for {n} models")
    for out in outs:  # never a device node (os.replace would swap /dev/null for a file)
        if out is not None:
            check_output_path(out, folder=False, option="--out", param="out")
    transforms = list(transforms) if transforms is not None else [None] * n
    names = list(names) if names is not None else [None] * n
    output_classes = list(output_classes) if output_classes is not None else [None] * n
    top1s = list(imagenet_top1) if imagenet_top1 is not None else [None] * n
    if batch_size < 1:
        raise EvaluateError(f"--batch-size {batch_size}: must be at least 1")
    if workers < 0:
        raise EvaluateError(f"--jobs {workers}: must be 0 or more")
    if limit is not None and limit < 1:  # it would write an empty predictions file
        raise EvaluateError(f"--limit {limit}: must be at least 1; leave it out to predict "
                            "every image")
    base = as_dataset(dataset, None)
    for attr in ("image_ids", "labels", "valid", "fingerprint"):
        if not hasattr(base, attr):
            raise EvaluateError(f"dataset: {type(base).__name__} has no {attr!r}; pass a dataset "
                                "folder, a FolderDataset or a RenderedDataset")
    modules, tfs, model_names, classes_per = [], [], [], []
    for i, model in enumerate(models):
        tf, nm, oc = transforms[i], names[i], output_classes[i]
        if isinstance(model, LoadedModel):
            tf = tf if tf is not None else model.transform
            nm = nm or model.name
            oc = oc if oc is not None else model.output_classes
            top1s[i] = top1s[i] if top1s[i] is not None else model.top1
            model.check_outputs(oc)  # before any file is written
            module = model.module
        else:
            module = model
        if not isinstance(module, nn.Module):
            raise EvaluateError(f"model: expected a torch.nn.Module, got {type(module).__name__}")
        tf = tf if tf is not None else getattr(base, "transform", None)
        if tf is None:
            raise EvaluateError("no transform: pass one (e.g. weights.transforms()) or a LoadedModel")
        modules.append(module)
        tfs.append(tf)
        model_names.append(nm or type(module).__name__)
        classes_per.append(oc)
    if len(set(model_names)) != n:
        raise EvaluateError(f"models: two models share a name ({', '.join(model_names)}); name "
                            "them apart")
    total = len(base)
    if total == 0 and not getattr(base, "may_be_empty", False):  # a shard's part may be
        raise EvaluateError("the dataset has no images (check --min-pct-inside and the assets)")
    distinct: dict[str, int] = {}
    for tf in tfs:
        distinct.setdefault(describe_transform(tf), len(distinct))
    unique = [next(t for t in tfs if describe_transform(t) == key) for key in distinct]
    ds = base.with_transform(MultiTransform(unique)) if hasattr(base, "with_transform") else base
    header = base.metadata_header() if isinstance(base, RenderedDataset) else None
    order = pending_positions(base, limit, positions)
    if isinstance(base, FolderDataset) and order:  # before any output file is written
        missing = base.missing_files(order)
        if missing:
            raise EvaluateError(f"{base.root}: {len(missing)} image(s) listed in metadata.csv are "
                                f"missing, e.g. {missing[0]}; re-build or re-download the dataset")
    jobs: list[_Job] = []
    for i in range(n):
        jobs.append(_open_job(models[i], modules[i], tfs[i], model_names[i], classes_per[i],
                              top1s[i], distinct[describe_transform(tfs[i])], base, outs[i],
                              header=header, amp=amp, logits=logits, overwrite=overwrite,
                              order=order))
    todo = sorted({p for job in jobs for p in job.pending})
    dev = select_device(device)
    if todo:
        _run(jobs, ds, base, todo, dev, batch_size=batch_size, workers=workers, amp=amp,
             channels_last=channels_last, progress=progress)
    seconds = time.perf_counter() - t0
    return [_finish(job, base, total, dev, seconds) for job in jobs]


def _open_job(model: Any, module: nn.Module, tf: Any, name: str, output_classes: Any,
              top1: float | None, slot: int, base: Any, out: str | Path | None, *,
              header: list[str] | None, amp: bool, logits: bool, overwrite: bool,
              order: list[int]) -> _Job:
    to_imagenet = None
    if output_classes is not None:
        bad = [c for c in output_classes if not 0 <= int(c) < N_IMAGENET]
        if bad:
            raise EvaluateError(f"output classes {bad[:5]} are not ImageNet-1k indices (0..999)")
        to_imagenet = torch.as_tensor([int(c) for c in output_classes], dtype=torch.long)
    fingerprint = {
        "model": name,
        "module_sha256": module_digest(module),
        "transform": describe_transform(tf),
        "output_classes": None if output_classes is None else [int(c) for c in output_classes],
        "amp": bool(amp),
        "dataset": base.fingerprint(),
    }
    store: PredictionStore | _MemorySink
    if out is not None:
        store = PredictionStore(out, fingerprint, logits=logits, overwrite=overwrite,
                                metadata_header=header)
        info: dict[str, Any] = {"model_name": name, "siscore_version": __version__,
                                "torch_version": torch.__version__, "imagenet_top1": top1}
        if isinstance(model, LoadedModel):
            info.update(weights=model.weights, random_init=model.random_init,
                        checkpoint=str(model.checkpoint) if model.checkpoint else None)
        done = store.open(info)
    else:
        store, done = _MemorySink(logits), set()
    pending = [p for p in order if base.image_ids[p] not in done]
    return _Job(name, module, slot, to_imagenet, store, pending,
                Path(out) if out is not None else None)


def _finish(job: _Job, base: Any, total: int, dev: torch.device, seconds: float) -> EvalResult:
    store = job.store
    result_logits = None
    if isinstance(store, PredictionStore):
        files = None
        if isinstance(base, RenderedDataset):
            files = dataset_index_files(base.spec(), base.plan.classes,
                                        [b.name for b in base.plan.backgrounds], store.paths.out.name)
        df = store.finalize(total, {"device": str(dev)}, files)
    else:
        df = pd.DataFrame(store.rows, columns=COLUMNS)
        order = np.argsort(df["image_id"].to_numpy(), kind="stable")
        df = df.iloc[order].reset_index(drop=True)
        if store.logits is not None:
            stacked = np.concatenate(store.logits) if store.logits else np.zeros((0, 0), np.float32)
            result_logits = stacked[order] if len(stacked) else stacked
    return EvalResult(df, job.out, total, len(job.pending), len(df) - len(job.pending), seconds,
                      str(dev), result_logits)


def _forward(job: _Job, images: torch.Tensor, dev: torch.device, amp: bool,
             channels_last: bool) -> torch.Tensor:
    amp_dtype = torch.bfloat16 if dev.type == "cpu" else torch.float16
    images = images.to(dev, non_blocking=True)
    if channels_last and images.ndim == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp):
        out = _logits_of(job.module(images))
    out = out.float()
    width = out.shape[1] if out.ndim == 2 else -1
    if out.ndim != 2 or out.shape[0] != images.shape[0]:
        raise EvaluateError(f"the model returned shape {tuple(out.shape)} for a batch of "
                            f"{images.shape[0]}; expected (batch, classes)")
    if job.to_imagenet is None and width != N_IMAGENET:
        raise EvaluateError(
            f"the model has {width} outputs, not the 1000 ImageNet-1k classes; give the "
            "ImageNet index of each output (output_classes=..., --output-classes FILE)")
    if job.to_imagenet is not None and width != len(job.to_imagenet):
        raise EvaluateError(f"the model has {width} outputs but {len(job.to_imagenet)} "
                            "output classes were given")
    return out


def _run(jobs: list[_Job], ds: Any, base: Any, todo: list[int], dev: torch.device, *,
         batch_size: int, workers: int, amp: bool, channels_last: bool, progress: bool) -> None:
    for job in jobs:
        job.module.eval()
        job.module.to(dev)
        if channels_last:
            job.module.to(memory_format=torch.channels_last)
        if job.to_imagenet is not None:
            job.to_imagenet = job.to_imagenet.to(dev)
    wanted = [set(job.pending) for job in jobs]
    loader = DataLoader(Subset(ds, todo), batch_size=batch_size, shuffle=False,
                        num_workers=workers, pin_memory=dev.type == "cuda",
                        persistent_workers=False, worker_init_fn=loader_worker_init(base))
    bar = None
    if progress:
        label = jobs[0].name if len(jobs) == 1 else f"{len(jobs)} models"
        bar = progress_bar(len(todo), f"evaluating {label}", "img", smoothing=0.05)
    try:
        with torch.inference_mode():
            for views, positions, metadata in loader:
                if isinstance(views, torch.Tensor):  # a dataset with its own single transform
                    views = [views]
                if not isinstance(views, (list, tuple)) or not all(
                        isinstance(v, torch.Tensor) for v in views):
                    raise EvaluateError("the transform must return tensors of one size per batch "
                                        f"(got {type(views).__name__})")
                pos = positions.tolist()
                for job, want in zip(jobs, wanted):
                    keep = [k for k, p in enumerate(pos) if p in want]
                    if not keep:
                        continue
                    images = views[job.slot]
                    if len(keep) < len(pos):
                        images = images[keep]
                    out = _forward(job, images, dev, amp, channels_last)
                    kpos = [pos[k] for k in keep]
                    rows = _predict_rows(out, kpos, base.image_ids, base.labels, base.valid,
                                         job.to_imagenet, job.name)
                    lines = [metadata[k] for k in keep]
                    job.store.append(rows, out.cpu().numpy() if job.store.keeps_logits else None,
                                     lines)
                if bar is not None:
                    bar.update(len(pos))
    finally:
        for job in jobs:
            job.store.close()
        if bar is not None:
            bar.close()
