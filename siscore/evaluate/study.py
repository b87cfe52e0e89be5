"""Several models on one dataset, as ``siscore evaluate`` runs them: :func:`evaluate_models`.

The images come from a dataset folder, or are rendered on the fly from a subset or a config
file (resolved as ``siscore build`` resolves them: :func:`siscore.generate.spec.resolve_render`).
Each model gets its own resumable predictions file; ``shard`` (or torchrun) splits the images
between processes and the last one to finish merges. Every check runs before any model is
loaded or any file written; errors are :class:`~siscore.errors.SiscoreError` whose CLI message
names the option (:class:`~siscore.errors.UsageError` for options that do not go together).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from siscore.errors import ParamError, UsageError, write_failed
from siscore.utils.files import check_output_path, safe_name

_RENDER_ONLY = ("foregrounds", "backgrounds", "seed", "bgs_per_fg", "resolution", "min_pct_inside",
                "max_images")


def default_workers() -> int:
    """Data-loader workers when none are given: the CPU count minus one, at most 8."""
    return min(8, max(0, (os.cpu_count() or 1) - 1))


def read_output_classes(path: str | Path, label_map: str | Path | None = None) -> list[int]:
    """The ImageNet-1k index of each model output, from a text file with one line per output:
    an index or a label of the label map (``#`` lines are comments)."""
    from siscore.formats.labels import load_label_map

    def refuse(detail: str) -> UsageError:
        return UsageError(detail, param="output_classes", value=str(path), option="--output-classes")

    try:
        lines = [ln.strip() for ln in Path(path).read_text("utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise refuse(f"cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    labels = load_label_map(label_map)
    out = []
    for n, line in enumerate(lines, start=1):
        if not line or line.startswith("#"):
            continue
        if line.isdigit():
            out.append(int(line))
        elif labels.get(line):
            out.append(labels[line][0])
        else:
            raise refuse(f"line {n}: {line!r} is neither an ImageNet index nor a label of the "
                         "label map (add it with --label-map)")
    return out


def output_paths(models: Sequence[str], out: str | Path | None = None,
                 out_dir: str | Path | None = None) -> list[Path]:
    """One predictions file per model: ``out`` (one model) or ``out_dir/<model>.csv``, checked
    (:func:`~siscore.utils.files.check_output_path`); nothing is created."""
    if (out is None) == (out_dir is None):
        raise UsageError("give --out FILE (the predictions CSV to write or resume) or --out-dir DIR"
                         if out is None else "give --out FILE (one model) or --out-dir DIR, not both")
    if out is not None:
        if len(models) > 1:
            raise UsageError(f"{len(models)} models: give --out-dir DIR (one predictions file per "
                             "model) instead of --out")
        check_output_path(out, folder=False, option="--out", param="out")
        return [Path(out)]
    check_output_path(out_dir, folder=True, option="--out-dir", param="out_dir")
    paths = [Path(out_dir) / (safe_name(m, "model") + ".csv") for m in models]
    clash = sorted({str(p) for p in paths if paths.count(p) > 1})
    if clash:
        raise UsageError(f"{', '.join(clash)} would hold two models; rename them", option="--model")
    return paths


def _check_request(models: Sequence[str], dataset: Any, render: dict[str, Any],
                   weights: str | None, checkpoint: Any) -> None:
    if not models:
        raise UsageError("give --model NAME (e.g. efficientnet_lite0, resnet50:IMAGENET1K_V2, "
                         "timm/resnet50.a1_in1k; --list-models shows the sources)")
    twice = sorted({m for m in models if list(models).count(m) > 1})
    if twice:
        raise UsageError(f"{', '.join(twice)} given twice", option="--model")
    sources = [o for o, v in (("--dataset", dataset), ("--subset", render["subset"]),
                              ("--config", render["config"])) if v is not None]
    if len(sources) != 1:
        raise UsageError("give exactly one of --dataset DIR, --subset NAME or --config FILE "
                         f"(got {', '.join(sources) or 'none'})")
    if len(models) > 1 and (weights or checkpoint):
        raise UsageError("--weights and --checkpoint go with a single --model; with several, name "
                         "the weights in each name (resnet50:IMAGENET1K_V2, timm/resnet50.a1_in1k)")
    if dataset is not None:
        extra = [f"--{k.replace('_', '-')}" for k in _RENDER_ONLY if render.get(k) is not None]
        extra += ["--no-jpeg"] if not render["jpeg"] else []
        if extra:
            raise UsageError(f"{', '.join(extra)} only apply when rendering on the fly (--subset "
                             "or --config), not to --dataset")


def _source(dataset: Any, render: dict[str, Any], label_map: Any, max_pixels: int | None) -> Any:
    """The images: a dataset folder (an official zip or parent folder is located), or a
    :class:`~siscore.evaluate.RenderedDataset` of the resolved subset or config."""
    if dataset is not None:
        from siscore.evaluate.data import MAX_PIXELS, as_dataset

        return as_dataset(dataset, label_map=label_map,
                          max_pixels=MAX_PIXELS if max_pixels is None else max_pixels)
    from siscore.evaluate.rendered import RenderedDataset
    from siscore.generate.spec import resolve_render

    spec = resolve_render(render["subset"], render["config"], seed=render["seed"],
                          bgs_per_fg=render["bgs_per_fg"], min_pct_inside=render["min_pct_inside"],
                          resolution=render["resolution"], max_images=render["max_images"])
    plan = spec.plan(foregrounds=render["foregrounds"], backgrounds=render["backgrounds"],
                     label_map=label_map)
    return RenderedDataset(plan, fmt="jpg" if render["jpeg"] else "raw", quality=render["quality"],
                           crop=render["bg_crop"], subset=spec.subset)


@contextlib.contextmanager
def _write_errors(outs: list[Path], option: str, target: Path) -> Iterator[None]:
    """A full disk, or a write refused under the output, as one line naming ``option``."""
    try:
        yield
    except OSError as exc:
        name = os.path.abspath(exc.filename or "")
        bases = {os.path.abspath(p.parent) for p in outs}
        disk_full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        if not disk_full and not (exc.filename and any(name.startswith(b) for b in bases)):
            raise
        where = Path(exc.filename) if exc.filename else target
        raise ParamError(write_failed(where, exc, option), param=option.lstrip("-").replace("-", "_"),
                         value=str(target), option=option) from None


def evaluate_models(
    models: Sequence[str],
    *,
    dataset: str | Path | None = None,
    subset: str | None = None,
    config: str | Path | None = None,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    weights: str | None = None,
    checkpoint: str | Path | None = None,
    random_weights: bool = False,
    offline: bool = False,
    resize: int | None = None,
    crop: int | None = None,
    output_classes: str | Path | Sequence[int] | None = None,
    label_map: str | Path | None = None,
    imagenet_top1: Mapping[str, float] | None = None,
    shard: str | tuple[int, int] | None = None,
    max_pixels: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
    **options: Any,
) -> list[Any]:
    """Predict every image of ``dataset`` (a folder or zip) or of ``subset`` / ``config`` rendered
    on the fly with each model of ``models``; one resumable predictions CSV each (``out``, or
    ``out_dir/<model>.csv``). Returns one :class:`~siscore.evaluate.EvalResult` per model.

    Render options (``foregrounds``, ``backgrounds``, ``seed``, ``bgs_per_fg``, ``resolution``,
    ``min_pct_inside``, ``max_images``, ``quality``, ``jpeg``, ``bg_crop``) are those of
    :func:`siscore.build`; run options (``batch_size``, ``device``, ``amp``, ``channels_last``,
    ``logits``, ``limit``, ``overwrite``) those of :func:`siscore.evaluate.evaluate_many`.
    ``output_classes``: a file (one ImageNet index or label per output) or the indices;
    ``imagenet_top1``: model name -> ImageNet top-1 (percent) to record, over the library's.
    ``max_pixels``: a ``dataset`` image above it is refused before it is decoded (default:
    :data:`siscore.evaluate.data.MAX_PIXELS`).
    ``warn`` receives the warnings (default: :func:`warnings.warn`).
    """
    render = {k: options.pop(k, None) for k in _RENDER_ONLY}
    render.update(subset=subset, config=config, jpeg=options.pop("jpeg", True),
                  quality=options.pop("quality", 75), bg_crop=options.pop("bg_crop", "topleft"))
    _check_request(models, dataset, render, weights, checkpoint)
    if max_pixels is not None and dataset is None:
        raise UsageError("--max-pixels applies to the images of --dataset, not to images "
                         "rendered on the fly")
    from siscore.evaluate.shards import parse_shard

    parse_shard(shard)  # a bad --shard is refused before any model is loaded
    outs = output_paths(models, out, out_dir)
    classes = (read_output_classes(output_classes, label_map)
               if isinstance(output_classes, (str, Path)) else output_classes)
    source = _source(dataset, render, label_map, max_pixels)  # data errors before any model loads
    loaded = _load_models(models, weights, checkpoint, random_weights=random_weights,
                          offline=offline, resize=resize, crop=crop,
                          progress=progress and sys.stderr.isatty(), warn=warn)
    from siscore.evaluate.runner import evaluate_many
    from siscore.evaluate.shards import sharded_many

    top1 = [(imagenet_top1 or {}).get(m.name, m.top1) for m in loaded]
    target, option = (Path(out), "--out") if out is not None else (Path(str(out_dir)), "--out-dir")
    with _write_errors(outs, option, target):
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        return sharded_many(evaluate_many, shard)(
            loaded, source, outs, output_classes=[classes] * len(loaded), imagenet_top1=top1,
            workers=default_workers() if workers is None else workers, progress=progress,
            **options)


def _load_models(names: Sequence[str], weights: str | None, checkpoint: Any, *,
                 warn: Callable[[str], None] | None, **kw: Any) -> list[Any]:
    from siscore.evaluate.factory import create_model

    loaded = []
    for name in names:
        model = create_model(name, weights, checkpoint, **kw)
        if model.random_init:
            (warn or warnings.warn)(
                f"--model {name} has random weights (no --weights, --checkpoint or tag in the "
                "name); its predictions are chance level. Try efficientnet_lite0 or "
                "resnet50:IMAGENET1K_V2.")
        loaded.append(model)
    return loaded
