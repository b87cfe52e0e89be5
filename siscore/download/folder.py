"""The output folder of a download: checked before anything is fetched, then held.

``--out`` must be a folder or creatable as one (not a file, a device node, or inside
a file or a folder this user cannot write: :func:`siscore.utils.files.check_output_path`).
While a download writes into it, it holds ``.siscore-download.lock``
(:func:`siscore.utils.files.try_lock`, the project's one lock mechanism;
``.siscore-download.lock.pid`` names the holder): a second download into the same
folder is refused at once with one line instead of appending to the same ``.part`` files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from siscore.download.names import LOCK
from siscore.download.s3 import DownloadError
from siscore.errors import ParamError
from siscore.utils.files import check_output_path, lock_holder, try_lock


def check_out(out: Path) -> None:
    """Raise ParamError (``--out``) when ``out`` cannot be a folder this user writes into
    (a file, a device node, inside a file, an unwritable parent); writes nothing."""
    check_output_path(out, folder=True)


def make_out(out: Path) -> None:
    """Create ``out`` (checked by :func:`check_out`); a failure is one ParamError line."""
    check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParamError(f"cannot create the folder ({exc.strerror or exc}); give another "
                         "--out", param="out", value=str(out), option="--out") from None


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out`` for this download; raise DownloadError when another process holds it."""
    try:
        lock = try_lock(out / LOCK)
    except OSError as exc:
        raise ParamError(f"cannot write the lock file {LOCK} ({exc.strerror or exc}); give a "
                         "folder you can write", param="out", value=str(out),
                         option="--out") from None
    if lock is None:
        raise DownloadError(f"{out}: another siscore download ({lock_holder(out / LOCK)}) is "
                            f"writing into this folder (it holds {out / LOCK}); wait for it to "
                            "finish, or give another --out")
    try:
        yield
    finally:
        lock.release()
