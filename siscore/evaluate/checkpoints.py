"""State-dict files: reading them (torch weights-only or safetensors), checking, downloading.

:func:`read_state_dict` reads a file or an ``http(s)://`` URL (downloaded once into
``torch.hub.get_dir()/checkpoints/siscore-url/<sha256 of the URL>/``), unwraps the usual
containers and refuses, in one line each, an empty file, a pickled module, keys that are
not parameter names and values that are not tensors. :func:`load_checkpoint` then checks
that it fits the architecture (:func:`state_mismatch`) and holds no NaN
(:func:`nonfinite`) before loading it strictly. torch is imported when a file is read.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from siscore.evaluate.types import ModelError, offline_requested, require
from siscore.utils.progress import interactive

WRAPPERS = ("state_dict", "model", "model_state_dict", "module")


class DownloadError(ModelError):
    """A download that failed; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -- downloads ----------------------------------------------------------------------------
def url_cache_path(url: str, option: str = "--checkpoint") -> Path:
    """Where a checkpoint URL is cached: a folder named by the hash of the whole URL (two
    URLs ending in the same file name are two files), holding the file under its name."""
    import torch

    name = os.path.basename(urlparse(url).path)
    if not name:
        raise ModelError(f"{option} {url}: the URL names a folder (it ends in '/'), not a file; "
                         "give the address of the state-dict file itself")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return Path(torch.hub.get_dir()) / "checkpoints" / "siscore-url" / digest / name


def fetch_url(url: str, target: Path, *, offline: bool = False, progress: bool = False,
              hash_prefix: str | None = None, option: str = "--checkpoint") -> Path:
    """Download ``url`` to ``target`` once (torch's downloader: a ``.partial`` file renamed
    when complete, removed on failure); ``hash_prefix`` checks the SHA-256 of the file."""
    import torch

    if target.is_file():
        return target
    if offline_requested(offline):
        raise ModelError(f"{option} {url}: not in the local torch cache (expected {target}) and "
                         "downloads are off (--offline or HF_HUB_OFFLINE); copy the file there")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix, progress=interactive(progress))
    except (OSError, RuntimeError, ValueError) as exc:
        reason = _first_line(exc)
        raise DownloadError(f"{option} {url}: download failed ({reason}); fetch it on a machine "
                            f"with internet access and copy it to {target}", reason) from None
    finally:
        for leftover in target.parent.glob(target.name + ".*.partial"):
            leftover.unlink(missing_ok=True)
    return target


# -- reading ------------------------------------------------------------------------------
def _is_safetensors(path: Path) -> bool:
    """A safetensors file: an 8-byte header length, then a JSON header (or the suffix)."""
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 0 < length < path.stat().st_size


def _load(path: Path, option: str) -> Any:
    import torch

    if _is_safetensors(path):
        st = require("safetensors.torch", "timm", f"{option} {path} (a safetensors file)")
        try:
            return st.load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError
            raise ModelError(f"{option} {path}: unreadable safetensors file "
                             f"({_first_line(exc)})") from None
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of odd files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{option} {path}: not a plain state dict ({_unpickler_reason(exc)}); save "
            "`model.state_dict()` with torch.save or safetensors, or load the module yourself "
            "and use the Python API (siscore.evaluate.evaluate)") from None
    except (RuntimeError, EOFError, OSError, ValueError, struct.error) as exc:
        raise ModelError(f"{option} {path}: unreadable ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch's unpickler fails on garbage in any way
        raise ModelError(f"{option} {path}: unreadable, not a file written by torch.save "
                         f"({type(exc).__name__}: {_first_line(exc)}); give the state-dict "
                         "file") from None


def _unpickler_reason(exc: BaseException) -> str:
    """torch's weights-only refusal in a few words (its text also advises weights_only=False,
    which would run the file's code: never repeat that)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation")[0]
        return " ".join(detail.split()) or "refused by torch's weights-only loader"
    return _first_line(exc)


def read_state_dict(path: str | Path, *, offline: bool = False, progress: bool = False,
                    option: str = "--checkpoint") -> dict[str, Any]:
    """A state dict (parameter name -> tensor) from a torch file, a ``.safetensors`` file or
    an ``http(s)://`` URL, read weights-only; DataParallel's ``module.`` prefix removed."""
    import torch

    text = str(path)
    if text.startswith(("http://", "https://")):
        path = fetch_url(text, url_cache_path(text, option), offline=offline, progress=progress,
                         option=option)
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"{option} {path}: is a folder; give the state-dict file")
    if not path.is_file():
        raise ModelError(f"{option} {path}: file not found")
    if path.stat().st_size == 0:
        raise ModelError(f"{option} {path}: the file is empty (0 bytes); save the state dict "
                         "again (torch.save(model.state_dict(), path))")
    obj = _load(path, option)
    for key in WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise ModelError(f"{option} {path}: expected a state dict (parameter name -> tensor), "
                         f"found {'an empty dict' if isinstance(obj, dict) else type(obj).__name__}")
    odd_key = next((k for k in obj if not isinstance(k, str)), None)
    if odd_key is not None:
        raise ModelError(f"{option} {path}: expected a state dict (parameter name -> tensor), "
                         f"but key {odd_key!r} is a {type(odd_key).__name__}, not a parameter name")
    odd = next((k for k, v in obj.items() if not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise ModelError(f"{option} {path}: expected a state dict (parameter name -> tensor), "
                         f"but {odd!r} holds a {type(obj[odd]).__name__}")
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel / DDP
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


# -- checking -----------------------------------------------------------------------------
def _few(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def state_mismatch(own: dict[str, Any], state: dict[str, Any]) -> str | None:
    """How ``state`` fails to fit a module's ``own`` state dict: counts and a few names, or None."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shaped = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} key(s) missing from the file (e.g. {_few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) (e.g. {_few(unexpected)})")
    if shaped:
        k = shaped[0]
        parts.append(f"{len(shaped)} key(s) of another shape (e.g. {k}: "
                     f"{'x'.join(map(str, state[k].shape))} in the file, "
                     f"{'x'.join(map(str, own[k].shape))} in the model)")
    return "; ".join(parts) or None


def nonfinite(state: dict[str, Any], parameters: set[str] | None = None) -> str | None:
    """Which tensors of ``state`` cannot be weights: any holding NaN, and the ``parameters``
    (all tensors when None) holding an infinity (a buffer may be an -inf mask); or None."""
    import torch

    bad = []
    for key, t in state.items():
        if not t.is_floating_point() or t.numel() == 0:
            continue
        if torch.isnan(t).any() or ((parameters is None or key in parameters)
                                    and torch.isinf(t).any()):
            bad.append(key)
    if not bad:
        return None
    floats = sum(1 for t in state.values() if t.is_floating_point())
    return (f"{len(bad)} of {floats} floating-point tensors hold NaN or infinite values "
            f"(e.g. {_few(bad)}); the training diverged or the file is damaged: use another "
            "checkpoint")


def check_state(module: Any, state: dict[str, Any], checkpoint: str | Path, name: str) -> None:
    """Refuse a state dict that does not fit ``module`` or holds NaN/inf weights."""
    problem = state_mismatch(module.state_dict(), state)
    if problem:
        raise ModelError(f"--checkpoint {checkpoint}: does not fit the architecture {name}: "
                         f"{problem}; check --model")
    bad = nonfinite(state, {k for k, _ in module.named_parameters()})
    if bad:
        raise ModelError(f"--checkpoint {checkpoint}: {bad}")


def load_checkpoint(module: Any, checkpoint: str | Path | None, name: str, *,
                    offline: bool = False, progress: bool = False) -> bool:
    """Load a state-dict file or URL into ``module`` (strict, checked); False when
    ``checkpoint`` is None."""
    if checkpoint is None:
        return False
    state = read_state_dict(checkpoint, offline=offline, progress=progress)
    check_state(module, state, checkpoint, name)
    module.load_state_dict(state)
    return True
