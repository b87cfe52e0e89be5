"""Files written whole or not at all: a unique temporary name, then a rename.

Shared by every stage that writes (the dataset writer, predictions, scores, the report):
nothing is ever left partial under a final name.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_NAME = 80


def safe_name(text: str, fallback: str = "x") -> str:
    """A file-name component made from data (a column, a model, a file stem): letters,
    digits and ``._+-`` kept, every other run of characters (``/``, ``:``, spaces ...)
    replaced by ``_``, no leading dot or dash, at most 80 characters."""
    name = _UNSAFE.sub("_", str(text)).lstrip(".-")
    name = re.sub(r"\.{2,}", "_", name)[:MAX_NAME].rstrip(".")
    return name or fallback


_TOKEN = ""


def _new_token() -> None:
    """This process's ``<pid>-<random>`` (drawn again in a forked child)."""
    global _TOKEN
    _TOKEN = f"{os.getpid()}-{os.urandom(6).hex()}"


_new_token()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_token)


def _temp_path(path: Path, folder: Path | None = None) -> str:
    """``<folder>/.<name>.<pid>-<random>-<thread>.tmp`` (folder: beside ``path``): unique
    across processes, threads and machines sharing the folder, for one file at a time."""
    name = f".{path.name}.{_TOKEN}-{threading.get_ident():x}.tmp"
    return os.path.join(folder if folder is not None else path.parent, name)


def _create(tmp: str) -> int:
    """Create ``tmp`` (it must not exist) with the permissions a new file gets."""
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def temp_beside(path: Path, folder: Path | None = None) -> Path:
    """An empty temporary file for ``path`` in ``folder`` (default: beside it), named as
    :func:`atomic_write` names its own."""
    tmp = _temp_path(path, folder)
    os.close(_create(tmp))
    return Path(tmp)


def atomic_write(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write ``data`` to ``path`` through a unique temporary file in ``tmp_dir`` and a
    rename; a failed write (disk full) removes the temporary file. Four system calls
    (open, write, close, rename): it runs once per image."""
    tmp = _temp_path(path, tmp_dir)
    fd = _create(tmp)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a hidden temporary file beside it and a rename."""
    tmp = temp_beside(path)
    with _removed_on_error(tmp):
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text with ``\n`` line ends."""

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
