"""The dataset directory: atomic image writes, metadata parts, final files.

Layout (identical to the official SI-SCORE downloads, plus ``dataset.json`` and
``label_map.csv``)::

    <label>/<image_id>.jpg
    metadata.csv  foreground_classes.csv  foreground_classes_metadata_indices.csv
    backgrounds.csv  label_map.csv  dataset.json

While a build runs, its state lives in ``.siscore/`` (the spec, one metadata
part per finished chunk, temporary files, the locks). Nothing is ever written under a
final name until it is complete (write to a temporary file, then rename), so a
build killed at any moment resumes where it stopped. ``.siscore/`` is removed
once the dataset is complete, leaving only class folders for ImageFolder.

Locks (:meth:`OutputDir.lock`, OS locks of the ``filelock`` package under
``.siscore/locks/``, released when their process ends however it ends): any number of
``--shard I/N`` processes, on one machine or many sharing the folder, build at once, each
holding only the lock of its own shard (and the folder's lock for the moment it takes to
check the spec and create the folders); a build without ``--shard`` holds the folder's
lock throughout and refuses to start while a shard runs. Whoever finds every task done
(the last shard to finish, or the run without ``--shard``) merges, holding every lock.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from siscore.errors import ConfigError
from siscore.utils.files import (  # noqa: F401 - re-exported for the writer's callers
    _removed_on_error,
    _temp_path,
    atomic_text,
    atomic_write,
    csv_text,
    lock_holder,
    safe_name,
    temp_beside,
    try_lock,
)

STATE_DIR = ".siscore"
FOLDER_LOCK = "build.lock"
WAIT_S = 5.0
"""How long a build waits for the folder's lock that another process holds for a moment
(a shard checking the spec); then the holder is named."""


class OutputDir:
    """A dataset directory being built."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.state = self.root / STATE_DIR
        self.parts = self.state / "parts"
        self.tmp = self.state / "tmp"

    # -- lifecycle --------------------------------------------------------------------------
    def existing_spec(self) -> dict[str, Any] | None:
        """The spec of a finished dataset here, or of an unfinished build, or None."""
        for path in (self.root / "dataset.json", self.state / "spec.json"):
            if path.exists():
                try:
                    return json.loads(path.read_text("utf-8"))["spec"]
                except (ValueError, KeyError, OSError):
                    raise ConfigError(f"{path.relative_to(self.root)} is unreadable; remove it or "
                                      "choose another folder", param="out", value=self.root) from None
        return None

    def is_complete(self) -> bool:
        """A finished dataset: dataset.json, and no unfinished build's spec."""
        return (self.root / "dataset.json").exists() and not (self.state / "spec.json").exists()

    def check(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Refuse a folder that holds something else (a file, a build with another spec,
        files of its own) without writing anything; the spec found, if any."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError("a file, not a folder; choose a folder", param="out", value=self.root)
        previous = self.existing_spec()
        if previous is not None and previous != spec:
            changed = sorted(k for k in set(spec) | set(previous) if spec.get(k) != previous.get(k))
            raise ConfigError(
                f"holds a build with a different specification (differs in: {', '.join(changed)}); "
                "choose another folder or delete it", param="out", value=self.root,
            )
        if previous is None and self.root.exists() and any(
            e.name != STATE_DIR for e in os.scandir(self.root)
        ):
            raise ConfigError(
                "folder exists and is not empty; choose a new folder (siscore only resumes its "
                "own builds)", param="out", value=self.root,
            )
        return previous

    def prepare(self, spec: dict[str, Any], labels: Iterable[str], clean: bool = True) -> None:
        """Create the folders, or check that an earlier build here has the same spec;
        ``clean`` removes the temporary files of killed builds (only a build that holds every
        lock may: a running shard's files look the same)."""
        previous = self.check(spec)
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(exist_ok=True)
            probe = self.tmp / "probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"cannot write there ({exc.strerror})", param="out", value=self.root) from None
        if clean:
            self.remove_stale()
        if previous is None:  # before anything else is created: the folder is then ours to resume
            atomic_text(self.state / "spec.json", json.dumps({"spec": spec}, indent=1, sort_keys=True))
        for label in labels:
            (self.root / label).mkdir(exist_ok=True)

    def remove_stale(self) -> None:
        """Remove the temporary files of killed builds (call holding every lock)."""
        for stale in [*(self.tmp.iterdir() if self.tmp.is_dir() else []), *self.root.glob(".*.tmp")]:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def lock(self, shard: tuple[int, int] | None = None) -> BuildLock:
        """The locks of one build (``with target.lock(shard) as held: ...``): see the module
        docstring and :class:`BuildLock`."""
        return BuildLock(self, shard)

    # -- chunks -----------------------------------------------------------------------------
    def part_path(self, chunk: int) -> Path:
        return self.parts / f"{chunk:07d}.csv"

    def chunk_done(self, chunk: int) -> bool:
        return self.part_path(chunk).exists()

    def write_part(self, chunk: int, rows: list[list[str]]) -> None:
        atomic_write(self.part_path(chunk), csv_text(rows).encode("utf-8"), self.tmp)

    def image_path(self, label: str, image_id: int, ext: str) -> Path:
        return self.root / label / f"{image_id}.{ext}"

    # -- final files ------------------------------------------------------------------------
    def finalize(
        self,
        groups: list[list[int]],
        header: list[str],
        classes: list[str],
        imagenet: dict[str, tuple[int, ...]],
        backgrounds: list[str],
        info: dict[str, Any],
    ) -> None:
        """Merge the parts into metadata.csv, write the index files, remove the state.

        ``groups`` lists, in id order, the chunks whose (individually sorted) rows
        interleave; each group is merged by image id, streaming. The caller holds every lock.
        """
        self.remove_stale()  # a shard merging: the killed shards' files go too
        tmp = temp_beside(self.root / "metadata.csv")
        with _removed_on_error(tmp), open(tmp, "w", encoding="utf-8", newline="") as out:
            out.write(",".join(header) + "\n")
            for chunks in groups:
                with contextlib.ExitStack() as stack:
                    files = [stack.enter_context(open(self.part_path(c), encoding="utf-8"))
                             for c in chunks]
                    if len(files) == 1:
                        shutil.copyfileobj(files[0], out)
                    else:
                        out.writelines(heapq.merge(*files, key=lambda line: int(line.split(",", 1)[0])))
        os.replace(tmp, self.root / "metadata.csv")
        atomic_text(
            self.root / "foreground_classes.csv",
            csv_text([["int", "label"], *([imagenet[c][0], c] for c in classes)]),
        )
        atomic_text(
            self.root / "foreground_classes_metadata_indices.csv",
            csv_text([["int", "label"], *([i, c] for i, c in enumerate(classes))]),
        )
        atomic_text(
            self.root / "backgrounds.csv",
            csv_text([["int", "label"], *([i, b] for i, b in enumerate(backgrounds))]),
        )
        atomic_text(
            self.root / "label_map.csv",
            csv_text([["label", "imagenet_index"], *([c, " ".join(map(str, imagenet[c]))] for c in classes)]),
        )
        atomic_text(self.root / "dataset.json", json.dumps(info, indent=1, sort_keys=True) + "\n")
        (self.state / "spec.json").unlink()  # complete from here on (is_complete)
        shutil.rmtree(self.state, ignore_errors=True)  # Windows keeps open lock files: left


class BuildLock:
    """The OS locks (:func:`~siscore.utils.files.try_lock`) one build holds on its folder.

    Entering takes the folder's lock (``.siscore/locks/build.lock``) and, for a shard, the
    shard's own (``shard-I-of-N.lock``); a build without a shard then checks that no shard
    lock is held. A shard lets the folder's lock go with :meth:`started` once it has
    prepared the folder, so that other shards start; :meth:`may_finish` then tells whether
    it may merge. Refusals are :class:`ConfigError` naming the process that holds the lock.
    """

    def __init__(self, target: OutputDir, shard: tuple[int, int] | None) -> None:
        self.target, self.shard = target, shard
        self.dir = target.state / "locks"
        self.folder: Any = None  # the held FileLocks
        self.own: Any = None
        self.others: list[Any] = []

    def _path(self, shard: tuple[int, int]) -> Path:
        return self.dir / f"shard-{shard[0]}-of-{shard[1]}.lock"

    def _refuse(self, text: str) -> ConfigError:
        self.release()
        return ConfigError(text, param="out", value=self.target.root)

    def __enter__(self) -> BuildLock:
        try:
            self.folder = try_lock(self.dir / FOLDER_LOCK, WAIT_S)
        except OSError as exc:
            raise ConfigError(f"cannot write there ({exc.strerror})", param="out",
                              value=self.target.root) from None
        if self.folder is None:
            raise self._refuse(
                f"another build ({lock_holder(self.dir / FOLDER_LOCK)}) is writing to this folder "
                "(a build without --shard, or a shard merging); wait for it to finish or stop "
                "it, then run again (it resumes)")
        if self.shard is not None:
            self.own = try_lock(self._path(self.shard))
            if self.own is None:
                raise self._refuse(
                    f"shard {self.shard[0]}/{self.shard[1]} is already being built by "
                    f"{lock_holder(self._path(self.shard))}; each shard runs once at a time")
            return self
        busy = self._hold_every_shard()
        if busy is not None:
            raise self._refuse(
                f"shard {busy[0]} is still being built into this folder ({busy[1]}); wait for "
                "the shards to finish (or stop them), then run again to merge")
        return self

    def _hold_every_shard(self) -> tuple[str, str] | None:
        """Take every other shard's lock; else, holding none of them, the first shard found
        running (``I/N``) and its holder."""
        mine = self._path(self.shard) if self.shard is not None else None
        for path in sorted(self.dir.glob("shard-*.lock")):
            lock = None if path == mine else try_lock(path)
            if lock is not None:
                self.others.append(lock)
            elif path != mine:
                self._release_others()
                return path.stem.removeprefix("shard-").replace("-of-", "/"), lock_holder(path)
        return None

    def _release_others(self) -> None:
        for lock in self.others:
            lock.release()
        self.others.clear()

    def started(self) -> None:
        """A shard has prepared the folder: let the folder's lock go (other shards start)."""
        if self.shard is not None and self.folder is not None:
            self.folder.release()
            self.folder = None

    def may_finish(self) -> bool:
        """Whether this build may merge now: it holds (or waits for) the folder's lock and
        takes every shard's. A shard that finds another shard running lets its own lock go
        first, so that the other one, finishing later, merges."""
        if self.shard is None:
            return True  # held since __enter__
        if self.folder is None:
            self.folder = try_lock(self.dir / FOLDER_LOCK, -1)
        if self._hold_every_shard() is None:
            return True
        self.release()
        return False

    def release(self) -> None:
        """Let every lock go: the other shards', the shard's own, then the folder's."""
        self._release_others()
        for name in ("own", "folder"):
            lock = getattr(self, name)
            if lock is not None:
                lock.release()
                setattr(self, name, None)

    def __exit__(self, *exc: object) -> None:
        self.release()
        if self.target.is_complete() and self.target.state.exists():
            shutil.rmtree(self.target.state, ignore_errors=True)  # locks of a finished build
