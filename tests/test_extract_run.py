"""Resume, determinism, the command line, and `siscore build` on an extracted library."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from siscore.cli import main
from siscore.extract import ExtractError, Gates, extract_openimages
from siscore.extract.writer import STATE_DIR
from tests.extract_fixtures import Kit, Obj, build_openimages, cached_kit, report, tree_digest

REPO = Path(__file__).resolve().parents[1]
RETRIED = {"image_missing", "image_unreadable", "mask_missing", "mask_unreadable"}


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


@pytest.fixture(scope="module")
def fixture(tmp_path_factory, kit):
    return build_openimages(tmp_path_factory.mktemp("oi"), kit)


def _oi_args(fx, out: Path) -> list[str]:
    return ["extract", "openimages", "--segmentation", str(fx.segmentation), "--boxes", str(fx.boxes),
            "--class-descriptions", str(fx.classes), "--images", str(fx.images), "--masks", str(fx.masks),
            "--out", str(out)]


def _run(fx, out: Path, **kw):
    return extract_openimages(fx.segmentation, fx.boxes, fx.classes, fx.images, fx.masks, out,
                              progress=False, **kw)


def test_deterministic_whatever_the_jobs(tmp_path, fixture):
    _run(fixture, tmp_path / "one", jobs=1)
    _run(fixture, tmp_path / "two", jobs=2)
    one, two = tree_digest(tmp_path / "one"), tree_digest(tmp_path / "two")
    assert one == two
    assert "foregrounds.csv" in one and any(k.endswith(".png") for k in one)


def test_rerun_skips_finished_objects_and_changes_nothing(tmp_path, fixture):
    out = tmp_path / "out"
    first = _run(fixture, out)
    before = tree_digest(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*/*.png")}
    second = _run(fixture, out)
    retried = sum(v in RETRIED for v in fixture.expect.values())  # missing files are tried again
    assert first.processed > 0 and second.processed == retried == 3
    assert second.resumed == first.processed - retried
    assert tree_digest(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*.png")} == mtimes
    assert [r["reason"] for r in second.rows] == [r["reason"] for r in first.rows]


def test_resume_after_a_killed_run_equals_an_uninterrupted_one(tmp_path, fixture):
    """The state a kill leaves (half a journal line, a temp file, PNGs without a journal row)."""
    ref, out = tmp_path / "ref", tmp_path / "out"
    _run(fixture, ref)
    _run(fixture, out)
    journal = out / STATE_DIR / "journal.csv"
    lines = journal.read_text().splitlines(keepends=True)
    keep = lines[: len(lines) // 2]
    journal.write_text("".join(keep) + lines[len(keep)][:25])  # cut in the middle of a row
    (out / STATE_DIR / "tmp" / "123-x.png.tmp").write_bytes(b"partial")
    for name in ("foregrounds.csv", "extract_report.csv"):
        (out / name).unlink()
    done = {r["key"] for r in csv.DictReader(keep)}
    removed = [p for p in out.glob("*/*.png") if p.relative_to(out).as_posix()[:-4] not in done]
    for p in removed[:2]:
        p.unlink()
    result = _run(fixture, out)
    assert result.processed > 0
    assert tree_digest(out) == tree_digest(ref)
    assert not list((out / STATE_DIR / "tmp").iterdir())


def test_sigkill_then_rerun_completes_identically(tmp_path, kit):
    """A real kill of the command line in the middle of GrabCut work, then the same command."""
    objects = [Obj(f"lemon{i}", "lemon", "lemon", "kept", size=170, photo=i) for i in range(8)]
    fx = build_openimages(tmp_path / "oi", kit, objects=objects)
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["extract", "boxes", "--boxes", str(fx.boxes), "--class-descriptions", str(fx.classes),
            "--images", str(fx.images), "-q"]
    runner = CliRunner()
    assert runner.invoke(main, [*args, "--out", str(ref)]).exit_code == 0
    proc = subprocess.Popen([str(Path(sys.executable).parent / "siscore"), *args, "--out", str(out)],
                            cwd=REPO)
    journal = out / STATE_DIR / "journal.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 4:  # header, Person row, 2 objects
            break
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed"
    assert not (out / "foregrounds.csv").exists()
    result = runner.invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert tree_digest(out) == tree_digest(ref)


def test_other_options_on_the_same_out_are_refused(tmp_path, fixture):
    out = tmp_path / "out"
    _run(fixture, out)
    before = tree_digest(out)
    with pytest.raises(ExtractError, match=r"differs in: gates.*another --out"):
        _run(fixture, out, gates=Gates(min_pixels=100))
    assert tree_digest(out) == before
    # min_predicted_iou is decided while reading: changing it re-decides, nothing to refuse
    result = _run(fixture, out, gates=Gates(min_predicted_iou=0.0))
    assert result.processed == 1 + 3  # the low-IoU bagel; the 3 missing files are tried again
    assert report(out)[fixture.keys["bagel_low_iou"]]["reason"] == "kept"


def test_cli_prints_counts_per_reason_and_per_class(tmp_path, fixture):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*_oi_args(fixture, out), "-q"])
    assert result.exit_code == 0 and result.output == ""
    result = CliRunner().invoke(main, [*_oi_args(fixture, out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    text = result.output
    n, kept = len(fixture.expect), sum(v == "kept" for v in fixture.expect.values())
    assert f"{kept} of {n} candidate objects kept" in text
    early = sum(v in ("bad_row", "low_predicted_iou", "no_matching_box", "occluded", "truncated",
                      "group_of", "depiction", "unknown_flag") for v in fixture.expect.values())
    assert f"3 processed now, {n - early - 3} already done" in text  # missing files: tried again
    for reason in ("occluded", "truncated", "group_of", "depiction", "unknown_flag", "mask_missing",
                   "image_unreadable", "size_mismatch", "empty_mask", "touches_border", "islands"):
        assert f"  {reason} " in text
    assert "per class" in text and "pitcher (container)" in text
    assert "'person' has no ImageNet-1k index" in text


def test_cli_errors_are_one_line_and_name_the_option(tmp_path, fixture):
    runner = CliRunner()
    args = _oi_args(fixture, tmp_path / "out")
    bad = args[:]
    bad[bad.index("--masks") + 1] = str(tmp_path / "nowhere")
    result = runner.invoke(main, bad)
    assert result.exit_code == 1 and "--masks" in result.output and "not found" in result.output
    result = runner.invoke(main, [*args, "--min-box-fill", "2"])
    assert result.exit_code == 1 and "--min-box-fill 2.0: out of range" in result.output
    assert not (tmp_path / "out").exists()
    for sub in ("openimages", "coco", "boxes"):
        help_text = runner.invoke(main, ["extract", sub, "--help"]).output
        assert "--out" in help_text and "--min-pixels" in help_text and "Example" in help_text


def test_siscore_build_takes_the_library(tmp_path, fixture):
    out = tmp_path / "fg"
    _run(fixture, out)
    bgs = tmp_path / "bgs"
    bgs.mkdir()
    for i, photo in enumerate(cached_kit().photos[:2]):
        Image.fromarray(photo).save(bgs / f"bg{i}.jpg")
    config = tmp_path / "small.toml"
    config.write_text("[grid]\nlocation = {x = [0.5], y = [0.5]}\narea = [0.2]\nresolution = [128]\n")
    result = CliRunner().invoke(main, ["build", "--foregrounds", str(out), "--backgrounds", str(bgs),
                                       "--config", str(config), "--out", str(tmp_path / "ds"), "-q"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "ds" / "foreground_classes.csv", encoding="utf-8") as f:
        classes = {r["label"]: r["int"] for r in csv.DictReader(f)}
    extracted = {r["label"]: r["imagenet_index"] for r in report(out).values() if r["status"] == "kept"}
    assert classes == extracted
    assert len(list((tmp_path / "ds").glob("*/*.jpg"))) == 2 * len(list(out.glob("*/*.png")))
