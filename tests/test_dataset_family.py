"""One Dataset family: a folder, a zip, a webdataset build and a grid rendered on the fly are
read by the readers of siscore.evaluate.data, and SIScoreDataset gives the same (image,
target) pairs from each; the fingerprints that key the predictions cache are unchanged."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from siscore import Grid, build
from siscore.evaluate.data import (
    FolderDataset,
    ImageSource,
    RenderedDataset,
    SIScoreDataset,
    WebDatasetImages,
    as_dataset,
)
from tests.test_build import library  # noqa: F401 - fixture re-used

GRID = Grid(location=[(0.3, 0.5), (0.6, 0.4)], area=[0.2], resolution=[(40, 40)])


@pytest.fixture(scope="module")
def forms(library, tmp_path_factory) -> dict[str, object]:  # noqa: F811
    fg, bg = library
    root = tmp_path_factory.mktemp("family")
    build(GRID, root / "folder", foregrounds=fg, backgrounds=bg, progress=False)
    build(GRID, root / "wds", foregrounds=fg, backgrounds=bg, fmt="webdataset", progress=False)
    zipped = root / "folder.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for p in sorted((root / "folder").rglob("*")):
            z.write(p, f"location/{p.relative_to(root / 'folder').as_posix()}")
    return {"folder": root / "folder", "zip": zipped, "wds": root / "wds",
            "rendered": RenderedDataset.from_grid(GRID, foregrounds=fg, backgrounds=bg)}


def test_every_form_gives_the_same_images_and_targets(forms) -> None:
    readers = {"folder": FolderDataset, "zip": FolderDataset, "wds": WebDatasetImages,
               "rendered": RenderedDataset}
    sets = {name: SIScoreDataset(form) for name, form in forms.items()}
    for name, ds in sets.items():
        assert type(ds.source) is readers[name] and isinstance(ds.source, ImageSource)
    folder = sets["folder"]
    rendered = sets["rendered"]
    assert len(folder) == 16 and sorted(rendered.image_ids) == folder.image_ids
    order = {image_id: i for i, image_id in enumerate(folder.image_ids)}
    for name, ds in sets.items():
        for i in (0, 7, 15):
            j = order[ds.image_ids[i]]
            image, target = ds[i]
            assert target == folder.targets[j] and ds.valid_indices[i] == folder.valid_indices[j]
            assert np.array_equal(np.asarray(image), np.asarray(folder[j][0])), (name, i)
        assert ds.class_valid_indices.items() >= {
            k: v for k, v in folder.class_valid_indices.items() if k in set(ds.source.labels)}.items()
    assert rendered.metadata is None and folder.metadata is not None


def test_readers_keep_their_fingerprints(forms) -> None:
    """The predictions cache compares fingerprints: their kinds and fields stay as they were."""
    folder, wds = as_dataset(forms["folder"]), as_dataset(forms["wds"])
    assert set(folder.fingerprint()) == {"kind", "metadata_sha256", "spec_sha256", "label_map_sha256"}
    assert folder.fingerprint()["kind"] == "folder" and wds.fingerprint()["kind"] == "webdataset"
    assert forms["rendered"].fingerprint()["kind"] == "rendered"
    assert as_dataset(SIScoreDataset(forms["wds"])).fingerprint() == wds.fingerprint()


def test_rendered_on_the_fly_through_siscore_dataset(library) -> None:  # noqa: F811
    fg, bg = library
    ds = SIScoreDataset.rendered(GRID, foregrounds=fg, backgrounds=bg, fmt="png")
    image, target = ds[3]
    assert image.size == (40, 40) and target == ds.targets[3] and len(ds) == 16
    assert isinstance(ds.source, RenderedDataset) and ds.source.fmt == "png"
    assert SIScoreDataset.from_grid is not None  # the alias of rendered()


def test_unknown_dataset_path_is_one_line(tmp_path: Path) -> None:
    from siscore.formats.dataset import DatasetError

    with pytest.raises(DatasetError, match="not a folder or a zip file"):
        SIScoreDataset(tmp_path / "nowhere")


def test_a_size_in_shards_csv_beyond_the_shard_is_truncated_not_a_memory_error(forms, tmp_path: Path) -> None:
    """A hostile shards.csv claims a 1 PiB image: the reader reads what the shard holds."""
    import shutil

    from siscore.evaluate.data import ImageReadError

    root = tmp_path / "wds"
    shutil.copytree(forms["wds"], root)
    index = root / "shards.csv"
    lines = index.read_text().splitlines()
    image_id, shard, offset, _ = lines[1].split(",")
    lines[1] = ",".join([image_id, shard, offset, str(2**50)])
    index.write_text("\n".join(lines) + "\n")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    images = WebDatasetImages(root)
    with pytest.raises(ImageReadError) as info:
        images.load(images.image_ids.index(int(image_id)))
    assert str(info.value) == (f"{root / shard}: image {image_id}: the shard ends before the image "
                               "does (truncated); rebuild the dataset")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
