"""Reading a dataset folder: siscore's own builds and the official SI-SCORE downloads.

A dataset folder holds ``metadata.csv``, ``foreground_classes.csv`` (``int`` =
ImageNet index), ``foreground_classes_metadata_indices.csv`` (``int`` =
metadata index) and ``<label>/<image_id>.jpg``. siscore adds ``label_map.csv``
(several valid ImageNet indices per label) and ``dataset.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.labels import read_label_map

FACTOR_COLUMNS = ("x_coord", "y_coord", "area", "rotation")


class DatasetError(ValueError):
    """A dataset folder that cannot be read; the message names the file and the fix."""


@dataclass
class DatasetInfo:
    """A dataset folder's metadata joined with class names and image paths."""

    root: Path
    metadata: pd.DataFrame  # one row per image, plus columns label, imagenet, path
    classes: list[str]  # metadata index -> label
    imagenet: dict[str, tuple[int, ...]]  # label -> valid ImageNet indices
    spec: dict[str, Any] | None  # dataset.json's spec (None for official downloads)

    @property
    def subset(self) -> str | None:
        """``location``, ``size`` or ``rotation`` when the factor columns tell."""
        if self.spec and self.spec.get("subset"):
            return self.spec["subset"]
        md = self.metadata
        varied = [c for c in FACTOR_COLUMNS if c in md and md[c].nunique() > 1]
        if {"x_coord", "y_coord"} & set(varied):
            return "location"
        if "rotation" in varied:
            return "rotation"
        if "area" in varied:
            return "size"
        return None

    @property
    def factors(self) -> list[str]:
        """Metadata columns that vary in this dataset (geometric ones and interventions)."""
        fixed = {"image_id", "foreground_class", "foreground_instance", "background",
                 "pct_inside_image", "pct_object_visible", "label", "imagenet", "path"}
        return [c for c in self.metadata.columns if c not in fixed and self.metadata[c].nunique() > 1]


def _read_int_label(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DatasetError(f"{path}: missing; a dataset folder needs it (rebuild or re-download)")
    table = pd.read_csv(path)
    if list(table.columns[:2]) != ["int", "label"]:
        raise DatasetError(f"{path}: expected the header 'int,label', found {list(table.columns)}")
    return table


def load_dataset(root: str | Path, check_files: bool = False) -> DatasetInfo:
    """Read a dataset folder's metadata; ``check_files`` also checks every image exists."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    md_path = root / "metadata.csv"
    if not md_path.exists():
        raise DatasetError(
            f"{md_path}: missing; this is not a finished dataset folder (run `siscore build` "
            "again to finish it, or point at the folder that holds metadata.csv)"
        )
    md = pd.read_csv(md_path)
    missing = {"image_id", "foreground_class"} - set(md.columns)
    if missing:
        raise DatasetError(f"{md_path}: missing column(s) {sorted(missing)}")
    by_index = _read_int_label(root / "foreground_classes_metadata_indices.csv")
    classes = [str(x) for x in by_index.sort_values("int")["label"]]
    if (root / "label_map.csv").exists():
        imagenet = read_label_map(root / "label_map.csv")
    else:
        imnet = _read_int_label(root / "foreground_classes.csv")
        imagenet = {str(r.label): (int(r.int),) for r in imnet.itertuples()}
    bad = sorted(set(md["foreground_class"]) - set(range(len(classes))))
    if bad:
        raise DatasetError(f"{md_path}: foreground_class value(s) {bad[:5]} have no class in "
                           "foreground_classes_metadata_indices.csv")
    codes = md["foreground_class"].to_numpy()
    labels = np.asarray(classes, dtype=object)[codes]
    md["label"] = labels
    per_class = np.empty(len(classes), dtype=object)
    per_class[:] = [imagenet.get(c, ()) for c in classes]
    md["imagenet"] = per_class[codes]
    md["path"] = [f"{label}/{i}.jpg" for label, i in zip(labels.tolist(), md["image_id"].tolist())]
    if (root / "dataset.json").exists():
        spec = json.loads((root / "dataset.json").read_text("utf-8")).get("spec")
        if spec and spec.get("format") == "png":
            md["path"] = [p[:-4] + ".png" for p in md["path"]]
    else:
        spec = None
    if check_files:
        absent = [p for p in md["path"] if not (root / p).exists()]
        if absent:
            raise DatasetError(f"{root}: {len(absent)} image(s) listed in metadata.csv are missing, "
                               f"e.g. {absent[0]}")
    return DatasetInfo(root, md, classes, imagenet, spec)
