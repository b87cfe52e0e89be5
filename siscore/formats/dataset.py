"""Reading a dataset folder: siscore's own builds and the official SI-SCORE downloads.

A dataset folder holds ``metadata.csv``, ``foreground_classes.csv`` (``int`` =
ImageNet index), ``foreground_classes_metadata_indices.csv`` (``int`` =
metadata index) and ``<label>/<image_id>.jpg``. siscore adds ``label_map.csv``
(several valid ImageNet indices per label) and ``dataset.json``.

The official data is read as it comes (see :mod:`siscore.formats.official`): the
folder a subset zip was unpacked into, the subset folder inside it, or the zip
itself, read in place. Factor values are read as clean decimals (``0.15``, not
``0.15000000000000002``), and official folders are scored with siscore's
corrected label table (the differences from their ``foreground_classes.csv``
are listed in ``DatasetInfo.notes``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.formats.checks import (
    check_classes,
    check_factor_values,
    check_image_ids,
    whole_numbers,
)
from siscore.formats.datastore import DatasetError, FolderStore, Store, locate_dataset
from siscore.formats.labels import LabelMapError, parse_label_map, read_label_map
from siscore.formats.official import official_label_table

FACTOR_COLUMNS = ("x_coord", "y_coord", "area", "rotation")
# columns that never define a cell of the grid: ids, the image's class, measurements and
# the per-image file name that Hugging Face's imagefolder loader needs
NON_FACTOR_COLUMNS = frozenset({
    "image_id", "foreground_class", "foreground_instance", "background", "pct_inside_image",
    "pct_object_visible", "label", "imagenet", "path", "file_name"})
CLEAN_DECIMALS = 10

__all__ = ["FACTOR_COLUMNS", "NON_FACTOR_COLUMNS", "DatasetError", "DatasetInfo",
           "clean_factor_values", "load_dataset", "locate_dataset"]


@dataclass
class DatasetInfo:
    """A dataset folder's metadata joined with class names and image paths."""

    root: Path  # the folder holding metadata.csv (for a zip: ZIP/inner-folder)
    metadata: pd.DataFrame  # one row per image, plus columns label, imagenet, path
    classes: list[str]  # metadata index -> label
    imagenet: dict[str, tuple[int, ...]]  # label -> valid ImageNet indices
    spec: dict[str, Any] | None  # dataset.json's spec (None for official downloads)
    store: Store | None = None  # where the files are read from (None: the folder ``root``)
    notes: list[str] = field(default_factory=list)  # label-table differences and the like

    def __post_init__(self) -> None:
        if self.store is None:
            self.store = FolderStore(Path(self.root))

    def open(self, name: str) -> io.BufferedIOBase:
        """Open a file of the dataset (``label/123.jpg``, ``metadata.csv``) for reading."""
        return self.store.open(name)

    def exists(self, name: str) -> bool:
        return self.store.exists(name)

    def sha256(self, name: str) -> str:
        return self.store.sha256(name)

    @property
    def subset(self) -> str | None:
        """``location``, ``size`` or ``rotation``: a build's spec says (None for a grid of
        one's own); an official download's varying factor columns tell."""
        if isinstance(self.spec, dict) and isinstance(self.spec.get("grid"), dict):
            return self.spec.get("subset") or None
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
        """The metadata columns that vary as factors: for a build, those its spec's grid
        declares (:func:`spec_factors`; record columns such as ``blend_fallback`` never are);
        for an official download, every varying column that is not a record column."""
        declared = spec_factors(self.spec, self.metadata)
        if declared is not None:
            return declared
        return [c for c in self.metadata.columns
                if c not in NON_FACTOR_COLUMNS and self.metadata[c].nunique() > 1]


GEOMETRY_COLUMNS = {"location": ("x_coord", "y_coord"), "area": ("area",), "rotation": ("rotation",)}


def spec_factors(spec: dict | None, metadata: pd.DataFrame) -> list[str] | None:
    """The factor columns a build's ``dataset.json`` spec declares: those of every grid
    factor with more than one value in the metadata (geometric ones by name, ``location``
    as both ``x_coord`` and ``y_coord`` when either varies, so a row of locations stays a
    location grid; an intervention by its own name: its other columns, ``<name>_...``, are
    its records), in the grid's order; None without a grid spec. Record columns
    (``blend_fallback``, ``pct_inside_image``, ...) are never factors."""
    grid = spec.get("grid") if isinstance(spec, dict) else None
    if not isinstance(grid, dict):
        return None
    out: list[str] = []
    for name, values in grid.items():
        if name == "resolution" or not isinstance(values, list) or len(values) < 2:
            continue
        columns = [c for c in GEOMETRY_COLUMNS.get(name, (name,)) if c in metadata]
        if any(metadata[c].nunique() > 1 for c in columns):
            out += columns
    return out


def clean_factor_values(md: pd.DataFrame) -> pd.DataFrame:
    """Round every float column to 10 decimals, in place: the official metadata's
    ``0.15000000000000002`` becomes the ``0.15`` siscore writes, so tables join."""
    for col in md.columns:
        if pd.api.types.is_float_dtype(md[col].dtype):
            md[col] = md[col].round(CLEAN_DECIMALS)
    return md


def _read_csv(store: Store, name: str) -> pd.DataFrame:
    if not store.exists(name):
        raise DatasetError(f"{store.describe(name)}: missing; a dataset folder needs it "
                           "(rebuild or re-download)")
    with store.open(name) as f:
        try:
            return pd.read_csv(f)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{store.describe(name)}: not a readable CSV ({exc}); "
                               "rebuild or re-download it") from None


def _read_int_label(store: Store, name: str) -> pd.DataFrame:
    table = _read_csv(store, name)
    if list(table.columns[:2]) != ["int", "label"]:
        raise DatasetError(f"{store.describe(name)}: expected the header 'int,label', "
                           f"found {list(table.columns)}")
    return table


def _label_table(store: Store, classes: list[str], label_map: str | Path | None
                 ) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """The valid ImageNet indices per label, and notes on where they came from."""
    notes: list[str] = []
    if store.exists("label_map.csv"):  # a siscore build: the table it was built with
        with store.open("label_map.csv") as f:
            text = f.read().decode("utf-8-sig")
        try:
            table = parse_label_map(text.splitlines(), store.describe("label_map.csv"))
        except LabelMapError as exc:
            raise DatasetError(str(exc)) from None
    else:  # an official download: siscore's corrected table, differences listed
        official = _read_int_label(store, "foreground_classes.csv")
        table, notes = official_label_table(
            {str(r.label): int(r.int) for r in official.itertuples()}, classes)
    if label_map is not None:
        try:
            user = read_label_map(label_map)
        except LabelMapError as exc:
            raise DatasetError(str(exc)) from None
        changed = sorted(c for c in classes if c in user and tuple(user[c]) != table.get(c))
        table.update(user)
        notes.append(f"--label-map {label_map}: {len(changed)} class(es) of this dataset "
                     f"re-mapped ({', '.join(changed[:8])}{', ...' if len(changed) > 8 else ''})")
    return table, notes


def _factor_columns(spec: dict | None, md: pd.DataFrame) -> list[str]:
    """The columns that hold factor values: a build's grid names them; otherwise every
    column that is not a record column (an official download's, a dataset of one's own)."""
    grid = spec.get("grid") if isinstance(spec, dict) else None
    if not isinstance(grid, dict):
        return [c for c in md.columns if c not in NON_FACTOR_COLUMNS]
    named = [n for n in grid if n not in GEOMETRY_COLUMNS and n != "resolution"]
    return [*FACTOR_COLUMNS, "bg_resolution_width", "bg_resolution_height", *named]


def _read_spec(store: Store) -> dict[str, Any] | None:
    if not store.exists("dataset.json"):
        return None
    with store.open("dataset.json") as f:
        try:
            spec = json.loads(f.read().decode("utf-8")).get("spec")
        except (ValueError, AttributeError) as exc:
            raise DatasetError(f"{store.describe('dataset.json')}: not a readable build record "
                               f"({exc}); rebuild the dataset") from None
    return spec if isinstance(spec, dict) else None


def load_dataset(root: str | Path, check_files: bool = False,
                 label_map: str | Path | None = None) -> DatasetInfo:
    """Read a dataset's metadata: a folder, the folder a subset zip was unpacked into,
    or a zip read in place. ``check_files`` also checks every image exists;
    ``label_map`` (a ``label,imagenet_index`` CSV, or an official ``int,label``
    ``foreground_classes.csv``) overrides the dataset's label table.

    The tables are untrusted (:mod:`siscore.formats.checks`): a value that cannot be
    right (a NaN or fractional ``image_id``, a NaN factor value, a class label that
    climbs out of the folder, ...) raises :class:`DatasetError` naming file, row and value."""
    located = locate_dataset(root)
    store = located.store
    md = _read_csv(store, "metadata.csv")
    where = store.describe("metadata.csv")
    missing = {"image_id", "foreground_class"} - set(md.columns)
    if missing:
        raise DatasetError(f"{where}: missing column(s) {sorted(missing)}")
    check_image_ids(md, where)
    spec = _read_spec(store)
    check_factor_values(md, _factor_columns(spec, md), where)
    clean_factor_values(md)
    by_index = _read_int_label(store, "foreground_classes_metadata_indices.csv")
    classes = check_classes(by_index, store, "foreground_classes_metadata_indices.csv")
    imagenet, notes = _label_table(store, classes, label_map)
    codes = whole_numbers(md["foreground_class"], where, "foreground_class",
                          high=max(len(classes) - 1, 0),
                          meaning=" (no class of foreground_classes_metadata_indices.csv has it)")
    md["foreground_class"] = codes
    labels = np.asarray(classes, dtype=object)[codes]
    md["label"] = labels
    per_class = np.empty(len(classes), dtype=object)
    per_class[:] = [imagenet.get(c, ()) for c in classes]
    md["imagenet"] = per_class[codes]
    ext = "png" if spec and spec.get("format") == "png" else "jpg"
    md["path"] = [f"{label}/{i}.{ext}" for label, i in zip(labels.tolist(), md["image_id"].tolist())]
    if check_files:
        absent = [p for p in md["path"] if not store.exists(p)]
        if absent:
            raise DatasetError(f"{located.display}: {len(absent)} image(s) listed in metadata.csv "
                               f"are missing, e.g. {absent[0]}")
    return DatasetInfo(located.display, md, classes, imagenet, spec, store, notes)


def add_file_name_column(root: str | Path) -> Path:
    """Add the ``file_name`` column (``label/image_id.jpg``) to a dataset folder's
    metadata.csv, as Hugging Face's ``imagefolder`` loader needs, and return its path.

    Other cells are kept byte for byte; the column is never a factor of
    ``siscore score``. The file's checksum changes, so do it before ``siscore
    evaluate`` (a later run would not resume predictions made before).
    """
    import csv
    import os

    info = load_dataset(root)
    if not isinstance(info.store, FolderStore):
        raise DatasetError(f"{info.root}: a zip cannot be changed in place; unzip it first "
                           "(siscore download does) and give the folder")
    path = info.store.root / "metadata.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    if "file_name" in header:
        return path
    paths = info.metadata["path"].tolist()
    tmp = path.with_name(".metadata.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*header, "file_name"])
        writer.writerows([*row, p] for row, p in zip(rows[1:], paths, strict=True))
    os.replace(tmp, path)
    return path
