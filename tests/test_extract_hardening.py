"""Issue 11 on `siscore extract`: hostile COCO files, own categories, unwritable or full disks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from siscore.extract import ExtractError, extract_coco
from tests.disk_limits import limit_file_size
from tests.extract_fixtures import CocoObj, Kit, build_coco, cached_kit, report, tree_digest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


def _cli(*args: str, env_extra: dict[str, str] | None = None, preexec=None
         ) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "siscore", *args], capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=preexec)


@pytest.mark.parametrize("value", [1e9, -5e8])
def test_huge_polygon_coordinates_are_dropped_not_a_segfault(tmp_path, kit, value):
    """pycocotools segfaults on polygon coordinates of ~1e9: they are refused before it."""
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("a", "lemon", 55, "kept"),
                                                    CocoObj("b", "lemon", 55, "kept", photo=1)])
    data = json.loads(fx.annotations.read_text())
    bad = data["annotations"][1]
    bad["segmentation"] = [[0, 0, value, 0, value, value, 0, value]]
    fx.annotations.write_text(json.dumps(data))
    out = tmp_path / "out"
    for _ in range(2):  # every re-run used to die as well
        res = _cli("extract", "coco", "--annotations", str(fx.annotations), "--images",
                   str(fx.images), "--out", str(out), "-q")
        assert res.returncode == 0, res.stderr[-2000:]
        rows = report(out)
        assert rows[fx.keys["a"]]["reason"] == "kept"
        row = rows[fx.keys["b"]]
        assert row["reason"] == "bad_polygon", row
        assert "lies outside the" in row["detail"] and f"{value:g}" in row["detail"]


def test_top_level_json_list_is_one_line_error(tmp_path):
    (tmp_path / "img").mkdir()
    bad = tmp_path / "list.json"
    bad.write_text("[1, 2, 3]")
    with pytest.raises(ExtractError, match=r"--annotations .*list.json: the top level is a JSON "
                                           r"array \(list\), not an object"):
        extract_coco(bad, tmp_path / "img", tmp_path / "out", progress=False)
    res = _cli("extract", "coco", "--annotations", str(bad), "--images", str(tmp_path / "img"),
               "--out", str(tmp_path / "out"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "top level is a JSON array" in res.stderr
    assert not (tmp_path / "out").exists()


def test_odd_entries_in_a_coco_file_are_reported_not_a_traceback(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("a", "lemon", 55, "kept")])
    data = json.loads(fx.annotations.read_text())
    data["categories"].append(7)
    data["images"].append({"id": [1], "file_name": "x.jpg", "width": "wide", "height": 10})
    data["annotations"].append({**data["annotations"][0], "id": 5, "image_id": [1]})
    fx.annotations.write_text(json.dumps(data))
    result = extract_coco(fx.annotations, fx.images, tmp_path / "out", progress=False)
    assert result.kept == 1
    assert "lacks an image entry" in report(tmp_path / "out")["bad_row:annotation 5"]["detail"]


def test_own_category_falls_back_to_the_builtin_label_table(tmp_path, kit):
    """A COCO-format file of one's own with a `koala` category: mapped through label_map.csv."""
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("k", "koala", 55, "kept"),
                                                    CocoObj("p", "koala", 1, "kept", photo=1)])
    data = json.loads(fx.annotations.read_text())
    data["categories"] += [{"id": 500, "name": "koala", "supercategory": "animal"},
                           {"id": 501, "name": "bunyip", "supercategory": "animal"}]
    data["annotations"][0]["category_id"] = 500
    data["annotations"][1]["category_id"] = 501
    fx.annotations.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = extract_coco(fx.annotations, fx.images, out, progress=False)
    kept = [r for r in result.objects if r["status"] == "kept"]
    assert [(r["label"], r["imagenet_index"], r["display_name"]) for r in kept] == [("koala", "105", "koala")]
    note = "category 'koala' (id 500) is not a COCO category: mapped with the built-in label table"
    assert any(note in n for n in result.notes) and note in result.summary()
    assert "koala,105" in (out / "label_map.csv").read_text()
    # a category that neither table knows is still reported as unmapped, with the fix
    assert "no ImageNet-1k index" in report(out)["no_label_mapping:501"]["detail"]
    # COCO's own unmapped categories (person, kite) do not fall back
    fx2 = build_coco(tmp_path / "coco2", kit, objects=[CocoObj("p", "koala", 1, "no_label_mapping")])
    assert extract_coco(fx2.annotations, fx2.images, tmp_path / "out2", progress=False).kept == 0


def test_unwritable_out_is_one_line(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("a", "lemon", 55, "kept")])
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    res = _cli("extract", "coco", "--annotations", str(fx.annotations), "--images", str(fx.images),
               "--out", str(blocker / "lib"))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith(f"Error: --out {blocker / 'lib'}: {blocker} is a file, not a folder")



@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE as a full disk")
def test_full_disk_is_one_line_and_leaves_nothing_partial(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("a", "lemon", 55, "kept", size=260),
                                                    CocoObj("b", "lemon", 55, "kept", photo=1)])
    out = tmp_path / "out"
    res = _cli("extract", "coco", "--annotations", str(fx.annotations), "--images", str(fx.images),
               "--out", str(out), "-q", preexec=limit_file_size(2000))
    assert res.returncode == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0, res.stderr
    assert res.stderr.startswith(f"Error: --out {out}: cannot write") and "File too large" in res.stderr
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []
    for png in out.rglob("*.png"):  # a cut-out under its final name is complete
        Image.open(png).load()
    assert not (out / "extract_report.csv").exists()
    # with room again, the same command completes
    res = _cli("extract", "coco", "--annotations", str(fx.annotations), "--images", str(fx.images),
               "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr
    assert sum(r["status"] == "kept" for r in report(out).values()) == 2, report(out)
    assert tree_digest(out)


@pytest.mark.parametrize("old", [False, True])
def test_renamed_options_and_their_old_spellings(tmp_path, kit, old):
    """--class-descriptions / --min-object-side; --classes / --min-side still work, hidden."""
    from click.testing import CliRunner

    from siscore.cli import main
    from tests.extract_fixtures import Obj, build_openimages

    fx = build_openimages(tmp_path / "oi", kit, objects=[Obj("lemon", "lemon", "lemon", "kept")])
    out = tmp_path / "out"
    names = ["--classes", "--min-side"] if old else ["--class-descriptions", "--min-object-side"]
    res = CliRunner().invoke(main, [
        "extract", "openimages", "--segmentation", str(fx.segmentation), "--boxes", str(fx.boxes),
        f"{names[0]}={fx.classes}", "--images", str(fx.images), "--masks", str(fx.masks),
        "--out", str(out), names[1], "100000", "-q"])
    assert res.exit_code == 0, res.output
    row = report(out)[fx.keys["lemon"]]
    assert row["reason"] == "too_short" and "--min-object-side 100000" in row["detail"]
    assert json.loads((out / ".extract" / "options.json").read_text())["gates"]["min_side"] == 100000
    for cmd in ("openimages", "boxes"):
        text = CliRunner().invoke(main, ["extract", cmd, "--help"]).output
        assert "--class-descriptions" in text and "--min-object-side" in text
        assert "--classes " not in text and "--min-side" not in text
    missing = CliRunner().invoke(main, ["extract", "openimages", "--segmentation", str(fx.segmentation),
                                        "--boxes", str(fx.boxes), "--images", str(fx.images),
                                        "--masks", str(fx.masks), "--out", str(tmp_path / "o2")])
    assert missing.exit_code == 2 and "Missing option '--class-descriptions'" in missing.output
