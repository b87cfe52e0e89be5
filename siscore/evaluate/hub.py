"""Files of the Hugging Face Hub, shared by the timm and open_clip sources.

:func:`hub_file` returns a repository's file from the Hugging Face cache without any
request when it is there (``try_to_load_from_cache``); otherwise, unless offline, it asks
the Hub once (``get_hf_file_metadata``, which does not retry) and only then downloads
(``hf_hub_download``). With no network the first request fails at once, so a missing
file is one line within seconds instead of huggingface_hub's backoff (five retries,
about 25 s, a warning each). The libraries then get a local path: nothing here or in
the sources changes ``HF_HUB_OFFLINE`` or ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siscore.evaluate.types import ModelError, require
from siscore.utils.progress import interactive


def cache_folder(repo: str) -> Path:
    """The Hugging Face cache folder of model repository ``repo`` (HF_HOME sets the cache)."""
    import huggingface_hub.constants as hc

    return Path(hc.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"


def _reason(exc: BaseException) -> str:
    """An exception as a short clause, never cut inside a word."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def hub_missing(what: str, repo: str, why: str) -> ModelError:
    """The one-line error for pretrained files that are not in the Hugging Face cache."""
    return ModelError(
        f"{what}: pretrained weights {repo} are not in the Hugging Face cache (looked in "
        f"{cache_folder(repo)}; HF_HOME sets the cache) and {why}; on a machine with internet "
        f"access run `hf download {repo}` and copy the cache folder here (--offline skips the "
        "network and uses the cache only)")


def _silent_tqdm() -> Any:
    from huggingface_hub.utils import tqdm

    class Silent(tqdm):  # this call's bars only, not the process-wide switch
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Silent


def _cached(repo: str, filename: str, revision: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def hub_file(what: str, repo: str, filenames: Sequence[str], *, offline: bool,
             progress: bool = False, revision: str | None = None) -> Path:
    """The first of ``filenames`` that ``repo`` holds, as a local file: from the cache
    without a request, else downloaded (unless ``offline``); a :class:`ModelError` naming
    the repository, the cache folder and why, when none can be had."""
    require("huggingface_hub", "timm", what)
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    for name in filenames:
        path = _cached(repo, name, revision)
        if path is not None:
            return path
    if offline:
        raise hub_missing(what, repo, "downloads are off (--offline or HF_HUB_OFFLINE)")
    import huggingface_hub.constants as hc

    source = f"the download from {hc.ENDPOINT}"
    for name in filenames:
        try:  # one request, no retries: fails at once without a network
            get_hf_file_metadata(hf_hub_url(repo, name, revision=revision))
        except EntryNotFoundError:
            continue
        except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
            raise hub_missing(what, repo, f"{source} failed ({_reason(exc)})") from None
        except HfHubHTTPError as exc:
            if getattr(exc.response, "status_code", None) == 404:
                continue
            raise hub_missing(what, repo, f"{source} failed ({_reason(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - the HTTP client's network errors
            raise hub_missing(what, repo, f"{source} failed ({_reason(exc)})") from None
        try:
            kwargs = {} if interactive(progress) else {"tqdm_class": _silent_tqdm()}
            return Path(hf_hub_download(repo, name, revision=revision, **kwargs))
        except Exception as exc:  # noqa: BLE001 - any failure of the download itself
            raise hub_missing(what, repo, f"{source} of {name} failed ({_reason(exc)})") from None
    names = (f"neither {filenames[0]} nor {filenames[1]}" if len(filenames) == 2
             else "none of " + ", ".join(filenames))
    raise hub_missing(what, repo, f"{source} failed (the repository has {names})")
