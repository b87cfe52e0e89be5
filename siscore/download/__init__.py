"""Fetching the official SI-SCORE data from its public S3 bucket (``siscore download``).

The bucket ``si-score-dataset`` holds the asset folders ``foregrounds/`` (614
cut-outs in class folders) and ``backgrounds/`` (867 photographs), the subset
zips ``size.zip``, ``location.zip`` and ``rotation.zip`` (they unpack to
``area/``, ``location20_area02_min0pc/`` and ``rotation/``), the small
``object_{size,location,rotation}_mini.zip``, and the unpacked subsets as
loose files under ``object_size/``, ``object_location/`` and
``object_rotation/``. Requests are anonymous; ``endpoint_url`` points at a mirror.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from siscore.download.fetch import fetch_objects, plan
from siscore.download.folder import check_out, folder_lock, make_out
from siscore.download.s3 import (
    DownloadError,
    S3Object,
    Summary,
    head_object,
    list_objects,
    make_client,
)
from siscore.download.unzip import Extracted, extract_zip
from siscore.formats.official import EXPECTED_ASSETS, EXPECTED_IMAGES

BUCKET = "si-score-dataset"
SUBSETS = ("size", "location", "rotation")
ASSET_KINDS = ("foregrounds", "backgrounds")

__all__ = ["BUCKET", "DownloadError", "DownloadResult", "Summary", "download_assets",
           "download_subset", "subset_zip_key"]


@dataclass
class DownloadResult:
    """What a download did, and where the data is now."""

    summary: Summary
    paths: list[Path] = field(default_factory=list)  # asset folders, or the dataset (folder or zip)
    refused: list[tuple[str, str]] = field(default_factory=list)  # zip members not extracted

    @property
    def ok(self) -> bool:
        return not self.summary.failed


def subset_zip_key(subset: str, mini: bool = False) -> str:
    """The official zip name of a subset: ``size.zip`` or ``object_size_mini.zip``."""
    if subset not in SUBSETS:
        raise DownloadError(f"subset {subset!r}: choose one of {', '.join(SUBSETS)}")
    return f"object_{subset}_mini.zip" if mini else f"{subset}.zip"


def _find_zip(client, bucket: str, subset: str, mini: bool) -> S3Object:
    name = subset_zip_key(subset, mini)
    for key in (name, f"object_{subset}/{name}"):
        obj = head_object(client, bucket, key)
        if obj is not None:
            return obj
    raise DownloadError(f"s3://{bucket}/{name}: no such object (nor object_{subset}/{name}); "
                        "the bucket's layout changed or --endpoint-url/--bucket point elsewhere")


def download_assets(out: str | Path, kinds: tuple[str, ...] = ASSET_KINDS, *,
                    endpoint_url: str | None = None, bucket: str = BUCKET, jobs: int = 8,
                    progress: bool | None = None) -> DownloadResult:
    """Fetch ``foregrounds/`` and ``backgrounds/`` into ``out`` as they are in the bucket.
    Every key of every kind is checked before anything is written."""
    out = Path(out)
    for kind in kinds:
        if kind not in ASSET_KINDS:
            raise DownloadError(f"asset kind {kind!r}: choose foregrounds or backgrounds")
    check_out(out)
    client = make_client(endpoint_url, jobs)
    listings = {}
    for kind in kinds:
        objects = list_objects(client, bucket, f"{kind}/")
        if not objects:
            raise DownloadError(f"s3://{bucket}/{kind}/ is empty or absent; check --endpoint-url")
        plan(bucket, objects, out, _key, kind)
        listings[kind] = objects
    make_out(out)
    summary = Summary()
    with folder_lock(out):
        for kind, objects in listings.items():
            summary.merge(fetch_objects(client, bucket, objects, out, _key, folder=kind,
                                        workers=jobs, progress=progress, desc=kind))
    for kind, objects in listings.items():
        images = sum(o.key.lower().endswith((".png", ".jpg", ".jpeg", ".webp")) for o in objects)
        if endpoint_url is None and images != EXPECTED_ASSETS[kind]:
            summary.notes.append(f"note: {kind}: {images} images in the bucket, the paper "
                                 f"used {EXPECTED_ASSETS[kind]}")
    return DownloadResult(summary, [out / kind for kind in kinds])


def _key(obj: S3Object) -> str:
    return obj.key


def download_subset(subset: str, out: str | Path, *, mini: bool = False, extract: bool = True,
                    loose: bool = False, endpoint_url: str | None = None, bucket: str = BUCKET,
                    jobs: int = 8, progress: bool | None = None) -> DownloadResult:
    """Fetch a prebuilt subset into ``out``: its zip (extracted unless ``extract`` is
    False: every command reads the zip in place), or with ``loose`` the unpacked files
    under ``object_<subset>/``."""
    out = Path(out)
    if loose and mini:
        raise DownloadError("--mini comes as a zip only; drop --loose (or --mini)")
    subset_zip_key(subset, mini)  # a known subset
    check_out(out)
    client = make_client(endpoint_url, jobs)
    if loose:
        prefix = f"object_{subset}/"
        objects = list_objects(client, bucket, prefix)
        if not objects:
            raise DownloadError(f"s3://{bucket}/{prefix} is empty or absent")
        plan(bucket, objects, out, _key, prefix.rstrip("/"))
        make_out(out)
        with folder_lock(out):
            summary = fetch_objects(client, bucket, objects, out, _key,
                                    folder=prefix.rstrip("/"), workers=jobs, progress=progress,
                                    desc=prefix.rstrip("/"))
        return _located(DownloadResult(summary, [out / prefix.rstrip("/")]), subset, mini, False)
    obj = _find_zip(client, bucket, subset, mini)
    name = obj.key.rsplit("/", 1)[-1]
    plan(bucket, [obj], out, lambda o: name)
    make_out(out)
    with folder_lock(out):
        summary = fetch_objects(client, bucket, [obj], out, lambda o: name, workers=jobs,
                                progress=progress, desc=name)
        result = DownloadResult(summary, [out / name])
        if summary.failed:
            return result
        if extract:
            done: Extracted = extract_zip(out / name, out, progress)
            result.refused = done.refused
            summary.notes.append(f"unzipped {name}: {done.written} file(s) written, {done.kept} "
                                 "already there")
            for member, reason in done.refused:
                summary.notes.append(f"refused zip member {member!r} ({reason}): not extracted")
    return _located(result, subset, mini, extract)


def _located(result: DownloadResult, subset: str, mini: bool, unzipped: bool) -> DownloadResult:
    """``result`` with its path set to the dataset found in the download (and a note)."""
    from siscore.formats.datastore import DatasetError, locate_dataset

    summary, out = result.summary, result.paths[0].parent
    try:
        found = locate_dataset(result.paths[0])
    except DatasetError as exc:
        summary.notes.append(f"note: no dataset folder found in the download ({exc})")
        return result
    if unzipped:  # the folder the zip unpacked to: OUT/<its folder in the zip>
        prefix = found.store.prefix.rstrip("/")
        result.paths = [out / prefix if prefix else out]
    else:
        result.paths = [found.display]
    if not mini and found.images is not None and found.images != EXPECTED_IMAGES[subset]:
        summary.notes.append(f"note: {found.display} lists {found.images} images; the paper "
                             f"published {EXPECTED_IMAGES[subset]}")
    return result
