"""Several models in one pass (``--model A --model B --out-dir``) equal separate runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.evaluate import EvaluateError, evaluate, read_predictions, recorded_top1
from tests.test_evaluate_run import IMAGES, write_official
from tests.tiny_model import TinyNet, to_tensor

SMALL = ["--random-weights", "--crop", "32", "-j", "0", "-q"]


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_one_pass_equals_separate_runs_and_resumes_per_model(tmp_path: Path) -> None:
    data = write_official(tmp_path / "official")
    code, _, err = run("--dataset", data, "--model", "mobilenet_v3_small", "--model",
                       "timm/test_resnet", "--model", "resnet18", *SMALL, "--logits",
                       "--out-dir", tmp_path / "preds")
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "preds").glob("*.csv"))
    assert files == ["mobilenet_v3_small.csv", "resnet18.csv", "timm_test_resnet.csv"]
    assert err.count("has random weights") == 3  # said once per model, on stderr
    for model, name in (("mobilenet_v3_small", "mobilenet_v3_small.csv"),
                        ("timm/test_resnet", "timm_test_resnet.csv")):
        alone = tmp_path / f"alone-{name}"
        code, _, err = run("--dataset", data, "--model", model, *SMALL, "--logits", "--out", alone)
        assert code == 0, err
        together = read_predictions(tmp_path / "preds" / name)
        assert together.equals(read_predictions(alone))
        assert len(together) == len(IMAGES)
    assert recorded_top1(tmp_path / "preds" / "resnet18.csv") is None  # random weights: unknown
    # one model's file removed: the next pass predicts only for it
    for p in (tmp_path / "preds").glob("resnet18.csv*"):
        p.unlink()
    code, out, err = run("--dataset", data, "--model", "mobilenet_v3_small", "--model",
                         "timm/test_resnet", "--model", "resnet18", "--crop", "32", "-j", "0",
                         "--random-weights", "--logits", "--out-dir", tmp_path / "preds")
    assert code == 0, err
    assert out.count(f"0 now, {len(IMAGES)} from the cache") == 2
    assert out.count(f"{len(IMAGES)} now, 0 from the cache") == 1


def test_options_of_a_multi_model_run(tmp_path: Path) -> None:
    data = write_official(tmp_path / "official")
    code, _, err = run("--dataset", data, "--model", "resnet18", "--model", "resnet34",
                       "--out", tmp_path / "x.csv")
    assert code == 2 and "2 models: give --out-dir DIR" in err
    code, _, err = run("--dataset", data, "--model", "resnet18", "--model", "resnet18",
                       "--out-dir", tmp_path / "d")
    assert code == 2 and "--model: resnet18 given twice" in err
    code, _, err = run("--dataset", data, "--model", "resnet18", "--model", "resnet34",
                       "--weights", "DEFAULT", "--out-dir", tmp_path / "d")
    assert code == 2 and "name the weights in each name" in err
    assert not (tmp_path / "d").exists() and not (tmp_path / "x.csv").exists()


def test_imagenet_top1_is_recorded_for_score(tmp_path: Path) -> None:
    data = write_official(tmp_path / "official")
    acc = tmp_path / "acc.csv"
    acc.write_text("model,imagenet_top1\ntimm/test_resnet,12.5\n")
    code, _, err = run("--dataset", data, "--model", "efficientnet_lite0", "--model",
                       "timm/test_resnet", *SMALL, "--imagenet-acc", acc, "--out-dir", tmp_path / "p")
    assert code == 0, err
    assert recorded_top1(tmp_path / "p" / "efficientnet_lite0.csv") == 75.1  # published
    assert recorded_top1(tmp_path / "p" / "timm_test_resnet.csv") == 12.5  # from the CSV


def test_workers_is_a_hidden_alias_of_jobs(tmp_path: Path) -> None:
    data = write_official(tmp_path / "official")
    help_text = CliRunner().invoke(main, ["evaluate", "--help"]).output
    assert "-j, --jobs" in help_text and "--workers" not in help_text
    code, _, err = run("--dataset", data, "--model", "mobilenet_v3_small", "--crop", "32",
                       "--random-weights", "--workers", "0", "-q", "--out", tmp_path / "p.csv")
    assert code == 0, err
    code, _, err = run("--dataset", data, "--model", "mobilenet_v3_small", "--crop", "32",
                       "--random-weights", "-j", "-1", "-q", "--out", tmp_path / "q.csv")
    assert code == 1 and "--jobs -1: must be 0 or more" in err


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_refused_before_any_file(tmp_path: Path, limit: str) -> None:
    """--limit 0 or -1 once wrote a header-only predictions CSV and exited 0."""
    data = write_official(tmp_path / "official")
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    code, _, err = run("--dataset", data, "--model", "mobilenet_v3_small", "--crop", "32",
                       "--random-weights", "-j", "0", "-q", "--limit", limit, "--out", out)
    assert code == 1 and err.strip().splitlines()[-1] == (
        f"Error: --limit {limit}: must be at least 1; leave it out to predict every image"), err
    assert "Traceback" not in err and list(out.parent.iterdir()) == []
    with pytest.raises(EvaluateError, match=rf"^--limit {limit}: must be at least 1"):
        evaluate(TinyNet(), to_tensor, data, out, limit=int(limit), progress=False)
    assert list(out.parent.iterdir()) == []
