"""Issue 11 on `siscore backgrounds`: odd folder entries, full or unwritable disks, standard pHash."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imagehash
import pytest
from PIL import Image

from siscore.backgrounds.phash import phash, to_hex
from siscore.backgrounds.scoring import score_file
from tests.disk_limits import limit_file_size

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = sorted((ROOT / "assets" / "backgrounds").glob("*.jpg"))


def _cli(*args: str, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "siscore", *args], capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=preexec)


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


@pytest.fixture()
def odd_folder(tmp_path: Path) -> Path:
    """One real photo and every odd kind of entry a folder can hold."""
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(EMBEDDED[0], d / "photo.jpg")
    os.symlink("loop_b.jpg", d / "loop_a.jpg")  # a -> b -> a
    os.symlink("loop_a.jpg", d / "loop_b.jpg")
    os.symlink(".", d / "here")  # a link back to the folder itself
    os.symlink("gone.jpg", d / "dangling.jpg")
    (d / "x.png").mkdir()
    os.mkfifo(d / "pipe.jpg")  # opening it would block forever
    return d


EXPECTED = {
    "loop_a.jpg": "symbolic link loop", "loop_b.jpg": "symbolic link loop",
    "dangling.jpg": "dangling symbolic link to gone.jpg", "x.png": "a folder named like an image",
    "pipe.jpg": "not a regular file", "here": "sub-folder ignored",
}


def test_score_lists_link_loops_dangling_links_and_folders_as_skipped(odd_folder, tmp_path):
    out = tmp_path / "scores.csv"
    res = _cli("backgrounds", "score", str(odd_folder), "--out", str(out))
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    rows = _rows(out)
    assert rows["photo.jpg"]["error"] == "" and rows["photo.jpg"]["phash"]
    for name, why in EXPECTED.items():
        assert why in rows[name]["error"], (name, rows[name]["error"])
        assert f"{name}: " in res.stdout  # listed in the summary


def test_filter_lists_them_too_and_a_loop_as_dir_is_one_line(odd_folder, tmp_path):
    res = _cli("backgrounds", "filter", str(odd_folder), "--out", str(tmp_path / "lib"), "--no-sheet")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    report = _rows(tmp_path / "lib" / "filter_report.csv")
    for name, why in EXPECTED.items():
        assert report[name]["decision"] == "bad_input" and why in report[name]["reason"], name
        assert f"bad input: {name}: " in res.stdout
    loop = tmp_path / "loopdir"
    os.symlink(loop.name, loop)
    for cmd in (["score", str(loop), "--out", str(tmp_path / "s.csv")],
                ["filter", str(loop), "--out", str(tmp_path / "lib2")]):
        res = _cli("backgrounds", *cmd)
        assert res.returncode == 1 and res.stderr == f"Error: DIR {loop}: a symbolic link loop, not a folder\n"



@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands for a full disk")
@pytest.mark.parametrize("limit", [300, 2000])  # the progress cache fails / the final CSV fails
def test_score_on_a_full_disk_is_one_line_and_leaves_no_tmp(tmp_path, limit):
    src = tmp_path / "photos"
    src.mkdir()
    for p in EMBEDDED[:3]:
        shutil.copy(p, src / p.name)
    for i in range(40):  # rows of the CSV that are not in the progress cache
        (src / f"notes{i:02d}.txt").write_text("x")
    out = tmp_path / "o" / "scores.csv"
    out.parent.mkdir()
    res = _cli("backgrounds", "score", str(src), "--out", str(out), "-q", preexec=limit_file_size(limit))
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr[-3000:]
    assert res.stderr.startswith(f"Error: --out {out}: cannot write (File too large")
    assert not out.exists() and not list(out.parent.glob("*.tmp")) and not list(out.parent.glob(".*.tmp"))
    res = _cli("backgrounds", "score", str(src), "--out", str(out), "-q")  # room again: resumes
    assert res.returncode == 0 and len(_rows(out)) == 43


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands for a full disk")
def test_filter_on_a_full_disk_or_under_a_file_is_one_line(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    shutil.copy(EMBEDDED[0], src / "a.jpg")
    out = tmp_path / "lib"
    res = _cli("backgrounds", "filter", str(src), "--out", str(out), "-q", "--no-sheet",
               preexec=limit_file_size(20_000))  # the cache fits, the copied photo does not
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr[-3000:]
    assert res.stderr.startswith(f"Error: --out {out}: cannot write (File too large")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _cli("backgrounds", "filter", str(src), "--out", str(blocker / "lib"), "-q")
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr[-3000:]
    assert "cannot write (Not a directory" in res.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes stand for device nodes")
def test_score_never_replaces_a_device_node_or_pipe(tmp_path):
    """``--out /dev/null`` once became a regular file (as root: a broken machine); a FIFO
    stands for every node that is not a regular file."""
    from siscore.backgrounds.run import score_to_csv
    from siscore.errors import SiscoreError

    src = tmp_path / "photos"
    src.mkdir()
    shutil.copy(EMBEDDED[0], src / "a.jpg")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    res = _cli("backgrounds", "score", str(src), "--out", str(pipe), "-q")
    assert res.returncode == 1 and res.stderr == (
        f"Error: --out {pipe}: is a named pipe (FIFO), not a file; give a path to a file to "
        "write\n"), res.stderr[-3000:]
    with pytest.raises(SiscoreError, match="is a named pipe"):
        score_to_csv(src, pipe)
    assert pipe.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["photos", "pipe"]


@pytest.mark.parametrize("path", EMBEDDED, ids=[p.name for p in EMBEDDED])
def test_phash_is_imagehash_phash_bit_for_bit(path):
    """The stored hash equals str(imagehash.phash(Image.open(path))) on the embedded backgrounds."""
    with Image.open(path) as img:
        expected = str(imagehash.phash(img))
        assert to_hex(phash(img)) == expected
    assert score_file(path)["phash"] == expected


@pytest.mark.parametrize("flag", ["--min-photo-side", "--min-side"])
def test_min_photo_side_and_its_old_spelling(tmp_path, flag):
    from click.testing import CliRunner

    from siscore.cli import main

    src = tmp_path / "photos"
    src.mkdir()
    shutil.copy(EMBEDDED[0], src / "a.jpg")
    res = CliRunner().invoke(main, ["backgrounds", "filter", str(src), "--out", str(tmp_path / "lib"),
                                    flag, "700", "--no-sheet", "-q"])
    assert res.exit_code == 0, res.output
    reason = _rows(tmp_path / "lib" / "filter_report.csv")["a.jpg"]["reason"]
    assert "shorter side < 700 (--min-photo-side)" in reason
    text = CliRunner().invoke(main, ["backgrounds", "filter", "--help"]).output
    assert "--min-photo-side" in text and "--min-side" not in text


def test_a_photo_above_the_pixel_limit_is_refused_before_decoding(tmp_path):
    """A photo whose header claims 20000 x 20000 pixels (400 M, twice the 200 M asset limit)
    is listed as unusable by `backgrounds score` and refused by `build --backgrounds`, in one
    line each, without decoding it (Pillow would have decoded it: its own bomb check only
    starts above twice the limit siscore sets)."""
    from click.testing import CliRunner

    from siscore.cli import main
    from tests.test_dataset_untrusted import _claim_size

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(photos / "field.jpg", quality=90)
    _claim_size(photos / "field.jpg", 20000, 20000)
    why = "20000x20000 image (400,000,000 pixels) is above the limit of 200,000,000 pixels"
    scored = CliRunner().invoke(main, ["backgrounds", "score", str(photos), "--out",
                                       str(tmp_path / "s.csv")])
    assert scored.exit_code == 0 and f"field.jpg: {why}" in scored.output
    assert "Warning" not in scored.output
    with open(tmp_path / "s.csv", newline="") as f:
        assert [row["error"] for row in csv.DictReader(f)] == [why]
    built = CliRunner().invoke(main, ["build", "--subset", "size", "--backgrounds", str(photos),
                                      "--out", str(tmp_path / "ds")])
    assert built.exit_code != 0
    assert built.output.strip().splitlines()[-1].endswith(f"field.jpg: {why}; shrink the photo")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("command", ["score", "filter"])
def test_a_photo_named_like_a_formula_is_refused_where_it_enters(tmp_path, command):
    """Its name would reach scores.csv / filter_report.csv as a spreadsheet formula."""
    from click.testing import CliRunner

    from siscore.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("field.jpg", "@SUM(A1).jpg"):
        Image.new("RGB", (64, 48), (10, 120, 30)).save(photos / name, quality=90)
    out = tmp_path / ("s.csv" if command == "score" else "kept")
    res = CliRunner().invoke(main, ["backgrounds", command, str(photos), "--out", str(out)])
    assert res.exit_code == 1
    assert res.output == (f"Error: DIR {photos}: photo '@SUM(A1).jpg' begins with '@', which "
                          "spreadsheets read as a formula; rename it\n")
    assert not out.exists() and sorted(p.name for p in photos.iterdir()) == ["@SUM(A1).jpg",
                                                                             "field.jpg"]
