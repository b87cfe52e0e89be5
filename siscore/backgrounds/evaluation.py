"""Measuring the filter against hand labels: precision and recall of "kept".

A label file is a CSV (``#`` comment lines allowed) with the columns ``name``,
``source``, ``path``, ``uncluttered`` (yes/no) and ``category``; see
``tests/data/background_labels.csv``. Sources name where a photo is read from
(installed Python packages, the SI-SCORE samples, siscore's embedded assets,
extracted Debian packages), so that no photo has to be copied anywhere.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from siscore.backgrounds.filtering import KEPT
from siscore.backgrounds.scoring import Row

PACKAGE_SOURCES = {"skimage": "skimage", "sklearn": "sklearn", "matplotlib": "matplotlib"}


@dataclass(frozen=True)
class Label:
    """One hand-labelled photo."""

    name: str
    source: str
    path: str
    uncluttered: bool
    category: str
    notes: str = ""


def load_labels(path: str | Path) -> list[Label]:
    """Read a label CSV; raises ``ValueError`` naming the row on a bad value."""
    path = Path(path)
    lines = [ln for ln in path.read_text("utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    out = []
    for lineno, row in enumerate(csv.DictReader(lines), start=2):
        flag = (row.get("uncluttered") or "").strip().lower()
        if flag not in ("yes", "no"):
            raise ValueError(f"{path}, row {lineno} ({row.get('name')}): uncluttered must be yes or no, "
                             f"got {flag!r}")
        out.append(Label(row["name"], row["source"], row["path"], flag == "yes", row["category"],
                         row.get("notes") or ""))
    return out


def resolve(label: Label, roots: Mapping[str, Path | None]) -> Path | None:
    """The file of a labelled photo, or None when its source is not available here.

    ``roots`` maps ``shared``, ``assets`` and ``debian`` to their folders; the
    package sources are found through the installed packages.
    """
    if label.source in PACKAGE_SOURCES:
        spec = importlib.util.find_spec(PACKAGE_SOURCES[label.source])
        if spec is None or spec.origin is None:
            return None
        root: Path | None = Path(spec.origin).parent
    else:
        root = roots.get(label.source)
    if root is None:
        return None
    path = Path(root) / label.path
    return path if path.is_file() else None


def assemble(labels: Sequence[Label], roots: Mapping[str, Path | None],
             folder: str | Path) -> dict[str, Label]:
    """Symlink every available labelled photo into ``folder``; returns file name -> label."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Label] = {}
    for label in labels:
        src = resolve(label, roots)
        if src is None:
            continue
        name = f"{label.source}__{label.name}{src.suffix.lower()}"
        link = folder / name
        if not link.is_symlink():
            os.symlink(src.resolve(), link)
        out[name] = label
    return out


@dataclass(frozen=True)
class Scores:
    """Agreement of the filter's "kept" with the hand label "uncluttered"."""

    tp: int  # kept and uncluttered
    fp: int  # kept but not uncluttered
    fn: int  # rejected but uncluttered
    tn: int  # rejected and not uncluttered

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    def __str__(self) -> str:
        n = self.tp + self.fp + self.fn + self.tn
        return (f"{n} photos: precision {self.precision:.2f} ({self.tp}/{self.tp + self.fp} kept "
                f"are uncluttered), recall {self.recall:.2f} ({self.tp}/{self.tp + self.fn} "
                f"uncluttered are kept)")


def agreement(rows: Sequence[Row], labels: Mapping[str, Label]) -> Scores:
    """Precision and recall of ``decision == kept`` against the labels (by file name)."""
    tp = fp = fn = tn = 0
    for row in rows:
        label = labels.get(row["file"])
        if label is None:
            continue
        kept = row["decision"] == KEPT
        tp += kept and label.uncluttered
        fp += kept and not label.uncluttered
        fn += (not kept) and label.uncluttered
        tn += (not kept) and not label.uncluttered
    return Scores(tp, fp, fn, tn)
