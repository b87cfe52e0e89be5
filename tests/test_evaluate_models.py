"""siscore.evaluate.sources.torchvision: weight enums from a local torch cache, checkpoints, transforms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image

from siscore.evaluate import (
    ModelError,
    WeightsNotFoundError,
    load_model,
    make_transform,
    module_digest,
)
from siscore.evaluate.sources.torchvision import transform_sizes, weights_path


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch cache: TORCH_HOME points to a fresh folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert torch.hub.get_dir() == str(tmp_path / "torch" / "hub")
    return tmp_path / "torch" / "hub"


def test_missing_weights_say_which_file_where_and_stop(hub: Path) -> None:
    expected = hub / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(WeightsNotFoundError) as info:
        load_model("resnet18", "IMAGENET1K_V1")
    msg = str(info.value)
    assert "\n" not in msg  # one line (issue 23: it was six)
    assert f"(expected {expected};" in msg and "TORCH_HOME" in msg
    assert "ResNet18_Weights.IMAGENET1K_V1" in msg
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    assert "torchvision.models.resnet18(weights='IMAGENET1K_V1')" in msg
    assert "downloads are off (--offline or HF_HUB_OFFLINE)" in msg
    for said_once in ("copy the file there", "on a machine with internet access", str(expected)):
        assert msg.count(said_once) == 1, said_once
    assert info.value.path == expected
    assert not hub.exists()  # nothing was downloaded, not even a folder created


def test_cached_weights_load_offline_with_their_transform(hub: Path) -> None:
    member = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    path = weights_path(member)
    assert path == hub / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.manual_seed(1)
    source = torchvision.models.resnet18()
    torch.save(source.state_dict(), path)
    for spelling in ("IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1", "DEFAULT"):
        m = load_model("resnet18", spelling)
        assert module_digest(m.module) == module_digest(source)
        assert not m.module.training
        assert m.weights == "ResNet18_Weights.IMAGENET1K_V1"
        assert m.categories is not None and len(m.categories) == 1000 and m.categories[0] == "tench"
        assert m.meta["_metrics"]["ImageNet-1K"]["acc@1"] == pytest.approx(69.758)
    assert transform_sizes(m.transform) == (256, 224)
    x = m.transform(Image.new("RGB", (300, 200), (10, 200, 30)))
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    big = load_model("resnet18", "IMAGENET1K_V1", crop=288)
    assert transform_sizes(big.transform) == (329, 288)
    path.write_bytes(b"PK\x03\x04 a truncated download")
    with pytest.raises(ModelError, match=r"resnet18-f37072fd.pth: the cached weights .* are unreadable"):
        load_model("resnet18", "IMAGENET1K_V1")


def test_unknown_model_and_weights() -> None:
    with pytest.raises(ModelError, match=r"--model 'resnet5': .*did you mean resnet50"):
        load_model("resnet5")
    with pytest.raises(ModelError, match=r"--weights 'IMAGENET1K_V9': model resnet18 has the weights "
                                         r"DEFAULT, IMAGENET1K_V1"):
        load_model("resnet18", "IMAGENET1K_V9")
    with pytest.raises(ModelError, match="not both"):
        load_model("resnet18", "IMAGENET1K_V1", checkpoint="x.pt")


def test_checkpoint_state_dicts(tmp_path: Path) -> None:
    torch.manual_seed(2)
    net = torchvision.models.mobilenet_v3_small()
    wrapped = {"state_dict": {"module." + k: v for k, v in net.state_dict().items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "ddp.pt")
    m = load_model("mobilenet_v3_small", checkpoint=tmp_path / "ddp.pt")
    assert module_digest(m.module) == module_digest(net)
    assert m.checkpoint == tmp_path / "ddp.pt" and m.categories is not None
    assert transform_sizes(m.transform)[1] == 224  # the architecture's DEFAULT weights' preprocessing

    tuned = torchvision.models.mobilenet_v3_small(num_classes=10)
    torch.save(tuned.state_dict(), tmp_path / "tuned.pt")
    t = load_model("mobilenet_v3_small", checkpoint=tmp_path / "tuned.pt")
    assert t.module(torch.zeros(1, 3, 64, 64)).shape == (1, 10) and t.categories is None

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pt")
    with pytest.raises(ModelError, match=r"r18.pt: does not fit the architecture mobilenet_v3_small"):
        load_model("mobilenet_v3_small", checkpoint=tmp_path / "r18.pt")
    torch.save(net, tmp_path / "pickled.pt")
    with pytest.raises(ModelError, match=r"pickled.pt: not a plain state dict.*state_dict\(\)"):
        load_model("mobilenet_v3_small", checkpoint=tmp_path / "pickled.pt")
    with pytest.raises(ModelError, match=r"--checkpoint .*nothing.pt: file not found"):
        load_model("mobilenet_v3_small", checkpoint=tmp_path / "nothing.pt")


def test_random_weights_are_reproducible_and_leave_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = load_model("mobilenet_v3_small"), load_model("mobilenet_v3_small")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert module_digest(a.module) == module_digest(b.module)
    assert module_digest(load_model("mobilenet_v3_small", seed=1).module) != module_digest(a.module)


def test_transform_overrides() -> None:
    t = make_transform(None, crop=64)
    assert transform_sizes(t) == (73, 64)
    t = make_transform(None, resize=100, crop=96)
    assert transform_sizes(t) == (100, 96)
    with pytest.raises(ModelError, match="--resize 80 is smaller than --crop 96"):
        make_transform(None, resize=80, crop=96)
    member = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    t = make_transform(member, crop=160)
    assert transform_sizes(t) == (166, 160)  # 232/224 kept


def test_the_standard_transform_uses_public_transforms_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No torchvision.transforms._presets (issue 21): the standard ImageNet transform is a
    Compose of public transforms and gives the pixels the weights' own transform gives."""
    import sys

    for name in [m for m in sys.modules if m.startswith("torchvision.transforms._presets")]:
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    t = make_transform(None)
    assert "torchvision.transforms._presets" not in sys.modules
    assert [type(s).__name__ for s in t.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    img = Image.new("RGB", (300, 200), (10, 200, 30))
    for x in range(0, 300, 7):
        img.putpixel((x, x % 200), (250, 0, 120))
    reference = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    assert torch.allclose(t(img), reference(img), atol=1e-5)
