"""``siscore backgrounds score|filter``: score, filter and de-duplicate background photographs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from siscore.backgrounds.thresholds import MODEL_MAX_PROB, Thresholds
from siscore.cli.aliases import AliasedCommand
from siscore.cli.common import fail, run_guarded


def _guard(body: Callable[[], None]) -> None:
    from siscore.backgrounds.model_check import ModelCheckError
    from siscore.backgrounds.run import BackgroundsError

    def go() -> None:
        try:
            body()
        except (BackgroundsError, ModelCheckError) as exc:
            raise click.ClickException(str(exc)) from None

    run_guarded(go)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def backgrounds() -> None:
    """Score, filter and de-duplicate background photographs.

    The paper kept 867 nature photos without a prominent object (a single
    animal, a person) by hand. `filter` does that for a folder of thousands
    and leaves an audit trail: a CSV with every decision and reason and a
    contact sheet to check at a glance.

    \b
    Examples:
      siscore backgrounds score photos/ --out scores.csv
      siscore backgrounds filter photos/ --out library/
      siscore build --subset location --backgrounds library/ --out data/location
    """


@backgrounds.command(context_settings={"show_default": True})
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV to write: one row per file of DIR (scores, perceptual hash, error).")
@click.option("--jobs", "-j", type=int, default=1, help="Worker processes.")
@click.option("--scheduler", type=str, default=None,
              help="Score on a Dask cluster (tcp://host:8786), a local one (local:N) or a "
                   "joblib backend (joblib:NAME) instead of --jobs local processes.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def score(folder: Path, out: Path, jobs: int, quiet: bool, scheduler: str | None = None) -> None:
    """Score every photo of DIR (a flat folder) into a CSV.

    \b
    Columns: file, width, height, aspect (long/short side), megapixels,
      sharpness        variance of the Laplacian (low: blurred or flat)
      clutter          edge density (fraction of Canny edge pixels)
      highlights       fraction of pixels clipped white
      shadows          fraction of pixels crushed black
      saliency_peak    spectral-residual saliency concentration (0 spread .. 1 one spot)
      object_contrast  boundary-connectivity saliency, 95th pct (CIELAB units)
      centre_focus     log ratio of detail in the centre vs the sides
      phash            64-bit perceptual hash (hex)
      error            why a file is unusable (empty when fine)
    Scores are measured at 512 px on the long side. Unreadable files, tiny
    images and non-image files get a row with an error; nothing is fatal. An
    interrupted run resumes (progress in OUT.partial.jsonl).
    """
    from siscore.backgrounds.run import score_to_csv

    def go() -> None:
        if jobs < 1:
            fail(f"--jobs {jobs}: must be at least 1")
        from siscore.utils.parallel import scheduling

        with scheduling(scheduler):
            rows = score_to_csv(folder, out, jobs=jobs, progress=not quiet)
        if not quiet:
            bad = [r for r in rows if r.get("error")]
            click.echo(f"scored {len(rows) - len(bad)} photos, {len(bad)} unusable file(s) -> {out}")
            for r in bad:
                click.echo(f"  {r['file']}: {r['error']}")

    _guard(go)


def _threshold(name: str, help_text: str) -> Callable[[Any], Any]:
    """A threshold option; 'off' (or 'none') switches the check off."""
    default = getattr(Thresholds(), name)

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> float | None:
        if value is None or isinstance(value, (int, float)):
            return value
        if str(value).lower() in ("off", "none"):
            return None
        try:
            return float(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a number (or 'off')") from None

    flag = "--" + name.replace("_", "-")
    shown = "off" if default is None else f"{default:g}"
    return click.option(flag, name, type=str, default=shown, callback=convert, show_default=True,
                        metavar="X|off", help=help_text + " 'off' disables the check.")


@backgrounds.command(name="filter", cls=AliasedCommand, aliases={"--min-side": "--min-photo-side"},
                     context_settings={"show_default": True})
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Library folder DIR2 to create or update: kept photos, filter_report.csv, "
                   "audit/contact_sheet.png.")
@click.option("--link", type=click.Choice(["hard", "sym"]), default=None,
              help="Hard- or symbolic-link the kept photos instead of copying them.")
@click.option("--min-photo-side", type=int, default=Thresholds().min_photo_side,
              help="Reject photos whose shorter side is below this (px). The build renders "
                   "500-512 px squares: use 512 to avoid upscaling.")
@_threshold("max_aspect", "Reject photos more elongated than this (long/short side).")
@_threshold("min_sharpness", "Reject blurred or flat photos: Laplacian variance below this.")
@_threshold("max_clutter", "Reject photos with an edge density above this (off by default: textures such as grass score highest).")
@_threshold("max_highlights", "Reject photos with more than this fraction of clipped highlights.")
@_threshold("max_shadows", "Reject photos with more than this fraction of crushed shadows.")
@_threshold("max_object_contrast",
            "Reject photos with a region that a strong contour sets apart from the border "
            "(a prominent object): object_contrast above this.")
@_threshold("max_centre_focus",
            "Reject photos with a detailed subject in the centre of a plain or blurred "
            "surround (portraits, close-ups): centre_focus above this.")
@_threshold("max_saliency_peak", "Reject photos whose spectral-residual saliency is "
            "concentrated in one spot (saliency_peak above this).")
@click.option("--dup-distance", type=int, default=Thresholds().dup_distance,
              help="Drop a photo whose perceptual hash is within this many bits (of 64) of a "
                   "better copy (more pixels, then sharper). -1 disables it.")
@click.option("--model", default=None,
              help="Also reject photos on which this ImageNet classifier is confident of an object "
                   "class (any class but scenery: landscape, plants, flowers, crops, fungi), or "
                   "of a --classes class; e.g. efficientnet_lite0 (built in, offline), resnet50:DEFAULT, "
                   "timm/<name>.<tag> (as in siscore evaluate).")
@click.option("--weights", default=None, help="Weights of --model (as in siscore evaluate).")
@click.option("--checkpoint", type=str, default=None,
              help="State-dict file for --model (as in siscore evaluate).")
@click.option("--classes", default=None,
              help="Only these study classes count for --model: comma-separated labels (e.g. "
                   "'cat,cup') or a foreground folder (its class sub-folders). Default: every "
                   "object class.")
@click.option("--label-map", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV 'label,imagenet_index' extending the built-in label map (for --classes).")
@click.option("--max-prob", type=float, default=MODEL_MAX_PROB, show_default=True,
              help="Reject a photo when --model gives a class more than this probability.")
@click.option("--device", default="auto",
              help="Torch device for --model: auto (cuda, then mps, then cpu), cpu, cuda, mps.")
@click.option("--offline", is_flag=True, help="Never download weights for --model.")
@click.option("--no-sheet", is_flag=True, help="Do not draw the contact sheet.")
@click.option("--per-page", type=int, default=150, help="Photos per contact-sheet page.")
@click.option("--jobs", "-j", type=int, default=1, help="Worker processes for scoring.")
@click.option("--scheduler", type=str, default=None,
              help="Score on a Dask cluster (tcp://host:8786), a local one (local:N) or a "
                   "joblib backend (joblib:NAME) instead of --jobs local processes.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def filter_cmd(folder: Path, out: Path, link: str | None, min_photo_side: int, max_aspect: float | None,
               min_sharpness: float | None, max_clutter: float | None,
               max_highlights: float | None, max_shadows: float | None,
               max_object_contrast: float | None, max_centre_focus: float | None,
               max_saliency_peak: float | None, dup_distance: int, model: str | None, weights: str | None,
               checkpoint: Path | None, classes: str | None, label_map: Path | None,
               max_prob: float, device: str, offline: bool, no_sheet: bool, per_page: int, jobs: int,
               quiet: bool, scheduler: str | None = None) -> None:
    """Keep the photos of DIR that make good backgrounds; copy them into DIR2 (--out).

    Each photo is kept, rejected (with every reason, its number and the option
    that sets it), dropped as a near-duplicate, or reported as bad input
    (unreadable, not an image). DIR2 receives the kept photos, filter_report.csv
    (every file of DIR: decision, reason, scores) and audit/contact_sheet.png.
    Re-running with other thresholds re-scores nothing (cache in DIR2) and
    removes from DIR2 the photos no longer kept.

    \b
    Examples:
      siscore backgrounds filter photos/ --out library/
      siscore backgrounds filter photos/ --out library/ --link hard --max-object-contrast 24
      siscore backgrounds filter photos/ --out library/ --model efficientnet_lite0
      siscore backgrounds filter photos/ --out library/ --model resnet50:DEFAULT \\
          --classes fg/ --max-prob 0.3
    """
    from siscore.backgrounds.run import filter_folder

    def go() -> None:
        if jobs < 1:
            fail(f"--jobs {jobs}: must be at least 1")
        if per_page < 1:
            fail(f"--per-page {per_page}: must be at least 1")
        if model is None and (classes or weights or checkpoint):
            fail("--classes, --weights and --checkpoint go with --model NAME")
        if weights and checkpoint:
            fail("give only one of --weights or --checkpoint")
        thresholds = Thresholds(
            min_photo_side=min_photo_side, max_aspect=max_aspect, min_sharpness=min_sharpness,
            max_clutter=max_clutter, max_highlights=max_highlights, max_shadows=max_shadows,
            max_object_contrast=max_object_contrast, max_centre_focus=max_centre_focus,
            max_saliency_peak=max_saliency_peak, dup_distance=dup_distance)
        judge = None
        if model is not None:
            from siscore.backgrounds.model_check import load_model_check, parse_classes

            judge = load_model_check(model, classes=parse_classes(classes) if classes else None,
                                     weights=weights, checkpoint=checkpoint, label_map=label_map,
                                     max_prob=max_prob, folder=folder, device=device,
                                     progress=not quiet, offline=offline)
        from siscore.utils.parallel import scheduling

        with scheduling(scheduler):
            result = filter_folder(folder, out, thresholds, link=link, model=judge, jobs=jobs,
                                   progress=not quiet, sheet=not no_sheet, per_page=per_page)
        if not quiet:
            click.echo(result.summary())

    _guard(go)
