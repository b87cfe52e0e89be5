"""`siscore extract boxes`: GrabCut seeded by boxes, on the OpenImages box CSV format."""

from __future__ import annotations

import numpy as np
import pytest

from siscore.extract import extract_boxes
from siscore.extract.boxes import box_id
from tests.extract_fixtures import Kit, Obj, build_openimages, cached_kit, iou, recovered_mask

GRABCUT_CASES = [
    Obj("lemon", "lemon", "lemon", "kept", size=170, photo=0),
    Obj("strawberry", "strawberry", "strawberry", "kept", size=150, photo=1),
    Obj("koala", "koala", "koala", "kept", size=170, photo=2),
    Obj("bagel", "bagel", "bagel", "kept", size=160, photo=3),
    Obj("toaster", "toaster", "toaster", "kept", size=150, photo=4),
    Obj("occluded", "lemon", "lemon", "occluded", flags=("1", "0", "0", "0"), photo=5),
    Obj("unknown", "lemon", "lemon", "unknown_flag", flags=("-1", "0", "0", "0"), photo=6),
    Obj("group", "lemon", "lemon", "group_of", flags=("0", "0", "1", "0"), mask="two", photo=7),
    Obj("border", "strawberry", "strawberry", "touches_border", at=(0.04, 0.5), photo=0),
    Obj("tiny", "lemon", "lemon", "too_small", size=30, photo=1),
    Obj("missing", "lemon", "lemon", "image_missing", image="missing", photo=2),
]


@pytest.fixture(scope="module")
def kit() -> Kit:
    return cached_kit()


def _truth_by_image(fx) -> dict[str, np.ndarray]:
    return {k.split("/")[1].split("_")[0]: t for k, t in fx.truth.items()}


def _reasons(result) -> dict[str, str]:
    return {r["image_id"]: r["reason"] for r in result.objects}


def test_grabcut_flags_and_gates(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=GRABCUT_CASES)
    result = extract_boxes(fx.boxes, fx.images, tmp_path / "out", class_descriptions=fx.classes, progress=False)
    expected = {k.split("/")[1].split("_")[0]: v for k, v in fx.expect.items()}
    assert _reasons(result) == expected
    for r in result.objects:
        assert r["box_id"].startswith("g") and len(r["box_id"]) == 9
        assert r["mask"] == "grabcut"
    # the Person boxes of the fixture have no ImageNet class: one aggregated row
    assert any(r["key"] == "no_label_mapping:/m/01g317" for r in result.rows)


def test_grabcut_recovers_real_cutouts(tmp_path, samples):
    """On the SI-SCORE sample cut-outs pasted into the sample photos, GrabCut gets close."""
    kit = cached_kit()
    if kit.source != "samples":
        pytest.skip("measured on the SI-SCORE sample cut-outs only")
    kept = [o for o in GRABCUT_CASES if o.expect == "kept"]
    fx = build_openimages(tmp_path / "oi", kit, objects=kept)
    out = tmp_path / "out"
    result = extract_boxes(fx.boxes, fx.images, out, class_descriptions=fx.classes, progress=False)
    truth = _truth_by_image(fx)
    scores = [iou(recovered_mask(out, r, truth[r["image_id"]].shape), truth[r["image_id"]])
              for r in result.objects]
    assert len(scores) == len(kept)
    # GrabCut is not an annotator: measured here 0.93 (toaster) to 1.00; looser than the masks' 0.98
    assert min(scores) >= 0.9 and float(np.mean(scores)) >= 0.95, scores


def test_boxes_without_classes_file_use_label_names(tmp_path, kit):
    fx = build_openimages(tmp_path / "oi", kit, objects=GRABCUT_CASES[:1])
    text = fx.boxes.read_text().replace("/m/09k_b", "Lemon").replace("/m/01g317", "Person")
    plain = tmp_path / "boxes.csv"
    plain.write_text(text)
    result = extract_boxes(plain, fx.images, tmp_path / "out", progress=False)
    assert [r["label"] for r in result.objects] == ["lemon"] and result.kept == 1


def test_box_id_is_stable_and_depends_on_the_box():
    a = box_id("/m/09k_b", ["0.1", "0.5", "0.2", "0.6"])
    assert a == box_id("/m/09k_b", ["0.1", "0.5", "0.2", "0.6"])
    assert a != box_id("/m/09k_b", ["0.1", "0.5", "0.2", "0.61"])
