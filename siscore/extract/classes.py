"""Which classes to extract, and their siscore label and ImageNet-1k indices.

OpenImages: the label is the lower-cased DisplayName (``Pitcher (Container)``
-> ``pitcher (container)``), looked up in the generator's label map
(:func:`siscore.formats.labels.load_label_map`, extended by ``--label-map``). COCO: the
category name goes through ``siscore/data/coco_label_map.csv`` (COCO name ->
label, indices); a ``--label-map`` CSV with a ``coco_name`` column overrides it
row by row, and one in the generator's format (``label,imagenet_index``) maps
the COCO category of that name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from siscore.extract.records import ExtractError
from siscore.formats.labels import LabelMapError, load_label_map, read_label_map


@dataclass(frozen=True)
class ClassChoice:
    """The classes of a run: label_name -> (label, indices) to extract, and the rest."""

    wanted: dict[str, tuple[str, tuple[int, ...]]]
    unmapped: dict[str, str]  # label_name -> label without ImageNet indices
    notes: list[str]


def generator_map(path: str | Path | None) -> dict[str, tuple[int, ...]]:
    """The generator's label map, extended/overridden by ``path`` (``--label-map``)."""
    try:
        return load_label_map(path)
    except LabelMapError as exc:
        raise ExtractError(f"--label-map: {exc}") from None


def split_classes_only(values: Iterable[str] | None) -> list[str]:
    """``--classes-only`` values (comma-separated, repeatable) as lower-case names or MIDs."""
    out: list[str] = []
    for value in values or ():
        out += [v.strip().lower() if not v.strip().startswith("/") else v.strip()
                for v in value.split(",") if v.strip()]
    return out


def choose(names: Mapping[str, str], table: Mapping[str, tuple[str, tuple[int, ...]]],
           classes_only: Iterable[str] | None, what: str) -> ClassChoice:
    """Split the classes ``names`` (label_name -> display name) by mapping and ``classes_only``.

    ``table`` maps a lower-case display name to ``(label, indices)``.
    """
    only = split_classes_only(classes_only)
    wanted: dict[str, tuple[str, tuple[int, ...]]] = {}
    unmapped: dict[str, str] = {}
    notes = []
    for mid, display in names.items():
        label, indices = table.get(display.lower(), (display.lower(), ()))
        if only and not ({mid, display.lower(), label} & set(only)):
            continue
        if indices and ("/" in label or label.startswith(".")):
            notes.append(f"label {label!r} ({mid}) cannot be a folder name ('/' or a leading '.'); "
                         "map the class to another label with --label-map")
            indices = ()
        if indices:
            wanted[mid] = (label, indices)
        else:
            unmapped[mid] = label
    known = {n.lower() for n in names.values()} | set(names) | {v[0] for v in wanted.values()}
    for name in only:
        if name not in known:
            notes.append(f"--classes-only {name!r}: no such class in {what}; ignored")
    for label in unmapped.values() if only else ():
        cell = f'"{label}"' if "," in label else label
        notes.append(f"--classes-only {label!r}: no ImageNet-1k mapping; add a row "
                     f"'{cell},<index>' to a --label-map CSV")
    if only and not wanted:
        raise ExtractError(f"--classes-only {','.join(only)}: none of these classes of {what} "
                           "has an ImageNet-1k mapping; nothing to extract")
    return ClassChoice(wanted, unmapped, notes)


def openimages_table(label_map: str | Path | None) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Lower-case display name -> (label, indices) from the generator's label map."""
    return {label: (label, tuple(idx)) for label, idx in generator_map(label_map).items()}


def _read_coco_rows(lines: list[str], source: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    rows = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(rows)
    if not {"coco_name", "label", "imagenet_index"} <= set(reader.fieldnames or []):
        raise ExtractError(f"{source}: the header must contain coco_name, label and imagenet_index")
    out = {}
    for line, row in enumerate(reader, start=2):
        name, label = (row["coco_name"] or "").strip().lower(), (row["label"] or "").strip()
        if not name or not label:
            raise ExtractError(f"{source}, row {line}: empty coco_name or label")
        try:
            idx = tuple(int(t) for t in (row["imagenet_index"] or "").split())
        except ValueError:
            raise ExtractError(f"{source}, row {line}: imagenet_index "
                               f"{row['imagenet_index']!r} is not a list of integers") from None
        if any(not 0 <= i < 1000 for i in idx):
            raise ExtractError(f"{source}, row {line}: imagenet_index outside 0..999")
        out[name] = (label, idx)
    return out


def builtin_coco_table() -> dict[str, tuple[str, tuple[int, ...]]]:
    """The shipped COCO map: category name -> (label, ImageNet-1k indices)."""
    text = resources.files("siscore").joinpath("data/coco_label_map.csv").read_text("utf-8")
    return _read_coco_rows(text.splitlines(), "built-in COCO label map")


def coco_table(label_map: str | Path | None) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The COCO map, overridden by ``label_map`` (COCO format or the generator's format)."""
    table = builtin_coco_table()
    if label_map is None:
        return table
    path = Path(label_map)
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except OSError as exc:
        raise ExtractError(f"--label-map {path}: cannot read ({exc.strerror})") from None
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if "coco_name" in next(csv.reader([first]), []):
        table.update(_read_coco_rows(lines, f"--label-map {path}"))
    else:
        try:
            table.update({k.lower(): (k, tuple(v)) for k, v in read_label_map(path).items()})
        except LabelMapError as exc:
            raise ExtractError(f"--label-map: {exc}") from None
    return table
