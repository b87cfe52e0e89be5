"""End-to-end builds: layout, counts, determinism, shards, ImageFolder, dataset.json."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore import Grid, build
from siscore.cli import main
from siscore.formats.labels import builtin_label_map
from siscore.generate.assets import embedded_assets
from siscore.generate.factors import SUBSETS
from siscore.generate.geometry import place

SMALL = Grid(location=[(x, y) for x in (0.0, 0.5, 1.0) for y in (0.25, 0.75)], area=[0.1, 0.3],
             resolution=[(96, 96)])


@pytest.fixture(scope="session")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """3 classes (4 cut-outs) and 3 backgrounds copied from the embedded assets."""
    root = tmp_path_factory.mktemp("lib")
    src_fg, src_bg = embedded_assets()
    classes = sorted(p for p in src_fg.iterdir() if p.is_dir())[:3]
    for c in classes:
        shutil.copytree(c, root / "fg" / c.name)
    (root / "bg").mkdir()
    for p in sorted(src_bg.glob("*.jpg"))[:3]:
        shutil.copy(p, root / "bg" / p.name)
    return root / "fg", root / "bg"


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (dataset.json excluded: it names no time, but
    holds the asset paths' relative names only, checked separately)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_embedded_assets_are_all_mapped() -> None:
    fg, bg = embedded_assets()
    labels = builtin_label_map()
    classes = [p.name for p in fg.iterdir() if p.is_dir()]
    assert len(classes) >= 5 and len(list(bg.glob("*.jpg"))) >= 6
    assert all(labels.get(c) for c in classes), [c for c in classes if not labels.get(c)]


def test_build_layout_and_metadata(library, tmp_path) -> None:
    fg, bg = library
    out = tmp_path / "ds"
    result = build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False)
    assert result.complete and result.written == result.kept == 6 * 2 * 4 * 2
    rows = read_rows(out / "metadata.csv")
    assert list(rows[0]) == [
        "image_id", "x_coord", "y_coord", "area", "rotation", "foreground_class",
        "foreground_instance", "background", "bg_resolution_width", "bg_resolution_height",
        "pct_inside_image", "pct_object_visible",
    ]
    assert [int(r["image_id"]) for r in rows] == list(range(len(rows)))
    classes = [r["label"] for r in read_rows(out / "foreground_classes_metadata_indices.csv")]
    assert classes == sorted(p.name for p in fg.iterdir())
    for r in rows:
        assert (out / classes[int(r["foreground_class"])] / f"{r['image_id']}.jpg").is_file()
        assert r["area"] in ("0.1", "0.3") and r["x_coord"] in ("0.0", "0.5", "1.0")
        assert 0.0 <= float(r["pct_object_visible"]) <= 1.0
    edge = [r for r in rows if r["x_coord"] == "0.0"]
    assert all(float(r["pct_inside_image"]) < 0.6 for r in edge)
    imagenet = read_rows(out / "foreground_classes.csv")
    assert [int(r["int"]) for r in imagenet] == [builtin_label_map()[c][0] for c in classes]
    assert [r["label"] for r in read_rows(out / "backgrounds.csv")] == sorted(p.name for p in bg.iterdir())
    info = json.loads((out / "dataset.json").read_text())
    assert info["counts"]["images"] == len(rows) and info["spec"]["seed"] == 0
    assert set(info["spec"]["foregrounds"]) == {f"{p.parent.name}/{p.name}" for p in fg.glob("*/*.png")}
    assert {"numpy", "pillow", "python", "siscore"} <= set(info["packages"])
    assert not (out / ".siscore").exists()


def test_imagefolder_loads_the_dataset(library, tmp_path) -> None:
    torchvision = pytest.importorskip("torchvision")
    fg, bg = library
    build(SMALL, tmp_path / "ds", foregrounds=fg, backgrounds=bg, progress=False)
    ds = torchvision.datasets.ImageFolder(str(tmp_path / "ds"))
    assert len(ds) == 96 and ds.classes == sorted(p.name for p in fg.iterdir())
    img, target = ds[0]
    assert img.size == (96, 96) and target == 0


def test_same_bytes_whatever_jobs(library, tmp_path) -> None:
    fg, bg = library
    build(SMALL, tmp_path / "j1", foregrounds=fg, backgrounds=bg, jobs=1, progress=False, seed=3)
    build(SMALL, tmp_path / "j2", foregrounds=fg, backgrounds=bg, jobs=2, progress=False, seed=3)
    assert tree_digest(tmp_path / "j1") == tree_digest(tmp_path / "j2")
    other = build(SMALL, tmp_path / "s4", foregrounds=fg, backgrounds=bg, progress=False, seed=4)
    assert other.complete
    assert tree_digest(tmp_path / "s4") != tree_digest(tmp_path / "j1")  # the seed matters


def test_shards_then_finish_equal_one_build(library, tmp_path) -> None:
    fg, bg = library
    full = tmp_path / "full"
    build(SMALL, full, foregrounds=fg, backgrounds=bg, progress=False)
    out = tmp_path / "sharded"
    r0 = build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False, shard="0/2")
    r1 = build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False, shard="1/2")
    assert not r0.complete and r1.complete and r0.written + r1.written == 96
    assert tree_digest(out) == tree_digest(full)


def test_rebuild_is_a_no_op_and_other_spec_is_refused(library, tmp_path) -> None:
    fg, bg = library
    out = tmp_path / "ds"
    build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False)
    again = build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False)
    assert again.complete and again.written == 0 and again.reused == 96
    before = tree_digest(out)
    with pytest.raises(ValueError, match="different specification.*seed"):
        build(SMALL, out, foregrounds=fg, backgrounds=bg, progress=False, seed=9)
    assert tree_digest(out) == before


def test_dry_run_counts_match_reference_geometry(sample_fg, sample_bg) -> None:
    """Exact counts per subset: location keeps all 441 x 9 x 2; size and rotation keep the
    images whose box is >= 95 % inside, as the original's arithmetic decides."""
    from PIL import Image

    from tests.reference_original import original_geometry

    runner = CliRunner()
    res = runner.invoke(main, ["build", "--dry-run", "--foregrounds", str(sample_fg),
                               "--backgrounds", str(sample_bg)])
    assert res.exit_code == 0, res.output
    fgs = [Image.open(p) for p in sorted(sample_fg.glob("*/*.png"))]
    lines = dict(zip(("size", "location", "rotation"),
                     [ln for ln in res.output.splitlines() if not ln.startswith(" ")]))
    for name in ("size", "rotation"):
        line = lines[name]
        grid = SUBSETS[name].grid
        cells = [(loc, a, r) for loc in grid.factors[0].values for a in grid.factors[1].values
                 for r in grid.factors[2].values]
        res_ = grid.resolution.values[0]
        kept = sum(2 for fg in fgs for (x, y), a, r in cells
                   if original_geometry(fg, res_, a, r, x, y)[2] >= SUBSETS[name].min_pct_inside)
        assert line.startswith(f"{name}: {kept} images would be written"), line
        assert sum(2 for fg in fgs for (x, y), a, r in cells
                   if place(fg.size, res_, a, r, x, y).pct_inside >= SUBSETS[name].min_pct_inside) == kept
    assert "location: 7938 images" in res.output


def test_cli_build_location_on_samples(sample_fg, sample_bg, tmp_path) -> None:
    """The benchmark's build: 441 locations x 9 objects x 2 backgrounds, 2 jobs."""
    out = tmp_path / "loc"
    res = CliRunner().invoke(main, ["build", "--subset", "location", "--foregrounds", str(sample_fg),
                                    "--backgrounds", str(sample_bg), "--out", str(out), "-j", "2", "-q"])
    assert res.exit_code == 0, res.output
    rows = read_rows(out / "metadata.csv")
    assert len(rows) == 7938 == len(list(out.glob("*/*.jpg")))
    assert {(r["x_coord"], r["y_coord"]) for r in rows} >= {("0.15", "0.35"), ("1.0", "0.0")}


def test_cli_build_location_on_embedded_assets(tmp_path) -> None:
    """What `make demo` runs: the location subset from the embedded assets."""
    out = tmp_path / "loc"
    res = CliRunner().invoke(main, ["build", "--subset", "location", "--out", str(out), "-j", "2"])
    assert res.exit_code == 0, res.output
    assert "dataset complete" in res.output
    n_fg = len(list(embedded_assets()[0].glob("*/*.png")))
    assert len(read_rows(out / "metadata.csv")) == 441 * n_fg * 2


def test_config_file_and_resolution_override(library, tmp_path) -> None:
    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(
        "[grid]\nlocation = { x = { start = 0.1, stop = 0.9, step = 0.4 }, y = [0.5] }\n"
        "area = [0.15, 0.25]\nrotation = [0, 45]\n\n[build]\nseed = 7\nmin_pct_inside = 0.5\n"
    )
    out = tmp_path / "ds"
    res = CliRunner().invoke(main, ["build", "--config", str(cfg), "--out", str(out), "--foregrounds",
                                    str(fg), "--backgrounds", str(bg), "--resolution", "64x48", "-q"])
    assert res.exit_code == 0, res.output
    rows = read_rows(out / "metadata.csv")
    assert {r["x_coord"] for r in rows} == {"0.1", "0.5", "0.9"}
    assert {(r["bg_resolution_width"], r["bg_resolution_height"]) for r in rows} == {("64", "48")}
    assert all(float(r["pct_inside_image"]) >= 0.5 for r in rows)
    spec = json.loads((out / "dataset.json").read_text())["spec"]
    assert spec["seed"] == 7 and spec["min_pct_inside"] == 0.5


def test_a_task_holds_one_foreground_and_tasks_are_enough_to_share(library) -> None:
    """Every cut-out is decoded and resampled by one task (one worker), split over cells only
    to give the workers at least 32 tasks, none above 1,024 images."""
    from siscore.generate.build import make_plan
    from siscore.generate.plan import Chunking

    for subset in ("location", "size", "rotation"):
        plan, _ = make_plan(SUBSETS[subset].grid, foregrounds=library[0], backgrounds=library[1])
        chunking = Chunking.for_plan(plan)
        seen: set[int] = set()
        for task in range(len(chunking)):
            ids = list(chunking.ids(task))
            assert ids == sorted(ids) and 0 < len(ids) <= Chunking.MAX_TASK_IMAGES
            fgs = {plan.item(i).fg_index for i in ids}
            assert len(fgs) == 1, (subset, task, fgs)
            assert all(chunking.task_of(i) == task for i in ids)
            seen.update(ids)
        assert seen == set(range(plan.size))
        n_fg = len(plan.foregrounds)
        assert len(chunking) >= min(Chunking.MIN_TASKS, chunking.n_cells * n_fg)


def test_image_writes_leave_nothing_behind_and_get_normal_permissions(tmp_path) -> None:
    """(A full disk half-way through a write: tests/test_build_hardening.py.)"""
    import os
    import threading

    from siscore.utils.files import atomic_write

    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    target = tmp_path / "a.jpg"
    atomic_write(target, b"x" * 1000, tmp_dir)
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.read_bytes() == b"x" * 1000 and (target.stat().st_mode & 0o777) == 0o666 & ~umask
    assert list(tmp_dir.iterdir()) == []

    # threads of one process writing at once never share a temporary name
    threads = [threading.Thread(target=atomic_write, args=(tmp_path / f"t{i}.jpg", bytes([i]) * 5000, tmp_dir))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all((tmp_path / f"t{i}.jpg").read_bytes() == bytes([i]) * 5000 for i in range(8))


def test_a_worker_keeps_no_plan_it_has_finished_with() -> None:
    """A loky worker unpickles the plan with every task; a cache keyed by the plan kept each
    copy alive, and a worker's memory grew with the library until loky recycled it."""
    import gc
    import pickle
    import weakref

    from siscore.generate.build import make_plan

    fg, bg = embedded_assets()
    plan = make_plan(Grid(location=[(0.5, 0.5), (0.1, 0.1)]), foregrounds=fg, backgrounds=bg)[0]
    refs = []
    for _ in range(3):
        copy = pickle.loads(pickle.dumps(plan))
        for image_id in range(len(copy)):
            copy.item(image_id)
        copy.counts()
        refs.append(weakref.ref(copy))
        del copy
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
