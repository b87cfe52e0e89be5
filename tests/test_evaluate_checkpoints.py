"""--checkpoint as untrusted input: NaN weights, empty files, odd keys, safetensors, URLs
cached by the whole address, and a wrong number of outputs refused before anything is written."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from click.testing import CliRunner

from siscore.cli import main
from siscore.evaluate import ModelError, create_model, module_digest, read_state_dict
from tests.test_evaluate_zoo import hub, server  # noqa: F401 - fixtures shared with the zoo tests

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "demo_eval.toml"


def small_net(seed: int, **kwargs) -> torch.nn.Module:  # noqa: ANN003
    torch.manual_seed(seed)
    return torchvision.models.mobilenet_v3_small(**kwargs)


def evaluate_cli(out: Path, *args: str) -> tuple[int, list[str]]:
    """``siscore evaluate`` on the demo grid; (exit code, the Error lines)."""
    result = CliRunner().invoke(main, ["evaluate", "--config", str(CONFIG), "--model",
                                       "mobilenet_v3_small", "--crop", "32", "-j", "0", "--limit",
                                       "2", "-q", "--device", "cpu", "--out", str(out), *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, [ln for ln in result.output.splitlines() if ln.startswith("Error")]


def test_nan_and_inf_checkpoints_are_refused_in_one_line(tmp_path: Path) -> None:
    net = small_net(0)
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
             for k, v in net.state_dict().items()}
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(ModelError) as info:
        create_model("mobilenet_v3_small", checkpoint=tmp_path / "nan.pt")
    msg = str(info.value)
    assert msg.startswith(f"--checkpoint {tmp_path / 'nan.pt'}: ")
    assert "floating-point tensors hold NaN or infinite values (e.g. features.0.0.weight" in msg
    assert "\n" not in msg
    one = dict(net.state_dict())
    one["classifier.3.bias"] = one["classifier.3.bias"].clone()
    one["classifier.3.bias"][7] = float("inf")  # a single infinite parameter is enough
    torch.save(one, tmp_path / "inf.pt")
    with pytest.raises(ModelError, match=r"1 of \d+ floating-point tensors .* \(e.g. classifier.3.bias\)"):
        create_model("mobilenet_v3_small", checkpoint=tmp_path / "inf.pt")
    import timm  # every source checks the same way

    t = timm.create_model("test_resnet")
    torch.save({k: v * float("nan") for k, v in t.state_dict().items()}, tmp_path / "t.pt")
    with pytest.raises(ModelError, match="hold NaN or infinite values"):
        create_model("timm/test_resnet", checkpoint=tmp_path / "t.pt")
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    code, errors = evaluate_cli(out, "--checkpoint", str(tmp_path / "nan.pt"))
    assert code == 1 and len(errors) == 1 and "hold NaN or infinite values" in errors[0]
    assert list(out.parent.iterdir()) == []  # nothing written


def test_empty_file_and_integer_keys_are_one_line_each(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match=r"empty.pt: the file is empty \(0 bytes\); save the state dict"):
        read_state_dict(empty)
    torch.save({0: torch.zeros(3), 1: torch.ones(3)}, tmp_path / "ints.pt")
    with pytest.raises(ModelError, match=r"ints.pt: expected a state dict .*key 0 is a int, not a "
                                         "parameter name"):
        create_model("mobilenet_v3_small", checkpoint=tmp_path / "ints.pt")
    torch.save({"a": torch.zeros(3), "b": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(ModelError, match=r"list.pt: expected a state dict .*'b' holds a list"):
        read_state_dict(tmp_path / "list.pt")
    with pytest.raises(ModelError, match=r"is a folder; give the state-dict file"):
        read_state_dict(tmp_path)
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    for bad, said in ((empty, "the file is empty (0 bytes)"), (tmp_path / "ints.pt", "key 0 is a int")):
        code, errors = evaluate_cli(out, "--checkpoint", str(bad))
        assert code == 1 and len(errors) == 1 and said in errors[0], errors
    assert list(out.parent.iterdir()) == []


class _RunsPrint:
    def __reduce__(self):  # noqa: ANN204 - a pickle that would call print() when loaded
        return (print, ("ran the file's code",))


def test_text_and_hostile_pickles_are_one_line_with_no_warning(tmp_path: Path) -> None:
    import pickle

    text = tmp_path / "notes.pt"
    text.write_text("hello")  # torch's weights-only unpickler raises KeyError on this
    with pytest.raises(ModelError, match=r"notes.pt: unreadable, not a file written by torch.save "
                                         r"\(KeyError: 101\); give the state-dict file"):
        read_state_dict(text)
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps(_RunsPrint(), protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's pickle-protocol warning is not shown either
        with pytest.raises(ModelError) as info:
            read_state_dict(hostile)
    msg = str(info.value)
    assert "hostile.pt: not a plain state dict (Unsupported operand 149)" in msg
    assert "weights_only" not in msg and "\n" not in msg  # never advise running the file's code
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    for bad, said in ((text, "KeyError: 101"), (hostile, "Unsupported operand")):
        result = CliRunner().invoke(main, ["evaluate", "--config", str(CONFIG), "--model",
                                           "mobilenet_v3_small", "--checkpoint", str(bad), "-j", "0",
                                           "--limit", "2", "-q", "--device", "cpu", "--out", str(out)])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and said in lines[0], lines
    assert list(out.parent.iterdir()) == []


def test_safetensors_checkpoints_are_read(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    net = small_net(4)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    save_file(state, tmp_path / "w.bin")  # known by its header, whatever its name
    for name in ("w.safetensors", "w.bin"):
        m = create_model("mobilenet_v3_small", checkpoint=tmp_path / name)
        assert module_digest(m.module) == module_digest(net) and not m.random_init
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ModelError, match=r"bad.safetensors: unreadable safetensors file"):
        read_state_dict(tmp_path / "bad.safetensors")


def test_checkpoint_urls_are_cached_by_the_whole_address(hub: Path, server) -> None:  # noqa: ANN001, F811
    base, root, seen = server
    (root / "sub").mkdir()
    a, b = small_net(1), small_net(2)
    torch.save(a.state_dict(), root / "r.pt")
    torch.save(b.state_dict(), root / "sub" / "r.pt")
    for _ in range(2):
        assert module_digest(create_model("mobilenet_v3_small", checkpoint=f"{base}/r.pt").module) \
            == module_digest(a)
        assert module_digest(create_model("mobilenet_v3_small", checkpoint=f"{base}/sub/r.pt").module) \
            == module_digest(b)  # the same file name elsewhere is another file
    assert seen == ["/r.pt", "/sub/r.pt"]  # each fetched once
    cached = sorted(p for p in (hub / "checkpoints").rglob("*") if p.is_file())
    assert [p.name for p in cached] == ["r.pt", "r.pt"] and cached[0].parent != cached[1].parent


def test_a_url_ending_in_a_slash_is_refused_and_leaves_nothing(hub: Path, server) -> None:  # noqa: ANN001, F811
    base, _, seen = server
    with pytest.raises(ModelError) as info:
        create_model("mobilenet_v3_small", checkpoint=f"{base}/models/")
    assert str(info.value) == (f"--checkpoint {base}/models/: the URL names a folder (it ends in "
                               "'/'), not a file; give the address of the state-dict file itself")
    assert seen == []
    assert not hub.exists() or not [p for p in hub.rglob("*") if p.is_file()]


def test_a_wrong_number_of_outputs_leaves_no_meta_json(tmp_path: Path) -> None:
    torch.save(small_net(3, num_classes=10).state_dict(), tmp_path / "ten.pt")
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    code, errors = evaluate_cli(out, "--checkpoint", str(tmp_path / "ten.pt"))
    assert code == 1 and len(errors) == 1, errors
    assert "the model has 10 outputs, not the 1000 ImageNet-1k classes" in errors[0]
    assert "--output-classes FILE" in errors[0]
    assert list(out.parent.iterdir()) == []  # no OUT.meta.json (issue 23)
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(str(i) for i in range(10)) + "\n")
    three = tmp_path / "three.txt"
    three.write_text("0\n1\n2\n")
    code, errors = evaluate_cli(out, "--checkpoint", str(tmp_path / "ten.pt"), "--output-classes",
                                str(three))
    assert code == 1 and "the model has 10 outputs but 3 output classes were given" in errors[0]
    assert list(out.parent.iterdir()) == []
    code, errors = evaluate_cli(out, "--checkpoint", str(tmp_path / "ten.pt"), "--output-classes",
                                str(classes))
    assert code == 0 and errors == [] and out.is_file()
