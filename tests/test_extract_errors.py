"""Bad input: a clear message naming the file, row or option; per-object problems never stop a run."""

from __future__ import annotations

import json
import zipfile

import pytest

from siscore.extract import ExtractError, extract_coco, extract_openimages
from siscore.extract.masks import coco_mask
from siscore.extract.records import Drop
from tests.extract_fixtures import (
    CocoObj,
    Kit,
    Obj,
    build_coco,
    build_openimages,
    cached_kit,
    report,
    tree_digest,
)

ONE = [Obj("lemon", "lemon", "lemon", "kept"), Obj("koala", "koala", "koala", "kept", photo=1)]


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


@pytest.fixture()
def library(tmp_path, kit):
    """A fixture and an existing library extracted from it (which a failed run must not touch)."""
    fx = build_openimages(tmp_path / "oi", kit, objects=ONE)
    out = tmp_path / "out"
    _run(fx, out)
    return fx, out, tree_digest(out)


def _run(fx, out, **kw):
    args = dict(segmentation=fx.segmentation, boxes=fx.boxes, class_descriptions=fx.classes, images=fx.images,
                masks=fx.masks)
    args.update({k: kw.pop(k) for k in list(kw) if k in args})
    return extract_openimages(args["segmentation"], args["boxes"], args["class_descriptions"], args["images"],
                              args["masks"], out, progress=False, **kw)


def _rewrite(path, old: str, new: str):
    path.write_text(path.read_text().replace(old, new))


def test_missing_segmentation_columns(library, tmp_path):
    fx, out, before = library
    _rewrite(fx.segmentation, "BoxXMin,", "XMin,")
    with pytest.raises(ExtractError, match=r"--segmentation .*segmentation.csv: missing column\(s\) "
                                           r"BoxXMin .*found: MaskPath.*expected the OpenImages header"):
        _run(fx, out)
    assert tree_digest(out) == before


def test_missing_box_flag_columns(library):
    fx, out, before = library
    _rewrite(fx.boxes, "IsOccluded,IsTruncated", "Occluded,Truncated")
    with pytest.raises(ExtractError, match=r"--boxes .*bbox.csv: missing column\(s\) IsOccluded, IsTruncated"):
        _run(fx, out)
    assert tree_digest(out) == before


def test_bad_class_file_row_and_empty_files(library, tmp_path):
    fx, out, before = library
    bad = tmp_path / "classes.csv"
    bad.write_text("LabelName,DisplayName\n/m/09k_b,Lemon\n/m/0xyz\n")
    with pytest.raises(ExtractError, match=r"--class-descriptions .*classes.csv, line 2: expected 'LabelName,DisplayName'"):
        _run(fx, out, class_descriptions=bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ExtractError, match=r"--segmentation .*empty.csv: the file is empty"):
        _run(fx, out, segmentation=empty)
    with pytest.raises(ExtractError, match=r"--boxes .*nope.csv: cannot read"):
        _run(fx, out, boxes=tmp_path / "nope.csv")
    assert tree_digest(out) == before


def test_bad_paths_and_options(library, tmp_path):
    fx, out, before = library
    with pytest.raises(ExtractError, match=r"--masks .*nowhere: not found; give the folder"):
        _run(fx, out, masks=tmp_path / "nowhere")
    not_zip = tmp_path / "x-masks-0.zip"
    not_zip.write_text("not a zip")
    with pytest.raises(ExtractError, match="--masks .*x-masks-0.zip: not a zip file"):
        _run(fx, out, masks=not_zip)
    with pytest.raises(ExtractError, match=r"--images .*: folder not found"):
        _run(fx, out, images=tmp_path / "noimages")
    with pytest.raises(ExtractError, match="--limit 0: must be at least 1"):
        _run(fx, out, limit=0)
    bad_map = tmp_path / "map.csv"
    bad_map.write_text("label,imagenet_index\nlemon,abc\n")
    with pytest.raises(ExtractError, match=r"--label-map: .*map.csv, row 2: imagenet_index 'abc'"):
        _run(fx, out, label_map=bad_map)
    assert tree_digest(out) == before


def test_unparseable_rows_are_reported_and_the_run_goes_on(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=ONE)
    lines = fx.segmentation.read_text().splitlines()
    idx = next(i for i, ln in enumerate(lines) if "_m09k_b_" in ln)
    fields = lines[idx].split(",")
    fields[4], fields[8] = "abc", "high"
    lines[idx] = ",".join(fields)
    fx.segmentation.write_text("\n".join(lines) + "\n")
    result = _run(fx, tmp_path / "out")
    row = report(tmp_path / "out")[fx.keys["lemon"]]
    assert row["reason"] == "bad_row" and f"segmentation line {idx + 1}: not a number" in row["detail"]
    assert report(tmp_path / "out")[fx.keys["koala"]]["reason"] == "kept"
    assert result.kept == 1


def test_corrupt_mask_png_is_reported(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=ONE, masks="zip")
    name = fx.keys["lemon"]
    rows = {r["key"]: r for r in _run(fx, tmp_path / "a").rows}
    member = rows[name]["mask"]
    for z in fx.masks.glob("*.zip"):
        with zipfile.ZipFile(z) as zf:
            names = zf.namelist()
            data = {n: zf.read(n) for n in names}
        if member in data:
            data[member] = b"\x89PNG garbage"
            with zipfile.ZipFile(z, "w") as zf:
                for n, d in data.items():
                    zf.writestr(n, d)
    row = report(_run(fx, tmp_path / "b").out)[name]
    assert row["reason"] == "mask_unreadable" and member in row["detail"]


def test_image_info_without_author_column_is_a_note(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=ONE)
    _rewrite(fx.image_info, ",Author,", ",Uploader,")
    result = _run(fx, tmp_path / "out", image_info=fx.image_info)
    assert any("no Author column" in n for n in result.notes)
    assert result.kept == 2 and all(r["author"] == "" and r["license"] for r in result.objects)


@pytest.mark.parametrize("segm,reason,text", [
    ([[10, 10, 40, 10, 40]], "bad_polygon", "lengths [5]"),
    ([], "bad_polygon", "empty list"),
    ({"size": [50, 60], "counts": [100, 5]}, "mask_unreadable", "sum to 105"),
    ({"size": [40, 60], "counts": "abc"}, "size_mismatch", "RLE size [40, 60]"),
    ({"counts": "abc"}, "mask_unreadable", "neither a polygon list nor an RLE"),
])
def test_malformed_coco_segmentations(segm, reason, text):
    with pytest.raises(Drop) as info:
        coco_mask(segm, 50, 60)
    assert info.value.reason == reason and text in info.value.detail


def test_coco_annotation_for_a_missing_image_entry(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("o", "lemon", 55, "kept")])
    data = json.loads(fx.annotations.read_text())
    data["annotations"].append({**data["annotations"][0], "id": 77, "image_id": 999})
    fx.annotations.write_text(json.dumps(data))
    result = extract_coco(fx.annotations, fx.images, tmp_path / "out", progress=False)
    bad = next(r for r in result.rows if r["key"] == "bad_row:annotation 77")
    assert "an image entry with id 999" in bad["detail"]
    assert result.kept == 1


@pytest.mark.parametrize("source", ["coco", "openimages", "boxes"])
def test_an_old_option_spelling_never_names_an_option_the_command_lacks(tmp_path, source):
    """``--classes`` was renamed ``--class-descriptions`` (openimages, boxes); coco has no such
    option, so its ``--classes`` is an unknown option of its own name, with the close match."""
    from click.testing import CliRunner

    from siscore.cli import main

    res = CliRunner().invoke(main, ["extract", source, "--classes", "cat", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--class-descriptions" not in res.output.replace(
        "Missing option '--class-descriptions'", "")
    if source == "coco":
        assert "Error: No such option '--classes'. Did you mean '--classes-only'?" in res.output
    else:  # the alias still works: the error is about another missing option, not --classes
        assert "No such option" not in res.output
    assert not (tmp_path / "o").exists()
