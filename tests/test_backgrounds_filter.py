"""`siscore backgrounds score|filter` end to end on real photos, bad input included."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from siscore.backgrounds import Thresholds, filter_folder, score_to_csv
from siscore.backgrounds.run import CACHE_NAME, REPORT_COLUMNS, BackgroundsError
from siscore.backgrounds.scoring import SCORE_CSV_COLUMNS
from siscore.cli import main


def _jpeg(arr: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photos (scikit-image), a near-duplicate, and every kind of bad input."""
    d = tmp_path_factory.mktemp("photos")
    (d / "coffee.jpg").write_bytes(_jpeg(data.coffee()))
    (d / "astronaut.jpg").write_bytes(_jpeg(data.astronaut()))
    Image.fromarray(data.grass()).save(d / "grass.png")
    Image.fromarray(data.brick()).save(d / "brick.png")
    small = cv2.resize(data.grass(), (256, 256), interpolation=cv2.INTER_AREA)
    (d / "grass_small.jpg").write_bytes(_jpeg(small, 60))  # the same picture, resized and re-encoded
    Image.fromarray(data.gravel()[:40, :60]).save(d / "tiny.png")
    (d / "broken.jpg").write_bytes(_jpeg(data.chelsea())[:1500])  # truncated download
    (d / "empty.png").write_bytes(b"")
    (d / "fake.jpg").write_text("not really a JPEG")
    (d / "notes.txt").write_text("shot list")
    (d / "raw").mkdir()
    return d


@pytest.fixture(scope="module")
def filtered(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    before = _snapshot(photos)
    out = tmp_path_factory.mktemp("library") / "lib"
    result = filter_folder(photos, out)
    assert _snapshot(photos) == before  # the source folder is never touched
    with open(out / "filter_report.csv", newline="") as f:
        report = {r["file"]: r for r in csv.DictReader(f)}
    return out, report, result.counts


def test_every_file_is_reported_with_a_decision(photos: Path, filtered: tuple) -> None:
    out, report, counts = filtered
    assert set(report) == {p.name for p in photos.iterdir()}
    assert list(next(iter(report.values()))) == list(REPORT_COLUMNS)
    decision = {name: r["decision"] for name, r in report.items()}
    assert decision["grass.png"] == decision["brick.png"] == "kept"
    assert decision["coffee.jpg"] == decision["astronaut.jpg"] == "rejected"
    assert decision["grass_small.jpg"] == "duplicate"
    assert counts == {"kept": 2, "rejected": 3, "duplicate": 1, "bad_input": 5}


def test_reasons_name_the_measure_and_the_option(filtered: tuple) -> None:
    _, report, _ = filtered
    assert "prominent object" in report["coffee.jpg"]["reason"]
    assert "--max-object-contrast" in report["coffee.jpg"]["reason"]
    assert report["tiny.png"]["decision"] == "rejected"
    assert report["tiny.png"]["reason"].startswith("too small: 60x40")
    assert "--min-photo-side" in report["tiny.png"]["reason"]
    dup = report["grass_small.jpg"]
    assert dup["duplicate_of"] == "grass.png" and int(dup["hash_distance"]) <= 10
    assert "near-duplicate of grass.png" in dup["reason"]


def test_bad_input_is_reported_never_fatal(filtered: tuple) -> None:
    _, report, _ = filtered
    for name in ("broken.jpg", "empty.png", "fake.jpg"):
        assert report[name]["decision"] == "bad_input"
        assert "unreadable or truncated image" in report[name]["reason"], name
    assert report["notes.txt"]["decision"] == "bad_input"
    assert "not an image file" in report["notes.txt"]["reason"]
    assert report["raw"]["reason"].startswith("sub-folder ignored")
    assert report["broken.jpg"]["sharpness"] == ""  # no scores for unusable files


def test_library_holds_exactly_the_kept_photos(photos: Path, filtered: tuple) -> None:
    out, _, _ = filtered
    images = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    assert images == ["brick.png", "filter_report.csv", "grass.png"]
    assert (out / "grass.png").read_bytes() == (photos / "grass.png").read_bytes()
    assert not any(p.name.endswith(".tmp") for p in out.rglob("*"))
    settings = json.loads((out / "audit" / "filter_settings.json").read_text())
    assert settings["thresholds"] == Thresholds().as_dict()
    assert settings["counts"]["kept"] == 2


def test_contact_sheet_shows_every_photo(filtered: tuple) -> None:
    out, report, _ = filtered
    sheet = Image.open(out / "audit" / "contact_sheet.png")
    assert sheet.format == "PNG" and sheet.width > 1000
    arr = np.asarray(sheet.convert("RGB")).astype(int)
    frames = {"kept": (40, 160, 60), "rejected": (210, 40, 40), "duplicate": (235, 140, 20)}
    for colour in frames.values():  # every section is drawn with its frame colour
        assert (np.abs(arr - colour).sum(axis=2) == 0).sum() > 500
    # one cell per file: 6 columns, so at least ceil(n / 6) rows of 230+ px
    assert sheet.height > 230 * (len(report) // 6)


def test_rerun_with_other_thresholds_reuses_scores_and_updates_the_library(
        photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "lib"
    first = filter_folder(photos, out, sheet=False)
    assert first.counts["kept"] == 2
    cache_lines = (out / CACHE_NAME).read_text().count("\n")
    second = filter_folder(photos, out, Thresholds(max_clutter=0.25), sheet=False)  # grass: 0.35
    assert (out / CACHE_NAME).read_text().count("\n") == cache_lines  # nothing re-scored
    assert second.removed == ["grass.png"]
    assert not (out / "grass.png").exists() and (out / "brick.png").exists()
    assert "cluttered: edge density" in next(r["reason"] for r in second.rows if r["file"] == "grass.png")
    # grass_small is now judged on its own (its better copy is rejected too)
    assert next(r for r in second.rows if r["file"] == "grass_small.jpg")["decision"] == "rejected"


def test_off_switches_a_check_off(photos: Path, tmp_path: Path) -> None:
    off = Thresholds(max_object_contrast=None, max_centre_focus=None, dup_distance=-1, min_photo_side=16)
    result = filter_folder(photos, tmp_path / "lib", off, sheet=False)
    kept = {r["file"] for r in result.rows if r["decision"] == "kept"}
    assert {"coffee.jpg", "astronaut.jpg", "grass_small.jpg", "tiny.png"} <= kept


@pytest.mark.parametrize("link", ["hard", "sym"])
def test_link_modes(photos: Path, tmp_path: Path, link: str) -> None:
    out = tmp_path / "lib"
    filter_folder(photos, out, link=link, sheet=False)
    target = out / "grass.png"
    assert os.path.samefile(target, photos / "grass.png")
    assert target.is_symlink() == (link == "sym")
    filter_folder(photos, out, sheet=False)  # then copy: links are replaced by real copies
    assert not target.is_symlink() and not os.path.samefile(target, photos / "grass.png")


def test_errors_name_the_option(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(BackgroundsError, match="must differ from DIR"):
        filter_folder(photos, photos)
    with pytest.raises(BackgroundsError, match=r"DIR .*missing: folder does not exist"):
        filter_folder(tmp_path / "missing", tmp_path / "lib")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BackgroundsError, match="exists and is not a folder"):
        filter_folder(photos, tmp_path / "afile")
    with pytest.raises(BackgroundsError, match="is a folder; give a CSV file name"):
        score_to_csv(photos, tmp_path)


def test_score_csv_and_resume(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    # a run interrupted after one photo left its progress beside the CSV: it is reused
    from siscore.backgrounds.scoring import ScoreCache, score_file

    partial = tmp_path / "scores.csv.partial.jsonl"
    row = score_file(photos / "brick.png")
    row["sharpness"] = 12345.0  # marks the reused row
    ScoreCache(partial).add(photos / "brick.png", row)
    with open(partial, "a") as f:
        f.write('{"key": ["grass.png", 1')  # a line cut short by the interruption
    rows = score_to_csv(photos, out)
    assert not partial.exists()
    with open(out, newline="") as f:
        table = {r["file"]: r for r in csv.DictReader(f)}
    assert list(next(iter(table.values()))) == list(SCORE_CSV_COLUMNS)
    assert set(table) == {p.name for p in photos.iterdir()} and len(rows) == len(table)
    assert table["brick.png"]["sharpness"] == "12345"
    assert float(table["grass.png"]["sharpness"]) > 100
    assert table["grass.png"]["width"] == "512" and len(table["grass.png"]["phash"]) == 16
    assert table["broken.jpg"]["error"].startswith("unreadable or truncated image")
    assert table["broken.jpg"]["phash"] == ""


def test_cli_score_and_filter(photos: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["backgrounds", "score", str(photos), "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "scored 6 photos, 5 unusable file(s)" in res.output
    assert "notes.txt: not an image file" in res.output
    res = runner.invoke(main, ["backgrounds", "filter", str(photos), "--out", str(tmp_path / "lib"),
                               "--max-object-contrast", "off", "--max-centre-focus", "off",
                               "--link", "sym", "-j", "2"])
    assert res.exit_code == 0, res.output
    assert "11 files: kept 4, rejected 1, near-duplicates 1, bad input 5" in res.output
    assert "bad input: empty.png: unreadable or truncated image" in res.output
    assert (tmp_path / "lib" / "coffee.jpg").is_symlink()


def test_cli_errors(photos: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["backgrounds", "filter", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "DIR" in res.output and "does not exist" in res.output
    res = runner.invoke(main, ["backgrounds", "filter", str(photos), "--out", str(tmp_path / "o"),
                               "--max-aspect", "wide"])
    assert res.exit_code == 2 and "'wide' is not a number (or 'off')" in res.output
    res = runner.invoke(main, ["backgrounds", "filter", str(photos), "--out", str(tmp_path / "o"),
                               "--classes", "cup"])
    assert res.exit_code == 2 and "go with --model NAME" in res.output
    res = runner.invoke(main, ["backgrounds", "score", str(photos), "--out", str(tmp_path / "x.csv"),
                               "--jobs", "0"])
    assert res.exit_code == 2 and "--jobs 0" in res.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.csv").exists()
