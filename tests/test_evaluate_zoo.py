"""The model sources of siscore.evaluate.create_model: load, checkpoints, downloads, errors.

timm and open_clip run randomly initialised small architectures (no weights
exist offline); downloads go to an HTTP server on 127.0.0.1 standing in for the hub.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from click.testing import CliRunner
from PIL import Image

from siscore.cli import main
from siscore.evaluate import (
    ModelError,
    PredictionsError,
    create_model,
    module_digest,
    read_predictions,
    register_source,
)
from siscore.evaluate.sources.torchvision import weights_path
from siscore.evaluate.types import LoadedModel

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTP server on 127.0.0.1 serving ``root``; yields (base url, root, requested paths)."""
    root = tmp_path / "served"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            super().do_GET()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, seen
    httpd.shutdown()
    httpd.server_close()


def test_timm_source_uses_timm_model_and_transform() -> None:
    m = create_model("timm/test_resnet", seed=3, random_weights=True)
    assert m.name == "timm/test_resnet" and m.random_init and m.top1 is None
    import timm

    torch.manual_seed(3)
    assert module_digest(m.module) == module_digest(timm.create_model("test_resnet").eval())
    config = timm.data.resolve_data_config({}, model=m.module)
    assert repr(m.transform) == repr(timm.data.create_transform(**config))
    with torch.inference_mode():
        assert m.module(m.transform(Image.new("RGB", (300, 200))).unsqueeze(0)).shape == (1, 1000)


def test_timm_pretrained_tag_offline_names_the_cache(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelError) as info:
        create_model("timm/resnet18.a1_in1k", offline=True)
    msg = str(info.value)
    assert "timm/resnet18.a1_in1k are not in the Hugging Face cache" in msg
    assert str(tmp_path / "hf" / "hub" / "models--timm--resnet18.a1_in1k") in msg
    assert "downloads are off" in msg and "\n" not in msg
    with pytest.raises(ModelError, match="timm has no architecture 'resnet_nope'"):
        create_model("timm/resnet_nope")


def test_open_clip_zero_shot_head_from_a_small_random_model(tmp_path: Path) -> None:
    import open_clip

    config = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32,
                                              "head_width": 16, "patch_size": 16},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                           "layers": 1}}
    path = tmp_path / "siscore-tiny-clip.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    m = create_model("open_clip/siscore-tiny-clip", templates="simple", random_weights=True)
    assert m.random_init and m.name == "open_clip/siscore-tiny-clip"
    assert m.module.head.shape == (32, 1000)
    assert torch.allclose(m.module.head.norm(dim=0), torch.ones(1000), atol=1e-4)
    x = m.transform(Image.new("RGB", (64, 48), (30, 90, 200))).unsqueeze(0)
    with torch.inference_mode():
        logits = m.module(x)
    assert logits.shape == (1, 1000) and float(logits.abs().max()) <= 100.0 + 1e-3
    with pytest.raises(ModelError, match="open_clip has no architecture"):
        create_model("open_clip/NoSuchArch")


def test_checkpoint_works_for_every_source(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(5)
    net = timm.create_model("test_resnet")
    torch.save({"state_dict": net.state_dict()}, tmp_path / "t.pt")
    m = create_model("timm/test_resnet", checkpoint=tmp_path / "t.pt")
    assert module_digest(m.module) == module_digest(net) and not m.random_init

    lite = create_model("efficientnet_lite0")
    torch.save(lite.module.state_dict(), tmp_path / "lite.pt")
    again = create_model("efficientnet_lite0", checkpoint=tmp_path / "lite.pt")
    assert module_digest(again.module) == module_digest(lite.module) and again.top1 is None


def test_wrong_architecture_checkpoint_counts_the_keys(tmp_path: Path) -> None:
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pt")
    with pytest.raises(ModelError) as info:
        create_model("efficientnet_lite0", checkpoint=tmp_path / "r18.pt")
    msg = str(info.value)
    assert "does not fit the architecture efficientnet_lite0" in msg
    assert "key(s) missing from the file (e.g. _conv_stem.weight, " in msg
    assert "unexpected key(s) (e.g. conv1.weight, bn1.weight, bn1.bias and " in msg
    assert msg.endswith("; check --model") and len(msg) < 500
    import timm

    torch.save(timm.create_model("test_resnet", num_classes=10).state_dict(), tmp_path / "t10.pt")
    with pytest.raises(ModelError) as info:
        create_model("timm/test_resnet", checkpoint=tmp_path / "t10.pt")
    width = timm.create_model("test_resnet").fc.weight.shape[1]
    assert str(info.value).endswith(f"does not fit the architecture timm/test_resnet: 2 key(s) of "
                                    f"another shape (e.g. fc.weight: 10x{width} in the file, "
                                    f"1000x{width} in the model); check --model")


def test_checkpoint_url_downloads_once_into_the_torch_cache(hub: Path, server) -> None:  # noqa: ANN001
    base, root, seen = server
    torch.manual_seed(2)
    net = torchvision.models.mobilenet_v3_small()
    torch.save(net.state_dict(), root / "mine.pth")
    for _ in range(2):
        m = create_model("mobilenet_v3_small", checkpoint=f"{base}/mine.pth")
        assert module_digest(m.module) == module_digest(net)
    assert seen == ["/mine.pth"]  # the second load used the cache
    assert [p.name for p in (hub / "checkpoints").rglob("*") if p.is_file()] == ["mine.pth"]
    with pytest.raises(ModelError, match="download failed .HTTP Error 404"):
        create_model("mobilenet_v3_small", checkpoint=f"{base}/absent.pth")
    assert not list((hub / "checkpoints").rglob("absent.pth*"))


def test_torchvision_download_is_hash_checked_and_offline_forbids_it(
        hub: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    base, root, seen = server
    monkeypatch.setenv("SISCORE_TORCHVISION_MIRROR", base)
    member = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    torch.save(torchvision.models.resnet18().state_dict(), root / "resnet18-f37072fd.pth")
    with pytest.raises(ModelError) as info:
        create_model("resnet18", "IMAGENET1K_V1", offline=True)
    assert "downloads are off (--offline or HF_HUB_OFFLINE)" in str(info.value) and seen == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="downloads are off"):
        create_model("resnet18:IMAGENET1K_V1")
    assert seen == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(ModelError) as info:  # a random file does not carry the hash f37072fd
        create_model("resnet18:IMAGENET1K_V1")
    assert f"downloading it from {base}/resnet18-f37072fd.pth failed" in str(info.value)
    assert "invalid hash value" in str(info.value) and "\n" not in str(info.value)
    assert seen == ["/resnet18-f37072fd.pth"]
    assert not weights_path(member).exists() and list((hub / "checkpoints").iterdir()) == []


def test_a_new_source_takes_a_few_lines(tmp_path: Path) -> None:
    @register_source("tiny", describe="a test source")
    def tiny(name: str, *, weights=None, checkpoint=None, seed=0, **_) -> LoadedModel:  # noqa: ANN001
        torch.manual_seed(seed)
        module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1000))
        import torchvision.transforms as T

        return LoadedModel(module.eval(), T.Compose([T.Resize((8, 8)), T.ToTensor()]), None,
                           f"tiny/{name}", random_init=True)

    m = create_model("tiny/a", random_weights=True)
    assert m.name == "tiny/a" and m.module(torch.zeros(1, 3, 8, 8)).shape == (1, 1000)
    with pytest.raises(ModelError, match="unknown source 'nope'"):
        create_model("nope/x")


def test_missing_optional_dependency_is_one_line_naming_the_extra() -> None:
    code = ("import sys; sys.modules['timm'] = None; sys.modules['efficientnet_lite_pytorch'] = None\n"
            "from siscore.cli import main\n"
            "for m in ('timm/resnet18', 'efficientnet_lite0'):\n"
            "    try: main(['evaluate', '--subset', 'size', '--model', m, '--out', 'x.csv'])\n"
            "    except SystemExit as e: print('exit', e.code)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("Error")]
    assert lines == [
        "Error: --model timm/resnet18 needs the Python package 'timm', which is not installed: "
        'pip install "siscore[timm]"',
        "Error: efficientnet_lite0 needs the Python package 'efficientnet_lite_pytorch', which is "
        'not installed: pip install "siscore[models]"']
    assert run.stdout.split() == ["exit", "1", "exit", "1"]
    assert not (REPO / "x.csv").exists()


def test_list_models_shows_sources_and_top1() -> None:
    result = CliRunner().invoke(main, ["evaluate", "--list-models"])
    assert result.exit_code == 0, result.output
    assert "efficientnet_lite1\n" in result.output and "ImageNet top-1 76.7%" in result.output
    for prefix in ("timm/...", "open_clip/...", "<torchvision name>"):
        assert prefix in result.output
    result = CliRunner().invoke(main, ["evaluate", "--model", "timm/resnet18", "--list-weights"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "timm/resnet18 is not a torchvision model (--list-models shows" in result.output


def test_predictions_reader_names_row_and_field(tmp_path: Path) -> None:
    head = "image_id,top1,top5,label,correct1,correct5,model\n"
    big = tmp_path / "big.csv"
    big.write_text(head + "100000000000000000000000,1,1 2,cat,1,1,m\n")
    with pytest.raises(PredictionsError, match=r"big.csv, row 2: image_id = 100000000000000000000000 "
                       "does not fit a 64-bit integer"):
        read_predictions(big)
    extra = tmp_path / "extra.csv"
    extra.write_text(head + "1,1,1 2,cat,1,1,m\n2,1,1 2,cat,1,1,m,oops\n")
    with pytest.raises(PredictionsError, match=r"extra.csv, row 3: 8 fields but the header has 7: "
                       r"extra field\(s\) \['oops'\] after 'model'"):
        read_predictions(extra)
    good = tmp_path / "good.csv"
    good.write_text(head + "9223372036854775807,1,1 2,cat,1,1,m\n")
    assert read_predictions(good)["image_id"].tolist() == [2**63 - 1]
