"""The dataset directory: atomic image writes, metadata parts, final files.

Layout (identical to the official SI-SCORE downloads, plus ``dataset.json`` and
``label_map.csv``)::

    <label>/<image_id>.jpg
    metadata.csv  foreground_classes.csv  foreground_classes_metadata_indices.csv
    backgrounds.csv  label_map.csv  dataset.json

While a build runs, its state lives in ``.siscore/`` (the spec, one metadata
part per finished chunk, temporary files). Nothing is ever written under a
final name until it is complete (write to a temporary file, then rename), so a
build killed at any moment resumes where it stopped. ``.siscore/`` is removed
once the dataset is complete, leaving only class folders for ImageFolder.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from siscore.errors import ConfigError
from siscore.utils.files import (  # noqa: F401 - re-exported for the writer's callers
    _removed_on_error,
    _temp_path,
    atomic_text,
    atomic_write,
    csv_text,
    safe_name,
    temp_beside,
)

try:
    import fcntl
except ImportError:  # Windows: no folder lock
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".siscore"


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
        return (self.root / "dataset.json").exists() and not self.state.exists()

    def prepare(self, spec: dict[str, Any], labels: Iterable[str]) -> None:
        """Create the folders, or check that an earlier build here has the same spec."""
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
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(exist_ok=True)
            probe = self.tmp / "probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"cannot write there ({exc.strerror})", param="out", value=self.root) from None
        # left by killed builds (this process holds the lock: no other build is running)
        for stale in [*self.tmp.iterdir(), *self.root.glob(".*.tmp")]:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        (self.state / "pid").write_text(f"{os.getpid()}\n")
        if previous is None:  # before anything else is created: the folder is then ours to resume
            atomic_text(self.state / "spec.json", json.dumps({"spec": spec}, indent=1, sort_keys=True))
        for label in labels:
            (self.root / label).mkdir(exist_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process while it builds (an OS lock on the folder itself,
        released when the process ends, however it ends); a second build into the same
        folder raises :class:`ConfigError` naming the process that holds it."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError("a file, not a folder; choose a folder", param="out", value=self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, os.O_RDONLY)
        except OSError as exc:
            raise ConfigError(f"cannot write there ({exc.strerror})", param="out",
                              value=self.root) from None
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = "unknown"
                    with contextlib.suppress(OSError):
                        holder = (self.state / "pid").read_text().strip() or holder
                    raise ConfigError(
                        f"another build (process {holder}) is writing to this folder; wait for it to "
                        "finish or stop it, then run again (it resumes)", param="out", value=self.root,
                    ) from None
            yield
        finally:
            os.close(fd)

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
        interleave; each group is merged by image id, streaming.
        """
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
        shutil.rmtree(self.state)
