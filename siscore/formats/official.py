"""The official SI-SCORE data: what it holds, and how its labels are read.

Facts from the paper and the public bucket (see docs/download.md): the three
subsets published 92,884 (size), 479,184 (location) and 39,540 (rotation)
images, 611,608 in all, rendered from 614 foregrounds of 62 classes on 867
backgrounds.

Labels: an official folder's ``foreground_classes.csv`` gives each label one
ImageNet-1k index, with known errors (``kite`` -> 21 is the bird kite; some
labels have two ImageNet classes). siscore scores official folders with its
own corrected table, the one its builds use, so that the same predictions get
the same per-class correctness whatever the source; the labels whose indices
differ are listed in the notes. To score with the official indices instead,
pass the folder's own ``foreground_classes.csv`` as ``--label-map``.
"""

from __future__ import annotations

from collections.abc import Mapping

from siscore.formats.datastore import DatasetError, FolderStore, Store, ZipStore, locate_dataset
from siscore.formats.labels import builtin_label_map, imagenet_classes

EXPECTED_IMAGES = {"size": 92_884, "location": 479_184, "rotation": 39_540}
EXPECTED_ASSETS = {"foregrounds": 614, "backgrounds": 867}
ZIP_FOLDERS = {"size": "area", "location": "location20_area02_min0pc", "rotation": "rotation"}

__all__ = ["EXPECTED_ASSETS", "EXPECTED_IMAGES", "ZIP_FOLDERS", "DatasetError", "FolderStore",
           "Store", "ZipStore", "label_differences", "locate_dataset", "official_label_table"]


def _names(indices: tuple[int, ...]) -> str:
    names = imagenet_classes()
    return " ".join(f"{i} ({names[i]})" for i in indices) or "none (no ImageNet-1k class)"


def label_differences(official: Mapping[str, int], classes: list[str] | None = None
                      ) -> list[tuple[str, int, tuple[int, ...]]]:
    """(label, official index, siscore's indices) for each label where they differ."""
    builtin = builtin_label_map()
    out = []
    for label in sorted(classes if classes is not None else official):
        if label in official and label in builtin and builtin[label] != (official[label],):
            out.append((label, official[label], builtin[label]))
    return out


def official_label_table(official: Mapping[str, int], classes: list[str]
                         ) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """siscore's corrected table for an official folder's classes (labels it does not know
    keep their official index), and one note per label whose indices differ."""
    builtin = builtin_label_map()
    table = {label: (int(index),) for label, index in official.items()}
    table.update({c: builtin[c] for c in classes if c in builtin})
    notes = [f"label {label!r}: official foreground_classes.csv says {_names((index,))}; "
             f"scored with siscore's table: {_names(ours)}"
             for label, index, ours in label_differences(official, classes)]
    if notes:
        notes.append("official data is scored with siscore's corrected label table; pass "
                     "--label-map <dataset>/foreground_classes.csv for the official indices")
    return table, notes
