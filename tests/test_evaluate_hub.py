"""timm weights through huggingface_hub, against a local server standing in for the Hugging Face Hub.

huggingface_hub reads HF_ENDPOINT when imported, so each load runs in a fresh process
pointed at a server on 127.0.0.1 that answers the two requests a download needs
(HEAD, then GET of /<repo>/resolve/<revision>/<file>).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

from siscore.evaluate import module_digest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub() -> Iterator[tuple[str, dict, list[str]]]:
    files: dict[tuple[str, str], bytes] = {}
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            seen.append(f"{self.command} {self.path}")
            parts = self.path.split("?")[0].strip("/").split("/")
            data = None
            if len(parts) >= 5 and parts[2] == "resolve":
                data = files.get(("/".join(parts[:2]), "/".join(parts[4:])))
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(True)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files, seen
    server.shutdown()
    server.server_close()


def load(env: dict[str, str], *args: str, options: str = "progress=True", shown: str = "m.module",
         extra: str = "", prelude: str = "") -> subprocess.CompletedProcess:
    """Load a model in a fresh process (huggingface_hub reads HF_ENDPOINT on import), after
    ``prelude``; prints the digest of ``shown``, the name and whether it is random, or the
    ModelError."""
    code = (prelude + "import sys\n"
            "from siscore.evaluate import create_model, module_digest, ModelError\n"
            f"try:\n    m = create_model(sys.argv[1], offline=len(sys.argv) > 2, {options})\n"
            f"    print(module_digest({shown}), m.name, m.random_init{extra})\n"
            "except ModelError as e:\n    print('ModelError:', e)\n")
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    full.pop("HF_HUB_OFFLINE", None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True,
                          text=True, timeout=300)


def test_timm_weights_download_from_the_hub_then_load_offline(hub, tmp_path: Path) -> None:  # noqa: ANN001
    endpoint, files, seen = hub
    torch.manual_seed(7)
    net = timm.create_model("test_resnet")
    files[("timm/test_resnet.r160_in1k", "model.safetensors")] = safetensors_torch.save(net.state_dict())
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}
    run = load(env, "timm/test_resnet.r160_in1k")
    assert run.stdout.split() == [module_digest(net), "timm/test_resnet.r160_in1k", "False"], run.stderr
    assert "%|" not in run.stderr  # no download bar when stderr is not a terminal (issue 11, 23)
    assert "GET /timm/test_resnet.r160_in1k/resolve/main/model.safetensors" in seen
    cached = tmp_path / "hf" / "hub" / "models--timm--test_resnet.r160_in1k"
    assert cached.is_dir()
    seen.clear()
    run = load(env, "timm/test_resnet.r160_in1k", "offline")  # from the cache, no request
    assert run.stdout.split()[0] == module_digest(net) and seen == []
    run = load({**env, "HF_HOME": str(tmp_path / "empty")}, "timm/test_resnet.r160_in1k", "offline")
    assert run.stdout.startswith("ModelError: --model timm/test_resnet.r160_in1k: pretrained weights "
                                 "timm/test_resnet.r160_in1k are not in the Hugging Face cache")
    assert "and downloads are off (--offline or HF_HUB_OFFLINE)" in run.stdout
    assert seen == []


TINY_CLIP = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                                             "patch_size": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def load_clip(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return load(env, *args, options="templates='simple'", shown="m.module.clip", extra=", m.weights")


def serve_tiny_clip(files: dict, repo: str, seed: int, *, config: bool = True,
                    weights: bool = True) -> torch.nn.Module:
    """A tiny CLIP (seeded random weights), its config and weights served as ``repo``'s files."""
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    net = CLIP(**TINY_CLIP)
    if config:
        files[(repo, "open_clip_config.json")] = json.dumps({"model_cfg": TINY_CLIP}).encode()
    if weights:
        files[(repo, "open_clip_model.safetensors")] = safetensors_torch.save(net.state_dict())
    return net


def test_open_clip_hub_model_downloads_then_loads_offline(hub, tmp_path: Path) -> None:  # noqa: ANN001
    endpoint, files, seen = hub
    repo, name = "siscore-test/tiny-clip", "open_clip/hf-hub:siscore-test/tiny-clip"
    net = serve_tiny_clip(files, repo, 11)
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}
    run = load_clip(env, name)
    assert run.stdout.split() == [module_digest(net), name, "False", "hf-hub:" + repo], run.stderr
    assert f"GET /{repo}/resolve/main/open_clip_config.json" in seen
    assert f"GET /{repo}/resolve/main/open_clip_model.safetensors" in seen
    seen.clear()
    run = load_clip(env, name, "offline")  # from the cache, no request
    assert run.stdout.split()[0] == module_digest(net) and seen == [], run.stderr
    run = load_clip({**env, "HF_HOME": str(tmp_path / "empty")}, name, "offline")
    assert run.stdout.startswith(f"ModelError: --model {name}: pretrained weights {repo} are not in the "
                                 "Hugging Face cache"), run.stdout + run.stderr
    assert "downloads are off (--offline or HF_HUB_OFFLINE)" in run.stdout and seen == []


def test_open_clip_hub_model_without_weights_is_an_error_not_random_weights(hub, tmp_path: Path) -> None:  # noqa: ANN001
    endpoint, files, _ = hub
    repo, name = "siscore-test/no-weights", "open_clip/hf-hub:siscore-test/no-weights"
    serve_tiny_clip(files, repo, 0, weights=False)
    run = load_clip({"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}, name)
    assert run.stdout.startswith(f"ModelError: --model {name}: pretrained weights {repo} are not in the "
                                 "Hugging Face cache"), run.stdout + run.stderr
    assert f"the download from {endpoint} failed" in run.stdout
    assert "open_clip_pytorch_model.bin" in run.stdout and run.stdout.count("\n") == 1
    # weights that do not fit the config: the error names the repository, not the cache
    files[(repo, "open_clip_model.safetensors")] = safetensors_torch.save({"visual.proj": torch.zeros(3, 3)})
    run = load_clip({"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf2")}, name)
    assert run.stdout.startswith(f"ModelError: --model {name}: open_clip could not build it from the "
                                 f"files of {repo}: "), run.stdout + run.stderr
    # a config open_clip cannot build a model from: one line, not open_clip's traceback
    files[(repo, "open_clip_config.json")] = json.dumps({"model_cfg": {"embed_dim": 32}}).encode()
    run = load_clip({"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf3")}, name)
    assert run.stdout.startswith(f"ModelError: --model {name}: open_clip could not build it from the "
                                 f"files of {repo}: KeyError: 'text_cfg'"), run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stdout.count("\n") == 1


def test_open_clip_hub_model_with_a_checkpoint_needs_only_the_config(hub, tmp_path: Path) -> None:  # noqa: ANN001
    endpoint, files, seen = hub
    repo, name = "siscore-test/config-only", "open_clip/hf-hub:siscore-test/config-only"
    net = serve_tiny_clip(files, repo, 5, weights=False)
    checkpoint = tmp_path / "mine.pt"
    torch.save(net.state_dict(), checkpoint)
    run = load({"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}, name,
               options=f"templates='simple', checkpoint={str(checkpoint)!r}", shown="m.module.clip")
    assert run.stdout.split() == [module_digest(net), name, "False"], run.stdout + run.stderr
    assert not any("safetensors" in s or ".bin" in s for s in seen)  # no weights asked for
    assert "initialized randomly" not in run.stderr and "WARNING" not in run.stderr, run.stderr


def test_open_clip_pretrained_tag_downloads_from_the_hub_then_loads_offline(hub, tmp_path: Path) -> None:  # noqa: ANN001
    endpoint, files, seen = hub
    repo, name = "siscore-test/tiny-clip-tag", "open_clip/siscore-tiny-clip:test"
    net = serve_tiny_clip(files, repo, 3, config=False)
    config = tmp_path / "siscore-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    # a tiny architecture and a pretrained tag for it in open_clip's tables, as its own entries are
    prelude = ("import open_clip\nfrom open_clip import pretrained\n"
               f"open_clip.add_model_config({str(config)!r})\n"
               f"pretrained._PRETRAINED['siscore-tiny-clip'] = {{'test': pretrained._pcfg(hf_hub={repo + '/'!r})}}\n")
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}
    run = load(env, name, prelude=prelude, options="templates='simple'", shown="m.module.clip", extra=", m.weights")
    assert run.stdout.split() == [module_digest(net), name, "False", "test"], run.stdout + run.stderr
    assert f"GET /{repo}/resolve/main/open_clip_model.safetensors" in seen
    seen.clear()
    run = load(env, name, "offline", prelude=prelude, options="templates='simple'", shown="m.module.clip")
    assert run.stdout.split()[0] == module_digest(net) and seen == [], run.stdout + run.stderr
    run = load({**env, "HF_HOME": str(tmp_path / "empty")}, name, "offline", prelude=prelude,
               options="templates='simple'", shown="m.module.clip")
    assert run.stdout.startswith(f"ModelError: --model {name}: pretrained weights {repo} are not in the "
                                 "Hugging Face cache"), run.stdout + run.stderr
    assert seen == []


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections are refused, as with no network."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name, repo", [
    ("timm/resnet18.a1_in1k", "timm/resnet18.a1_in1k"),
    ("open_clip/ViT-B-32:laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
    ("open_clip/hf-hub:siscore-test/absent", "siscore-test/absent"),
])
def test_no_network_fails_at_once_in_one_whole_line(name: str, repo: str, tmp_path: Path) -> None:
    """Without --offline and without a network, one request fails and the error is one line
    (the name, the cache folder, --offline): no retries and their warnings (issue 23: 23 to
    46 warning lines over 52 s), no library message cut inside a word."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    run = load({"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}, name,
               options="templates='simple'")
    folder = tmp_path / "hf" / "hub" / f"models--{repo.replace('/', '--')}"
    assert run.stdout.startswith(f"ModelError: --model {name}: pretrained weights {repo} are not in "
                                 f"the Hugging Face cache (looked in {folder}; "), run.stdout + run.stderr
    assert f"the download from {endpoint} failed (" in run.stdout
    assert run.stdout.endswith("(--offline skips the network and uses the cache only)\n")
    assert run.stdout.count("\n") == 1
    assert "Retrying" not in run.stderr and "Traceback" not in run.stderr
    assert [ln for ln in run.stderr.splitlines() if "warn" in ln.lower()] == [], run.stderr
    assert not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]
