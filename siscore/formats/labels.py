"""Foreground label -> ImageNet-1k class indices.

The built-in table holds the 112 SI-SCORE labels (checked against the ImageNet
class names: "kite" has no ImageNet-1k class, "laptop" and "missile" have two)
plus the classes of the embedded assets. A user table (``--label-map CSV``)
overrides or extends it. A CSV has a header with ``label`` and
``imagenet_index``; several valid indices are separated by spaces, or given on
repeated rows; an empty index means "no ImageNet-1k class". The ``int,label``
table of an official SI-SCORE folder (``foreground_classes.csv``, one ImageNet
index per label) is read too.

A label that a spreadsheet would run as a formula (one beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, :func:`formula_lead`) is refused where it
enters: a label map, a foreground folder name, a dataset's class table.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from siscore.errors import SiscoreError

LabelMap = Mapping[str, tuple[int, ...]]


class LabelMapError(SiscoreError, ValueError):
    """A label-map file that cannot be used."""


FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make spreadsheets (Excel, LibreOffice, Google Sheets) read a CSV
cell as a formula (OWASP's list for CSV injection)."""


def formula_lead(text: str) -> str | None:
    """The first character of ``text`` if a spreadsheet would read it as a formula, else None."""
    return text[0] if text[:1] in FORMULA_LEADS else None


def formula_refusal(text: str) -> str:
    """The one message for a name refused because of :func:`formula_lead` (after the
    place that names it)."""
    return (f"{text!r} begins with {formula_lead(text)!r}, which spreadsheets read as a "
            "formula; rename it")


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, indexed as torchvision indexes them."""
    text = resources.files("siscore").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    return tuple(line for line in text.splitlines() if line)


def parse_label_map(lines: list[str], source: str) -> dict[str, tuple[int, ...]]:
    """Parse the lines of a label-map CSV (``label,imagenet_index`` or official ``int,label``)."""
    rows = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(rows)
    fields = reader.fieldnames or []
    if fields[:2] == ["int", "label"]:  # an official foreground_classes.csv
        rows = ["label,imagenet_index"] + [f'"{r["label"]}",{r["int"]}' for r in reader]
        reader = csv.DictReader(rows)
        fields = ["label", "imagenet_index"]
    if "label" not in fields or "imagenet_index" not in fields:
        raise LabelMapError(
            f"{source}: the header must contain 'label' and 'imagenet_index' (found {fields}); "
            "write one row per label, e.g. 'bagel,931'"
        )
    table: dict[str, list[int]] = {}
    for lineno, row in enumerate(reader, start=2):
        label = (row.get("label") or "").strip()
        if not label:
            raise LabelMapError(f"{source}, row {lineno}: empty label")
        if formula_lead(label):
            raise LabelMapError(f"{source}, row {lineno}: label {formula_refusal(label)}")
        indices = table.setdefault(label, [])
        for token in (row.get("imagenet_index") or "").replace(";", " ").split():
            try:
                index = int(token)
            except ValueError:
                raise LabelMapError(
                    f"{source}, row {lineno}: imagenet_index {token!r} of {label!r} is not an integer"
                ) from None
            if not 0 <= index < 1000:
                raise LabelMapError(
                    f"{source}, row {lineno}: imagenet_index {index} of {label!r} is outside 0..999"
                )
            if index not in indices:
                indices.append(index)
    return {label: tuple(indices) for label, indices in table.items()}


@functools.lru_cache(maxsize=1)
def builtin_label_map() -> dict[str, tuple[int, ...]]:
    """The built-in table (SI-SCORE labels and the embedded asset classes)."""
    text = resources.files("siscore").joinpath("data/label_map.csv").read_text("utf-8")
    return parse_label_map(text.splitlines(), "built-in label map")


def read_label_map(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Read a user label-map CSV (see the module docstring for the format)."""
    path = Path(path)
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except OSError as exc:
        raise LabelMapError(f"{path}: cannot read the label map ({exc.strerror})") from None
    return parse_label_map(lines, str(path))


def load_label_map(path: str | Path | None = None) -> dict[str, tuple[int, ...]]:
    """The built-in table, overridden and extended by the CSV at ``path`` if given."""
    table = dict(builtin_label_map())
    if path is not None:
        table.update(read_label_map(path))
    return table


def write_label_map(path: str | Path, table: LabelMap) -> None:
    """Write ``table`` in the format :func:`read_label_map` reads."""
    names = imagenet_classes()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["label", "imagenet_index", "imagenet_name"])
        for label in sorted(table):
            indices = table[label]
            writer.writerow(
                [label, " ".join(map(str, indices)), "; ".join(names[i] for i in indices)]
            )
