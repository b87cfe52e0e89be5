"""`siscore extract coco`: polygons, RLE and uncompressed RLE through real pycocotools."""

from __future__ import annotations

import csv
import json
from importlib import resources

import pytest

from siscore.extract import ExtractError, extract_coco
from siscore.extract.classes import builtin_coco_table, coco_table
from siscore.formats.labels import builtin_label_map, imagenet_classes
from tests.extract_fixtures import CocoObj, Kit, build_coco, cached_kit, iou, recovered_mask, report


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


def test_every_annotation_kept_or_dropped_for_the_right_reason(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit)
    out = tmp_path / "out"
    result = extract_coco(fx.annotations, fx.images, out, progress=False)
    rows = report(out)
    for key, expected in fx.expect.items():
        if expected in ("no_label_mapping", "bad_row"):
            continue  # reported per category / per annotation id below
        assert rows[key]["reason"] == expected, (key, rows[key]["detail"])
        if expected == "kept":
            got = recovered_mask(out, rows[key], fx.truth[key].shape)
            assert iou(got, fx.truth[key]) >= 0.98, key
    kinds = {rows[fx.keys[n]]["mask"] for n in ("orange_polygon", "teddy_rle", "zebra_rle_uncompressed")}
    assert kinds == {"polygon", "rle", "rle-uncompressed"}
    assert rows["no_label_mapping:1"]["label"] == "person"
    assert rows["no_label_mapping:38"]["label"] == "kite"  # ImageNet's kite is the bird
    assert "annotation 1011" in rows["bad_row:annotation 1011"]["detail"]
    assert "segmentation" in rows["bad_row:annotation 1011"]["detail"]
    assert result.kept == sum(v == "kept" for v in fx.expect.values())


def test_four_number_polygon_and_crowd_messages(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit)
    rows = report(extract_coco(fx.annotations, fx.images, tmp_path / "out", progress=False).out)
    four = rows[fx.keys["orange_four_numbers"]]
    assert four["reason"] == "bad_polygon" and "lengths [4]" in four["detail"]
    mixed = rows[fx.keys["vase_polygon_and_four"]]
    assert mixed["reason"] == "kept" and "ignored 1 polygon" in mixed["detail"]
    assert "iscrowd = 1" in rows[fx.keys["apple_crowd"]]["detail"]
    assert "but the annotation file says" in rows[fx.keys["orange_size_lie"]]["detail"]
    assert "extends beyond" in rows[fx.keys["orange_bbox_outside"]]["detail"]


def test_manifest_has_licence_and_coco_labels(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit)
    out = extract_coco(fx.annotations, fx.images, tmp_path / "out", progress=False).out
    with open(out / "foregrounds.csv", encoding="utf-8", newline="") as f:
        manifest = {r["label"]: r for r in csv.DictReader(f)}
    assert set(manifest) == {"orange", "teddy bear", "zebra", "vase"}
    assert manifest["teddy bear"]["imagenet_index"] == "850"
    assert manifest["orange"]["license"] == "Attribution License"
    assert manifest["orange"]["source"] == "coco" and manifest["orange"]["label_name"] == "55"
    assert "teddy bear,850,teddy" in (out / "label_map.csv").read_text()


def test_coco_label_map_override_and_generator_format(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit)
    coco_fmt = tmp_path / "coco_map.csv"
    coco_fmt.write_text("coco_name,label,imagenet_index\norange,citrus,950\nperson,person,\n")
    gen_fmt = tmp_path / "gen_map.csv"
    gen_fmt.write_text("label,imagenet_index\nkite,999\n")
    assert coco_table(coco_fmt)["orange"] == ("citrus", (950,))
    assert coco_table(gen_fmt)["kite"] == ("kite", (999,))
    result = extract_coco(fx.annotations, fx.images, tmp_path / "out", label_map=coco_fmt,
                          classes_only=["citrus"], progress=False)
    assert {r["label"] for r in result.objects} == {"citrus"}
    assert result.kept == 1


def test_shipped_coco_map_matches_imagenet_names():
    names = imagenet_classes()
    text = resources.files("siscore").joinpath("data/coco_label_map.csv").read_text("utf-8")
    rows = list(csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")))
    assert len(rows) == 80 and len({r["coco_name"] for r in rows}) == 80
    for r in rows:
        idx = [int(i) for i in r["imagenet_index"].split()]
        assert r["imagenet_name"] == "; ".join(names[i] for i in idx), r["coco_name"]
    table = builtin_coco_table()
    assert table["kite"][1] == () and table["person"][1] == () and table["giraffe"][1] == ()
    assert table["dog"][1] == tuple(range(151, 269))  # the 118 ImageNet dog breeds
    # where the generator already has the class, the COCO map uses its name and indices
    gen = builtin_label_map()
    for name, (label, idx) in table.items():
        if label in gen and gen[label]:
            assert gen[label] == idx, name
    assert table["cell phone"] == ("mobile phone", (487,))


def test_bad_json_and_missing_keys_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    (tmp_path / "img").mkdir()
    with pytest.raises(ExtractError, match=r"--annotations .*bad.json: not valid JSON"):
        extract_coco(bad, tmp_path / "img", tmp_path / "out", progress=False)
    bad.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(ExtractError, match="missing key.*categories"):
        extract_coco(bad, tmp_path / "img", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_classes_only_none_mapped_is_an_error(tmp_path, kit):
    fx = build_coco(tmp_path / "coco", kit, objects=[CocoObj("p", "koala", 1, "no_label_mapping")])
    with pytest.raises(ExtractError, match="--classes-only person.*nothing to extract"):
        extract_coco(fx.annotations, fx.images, tmp_path / "out", classes_only=["person"],
                     progress=False)
    assert not (tmp_path / "out").exists()
