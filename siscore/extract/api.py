"""The library API behind ``siscore extract``: one function per source."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from siscore.extract.boxes import boxes_candidates
from siscore.extract.coco import coco_candidates
from siscore.extract.gates import Gates
from siscore.extract.masks import Cleaning, MaskSource
from siscore.extract.openimages import openimages_candidates
from siscore.extract.records import ExtractError
from siscore.extract.report import ExtractResult
from siscore.extract.run import run as _run_all
from siscore.extract.tables import read_image_info
from siscore.extract.worker import Context
from siscore.extract.writer import discard_temp, write_error


def run(source: str, cands: list, aggregates: list, notes: list[str], ctx: Context, *,
        jobs: int, progress: bool) -> ExtractResult:
    """:func:`siscore.extract.run.run`; a failed write (disk full, read-only) is one ExtractError."""
    try:
        return _run_all(source, cands, aggregates, notes, ctx, jobs=jobs, progress=progress)
    except OSError as exc:
        discard_temp(ctx.out)
        raise write_error(ctx.out, exc) from None


def _check_dir(path: str | Path, option: str) -> None:
    if not Path(path).is_dir():
        raise ExtractError(f"{option} {path}: folder not found")


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise ExtractError(f"--limit {limit}: must be at least 1")


def _attach_info(cands: list, image_info: str | Path | None, notes: list[str]) -> None:
    if image_info is None:
        return
    info, info_notes = read_image_info(image_info, {c.image_id for c in cands if not c.reason})
    notes += info_notes
    for c in cands:
        c.info = info.get(c.image_id, {})


def extract_openimages(segmentation: str | Path, boxes: str | Path, class_descriptions: str | Path,
                       images: str | Path, masks: str | Path, out: str | Path, *,
                       label_map: str | Path | None = None, image_info: str | Path | None = None,
                       classes_only: Iterable[str] | None = None, limit: int | None = None,
                       gates: Gates | None = None, cleaning: Cleaning | None = None,
                       box_tol: float = 1e-6, size_tol: float = 0.01,
                       keep_unknown_flags: bool = False, jobs: int = 1,
                       progress: bool = True) -> ExtractResult:
    """Cut the objects of an OpenImages split (V5-V7 files) out into a foreground library.

    ``masks`` is the folder of mask PNGs, the folder of the 16 ``*-masks-*.zip``
    files, or one zip. See ``docs/extract.md`` for the gates and the outputs.
    """
    gates, cleaning = gates or Gates(), cleaning or Cleaning()
    _check_limit(limit)
    _check_dir(images, "--images")
    source = MaskSource(masks)
    cands, aggregates, notes = openimages_candidates(
        segmentation, boxes, class_descriptions, label_map=label_map, classes_only=classes_only,
        limit=limit,
        box_tol=box_tol, keep_unknown_flags=keep_unknown_flags,
        min_predicted_iou=gates.min_predicted_iou)
    _attach_info(cands, image_info, notes)
    ctx = Context(str(out), str(images), source, gates, cleaning, size_tol=size_tol)
    return run("openimages", cands, aggregates, notes, ctx, jobs=jobs, progress=progress)


def extract_coco(annotations: str | Path, images: str | Path, out: str | Path, *,
                 label_map: str | Path | None = None, classes_only: Iterable[str] | None = None,
                 limit: int | None = None, gates: Gates | None = None,
                 cleaning: Cleaning | None = None, jobs: int = 1,
                 progress: bool = True) -> ExtractResult:
    """Cut the objects of a COCO instances file out into a foreground library (pycocotools)."""
    gates, cleaning = gates or Gates(), cleaning or Cleaning()
    _check_limit(limit)
    _check_dir(images, "--images")
    cands, aggregates, notes = coco_candidates(annotations, label_map=label_map,
                                               classes_only=classes_only, limit=limit)
    ctx = Context(str(out), str(images), None, gates, cleaning)
    return run("coco", cands, aggregates, notes, ctx, jobs=jobs, progress=progress)


def extract_boxes(boxes: str | Path, images: str | Path, out: str | Path, *,
                  class_descriptions: str | Path | None = None, label_map: str | Path | None = None,
                  image_info: str | Path | None = None, classes_only: Iterable[str] | None = None,
                  limit: int | None = None, gates: Gates | None = None,
                  cleaning: Cleaning | None = None, keep_unknown_flags: bool = False,
                  grabcut_iters: int = 5, jobs: int = 1, progress: bool = True) -> ExtractResult:
    """Segment boxes without masks with GrabCut and cut them out into a foreground library."""
    gates, cleaning = gates or Gates(), cleaning or Cleaning()
    _check_limit(limit)
    _check_dir(images, "--images")
    if grabcut_iters < 1:
        raise ExtractError(f"--grabcut-iters {grabcut_iters}: must be at least 1")
    cands, aggregates, notes = boxes_candidates(boxes, class_descriptions, label_map=label_map,
                                                classes_only=classes_only, limit=limit,
                                                keep_unknown_flags=keep_unknown_flags)
    _attach_info(cands, image_info, notes)
    ctx = Context(str(out), str(images), None, gates, cleaning, grabcut_iters=grabcut_iters)
    return run("boxes", cands, aggregates, notes, ctx, jobs=jobs, progress=progress)
