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
