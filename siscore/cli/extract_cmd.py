"""``siscore extract``: foreground libraries from OpenImages masks, COCO annotations or boxes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from siscore.cli.aliases import AliasedCommand
from siscore.cli.options import DIR as _DIR
from siscore.cli.options import FILE as _FILE
from siscore.cli.options import group, out_option, parallel_options, quiet_option

# old spellings (issue 11: one name per meaning across commands), accepted but not shown
RENAMED = {"--classes": "--class-descriptions", "--min-side": "--min-object-side"}


_common = group(  # options shared by the three sources: output, classes, gates, cleaning, run
    out_option(folder=True, required=True,
               help_text="Library folder to create, resume or add to: OUT/<label>/<ImageID>_<BoxID>.png, "
                         "OUT/foregrounds.csv, OUT/extract_report.csv, OUT/label_map.csv."),
    click.option("--label-map", type=_FILE,
                 help="CSV 'label,imagenet_index' extending/overriding the built-in label map "
                      "(same format as `siscore build --label-map`). For COCO it may also have a "
                      "coco_name column (COCO category -> label)."),
    click.option("--classes-only", "classes_only", multiple=True, metavar="LABEL,...",
                 help="Extract only these classes (display names, labels, MIDs or COCO names; "
                      "comma-separated, repeatable)."),
    click.option("--limit", type=int, default=None,
                 help="Stop after this many candidate objects (of the wanted classes)."),
    click.option("--min-pixels", type=int, default=2500, help="Gate: fewest object pixels."),
    click.option("--min-object-side", type=int, default=32,
                 help="Gate: shortest side (px) of the object's bounding box."),
    click.option("--min-box-fill", type=float, default=0.2,
                 help="Gate: least fraction of the annotated box covered by the mask."),
    click.option("--max-components", type=int, default=1,
                 help="Gate: most large connected components (large = at least "
                      "--component-frac of the largest)."),
    click.option("--component-frac", type=float, default=0.1,
                 help="A component smaller than this fraction of the largest is an island "
                      "(islands are removed from the cut-out)."),
    click.option("--max-island-frac", type=float, default=0.02,
                 help="Gate: most of the mask area that islands may cover (noisy masks)."),
    click.option("--keep-border", is_flag=True,
                 help="Keep objects whose mask or box touches the image border "
                      "(dropped by default as truncated)."),
    click.option("--border-px", type=int, default=1,
                 help="'Touches the border' means within this many pixels of it."),
    click.option("--no-fill-holes", is_flag=True, help="Do not fill holes in the mask."),
    click.option("--max-hole-frac", type=float, default=0.005,
                 help="Fill only holes up to this fraction of the object area (keeps real "
                      "holes such as a cup handle's)."),
    click.option("--erode", "erode_px", type=int, default=0,
                 help="Erode the mask by this many pixels (1 drops the background-coloured halo)."),
    click.option("--feather", "feather_px", type=float, default=0.0,
                 help="Soften the alpha edge inwards over this many pixels."),
    parallel_options(),
    quiet_option,
)


def _gates_cleaning(kw: dict[str, Any], min_predicted_iou: float = 0.0) -> tuple[Any, Any]:
    from siscore.extract import Cleaning, Gates

    gates = Gates(min_predicted_iou=min_predicted_iou, min_pixels=kw.pop("min_pixels"),
                  min_object_side=kw.pop("min_object_side"), min_box_fill=kw.pop("min_box_fill"),
                  max_components=kw.pop("max_components"), component_frac=kw.pop("component_frac"),
                  max_island_frac=kw.pop("max_island_frac"), drop_border=not kw.pop("keep_border"),
                  border_px=kw.pop("border_px"))
    cleaning = Cleaning(fill_holes=not kw.pop("no_fill_holes"), max_hole_frac=kw.pop("max_hole_frac"),
                        erode_px=kw.pop("erode_px"), feather_px=kw.pop("feather_px"))
    return gates, cleaning


def _run(call: Callable[..., Any], kw: dict[str, Any], min_predicted_iou: float = 0.0) -> None:
    """Build the options, run ``call`` and print the summary (errors: cli/__init__.py)."""
    from siscore.utils.parallel import scheduling

    gates, cleaning = _gates_cleaning(kw, min_predicted_iou)
    quiet = kw.pop("quiet")
    with scheduling(kw.pop("scheduler")):
        result = call(gates=gates, cleaning=cleaning, progress=not quiet, **kw)
    if not quiet:
        click.echo(result.summary())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def extract() -> None:
    """Build a foreground library (for `siscore build --foregrounds`) from annotations.

    \b
    Sources:
      openimages  OpenImages V5-V7 segmentation masks (folder or the 16 zips)
      coco        COCO instance annotations (polygons, RLE) via pycocotools
      boxes       boxes without masks, segmented with OpenCV GrabCut

    Every candidate object is listed in OUT/extract_report.csv, kept or dropped
    with the reason; counts per reason and per class are printed. Runs are
    parallel (--jobs), resumable (run the same command again) and deterministic.
    """


@extract.command(cls=AliasedCommand, aliases=RENAMED, context_settings={"show_default": True})
@click.option("--segmentation", required=True, type=_FILE,
              help="{split}-annotations-object-segmentation.csv (streamed; millions of rows are fine).")
@click.option("--boxes", required=True, type=_FILE,
              help="The box CSV of the same split (for the IsOccluded/IsTruncated/... flags).")
@click.option("--class-descriptions", required=True, type=_FILE,
              help="class-descriptions-boxable.csv (V5 without header or V6/V7 with one).")
@click.option("--images", required=True, type=_DIR, help="Folder of {ImageID}.jpg.")
@click.option("--masks", required=True, type=click.Path(path_type=Path),
              help="Folder of mask PNGs, folder of the {split}-masks-{0..f}.zip files, or one zip.")
@click.option("--image-info", type=_FILE,
              help="OpenImages image-id table (…-images-with-rotation.csv): adds author, licence, "
                   "URL and title to foregrounds.csv.")
@click.option("--min-predicted-iou", type=float, default=0.5,
              help="Gate: least PredictedIoU (rows with an empty PredictedIoU pass).")
@click.option("--keep-unknown-flags", is_flag=True,
              help="Keep objects whose flags are -1 (unknown); dropped by default.")
@click.option("--box-tol", type=float, default=1e-6,
              help="Largest coordinate difference when joining a mask to its box.")
@click.option("--size-tol", type=float, default=0.01,
              help="Largest relative difference of mask and image aspect ratios.")
@_common
def openimages(min_predicted_iou: float, **kw: Any) -> None:
    """Cut out OpenImages objects with their segmentation masks.

    Joins each mask to its box, drops occluded, truncated, group-of and
    depiction objects, keeps classes with an ImageNet-1k index, applies the
    quality gates and writes tightly cropped RGBA PNGs.

    \b
    Example:
      siscore extract openimages --segmentation validation-annotations-object-segmentation.csv \\
        --boxes validation-annotations-bbox.csv --class-descriptions class-descriptions-boxable.csv \\
        --images validation/ --masks masks/ --out fg/ --jobs 4
    """
    from siscore.extract import extract_openimages

    _run(functools.partial(extract_openimages, kw.pop("segmentation"), kw.pop("boxes"),
                           kw.pop("class_descriptions"), kw.pop("images"), kw.pop("masks"), kw.pop("out")),
         kw, min_predicted_iou)


@extract.command(cls=AliasedCommand, aliases=RENAMED, context_settings={"show_default": True})
@click.option("--annotations", required=True, type=_FILE, help="COCO instances JSON (e.g. instances_val2017.json).")
@click.option("--images", required=True, type=_DIR, help="Folder of the images (file_name of each entry).")
@_common
def coco(**kw: Any) -> None:
    """Cut out COCO objects (polygons, RLE, uncompressed RLE) with pycocotools.

    iscrowd annotations are dropped as groups and objects touching the image
    border as truncated; categories map to ImageNet-1k through the shipped COCO
    map (siscore/data/coco_label_map.csv) or --label-map.

    \b
    Example:
      siscore extract coco --annotations instances_val2017.json --images val2017/ --out fg/
    """
    from siscore.extract import extract_coco

    _run(functools.partial(extract_coco, kw.pop("annotations"), kw.pop("images"), kw.pop("out")), kw)


@extract.command(cls=AliasedCommand, aliases=RENAMED, context_settings={"show_default": True})
@click.option("--boxes", required=True, type=_FILE,
              help="Box CSV in the OpenImages format (ImageID,LabelName,XMin,XMax,YMin,YMax[,flags]).")
@click.option("--images", required=True, type=_DIR, help="Folder of {ImageID}.jpg.")
@click.option("--class-descriptions", type=_FILE,
              help="class-descriptions-boxable.csv; without it LabelName is the class name itself.")
@click.option("--image-info", type=_FILE, help="OpenImages image-id table (author, licence, URL).")
@click.option("--keep-unknown-flags", is_flag=True, help="Keep boxes whose flags are -1 (unknown).")
@click.option("--grabcut-iters", type=int, default=5, help="GrabCut iterations per box.")
@_common
def boxes(**kw: Any) -> None:
    """Segment boxes without masks with OpenCV GrabCut, then gate and cut out as above.

    GrabCut masks are less exact than annotated ones: check the report's box_fill
    and components columns, and raise --min-box-fill if needed.

    \b
    Example:
      siscore extract boxes --boxes validation-annotations-bbox.csv \\
        --class-descriptions class-descriptions-boxable.csv --images validation/ --out fg-grabcut/
    """
    from siscore.extract import extract_boxes

    _run(functools.partial(extract_boxes, kw.pop("boxes"), kw.pop("images"), kw.pop("out")), kw)
