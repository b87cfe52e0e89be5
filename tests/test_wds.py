"""``--format webdataset``: tar shards read back with the webdataset library, image by image
equal to a folder build; deterministic, resumable by shard; evaluate and score read them."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore import Grid, build
from siscore.cli import main
from siscore.formats.wds import INDEX, read_index, shard_urls
from tests.test_build import library, read_rows, tree_digest  # noqa: F401 - fixture re-used
from tests.tiny_model import TinyNet, to_tensor

webdataset = pytest.importorskip("webdataset")

GRID = Grid(location=[(0.2, 0.3), (0.7, 0.6), (0.5, 0.5)], area=[0.1, 0.3], resolution=[(96, 96)])


@pytest.fixture(scope="module")
def built(library, tmp_path_factory) -> tuple[Path, Path]:  # noqa: F811
    fg, bg = library
    root = tmp_path_factory.mktemp("wds")
    build(GRID, root / "folder", foregrounds=fg, backgrounds=bg, jobs=1, progress=False)
    build(GRID, root / "wds", foregrounds=fg, backgrounds=bg, fmt="webdataset", jobs=2, progress=False)
    return root / "folder", root / "wds"


def test_webdataset_library_reads_the_folder_build_image_by_image(built) -> None:
    folder, shards = built
    rows = {int(r["image_id"]): r for r in read_rows(folder / "metadata.csv")}
    dataset = webdataset.WebDataset(shard_urls(shards), shardshuffle=False)
    seen = set()
    for sample in dataset:
        meta = json.loads(sample["json"])
        image_id = int(sample["__key__"])
        assert meta["image_id"] == image_id and image_id not in seen
        seen.add(image_id)
        on_disk = folder / meta["label"] / f"{image_id}.jpg"
        assert sample["jpg"] == on_disk.read_bytes()  # the same encoded bytes, hence pixels
        row = rows[image_id]
        assert {k: str(meta[k]) for k in row} == row
        assert meta["imagenet"] and all(isinstance(i, int) for i in meta["imagenet"])
    assert seen == set(rows)
    # the same index files as the folder build, and no class folders
    for name in ("metadata.csv", "foreground_classes.csv", "label_map.csv", "backgrounds.csv"):
        assert (shards / name).read_bytes() == (folder / name).read_bytes()
    assert sorted(p.name for p in shards.iterdir() if p.is_dir()) == ["shards"]
    index = read_index(shards)
    assert sorted(index) == sorted(rows)


def test_shards_have_fixed_headers_and_do_not_depend_on_the_engine(built, library, tmp_path) -> None:  # noqa: F811
    _, shards = built
    for url in shard_urls(shards):
        with tarfile.open(url) as tar:
            members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" and m.mode == 0o644
                   for m in members)
    fg, bg = library
    one = tmp_path / "one"
    build(GRID, one, foregrounds=fg, backgrounds=bg, fmt="webdataset", jobs=1, progress=False)
    threads = tmp_path / "threads"
    build(GRID, threads, foregrounds=fg, backgrounds=bg, fmt="webdataset", jobs=2,
          scheduler="joblib:threading", progress=False)
    assert tree_digest(one) == tree_digest(shards) == tree_digest(threads)


def test_resumes_shard_by_shard(built, library, tmp_path) -> None:  # noqa: F811
    fg, bg = library
    out = tmp_path / "ds"
    first = build(GRID, out, foregrounds=fg, backgrounds=bg, fmt="webdataset", shard="0/2", progress=False)
    assert not first.complete and not (out / INDEX).exists()
    done = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("*.tar")}
    assert done
    second = build(GRID, out, foregrounds=fg, backgrounds=bg, fmt="webdataset", jobs=2, progress=False)
    assert second.complete and second.reused == first.written
    assert all((out / "shards" / n).stat().st_mtime_ns == t for n, t in done.items())  # not redone
    assert tree_digest(out) == tree_digest(built[1])


def test_siscore_dataset_reads_a_webdataset_build_as_the_folder_build(built, tmp_path) -> None:
    import zipfile

    import numpy as np
    import torch

    from siscore.evaluate import SIScoreDataset, WebDatasetImages

    folder, shards = built
    a, b = SIScoreDataset(folder), SIScoreDataset(shards)
    assert isinstance(b.source, WebDatasetImages)
    assert len(a) == len(b) == 48 and a.image_ids == b.image_ids and a.targets == b.targets
    assert a.valid_indices == b.valid_indices and a.class_valid_indices == b.class_valid_indices
    for i in (0, 17, 47):
        assert np.array_equal(np.asarray(a[i][0]), np.asarray(b[i][0])) and a[i][1] == b[i][1]
    # a webdataset build zipped is read in place too, through the DataLoader's worker processes
    zipped = tmp_path / "wds.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as z:
        for p in sorted(shards.rglob("*")):
            z.write(p, f"location/{p.relative_to(shards).as_posix()}")
    c = SIScoreDataset(zipped, transform=lambda im: torch.from_numpy(np.asarray(im).copy()))
    loader = torch.utils.data.DataLoader(c, batch_size=48, num_workers=1)
    images, targets = next(iter(loader))
    assert targets.tolist() == a.targets
    assert torch.equal(images[17], torch.from_numpy(np.asarray(a[17][0]).copy()))


@pytest.mark.parametrize(("row", "message"), [
    ("{id},../../../etc/hostname,0,10", "shard '../../../etc/hostname' climbs out with '..', "
     "outside the dataset"),
    ("{id},/etc/hostname,0,10", "shard '/etc/hostname' is an absolute path, outside the dataset"),
    ("{id},shards/0000000.tar,-5,10", "offset = '-5' is not a whole number in 0..2**53-1"),
    ("{id},shards/0000000.tar,1.5,10", "offset = '1.5' is not a whole number in 0..2**53-1"),
    ("{id},shards/0000000.tar,0", "3 fields, expected image_id,shard,offset,size"),
])
def test_a_shard_index_that_reaches_out_is_refused_naming_the_row(built, tmp_path, row, message
                                                                  ) -> None:
    import shutil

    from siscore.evaluate import evaluate
    from siscore.formats.dataset import DatasetError

    copy = tmp_path / "copy"
    shutil.copytree(built[1], copy)
    lines = (copy / INDEX).read_text().splitlines()
    first = lines[1].split(",")[0]
    lines[2] = row.format(id=first)  # row 3 of the file now claims an image elsewhere
    (copy / INDEX).write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(DatasetError) as info:
        evaluate(TinyNet(), to_tensor, copy, tmp_path / "p.csv", name="tiny", progress=False)
    assert str(info.value) == f"{copy / INDEX}, row 3: {message}; " + (
        "this dataset is damaged or hostile, do not use it" if "outside" in message
        else "rebuild the dataset")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_evaluate_and_score_read_shards_as_a_folder(built, tmp_path) -> None:
    from siscore.evaluate import evaluate

    folder, shards = built
    a = evaluate(TinyNet(), to_tensor, folder, tmp_path / "folder.csv", name="tiny", progress=False)
    b = evaluate(TinyNet(), to_tensor, shards, tmp_path / "wds.csv", name="tiny", progress=False,
                 workers=1)
    assert a.complete and b.complete
    assert a.predictions.equals(b.predictions)
    outs = []
    for name, root in (("folder", folder), ("wds", shards)):
        res = CliRunner().invoke(main, ["score", "--dataset", str(root), "-p", str(tmp_path / f"{name}.csv"),
                                        "--out", str(tmp_path / f"scores_{name}.csv"), "--bootstrap", "100"])
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / f"scores_{name}.csv").read_text())
    assert outs[0] == outs[1]


def test_a_lost_shard_is_named(built, tmp_path) -> None:
    import shutil

    from siscore.evaluate import evaluate

    copy = tmp_path / "copy"
    shutil.copytree(built[1], copy)
    victim = sorted((copy / "shards").glob("*.tar"))[0]
    victim.unlink()
    with pytest.raises(ValueError, match=victim.name):
        evaluate(TinyNet(), to_tensor, copy, progress=False)
