"""``siscore evaluate``: predictions of a classifier on a dataset folder or on images rendered on
the fly. The run itself is :func:`siscore.evaluate.study.evaluate_models`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siscore.cli.aliases import AliasedCommand
from siscore.cli.common import fail, load_plugins
from siscore.cli.options import (
    FILE,
    asset_options,
    out_option,
    quiet_option,
    render_options,
    source_options,
)


def _default_workers() -> int:
    from siscore.evaluate.study import default_workers  # no torch: cheap

    return default_workers()


def _list_weights(model: str) -> None:
    from siscore.evaluate.registry import imagenet_top1
    from siscore.evaluate.sources.torchvision import cached_weights

    if "/" in model or model.startswith("efficientnet_lite"):
        fail(f"--list-weights lists torchvision weight enums; {model} is not a torchvision model "
             "(--list-models shows every source)")
    name = model.partition(":")[0]
    for enum_name, path, present in cached_weights(name):
        acc = imagenet_top1(name, enum_name)
        click.echo(f"{enum_name}  ImageNet top-1 {acc if acc is not None else '?'}  "
                   f"{'cached' if present else 'NOT cached'}: {path}")


def _list_models() -> None:
    from siscore.evaluate.registry import list_models

    for name, text, top1 in list_models():
        acc = f"ImageNet top-1 {top1:.1f}%" if top1 is not None else "top-1 from the library or --imagenet-acc"
        click.echo(f"{name}\n    {text}; {acc}")


@click.command(cls=AliasedCommand, aliases={"--workers": "--jobs"},
               context_settings={"show_default": True})
@click.option("--dataset", type=click.Path(path_type=Path),
              help="Dataset folder (a siscore build or an official SI-SCORE download: its folder, "
                   "the folder it was unzipped into, or the zip itself).")
@source_options
@asset_options
@click.option("--label-map", type=FILE,
              help="CSV 'label,imagenet_index' overriding the label table (of the rendered "
                   "images, or of --dataset: its correct1/correct5 columns); also used to read "
                   "--output-classes.")
@render_options
@click.option("--max-pixels", type=int, default=None,
              help="--dataset: refuse images above this many pixels before decoding them "
                   "[default: 89,478,485, Pillow's limit].")
@click.option("--no-jpeg", is_flag=True,
              help="On the fly: skip the JPEG round trip (the pixels of a --format png build).")
@click.option("--model", "models", multiple=True,
              help="Model to evaluate; repeat for several in one pass (with --out-dir): a "
                   "torchvision name (resnet50, resnet50:IMAGENET1K_V2), timm/<name>[.<tag>], "
                   "open_clip/<arch>[:<pretrained>], open_clip/hf-hub:<org>/<repo> or a built-in "
                   "(efficientnet_lite0). --list-models shows them.")
@click.option("--weights", help="Pretrained weights of --model: a torchvision weight enum "
                                "(IMAGENET1K_V2, DEFAULT), a timm tag or an open_clip tag. Missing "
                                "files are downloaded into the library's cache unless --offline.")
@click.option("--checkpoint", type=str, default=None,
              help="State-dict file (or http(s) URL, cached in the torch hub folder) for --model's "
                   "architecture; read weights-only.")
@click.option("--random-weights", is_flag=True,
              help="Allow a model without pretrained weights (randomly initialised, seeded): for "
                   "plumbing tests; without it such a --model is refused.")
@click.option("--offline", is_flag=True,
              help="Never download weights (also set by HF_HUB_OFFLINE=1); use the local caches.")
@click.option("--resize", type=int, default=None,
              help="Shorter side before the centre crop (default: the weights' own, or scaled "
                   "with --crop).")
@click.option("--crop", type=int, default=None,
              help="Centre-crop size fed to the model (default: the weights' own, e.g. 224).")
@click.option("--output-classes", type=FILE,
              help="For a model without 1000 outputs: a text file, one line per output, "
                   "holding its ImageNet-1k index or a label name.")
@out_option(folder=False, help_text="Predictions CSV to write, or to resume (side files start "
                                    "with its name).")
@out_option(folder=True, name="--out-dir",
            help_text="Folder for one predictions CSV per model (<model>.csv), each resumable on "
                      "its own; needed for several --model.")
@click.option("--imagenet-acc", type=FILE,
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
@quiet_option
def evaluate(models: tuple[str, ...], plugins: tuple[str, ...], no_jpeg: bool,
             imagenet_acc: Path | None, list_weights: bool, list_models: bool, quiet: bool,
             **kw: Any) -> None:
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
    from siscore.utils.extras import require

    require("torch", "siscore evaluate")  # else one line naming the extra (cli/__init__.py)
    require("torchvision", "siscore evaluate")
    if list_models:
        return _list_models()
    if list_weights and models:
        return _list_weights(models[0])
    from siscore.evaluate.study import evaluate_models

    load_plugins(plugins)
    top1 = None
    if imagenet_acc is not None:
        from siscore.score.io import read_imagenet_acc

        top1 = read_imagenet_acc(imagenet_acc)
    results = evaluate_models(models, jpeg=not no_jpeg, imagenet_top1=top1, progress=not quiet,
                              warn=lambda text: click.echo(f"Warning: {text}", err=True), **kw)
    if not quiet:
        for result in results:
            click.echo(result.summary())
