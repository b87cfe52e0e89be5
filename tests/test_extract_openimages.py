"""`siscore extract openimages` on fixtures in the real V5/V6 formats built from real photos."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siscore.extract import MANIFEST_COLUMNS, extract_openimages
from siscore.extract.openimages import openimages_candidates
from tests.extract_fixtures import (
    MID,
    Kit,
    Obj,
    build_openimages,
    cached_kit,
    image_id,
    iou,
    recovered_mask,
    report,
)


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


def _run(fx, out: Path, **kw):
    return extract_openimages(fx.segmentation, fx.boxes, fx.classes, fx.images, fx.masks, out,
                              progress=False, **kw)


@pytest.mark.parametrize("version,masks", [("v5", "folder"), ("v6", "zip")])
def test_every_object_kept_or_dropped_for_the_right_reason(tmp_path, kit, version, masks):
    fx = build_openimages(tmp_path / "oi", kit, version=version, masks=masks)
    if version == "v5":  # no header in the V5 class file, no XClick columns in the box file
        assert not fx.classes.read_text().startswith("LabelName")
        assert "XClick1X" not in fx.boxes.read_text().splitlines()[0]
    else:
        assert fx.classes.read_text().startswith("LabelName,DisplayName")
        assert "XClick1X" in fx.boxes.read_text().splitlines()[0]
        assert len(list(fx.masks.glob("validation-masks-*.zip"))) > 1
    out = tmp_path / "out"
    result = _run(fx, out)
    rows = report(out)
    for key, expected in fx.expect.items():
        assert rows[key]["reason"] == expected, (key, rows[key]["detail"])
        if expected == "kept":
            got = recovered_mask(out, rows[key], fx.truth[key].shape)
            assert iou(got, fx.truth[key]) >= 0.98, key
            rgba = np.asarray(Image.open(out / rows[key]["path"]))
            # tightly cropped: the first and last rows and columns hold object pixels
            assert rgba[..., 3].any(axis=1)[[0, -1]].all() and rgba[..., 3].any(axis=0)[[0, -1]].all()
    kept = sorted(k for k, v in fx.expect.items() if v == "kept")
    assert sorted(p.relative_to(out).as_posix()[:-4] for p in out.glob("*/*.png")) == kept
    assert result.kept == len(kept)
    # the classes that are not extracted: one report row each, counting their rows
    agg = {k: r for k, r in rows.items() if ":" in k}
    assert agg["no_label_mapping:/m/01g317"]["count"] == "2"  # Person: not in the label map
    assert agg["no_label_mapping:/m/02zt3"]["label"] == "kite"  # in the map, but no ImageNet class
    assert agg["no_label_mapping:/m/0fx9l"]["display_name"] == "Flower, cut"  # comma in a name
    assert """add a row '"flower, cut",<index>'""" in agg["no_label_mapping:/m/0fx9l"]["detail"]
    assert agg["unknown_class:/m/0zzzzz"]["reason"] == "unknown_class"
    assert "line" in agg["unknown_class:/m/0zzzzz"]["detail"]


def test_reasons_name_the_row_or_file(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    rows = report(_run(fx, tmp_path / "out").out)
    detail = {name: rows[key]["detail"] for name, key in fx.keys.items()}
    assert "IsOccluded=1 (box CSV line" in detail["koala_occluded"]
    assert "IsDepiction=-1" in detail["zebra_unknown_flag"]
    assert "segmentation line" in detail["lemon_bad_row"]
    assert ".png is not in" in detail["lemon_mask_missing"] and ".zip" in detail["lemon_mask_missing"]
    assert "truncated" in detail["lemon_image_truncated"]
    assert "different aspect ratio" in detail["lemon_wrong_aspect"]
    assert "< --min-pixels 2500" in detail["lemon_tiny"]
    assert "nearest differs by" in detail["lemon_no_box"]
    # the report lists every gate an object fails, the first one as its reason
    assert rows[fx.keys["lemon_tiny"]]["failed"].startswith("too_small")


def test_manifest_has_provenance_scores_and_image_info(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    out = _run(fx, tmp_path / "out", image_info=fx.image_info).out
    with open(out / "foregrounds.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        manifest = list(reader)
    assert reader.fieldnames == MANIFEST_COLUMNS
    row = next(r for r in manifest if r["label"] == "pitcher (container)")
    assert row["imagenet_index"] == "725" and row["display_name"] == "Pitcher (Container)"
    assert row["author"].startswith("Author ") and "creativecommons" in row["license"]
    assert row["original_url"].startswith("https://www.flickr.com/")
    assert row["mask"].endswith(".png") and row["image_file"] == f"{row['image_id']}.jpg"
    assert float(row["box_fill"]) > 0.2 and int(row["pixels"]) >= 2500 and row["components"] == "1"
    assert (int(row["width"]), int(row["height"])) == Image.open(out / row["path"]).size
    bagel = next(r for r in manifest if r["label"] == "bagel")
    assert bagel["predicted_iou"] == ""  # empty in the CSV: kept, left empty
    labels = (out / "label_map.csv").read_text()
    assert "pitcher (container),725,pitcher" in labels


def test_real_holes_kept_pinholes_and_specks_cleaned(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    out = _run(fx, tmp_path / "out").out
    rows = report(out)
    specks = rows[fx.keys["volleyball_specks_keep"]]
    assert float(specks["island_frac"]) > 0  # the raw mask had islands...
    got = recovered_mask(out, specks, fx.truth[fx.keys["volleyball_specks_keep"]].shape)
    assert (got == fx.truth[fx.keys["volleyball_specks_keep"]]).mean() > 0.999  # ...cleaned away
    # the vase's handle holes (well above --max-hole-frac) survive
    key = fx.keys["pitcher_keep"]
    assert iou(recovered_mask(out, rows[key], fx.truth[key].shape), fx.truth[key]) >= 0.98


def test_erode_and_feather_shrink_and_soften_the_edge(tmp_path, kit):
    from siscore.extract import Cleaning

    fx = build_openimages(tmp_path / "oi", kit, objects=[Obj("lemon", "lemon", "lemon", "kept")])
    key = fx.keys["lemon"]
    plain = report(_run(fx, tmp_path / "a").out)[key]
    eroded = report(_run(fx, tmp_path / "b", cleaning=Cleaning(erode_px=1, feather_px=2.0)).out)[key]
    assert int(eroded["pixels"]) < int(plain["pixels"])
    alpha = np.asarray(Image.open(tmp_path / "b" / eroded["path"]))[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any()


def test_keep_unknown_flags_keeps_the_minus_one_object(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    rows = report(_run(fx, tmp_path / "out", keep_unknown_flags=True).out)
    key = fx.keys["zebra_unknown_flag"]
    assert rows[key]["reason"] == "kept"
    assert iou(recovered_mask(tmp_path / "out", rows[key], fx.truth[key].shape), fx.truth[key]) >= 0.98


def test_classes_only_and_limit_restrict_the_work(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    result = _run(fx, tmp_path / "a", classes_only=["Koala,pitcher (container)"])
    assert {r["label"] for r in result.objects} == {"koala", "pitcher (container)"}
    assert not [r for r in result.rows if r["reason"] == "no_label_mapping"]
    result = _run(fx, tmp_path / "b", limit=3)
    assert len(result.objects) == 3
    assert {r["image_id"] for r in result.objects} == {image_id("lemon_keep"), image_id("pair")}


def test_classes_only_with_no_mapping_is_reported(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    result = _run(fx, tmp_path / "a", classes_only=["kite", "lemon", "unicorn"])
    assert any("'kite': no ImageNet-1k mapping" in n for n in result.notes)
    assert any("'unicorn': no such class" in n for n in result.notes)
    assert {r["label"] for r in result.objects} == {"lemon"}


def test_label_map_option_adds_a_class(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    extra = tmp_path / "extra.csv"
    extra.write_text("label,imagenet_index\nperson,999\n")
    result = _run(fx, tmp_path / "a", label_map=extra)
    assert not any(r["key"] == "no_label_mapping:/m/01g317" for r in result.rows)
    assert {r["reason"] for r in result.rows if r["label"] == "person"} <= {"image_missing", "mask_missing",
                                                                           "bad_row", "no_matching_box"}


def test_masks_from_a_single_zip(tmp_path, kit):
    objs = [Obj(f"lemon{i}", "lemon", "lemon", "kept", photo=i) for i in range(6)]
    fx = build_openimages(tmp_path / "oi", kit, objects=objs)
    zips = sorted(fx.masks.glob("*.zip"))
    assert len(zips) > 1
    result = _run(fx, tmp_path / "out")
    assert [r["reason"] for r in result.objects] == ["kept"] * 6
    one = zips[0]
    result = extract_openimages(fx.segmentation, fx.boxes, fx.classes, fx.images, one,
                                tmp_path / "one", progress=False)
    digit = one.name.split("-")[-1][0]
    for r in result.objects:
        assert r["reason"] == ("kept" if r["image_id"].startswith(digit) else "mask_missing")


def test_exif_orientation_is_not_applied(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=[Obj("lemon", "lemon", "lemon", "kept",
                                                             at=(0.35, 0.4))])
    jpg = next(fx.images.glob("*.jpg"))
    img = Image.open(jpg)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees to display": the stored frame is what is annotated
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    jpg.write_bytes(buf.getvalue())
    out = tmp_path / "out"
    row = report(_run(fx, out).out)[fx.keys["lemon"]]
    assert row["reason"] == "kept"
    assert (int(row["image_width"]), int(row["image_height"])) == img.size
    assert iou(recovered_mask(out, row, fx.truth[fx.keys["lemon"]].shape), fx.truth[fx.keys["lemon"]]) >= 0.98


def _big_segmentation(path: Path, n_rows: int, wanted_rows: list[str]) -> None:
    """A segmentation CSV: the real rows, then ``n_rows`` rows of an unmapped class."""
    header, *rows = wanted_rows
    filler = "".join(f"{i:016x}_m01g317_{i:08x}.png,{i:016x},/m/01g317,{i:08x},0.1,0.5,0.2,0.6,0.8,\n"
                     for i in range(n_rows))
    path.write_text(header + "\n" + "\n".join(rows) + "\n" + filler)


def test_memory_does_not_grow_with_the_segmentation_csv(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit)
    lines = fx.segmentation.read_text().splitlines()
    peaks = {}
    for n in (100_000, 250_000):
        seg = tmp_path / f"seg{n}.csv"
        _big_segmentation(seg, n, lines)
        tracemalloc.start()
        cands, agg, _ = openimages_candidates(seg, fx.boxes, fx.classes)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(cands) == len(fx.expect)
        assert next(r for r in agg if r["label_name"] == "/m/01g317")["count"] == str(n + 2)
    assert peaks[250_000] < 1.1 * peaks[100_000], peaks  # one chunk at a time


def test_unknown_mid_in_classes_only_is_a_note_not_a_crash(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=[Obj("lemon", "lemon", "lemon", "kept")])
    result = _run(fx, tmp_path / "out", classes_only=[MID["lemon"]])
    assert result.kept == 1 and not result.notes
