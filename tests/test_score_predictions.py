"""``siscore score`` on files written by ``siscore evaluate``: the ImageNet top-1 that evaluate
recorded (issue 10, item 4), and the one predictions reader shared with evaluate (issue 11,
item 10: ids beyond 64 bits, rows with an extra field).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.score import ScoreError, read_predictions, score_predictions


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-image build of the embedded assets, and two models' predictions on it."""
    root = tmp_path_factory.mktemp("top1")
    (root / "grid.toml").write_text("[grid]\narea = [0.3]\n")
    code, out = invoke("build", "--config", root / "grid.toml", "--resolution", "48",
                       "--bgs-per-fg", "1", "-q", "--out", root / "ds")
    assert code == 0, out
    (root / "acc.csv").write_text("model,imagenet_top1\nresnet18,41.5\n")
    for model, name, *extra in (("efficientnet_lite0", "lite0.csv"),
                                ("resnet18", "r18.csv", "--random-weights")):  # no weights
        code, out = invoke("evaluate", "--dataset", root / "ds", "--model", model, "--crop", "32",
                           "-j", "0", "-q", "--imagenet-acc", root / "acc.csv", "--out",
                           root / name, *extra)
        assert code == 0, out
    return root


def summary_of(root: Path, *args: object) -> dict:
    out = root / "out" / "s.csv"
    code, text = invoke("score", "--dataset", root / "ds", "--by", "label", "--out", out, "-q", *args)
    assert code == 0, text
    return json.loads(out.with_name("s.summary.json").read_text())["models"]


def test_score_uses_the_top1_recorded_by_evaluate(run: Path) -> None:
    models = summary_of(run, "-p", run / "lite0.csv", "-p", run / "r18.csv")
    # the library's published number, and the one evaluate's --imagenet-acc recorded
    assert models["efficientnet_lite0"]["imagenet_top1"] == 75.1
    assert models["resnet18"]["imagenet_top1"] == 41.5
    assert models["resnet18"]["imagenet_top1_source"] == "evaluate"
    # evaluate recorded random_init: true for the network without weights; score marks it
    assert models["resnet18"]["random_init"] is True
    assert "random_init" not in models["efficientnet_lite0"]


def test_imagenet_acc_of_score_first_then_recorded_then_torchvision(run: Path) -> None:
    acc = run / "score-acc.csv"
    acc.write_text("model,imagenet_top1\nefficientnet_lite0,70.0\n")
    testbed = run / "testbed.csv"  # --imagenet-acc asks for effective robustness: fit it here
    testbed.write_text("model,imagenet_top1,accuracy\n" + "".join(
        f"m{i},{60 + 4 * i},{20 + 5 * i}\n" for i in range(5)))
    # resnet18.IMAGENET1K_V1 has a torchvision top-1 (69.758): the recorded 41.5 comes first
    models = summary_of(run, "-p", run / "lite0.csv", "-p", run / "r18.csv", "--name",
                        "efficientnet_lite0", "--name", "resnet18.IMAGENET1K_V1",
                        "--imagenet-acc", acc, "--testbed", testbed)
    assert (models["efficientnet_lite0"]["imagenet_top1"],
            models["efficientnet_lite0"]["imagenet_top1_source"]) == (70.0, "--imagenet-acc")
    assert (models["resnet18.IMAGENET1K_V1"]["imagenet_top1"],
            models["resnet18.IMAGENET1K_V1"]["imagenet_top1_source"]) == (41.5, "evaluate")
    # without a recorded value, torchvision's metadata as before
    meta = run / "r18.csv.meta.json"
    saved = meta.read_text()
    try:
        meta.write_text(saved.replace('"imagenet_top1": 41.5', '"imagenet_top1": null'))
        models = summary_of(run, "-p", run / "lite0.csv", "-p", run / "r18.csv", "--name",
                            "efficientnet_lite0", "--name", "resnet18.IMAGENET1K_V1")
    finally:
        meta.write_text(saved)
    assert models["resnet18.IMAGENET1K_V1"]["imagenet_top1"] == pytest.approx(69.758)
    assert models["resnet18.IMAGENET1K_V1"]["imagenet_top1_source"] == "torchvision"


@pytest.mark.parametrize(("row", "message"), [
    ("100000000000000000000000,5", "row 3: image_id = 100000000000000000000000 does not fit a "
     "64-bit integer (at most 9223372036854775807); fix or delete the row"),
    ("1,5,x", "row 3: 3 fields but the header has 2: extra field(s) ['x'] after 'top1'; fix or "
     "delete the row"),
    ("1,²", "row 3: top1 = '²' is not an integer; fix or delete the row"),
])
def test_bad_rows_are_one_line_naming_file_row_and_field(run: Path, row: str, message: str
                                                         ) -> None:
    bad = run / "bad.csv"
    bad.write_text(f"image_id,top1\n0,5\n{row}\n")
    with pytest.raises(ScoreError) as info:
        read_predictions(bad)
    assert str(info.value) == f"{bad}, {message}"
    code, text = invoke("score", "--dataset", run / "ds", "-p", bad, "--out", run / "bad" / "s.csv")
    assert code != 0 and text.strip().splitlines()[-1] == f"Error: {bad}, {message}", text
    assert "Traceback" not in text and not (run / "bad").exists()


def test_a_data_frame_id_beyond_64_bits_is_refused(run: Path) -> None:
    frame = pd.DataFrame({"image_id": [0.0, 1e23], "top1": [5, 5]})
    with pytest.raises(ScoreError, match=r"row 3: image_id = 1e\+23 does not fit a 64-bit"):
        score_predictions(run / "ds", [frame])
    assert read_predictions(run / "r18.csv")[0].image_id.dtype == np.int64
