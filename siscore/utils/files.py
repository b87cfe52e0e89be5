"""Files written whole or not at all: a unique temporary name, then a rename; and locks.

Shared by every stage that writes (the dataset writer, predictions, scores, the report):
nothing is ever left partial under a final name. :func:`try_lock` is the one lock
mechanism (the ``filelock`` package) of the writers that several processes share.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import socket
import stat
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


_TEMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{12}-[0-9a-f]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(folder: Path, depth: int = 1) -> list[Path]:
    """Remove the temporary files that a killed writer left in ``folder`` (and its subfolders,
    ``depth`` levels down): files named as :func:`atomic_write` names them whose process no
    longer runs on this machine. Files of running writers, and every other file, stay."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if depth > 0:
                removed += remove_stale_temps(Path(entry.path), depth - 1)
            continue
        match = _TEMP_NAME.match(entry.name)
        if match and entry.is_file(follow_symlinks=False) and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


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


# -- locks ------------------------------------------------------------------------------------
def try_lock(path: Path, timeout: float = 0) -> Any:
    """A held OS lock on ``path`` (a :class:`filelock.FileLock`: an ``flock``, which also
    works on NFS, released when its process ends however it ends, so a killed holder leaves
    nothing stale), or None when another holder kept it ``timeout`` seconds (0: one try;
    -1: wait). The holder's ``<pid> <host>`` is written beside it (``<path>.pid``) for
    :func:`lock_holder`. Raises OSError when the lock file cannot be created."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        return None
    with contextlib.suppress(OSError):
        atomic_text(path.with_name(path.name + ".pid"), f"{os.getpid()} {socket.gethostname()}\n")
    return lock


def lock_holder(path: Path) -> str:
    """Who holds the lock ``path`` as :func:`try_lock` recorded it: ``process 123`` (on this
    machine) or ``process 123 on host``; ``unknown`` when not recorded."""
    try:
        pid, host = path.with_name(path.name + ".pid").read_text("utf-8").split()
    except (OSError, ValueError):
        return "process unknown"
    return f"process {pid}" if host == socket.gethostname() else f"process {pid} on {host}"


_NAME_MAX = 255  # bytes of one path component on every common file system

_KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}


def check_output_path(path: str | os.PathLike[str], *, folder: bool, option: str = "--out",
                      param: str = "out") -> None:
    """Refuse, before any work and creating nothing, an output path that cannot be written.

    ``folder``: the path names a folder to create or fill (else a file to create or replace).
    Refused, each with one line naming ``option`` (``param`` from Python) and the fix: a device
    node, pipe or socket (``/dev/null`` is never replaced by a regular file), a file where a
    folder is wanted or the reverse, a parent that is a file (``file/sub``), a parent that does
    not let us write, and a name longer than the file system allows.
    """
    from siscore.errors import ParamError

    def refuse(detail: str) -> ParamError:
        return ParamError(detail, param=param, value=str(path), option=option)

    want = "folder" if folder else "file"
    if path is None or not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ParamError(f"give the path of a {want} to write", param=param, value=path,
                         option=option)
    p = Path(os.fspath(path))
    long = next((part for part in p.parts if len(os.fsencode(part)) > _NAME_MAX), None)
    if long is not None:
        raise refuse(f"the name {long[:40]}... is longer than {_NAME_MAX} bytes; give a shorter one")
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None  # a parent is a file: found below
    except OSError as exc:
        raise refuse(f"cannot use it ({exc.strerror}); give another {want}") from None
    if mode is not None:
        kind = _KINDS.get(stat.S_IFMT(mode))
        if kind is not None:
            raise refuse(f"is {kind}, not a {want}; give a path to a {want} to write")
        if stat.S_ISDIR(mode) and not folder:
            raise refuse("is a folder; give the path of a file to write")
        if stat.S_ISREG(mode) and folder:
            raise refuse("is a file, not a folder; give a folder")
    parent = p if mode is not None and stat.S_ISDIR(mode) else p.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise refuse(f"{parent} is a file, not a folder; give a path inside a folder")
    if not os.access(parent if str(parent) else ".", os.W_OK | os.X_OK):
        raise refuse(f"{parent} is not writable; give a {want} in a folder you can write")
