"""``siscore evaluate`` on the command line: real torchvision models with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from click.testing import CliRunner

from siscore.cli import main
from siscore.evaluate import SidePaths, read_predictions
from tests.test_evaluate_run import IMAGES, write_official

MODEL = ["--model", "mobilenet_v3_small", "--random-weights"]
FAST = [*MODEL, "--crop", "32", "--jobs", "0", "-q"]


@pytest.fixture()
def official(tmp_path: Path) -> Path:
    return write_official(tmp_path / "official")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)], env=env)
    return result.exit_code, result.output


def test_missing_weights_message_and_nothing_written(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    code, text = run("--dataset", official, "--model", "resnet50", "--weights", "IMAGENET1K_V2",
                     "--offline", "--out", out, env={"TORCH_HOME": str(tmp_path / "th")})
    assert code == 1
    expected = tmp_path / "th" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert "Error: weights ResNet50_Weights.IMAGENET1K_V2 of model resnet50 are not in the local " \
           "torch cache" in text
    assert str(expected) in text and "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in text
    assert not any(p.exists() for p in SidePaths(out).all())


def test_run_then_resume_then_refuse_another_transform(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    code, text = run("--dataset", official, *FAST, "--logits", "--out", out)
    assert code == 0, text
    df = read_predictions(out)
    assert list(df.columns) == ["image_id", "top1", "top5", "label", "correct1", "correct5", "model"]
    assert len(df) == len(IMAGES) and set(df["model"]) == {"mobilenet_v3_small"}
    assert all(len(t.split()) == 5 for t in df["top5"])
    code, text = run("--dataset", official, *FAST[:-1], "--logits", "--out", out)
    assert code == 0 and f"0 now, {len(IMAGES)} from the cache" in text
    before = out.read_bytes()
    code, text = run("--dataset", official, *MODEL, "--crop", "48", "--logits", "--out", out)
    assert code == 1 and "differs in: transform" in text and "--overwrite" in text
    assert out.read_bytes() == before
    code, text = run("--dataset", official, *MODEL, "--crop", "48", "--out", out, "--overwrite", "-q")
    assert code == 0, text
    assert not SidePaths(out).logits.exists()  # the old run's side files went with it


def test_option_errors(official: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "p.csv")
    code, text = run("--dataset", official, "--subset", "location", *FAST, "--out", out)
    assert code == 2 and "give exactly one of --dataset DIR, --subset NAME or --config FILE" in text
    code, text = run("--dataset", official, "--foregrounds", tmp_path, *FAST, "--out", out)
    assert code == 2 and "--foregrounds only apply when rendering on the fly" in text
    code, text = run("--dataset", official, *FAST)
    assert code == 2 and "give --out FILE" in text
    code, text = run("--dataset", official, "--out", out)
    assert code == 2 and "give --model NAME" in text
    code, text = run("--dataset", tmp_path / "nothing", *FAST, "--out", out)
    assert code == 1 and "nothing: not a folder" in text
    code, text = run("--dataset", official, *FAST, "--device", "cuda:7", "--out", out)
    assert code == 1 and "--device cuda:7" in text
    assert not Path(out).exists()


def test_list_weights(tmp_path: Path) -> None:
    code, text = run("--model", "resnet18", "--list-weights", env={"TORCH_HOME": str(tmp_path)})
    assert code == 0
    assert f"ResNet18_Weights.IMAGENET1K_V1  ImageNet top-1 69.758  NOT cached: {tmp_path}" in text


def test_checkpoint_with_dataset_classes(official: Path, tmp_path: Path) -> None:
    torch.save(torchvision.models.mobilenet_v3_small(num_classes=3).state_dict(), tmp_path / "m.pt")
    (tmp_path / "classes.txt").write_text("# one line per output\nbagel\n951\nzebra\n")
    out = tmp_path / "preds.csv"
    code, text = run("--dataset", official, "--model", "mobilenet_v3_small", "--checkpoint",
                     tmp_path / "m.pt", "--crop", "32", "--jobs", "0", "--out", out)
    assert code == 1 and "3 outputs, not the 1000 ImageNet-1k classes" in text
    code, text = run("--dataset", official, "--model", "mobilenet_v3_small", "--checkpoint",
                     tmp_path / "m.pt", "--crop", "32", "--jobs", "0", "--out", out,
                     "--output-classes", tmp_path / "classes.txt")
    assert code == 0, text
    df = read_predictions(out)
    assert set(df["top1"]) <= {931, 951, 340}
    assert all(sorted(map(int, t.split())) == [340, 931, 951] for t in df["top5"])
    (tmp_path / "classes.txt").write_text("bagel\nunicorn\n")
    code, text = run("--dataset", official, "--model", "mobilenet_v3_small", "--checkpoint",
                     tmp_path / "m.pt", "--out", out, "--output-classes", tmp_path / "classes.txt")
    assert code == 2 and "line 2: 'unicorn' is neither an ImageNet index nor a label" in text
