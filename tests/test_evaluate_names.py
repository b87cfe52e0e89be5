"""Model names: suggestions by edit distance, the Lite models' one set of weights, random
weights refused unless asked for, and the one ImageNet top-1 lookup (a registry without torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.evaluate import ModelError, create_model, imagenet_top1, pretrained_cfg, suggest
from siscore.score.effective import torchvision_top1

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "demo_eval.toml"


def _did_you_mean(message: str) -> list[str]:
    assert "\n" not in message
    return message.split("did you mean ", 1)[1].split("?", 1)[0].split(", ")


def test_unknown_names_get_at_most_five_close_suggestions() -> None:
    with pytest.raises(ModelError) as info:
        create_model("efficientnet_lite9")
    close = _did_you_mean(str(info.value))
    assert close[:3] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert len(close) <= 5 and len(str(info.value)) < 600  # not the 80 torchvision names
    with pytest.raises(ModelError) as info:
        create_model("resnet5")
    assert _did_you_mean(str(info.value))[0] == "resnet50"
    # the installed extras' names count too: timm's architectures and tags, open_clip's
    assert "timm/convnext_tiny.fb_in1k" in suggest("timm/convnext_tiny.fb_in1")
    assert suggest("open_clip/ViT-B-32:laion2b_s34b_b7")[0] == "open_clip/ViT-B-32:laion2b_s34b_b79k"
    with pytest.raises(ModelError) as info:
        create_model("timm/resnet5")
    assert "timm has no architecture 'resnet5'" in str(info.value)
    assert "timm/resnet50" in _did_you_mean(str(info.value))


def test_a_lite_model_has_no_weights_tag() -> None:
    with pytest.raises(ModelError) as info:
        create_model("efficientnet_lite0:DEFAULT")
    msg = str(info.value)
    assert "efficientnet_lite0 has one set of weights" in msg and "without ':DEFAULT'" in msg
    assert "torchvision" not in msg and "did you mean" not in msg


def test_random_weights_are_refused_unless_asked_for(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        create_model("resnet18")
    msg = str(info.value)
    assert msg.startswith("--model resnet18: no pretrained weights were named")
    assert "--random-weights (random_weights=True)" in msg and "\n" not in msg
    for name in ("timm/test_resnet", "resnet18"):
        with pytest.raises(ModelError, match="randomly initialised"):
            create_model(name)
        assert create_model(name, random_weights=True).random_init
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    common = ["evaluate", "--config", str(CONFIG), "--model", "mobilenet_v3_small", "--crop", "32",
              "-j", "0", "--limit", "2", "-q", "--device", "cpu", "--out", str(out)]
    result = CliRunner().invoke(main, common)
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error")]
    assert result.exit_code == 1 and len(errors) == 1 and "--random-weights" in errors[0]
    assert list(out.parent.iterdir()) == [] and "Traceback" not in result.output
    result = CliRunner().invoke(main, [*common, "--random-weights"])
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_name("p.csv.meta.json").read_text())
    assert meta["random_init"] is True and meta["imagenet_top1"] is None


def test_one_top1_lookup_for_evaluate_score_and_the_cli() -> None:
    assert imagenet_top1("resnet50:IMAGENET1K_V2") == pytest.approx(80.858)
    assert imagenet_top1("resnet50", "IMAGENET1K_V1") == pytest.approx(76.13)
    assert imagenet_top1("resnet50") is None  # no weights named: random, no top-1
    assert imagenet_top1("efficientnet_lite1") == 76.7
    assert imagenet_top1("timm/resnet18.a1_in1k") is None  # timm ships no accuracies
    assert imagenet_top1("nope/resnet50") is None and imagenet_top1("") is None
    for name in ("ResNet50_Weights.IMAGENET1K_V2", "resnet50:IMAGENET1K_V1", "resnet18_IMAGENET1K_V1",
                 "resnet50/DEFAULT", "resnet50", "my_model:IMAGENET1K_V9", "efficientnet_lite0"):
        assert torchvision_top1(name) == imagenet_top1(name), name
    cfg = pretrained_cfg("resnet50:IMAGENET1K_V2")
    assert (cfg.weights, cfg.input_size, cfg.resize, cfg.interpolation) == \
        ("ResNet50_Weights.IMAGENET1K_V2", 224, 232, "bilinear")
    timm_cfg = pretrained_cfg("timm/resnet18.a1_in1k")
    assert (timm_cfg.weights, timm_cfg.input_size, timm_cfg.interpolation) == \
        ("resnet18.a1_in1k", 224, "bicubic")
    lite = create_model("efficientnet_lite2") if _has_lite() else None
    if lite is not None:
        assert lite.top1 == imagenet_top1("efficientnet_lite2") == pretrained_cfg("efficientnet_lite2").top1
    result = CliRunner().invoke(main, ["evaluate", "--model", "resnet18", "--list-weights"],
                                env={"TORCH_HOME": "/nonexistent-torch-home"})
    assert result.exit_code == 0 and "ResNet18_Weights.IMAGENET1K_V1  ImageNet top-1 69.758" in result.output


def _has_lite() -> bool:
    try:
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def test_the_registry_and_the_package_import_no_torch() -> None:
    code = ("import sys\n"
            "import siscore.evaluate, siscore.evaluate.registry as r, siscore.score\n"
            "print(r.imagenet_top1('efficientnet_lite0'), len(r.list_models()) > 3)\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'open_clip', 'cv2') "
            "if m in sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert run.stdout.split("\n")[:2] == ["75.1 True", "[]"], run.stdout + run.stderr
