"""``siscore evaluate``: predictions of a classifier on a dataset folder or on images rendered on the fly."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import click

from siscore.cli.aliases import AliasedCommand
from siscore.cli.common import fail, load_plugins, parse_resolution, run_guarded
from siscore.utils.files import safe_name


def _default_workers() -> int:
    return min(8, max(0, (os.cpu_count() or 1) - 1))


def read_output_classes(path: Path, label_map_path: Path | None) -> list[int]:
    """One line per model output: an ImageNet-1k index, or a label of the label map."""
    from siscore.formats.labels import load_label_map

    try:
        lines = [ln.strip() for ln in path.read_text("utf-8").splitlines()]
    except OSError as exc:
        fail(f"--output-classes {path}: cannot read it ({exc.strerror})")
    labels = load_label_map(label_map_path)
    out = []
    for n, line in enumerate(lines, start=1):
        if not line or line.startswith("#"):
            continue
        if line.isdigit():
            out.append(int(line))
        elif labels.get(line):
            out.append(labels[line][0])
        else:
            fail(f"--output-classes {path}, line {n}: {line!r} is neither an ImageNet index nor a "
                 "label of the label map (add it with --label-map)")
    return out


def _list_weights(model: str) -> None:
    from siscore.evaluate.models import cached_weights, weights_enum

    for enum_name, path, present in cached_weights(model):
        member = weights_enum(model, enum_name)
        acc = member.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
        click.echo(f"{enum_name}  ImageNet top-1 {acc if acc is not None else '?'}  "
                   f"{'cached' if present else 'NOT cached'}: {path}")


def _list_models() -> None:
    from siscore.evaluate.zoo import list_models

    for name, text, top1 in list_models():
        acc = f"ImageNet top-1 {top1:.1f}%" if top1 is not None else "top-1 from the library or --imagenet-acc"
        click.echo(f"{name}\n    {text}; {acc}")


@click.command(cls=AliasedCommand, aliases={"--workers": "--jobs"},
               context_settings={"show_default": True})
@click.option("--dataset", type=click.Path(path_type=Path),
              help="Dataset folder (a siscore build or an official SI-SCORE download: its folder, "
                   "the folder it was unzipped into, or the zip itself).")
@click.option("--subset", type=click.Choice(["size", "location", "rotation"]),
              help="Render this subset on the fly instead of reading --dataset (same images as "
                   "`siscore build --subset`).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="Render the [grid] of this TOML file on the fly (as `siscore build --config`).")
@click.option("--foregrounds", type=click.Path(file_okay=False, path_type=Path),
              help="On the fly: foreground library DIR/<label>/<file>.png. Default: embedded assets.")
@click.option("--backgrounds", type=click.Path(file_okay=False, path_type=Path),
              help="On the fly: folder of background photos. Default: embedded assets.")
@click.option("--label-map", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV 'label,imagenet_index' overriding the label table (of the rendered "
                   "images, or of --dataset: its correct1/correct5 columns); also used to read "
                   "--output-classes.")
@click.option("--seed", type=int, default=0, help="On the fly: seed (as in siscore build).")
@click.option("--bgs-per-fg", type=int, default=2, help="On the fly: backgrounds per foreground.")
@click.option("--resolution", type=str, default=None,
              help="On the fly: background resolution N or WxH (default: the subset's).")
@click.option("--min-pct-inside", type=float, default=None,
              help="On the fly: drop images whose object box is less than this fraction inside "
                   "(default: 0.95 for size and rotation, 0 for location and --config).")
@click.option("--quality", type=int, default=75,
              help="On the fly: JPEG quality of the round trip (siscore build's default).")
@click.option("--no-jpeg", is_flag=True,
              help="On the fly: skip the JPEG round trip (the pixels of a --format png build).")
@click.option("--bg-crop", type=click.Choice(["topleft", "center", "saliency"]), default="topleft",
              help="On the fly: square crop of each background (as in siscore build).")
@click.option("--plugin", "plugins", multiple=True,
              help="On the fly: import this module first (registers custom interventions).")
@click.option("--model", "models", multiple=True,
              help="Model to evaluate; repeat for several in one pass (with --out-dir): a "
                   "torchvision name (resnet50, resnet50:IMAGENET1K_V2), timm/<name>[.<tag>], "
                   "open_clip/<arch>[:<pretrained>], open_clip/hf-hub:<org>/<repo> or a built-in (efficientnet_lite0). "
                   "--list-models shows them.")
@click.option("--weights", help="Pretrained weights of --model: a torchvision weight enum "
                                "(IMAGENET1K_V2, DEFAULT), a timm tag or an open_clip tag. Missing "
                                "files are downloaded into the library's cache unless --offline. "
                                "Without weights, checkpoint or a tag in the name: random weights.")
@click.option("--checkpoint", type=str, default=None,
              help="State-dict file (or http(s) URL, cached in the torch hub folder) for --model's "
                   "architecture; read weights-only.")
@click.option("--offline", is_flag=True,
              help="Never download weights (also set by HF_HUB_OFFLINE=1); use the local caches.")
@click.option("--resize", type=int, default=None,
              help="Shorter side before the centre crop (default: the weights' own, or scaled "
                   "with --crop).")
@click.option("--crop", type=int, default=None,
              help="Centre-crop size fed to the model (default: the weights' own, e.g. 224).")
@click.option("--output-classes", type=click.Path(dir_okay=False, path_type=Path),
              help="For a model without 1000 outputs: a text file, one line per output, "
                   "holding its ImageNet-1k index or a label name.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Predictions CSV to write, or to resume (side files start with its name).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for one predictions CSV per model (<model>.csv), each resumable on its "
                   "own; needed for several --model.")
@click.option("--imagenet-acc", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV 'model,imagenet_top1' (percent): recorded in each OUT.meta.json for "
                   "effective robustness, overriding the library's value.")
@click.option("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps.")
@click.option("--batch-size", type=int, default=64, help="Images per forward pass.")
@click.option("-j", "--jobs", "workers", type=int, default=None,
              help=f"Data-loader worker processes (decode or render) [default: {_default_workers()}, "
                   "the CPU count minus one, at most 8].")
@click.option("--amp", is_flag=True,
              help="Automatic mixed precision (float16 on GPU, bfloat16 on CPU).")
@click.option("--channels-last", is_flag=True, help="channels_last memory format (faster on recent GPUs).")
@click.option("--logits", is_flag=True, help="Also save the full logits to OUT.logits.npz.")
@click.option("--limit", type=int, default=None,
              help="Predict only the first N images (in reading order); run again without it to finish.")
@click.option("--overwrite", is_flag=True,
              help="Replace predictions made with another model, transform or dataset at --out.")
@click.option("--list-weights", is_flag=True,
              help="List --model's weight enums, their files and whether they are cached; then exit.")
@click.option("--list-models", is_flag=True,
              help="List the model sources and built-in models with their ImageNet top-1; then exit.")
@click.option("--shard", type=str, default=None,
              help="Predict only part I of N (I/N) into OUT.shards/; the process completing the "
                   "last part merges them into OUT. Under torchrun the ranks split the images "
                   "by themselves.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def evaluate(dataset, subset, config, foregrounds, backgrounds, label_map, seed, bgs_per_fg,
             resolution, min_pct_inside, quality, no_jpeg, bg_crop, plugins, models, weights,
             checkpoint, offline, resize, crop, output_classes, out, out_dir, imagenet_acc, device,
             batch_size, workers, amp, channels_last, logits, limit, overwrite, list_weights,
             list_models, quiet, shard=None) -> None:
    """Predict every image of a dataset with one or more classifiers; write predictions CSVs.

    The images come from a dataset folder (--dataset), or are rendered inside the
    data-loader workers (--subset or --config, with the options of `siscore build`)
    with the same pixels a build would write, JPEG round trip included. Several
    --model read (or render) each image once; each model gets its own
    preprocessing and its own file in --out-dir.

    The CSV has one row per image: image_id, top1, top5, label, correct1,
    correct5, model. It is a cache: re-running the same command skips the images
    already predicted (resume after a crash); OUT.meta.json holds the fingerprint
    and the model's ImageNet top-1 when known.
    On-the-fly runs also write OUT.dataset/, a metadata-only dataset folder
    (metadata.csv and the class files) for `siscore score --dataset`.

    \b
    Examples:
      siscore evaluate --dataset data/location --model efficientnet_lite0 --out lite0.csv
      siscore evaluate --subset location --model efficientnet_lite0 --model efficientnet_lite1 \\
          --model resnet50:IMAGENET1K_V2 --out-dir preds/
      siscore evaluate --dataset data/size --model timm/resnet50.a1_in1k --out r50.csv
      siscore evaluate --dataset data/size --model resnet50 --checkpoint mine.pt --crop 288 --out m.csv
    """
    def go() -> None:
        from siscore.utils.extras import require

        require("torch", "siscore evaluate")  # else one line naming the extra (cli/__init__.py)
        require("torchvision", "siscore evaluate")
        from siscore.evaluate import ImageReadError
        from siscore.evaluate.models import ModelError
        from siscore.evaluate.predictions import PredictionsError
        from siscore.evaluate.runner import EvaluateError
        from siscore.evaluate.shards import ShardError
        from siscore.formats.dataset import DatasetError

        if list_models:
            _list_models()
            return
        if not models:
            fail("give --model NAME (e.g. efficientnet_lite0, resnet50:IMAGENET1K_V2, "
                 "timm/resnet50.a1_in1k; --list-models shows the sources)")
        if list_weights:
            if "/" in models[0] or models[0].startswith("efficientnet_lite"):
                fail(f"--list-weights lists torchvision weight enums; {models[0]} is not a "
                     "torchvision model (--list-models shows every source)")
            try:
                _list_weights(models[0].partition(":")[0])
            except ModelError as exc:
                raise click.ClickException(str(exc)) from None
            return
        sources = [n for n, v in (("--dataset", dataset), ("--subset", subset), ("--config", config)) if v]
        if len(sources) != 1:
            fail("give exactly one of --dataset DIR, --subset NAME or --config FILE "
                 f"(got {', '.join(sources) or 'none'})")
        if len(set(models)) != len(models):
            fail(f"--model: {', '.join(sorted({m for m in models if models.count(m) > 1}))} given twice")
        if out is not None and out_dir is not None:
            fail("give --out FILE (one model) or --out-dir DIR, not both")
        if out is None and out_dir is None:
            fail("give --out FILE (the predictions CSV to write or resume) or --out-dir DIR")
        if len(models) > 1 and out is not None:
            fail(f"{len(models)} models: give --out-dir DIR (one predictions file per model) "
                 "instead of --out")
        if len(models) > 1 and (weights or checkpoint):
            fail("--weights and --checkpoint go with a single --model; with several, name the "
                 "weights in each name (resnet50:IMAGENET1K_V2, timm/resnet50.a1_in1k)")
        if dataset is not None:
            render_opts = [o for o, v in (("--foregrounds", foregrounds), ("--backgrounds", backgrounds),
                                          ("--resolution", resolution), ("--no-jpeg", no_jpeg),
                                          ("--min-pct-inside", min_pct_inside)) if v]
            if render_opts:
                fail(f"{', '.join(render_opts)} only apply when rendering on the fly "
                     "(--subset or --config), not to --dataset")
        try:
            _evaluate()
        except (DatasetError, ModelError, PredictionsError, EvaluateError, ImageReadError,
                ShardError) as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # a full disk or an unwritable --out / --out-dir: one line
            target = out if out is not None else out_dir
            name = os.path.abspath(exc.filename or "")
            base = os.path.abspath(target.parent if out is not None else target)
            disk_full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
            if not disk_full and not (exc.filename and name.startswith(base)):
                raise
            from siscore.errors import write_failed

            option = "--out" if out is not None else "--out-dir"
            where = Path(exc.filename) if exc.filename else target
            raise click.ClickException(f"{option} {target}: " + write_failed(where, exc, option)) from None

    def _outputs() -> list[Path]:
        if out is not None:
            return [out]
        if out_dir.exists() and not out_dir.is_dir():
            fail(f"--out-dir {out_dir}: is a file; give a folder")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--out-dir {out_dir}: cannot create it ({exc.strerror})")
        paths = [out_dir / (safe_name(m, "model") + ".csv") for m in models]
        clash = {p for p in paths if paths.count(p) > 1}
        if clash:
            fail(f"--model: {', '.join(sorted(map(str, clash)))} would hold two models; rename them")
        return paths

    def _top1(loaded) -> float | None:  # noqa: ANN001 - LoadedModel
        if imagenet_acc is None:
            return loaded.top1
        from siscore.score.io import ScoreError, read_imagenet_acc

        try:
            table = read_imagenet_acc(imagenet_acc)
        except ScoreError as exc:
            fail(str(exc))
        return table.get(loaded.name, loaded.top1)

    def _evaluate() -> None:
        import sys

        from siscore.evaluate import RenderedDataset, create_model, evaluate_many
        from siscore.evaluate.shards import parse_shard, sharded_many

        parse_shard(shard)  # a bad --shard is refused before any model is loaded
        outs = _outputs()
        progress = not quiet and sys.stderr.isatty()
        loaded = []
        for name in models:
            m = create_model(name, weights, checkpoint, offline=offline, progress=progress,
                             resize=resize, crop=crop)
            if m.random_init:
                click.echo(f"Warning: --model {name} has random weights (no --weights, --checkpoint "
                           "or tag in the name); its predictions are chance level. Try "
                           "efficientnet_lite0 or resnet50:IMAGENET1K_V2.", err=True)
            loaded.append(m)
        classes = read_output_classes(output_classes, label_map) if output_classes else None
        if dataset is not None:  # an official zip or parent folder is located; --label-map honoured
            from siscore.formats.dataset import load_dataset

            source = load_dataset(dataset, label_map=label_map)
        else:
            source = _rendered(RenderedDataset)
        run_many = sharded_many(evaluate_many, shard)  # --shard I/N or torchrun: one part per process
        results = run_many(
            loaded, source, outs, output_classes=[classes] * len(loaded),
            imagenet_top1=[_top1(m) for m in loaded], batch_size=batch_size,
            workers=_default_workers() if workers is None else workers, device=device, amp=amp,
            channels_last=channels_last, logits=logits, overwrite=overwrite, limit=limit,
            progress=not quiet)
        if not quiet:
            for result in results:
                click.echo(result.summary())
    def _rendered(cls):  # noqa: ANN001, ANN202 - RenderedDataset, imported lazily
        from siscore.generate.factors import SUBSETS, load_config

        load_plugins(plugins)
        opts = {"seed": seed, "bgs_per_fg": bgs_per_fg, "min_pct_inside": min_pct_inside}
        name = None
        if config is not None:
            grid, options = load_config(config)
            unknown = set(options) - set(opts)
            if unknown:
                fail(f"--config {config}: unknown [build] option(s) {sorted(unknown)}; "
                     f"known: {', '.join(sorted(opts))}")
            for key, value in options.items():  # the command line wins over the file
                if click.get_current_context().get_parameter_source(key).name == "DEFAULT":
                    opts[key] = value
        else:
            name, grid = subset, SUBSETS[subset].grid
            if opts["min_pct_inside"] is None:
                opts["min_pct_inside"] = SUBSETS[subset].min_pct_inside
        if resolution is not None:
            grid = grid.with_resolution([parse_resolution(resolution)])
        ds = cls.from_grid(grid, foregrounds=foregrounds, backgrounds=backgrounds,
                           label_map=label_map, fmt="raw" if no_jpeg else "jpg", quality=quality,
                           crop=bg_crop, **opts)
        ds.subset = name
        return ds

    run_guarded(go)
