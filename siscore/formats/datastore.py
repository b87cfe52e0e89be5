"""Where a dataset's files are read from: a folder, or a zip read in place.

:func:`locate_dataset` accepts what people point at: the folder holding
``metadata.csv``, a folder a subset zip was unpacked into (one dataset folder
inside, up to two levels down: ``DIR/area/``, ``object_size_mini/test/``), or
the zip itself. Several dataset folders inside, or none, is an error that
names them or says what to point at.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from siscore.errors import SiscoreError


class DatasetError(SiscoreError, ValueError):
    """A dataset folder that cannot be read; the message names the file and the fix."""


def outside_reason(name: str) -> str | None:
    """Why the relative name ``name`` (from a dataset's own files: a label, a shard) would
    reach outside the dataset, or None: empty, absolute, a drive, a ``..`` part, a
    backslash or a NUL character."""
    if not name or "\0" in name:
        return "is empty" if not name else "holds a NUL character"
    if "\\" in name:
        return "holds a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "climbs out with '..'"
    return None


class Store:
    """Read access to the files of one dataset (names relative to its metadata.csv).

    Names come from the dataset's own files, which are untrusted: every name is checked
    to stay inside the dataset (:func:`outside_reason`; a folder's symbolic links are
    resolved too) before it is opened, else :class:`DatasetError`."""

    def open(self, name: str) -> io.BufferedIOBase:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def describe(self, name: str) -> str:
        """The file's name for messages."""
        raise NotImplementedError

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def checked(self, name: str) -> str:
        """``name`` if it stays inside the dataset, else :class:`DatasetError` naming it."""
        why = outside_reason(name)
        if why is not None:
            raise DatasetError(f"{self.describe(name)}: the file name {name!r} {why}, outside "
                               "the dataset; this dataset is damaged or hostile, do not use it")
        return name


class FolderStore(Store):
    """Files under a folder (symbolic links resolved, and checked to stay inside it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._real: str | None = None

    def __getstate__(self) -> dict:
        return {"root": self.root, "_real": None}

    def resolved(self, name: str) -> str:
        """The real path of ``name``, checked to lie inside the (real) dataset folder."""
        path = os.path.realpath(self.root / self.checked(name))
        if self._real is None:
            self._real = os.path.realpath(self.root)
        if os.path.commonpath([self._real, path]) != self._real:
            raise DatasetError(f"{self.describe(name)}: a symbolic link to {path}, outside the "
                               "dataset folder; copy the file into the dataset instead")
        return path

    def open(self, name: str) -> io.BufferedIOBase:
        return open(self.resolved(name), "rb")

    def exists(self, name: str) -> bool:
        return (self.root / self.checked(name)).is_file()

    def describe(self, name: str) -> str:
        return str(self.root / name)


class ZipStore(Store):
    """Members under ``prefix`` of a zip file, read in place (one handle per process)."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path = Path(path)
        self.prefix = prefix
        self._zip: zipfile.ZipFile | None = None
        self._pid = -1
        self._lock = threading.Lock()
        self._names: frozenset[str] | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_zip=None, _pid=-1, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def zip(self) -> zipfile.ZipFile:
        with self._lock:
            if self._zip is None or self._pid != os.getpid():
                self._zip = zipfile.ZipFile(self.path)
                self._pid = os.getpid()
                self._names = frozenset(self._zip.namelist())
            return self._zip

    def open(self, name: str) -> io.BufferedIOBase:
        try:
            return self.zip.open(self.prefix + self.checked(name))
        except KeyError:
            raise FileNotFoundError(f"{self.describe(name)}: no such member") from None

    def exists(self, name: str) -> bool:
        self.zip  # noqa: B018 - fills the name set
        return (self.prefix + self.checked(name)) in (self._names or ())

    def describe(self, name: str) -> str:
        return f"{self.path}:{self.prefix}{name}"


@dataclass
class Located:
    """A dataset found at or under the path given: its store and the path to show."""

    store: Store
    display: Path  # the folder holding metadata.csv, or ZIP/inner-folder

    @property
    def images(self) -> int | None:
        """Rows of metadata.csv (None when unreadable)."""
        try:
            with self.store.open("metadata.csv") as f:
                return max(0, sum(1 for _ in f) - 1)
        except OSError:
            return None


def _zip_dataset(path: Path) -> Located:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        if path.suffix.lower() != ".zip":  # a file given where the dataset folder was meant
            hint = (f"give its folder, {path.parent}" if path.name == "metadata.csv" else
                    "give the dataset folder (with metadata.csv), or a subset zip")
            raise DatasetError(f"{path}: not a folder or a zip file; {hint}") from None
        raise DatasetError(f"{path}: not a readable zip ({exc}); download it again") from None
    found = sorted((n[: -len("metadata.csv")] for n in names
                    if PurePosixPath(n).name == "metadata.csv"), key=lambda p: (p.count("/"), p))
    if not found:
        raise DatasetError(f"{path}: no metadata.csv inside; this zip is not a SI-SCORE dataset")
    top = [p for p in found if p.count("/") == found[0].count("/")]
    if len(top) > 1:
        raise DatasetError(f"{path} holds {len(found)} datasets ({', '.join(top[:4])}); unzip it "
                           "(siscore download does) and point at one of those folders")
    prefix = top[0]
    return Located(ZipStore(path, prefix), path / prefix.rstrip("/") if prefix else path)


def _candidates(root: Path, depth: int = 2) -> list[Path]:
    """Folders holding metadata.csv at most ``depth`` levels under ``root``, shallowest first."""
    level = [root]
    for _ in range(depth):
        level = sorted(p for d in level for p in d.iterdir()
                       if p.is_dir() and not p.name.startswith("."))
        hits = [p for p in level if (p / "metadata.csv").is_file()]
        if hits:
            return hits
    return []


def locate_dataset(path: str | Path) -> Located:
    """Find the dataset at ``path`` (a dataset folder, a folder holding exactly one, or a zip)."""
    path = Path(path)
    if path.is_file():
        return _zip_dataset(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder or a zip file; give the dataset folder (with "
                           "metadata.csv), the folder a subset zip was unpacked into, or the zip")
    if (path / "metadata.csv").is_file():
        return Located(FolderStore(path), path)
    try:
        inside = _candidates(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc})") from None
    if len(inside) == 1:
        return Located(FolderStore(inside[0]), inside[0])
    if inside:
        raise DatasetError(f"{path}: holds {len(inside)} datasets, point at one of them: "
                           + ", ".join(str(p) for p in inside[:6]))
    zips = sorted(path.glob("*.zip"))
    if zips:
        raise DatasetError(f"{path / 'metadata.csv'}: missing; point at the zip "
                           f"{zips[0]} (read in place) or unzip it here")
    raise DatasetError(
        f"{path / 'metadata.csv'}: missing; this is not a finished dataset folder (run "
        "`siscore build` again to finish it, or point at the folder that holds metadata.csv, "
        "e.g. the location20_area02_min0pc/ folder of an official download)")
