"""``siscore score``: per-cell accuracy, intervals and normalisation from predictions CSVs."""

from __future__ import annotations

from pathlib import Path

import click

from siscore.cli.aliases import AliasedCommand
from siscore.cli.common import fail


# --classes elsewhere is a set of class labels; here it was the int,label file (issue 11, 20)
@click.command(cls=AliasedCommand, aliases={"--classes": "--class-names"},
               context_settings={"show_default": True})
@click.option("--dataset", type=click.Path(path_type=Path),
              help="Dataset folder (metadata.csv, foreground_classes*.csv; images not needed): "
                   "a siscore build or an official SI-SCORE download (its folder, the folder "
                   "it was unzipped into, or the zip itself). Default: the "
                   "<predictions>.dataset/ folder an on-the-fly `siscore evaluate` writes.")
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path),
              help="Instead of --dataset: a metadata.csv-compatible file (e.g. the one "
                   "`siscore evaluate` writes when it renders on the fly).")
@click.option("--class-names", "class_names", type=click.Path(dir_okay=False, path_type=Path),
              help="With --metadata and no 'label' column: the 'int,label' CSV naming each "
                   "foreground_class (default: foreground_classes_metadata_indices.csv beside it).")
@click.option("--label-map", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV 'label,imagenet_index' of valid ImageNet indices (or an official "
                   "'int,label' foreground_classes.csv), overriding the dataset's table "
                   "(default: label_map.csv of a build, else the built-in corrected table).")
@click.option("--predictions", "-p", "predictions", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Predictions CSV with image_id and top1 (optional top5, model). Repeat for "
                   "several models.")
@click.option("--name", "names", multiple=True,
              help="Model name for each --predictions file without a 'model' column, in order "
                   "(default: the file's stem).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Scores CSV to write; <stem>.summary.json (and <stem>.effective.csv) go "
                   "beside it.")
@click.option("--by", "by", multiple=True,
              help="Group by these metadata columns instead of the subset's factors (repeat: "
                   "--by label, --by background_name, --by x_coord --by y_coord ...).")
@click.option("--normalize", "normalize_method", type=click.Choice(["p95", "max", "none"]),
              default=None,
              help="Divide each cell's accuracy by the 95th percentile (numpy, linear) or the "
                   "maximum of the cell accuracies, or not at all. Default: p95 for location, "
                   "max for size and rotation, none when --by differs from the subset's factors.")
@click.option("--normalize-over", "normalize_over", multiple=True,
              help="Normalise over these grouping columns only, separately for each value of "
                   "the others. Default: rotation for the rotation subset (max within each "
                   "area), else all grouping columns.")
@click.option("--topk", type=click.Choice(["1", "5"]), default="1",
              help="Top-1 or top-5 accuracy (top-5 needs a top5 column or logits).")
@click.option("--label-space", type=click.Choice(["imagenet", "dataset"]), default="imagenet",
              help="'dataset' takes the argmax over the dataset's classes only (needs the "
                   "logits side file <stem>.npz).")
@click.option("--min-pct-inside", type=float, default=None,
              help="Score only images whose object box is at least this fraction inside.")
@click.option("--balance-classes", is_flag=True,
              help="Each class weighs equally within a cell (the class mix differs by cell).")
@click.option("--baseline", default=None,
              help="Model name to compare against: adds diff_* columns with paired bootstrap "
                   "intervals over objects.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=100), default=1000,
              help="Bootstrap resamples for --baseline.")
@click.option("--seed", type=int, default=0, help="Seed of the bootstrap resamples.")
@click.option("--output-map", type=click.Path(dir_okay=False, path_type=Path),
              help="For models whose outputs are not ImageNet-1k: CSV 'output,imagenet_index' "
                   "and/or 'output,label' mapping each output index, or the text file of "
                   "`siscore evaluate --output-classes` (one line per output).")
@click.option("--imagenet-acc", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV 'model,imagenet_top1' (percent) for effective robustness; default per "
                   "predictions file: the top-1 `siscore evaluate` recorded in its meta.json, "
                   "else torchvision's weight metadata (names like resnet50:IMAGENET1K_V2).")
@click.option("--fit-models", multiple=True,
              help="Fit the effective-robustness trend on these scored models only (default: "
                   "all with a known ImageNet top-1; at least 5 are needed).")
@click.option("--testbed", type=click.Path(dir_okay=False, path_type=Path),
              help="Reference testbed for effective robustness: CSV 'model,imagenet_top1,"
                   "accuracy' (percent; accuracy = mean_accuracy on the same data) of at "
                   "least 5 models; the trend is fitted on these only.")
@click.option("--min-coverage", type=click.FloatRange(0, 1), default=0.0,
              help="Fail when a model has predictions for less than this fraction of images.")
@click.option("--quiet", "-q", is_flag=True,
              help="Print only errors and notes (coverage, classes never correct, ...).")
def score(dataset, metadata, class_names, label_map, predictions, names, out, by, normalize_method,
          normalize_over, topk, label_space, min_pct_inside, balance_classes, baseline, n_boot,
          seed, output_map, imagenet_acc, fit_models, testbed, min_coverage, quiet) -> None:
    """Score predictions per cell of the factor grid: n, accuracy, exact 95% interval,
    normalised accuracy, and per-model summary numbers.

    Partial predictions are scored on the images they cover; the coverage is printed
    and written to the summary.

    \b
    Examples:
      siscore score --dataset data/location -p resnet50.csv --out scores.csv
      siscore score --dataset data/rotation -p a.csv -p b.csv --baseline a --out rot.csv
      siscore score --dataset data/location -p a.csv --by label --balance-classes --out c.csv
    """
    from siscore.score import from_metadata, read_imagenet_acc, read_output_map
    from siscore.score.api import check_target, score_predictions
    from siscore.score.effective import read_testbed
    from siscore.score.reference import from_dataset

    if dataset is not None and metadata is not None:
        fail("give --dataset DIR or --metadata CSV, not both")
    if dataset is None and metadata is None:
        # `siscore evaluate` on the fly writes the metadata-only folder <predictions>.dataset
        beside = predictions[0].with_name(predictions[0].name + ".dataset")
        if not (beside / "metadata.csv").is_file():
            fail("give --dataset DIR (the dataset the predictions were made on) or --metadata "
                 f"CSV; there is no {beside.name}/ beside {predictions[0]} to use instead")
        dataset = beside
        if not quiet:
            click.echo(f"dataset: {dataset} (written by `siscore evaluate`)")
    if names and len(names) != len(predictions):
        fail(f"{len(names)} --name for {len(predictions)} --predictions; give one per file")
    check_target(out)
    ref = (from_dataset(dataset, label_map) if dataset is not None
           else from_metadata(metadata, class_names, label_map))
    check_target(out, inputs=[Path(p) for p in (*predictions, metadata) if p is not None],
                 dataset=ref.root if dataset is not None else None)  # nor into the dataset
    result = score_predictions(
        ref, predictions, names=list(names) or None, by=list(by) or None,
        normalize_method=normalize_method, normalize_over=list(normalize_over) or None,
        topk=int(topk), label_space=label_space, min_pct_inside=min_pct_inside,
        balance_classes=balance_classes, baseline=baseline, n_boot=n_boot, seed=seed,
        output_map=read_output_map(output_map) if output_map else None,
        imagenet_acc=read_imagenet_acc(imagenet_acc) if imagenet_acc else None,
        fit_models=list(fit_models) or None,
        testbed=read_testbed(testbed) if testbed else None)
    _check_coverage(result.summary, min_coverage)
    paths = result.write(out)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        _print_summary(result.summary)
        click.echo("wrote " + ", ".join(str(p) for p in paths))


def _check_coverage(summary: dict, min_coverage: float) -> None:
    """Fail (writing nothing) when a model covers less than ``--min-coverage`` of the images."""
    low = {m: s["coverage"] for m, s in summary["models"].items() if s["coverage"] < min_coverage}
    if low:
        raise click.ClickException(
            f"coverage below --min-coverage {min_coverage}: "
            + ", ".join(f"{m} {100 * c:.1f}%" for m, c in low.items())
            + "; finish the evaluation (re-run `siscore evaluate` to resume) or lower it")


def _print_summary(s: dict) -> None:
    """One line for the run (grouping, normaliser, k), then one per model; a model with
    random weights says so first."""
    from siscore.formats.values import factor_text

    click.echo(f"scored {len(s['models'])} model(s) on {s['dataset_images']} images, by "
               f"{', '.join(s['factors'])}; normalize={s['normalize']}, top-{s['topk']}")
    for name, m in s["models"].items():
        worst = ", ".join(f"{k}={factor_text(v)}" for k, v in m["worst_cell"].items()
                          if k not in ("accuracy", "n"))
        ci = m.get("mean_accuracy_ci")
        interval = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci and None not in ci else ""
        random = " RANDOM WEIGHTS (not a trained model)," if m.get("random_init") else ""
        line = (f"  {name}:{random} {m['n_images']} images (coverage "
                f"{100 * m['coverage']:.1f}%), mean accuracy {m['mean_accuracy']:.4f}{interval}, "
                f"worst cell {worst}: {m['worst_cell']['accuracy']:.4f}")
        if "effective_robustness" in m:
            low, high = m["effective_robustness_ci"]
            line += (f", effective robustness {m['effective_robustness']:+.2f} pp "
                     f"[{low:+.2f}, {high:+.2f}]")
        click.echo(line)
