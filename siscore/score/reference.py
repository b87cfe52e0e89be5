"""The ground truth side of scoring: image metadata, class labels and valid predictions.

A :class:`Reference` comes from a dataset folder (``--dataset DIR``: siscore builds or
the official SI-SCORE downloads) or from a lone metadata-compatible CSV
(``--metadata CSV``, e.g. the one ``siscore evaluate`` writes when it renders on the
fly). Correctness is one lookup in a (classes x outputs) boolean table, so scoring
600,000 predictions needs no Python loop over rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from siscore.formats.checks import check_image_ids, whole_numbers
from siscore.formats.dataset import DatasetError, DatasetInfo, load_dataset
from siscore.formats.labels import LabelMapError, load_label_map, read_label_map
from siscore.score.io import Predictions, ScoreError, show

N_IMAGENET = 1000
CLASS_FILE = "foreground_classes_metadata_indices.csv"


@dataclass
class OutputMap:
    """Each model output's ImageNet-1k index (-1: none) and/or dataset label ("": none).

    An output counts as correct for an image when its ImageNet index is valid for the
    image's label, or its label is the image's label.
    """

    source: str
    imagenet: np.ndarray | None = None  # output -> ImageNet index (-1: none)
    labels: np.ndarray | None = None  # output -> dataset label ("": none)

    def __post_init__(self) -> None:
        n = len(self.imagenet if self.imagenet is not None else self.labels)
        if self.imagenet is None:
            self.imagenet = np.full(n, -1, dtype=np.int64)
        if self.labels is None:
            self.labels = np.full(n, "", dtype=object)
        self.imagenet = np.asarray(self.imagenet, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=object)

    @property
    def n_outputs(self) -> int:
        return len(self.imagenet)


def _imagenet_index(token: str, where: str) -> int:
    value = int(token)
    if not 0 <= value < N_IMAGENET:
        raise ScoreError(f"{where}: imagenet_index {value} is not in 0..999")
    return value


def _read_lines(path: Path, lines: list[str]) -> OutputMap:
    """``siscore evaluate --output-classes`` format: one line per output, an ImageNet index or
    a label (blank lines and ``#`` comments skipped)."""
    imagenet, labels = [], []
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digit = line.isdigit()
        imagenet.append(_imagenet_index(line, f"{path}, line {n}") if digit else -1)
        labels.append("" if digit else line)
    if not imagenet:
        raise ScoreError(f"{path}: no outputs listed; write one line per model output")
    return OutputMap(str(path), np.array(imagenet), np.array(labels, dtype=object))


def read_output_map(path: str | Path) -> OutputMap:
    """Read a model's output map: a CSV with ``output`` and ``imagenet_index`` and/or
    ``label`` (one row per output; unlisted outputs are never correct), or the text file of
    ``siscore evaluate --output-classes`` (one line per output)."""
    path = Path(path)
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except OSError as exc:
        raise ScoreError(f"--output-map {path}: cannot read it ({exc.strerror})") from None
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")), "")
    if not first.startswith("output,"):
        return _read_lines(path, lines)
    table = pd.read_csv(path, dtype={"label": str}, keep_default_na=False, na_values=[""])
    if not {"imagenet_index", "label"} & set(table.columns):
        raise ScoreError(f"{path}: expected the header 'output,imagenet_index' or "
                         f"'output,label' (found {list(table.columns)}); one row per output")
    out = pd.to_numeric(table["output"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(out) | (out < 0) | (out != np.round(out))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScoreError(f"{path}, row {i + 2}: output {show(table['output'].iloc[i])} is not an "
                         "index >= 0")
    out = out.astype(np.int64)
    if len(np.unique(out)) != len(out):
        raise ScoreError(f"{path}: output index {out[pd.Index(out).duplicated()][0]} appears "
                         "twice; give each output one row")
    n = int(out.max()) + 1
    imagenet = np.full(n, -1, dtype=np.int64)
    labels = np.full(n, "", dtype=object)
    if "label" in table.columns:
        labels[out] = table["label"].fillna("").astype(str).to_numpy()
    if "imagenet_index" in table.columns:
        idx = pd.to_numeric(table["imagenet_index"], errors="coerce").to_numpy(dtype=float)
        bad = (table["imagenet_index"].notna().to_numpy()
               & ~((idx >= 0) & (idx < N_IMAGENET) & (idx == np.round(idx))))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ScoreError(f"{path}, row {i + 2}: imagenet_index "
                             f"{show(table['imagenet_index'].iloc[i])} is not in 0..999")
        imagenet[out] = np.where(np.isnan(idx), -1, idx).astype(np.int64)
    return OutputMap(str(path), imagenet, labels)


@dataclass
class Reference:
    """Per-image metadata with each image's class, and which predictions count as correct."""

    metadata: pd.DataFrame  # one row per image, RangeIndex
    classes: list[str]  # class code -> label
    class_code: np.ndarray  # per image: index into classes
    imagenet: dict[str, tuple[int, ...]]  # label -> valid ImageNet indices
    subset: str | None
    source: str  # the metadata file, for messages
    factors: list[str]  # default grouping: every varying factor column (as DatasetInfo.factors)
    root: Path | None = None
    notes: list[str] = field(default_factory=list)
    metadata_only: bool = False  # lists only the images an on-the-fly evaluate predicted
    background_names: pd.Series | None = None  # background index -> file name (backgrounds.csv)

    def __post_init__(self) -> None:
        self._ids = pd.Index(self.metadata["image_id"].to_numpy(dtype=np.int64))
        if not self._ids.is_unique:
            dup = self._ids[self._ids.duplicated()][0]
            raise ScoreError(f"{self.source}: image_id {dup} appears more than once; the "
                             "metadata is corrupt (rebuild or re-download the dataset)")
        missing = sorted(c for c in self.classes if not self.imagenet.get(c))
        if missing:
            self.notes.append(f"class(es) {', '.join(missing)} have no ImageNet-1k index: "
                              "their images never count as correct")

    def positions(self, pred: Predictions) -> np.ndarray:
        """Row of each prediction in the metadata; unknown or repeated ids are errors."""
        pos = self._ids.get_indexer(pred.image_id)
        if (pos < 0).any():
            bad = np.flatnonzero(pos < 0)
            i = int(bad[0])
            raise ScoreError(
                f"{pred.source}, row {pred.line(i)}: image_id {pred.image_id[i]} is not in "
                f"{self.source} ({len(bad)} unknown id(s) in all); these predictions were made "
                "on another dataset: score them against that dataset, or delete those rows")
        seen = np.bincount(pos, minlength=len(self._ids))
        if (seen > 1).any():
            dup = int(np.flatnonzero(seen > 1)[0])
            lines = [pred.line(int(i)) for i in np.flatnonzero(pos == dup)[:3]]
            raise ScoreError(
                f"{pred.source}: image_id {self._ids[dup]} appears on rows "
                f"{', '.join(map(str, lines))} ({int((seen > 1).sum())} repeated id(s) in all); "
                "keep one row per image (did you concatenate two runs?)")
        if pred.label is not None:
            expected = np.asarray(self.classes, dtype=object)[self.class_code[pos]]
            wrong = np.flatnonzero(pred.label != expected)
            if wrong.size:
                i = int(wrong[0])
                raise ScoreError(
                    f"{pred.source}, row {pred.line(i)}: image_id {pred.image_id[i]} is labelled "
                    f"{pred.label[i]!r} there but {expected[i]!r} in {self.source}; the "
                    "predictions belong to another dataset: score them against that one")
        return pos

    def valid_table(self, output_map: OutputMap | None = None) -> np.ndarray:
        """Boolean (classes x outputs): True where predicting that output is correct."""
        imnet = np.zeros((len(self.classes), N_IMAGENET), dtype=bool)
        for c, label in enumerate(self.classes):
            imnet[c, list(self.imagenet.get(label, ()))] = True
        if output_map is None:
            return imnet
        m = output_map.imagenet
        by_index = np.where(m >= 0, imnet[:, np.maximum(m, 0)], False)
        names = np.asarray(self.classes, dtype=object)[:, None]
        return by_index | (output_map.labels[None, :] == names)

    def column(self, name: str) -> pd.Series:
        """A metadata column; ``background_name`` is joined from backgrounds.csv on demand."""
        md = self.metadata
        if name not in md.columns and name == "background_name":
            lookup = self.background_names
            path = self.root / "backgrounds.csv" if self.root else None
            if lookup is None and path is not None and path.is_file():
                lookup = _background_names(pd.read_csv(path))
            if lookup is None or "background" not in md.columns:
                raise ScoreError(f"--by background_name needs backgrounds.csv beside "
                                 f"{self.source} and a 'background' column; use --by background")
            md["background_name"] = md["background"].map(lookup)
        if name not in md.columns or name in ("imagenet",):
            usable = [c for c in md.columns if c not in ("imagenet",)]
            raise ScoreError(f"--by {name}: no such column in {self.source}; choose from "
                             f"{', '.join(usable)}" + (", background_name" if self.root else ""))
        return md[name]


def from_info(info: DatasetInfo) -> Reference:
    """A :class:`Reference` for a dataset loaded with :func:`siscore.formats.dataset.load_dataset`."""
    md = info.metadata.reset_index(drop=True)
    codes = md["foreground_class"].to_numpy(dtype=np.int64)
    ref = Reference(md, list(info.classes), codes, dict(info.imagenet), info.subset,
                    str(info.root / "metadata.csv"), info.factors, info.root, list(info.notes))
    ref.metadata_only = _metadata_only(info.root)
    if info.exists("backgrounds.csv"):  # read through the dataset's store: zips too
        with info.open("backgrounds.csv") as fh:
            ref.background_names = _background_names(pd.read_csv(fh))
    return ref


def _background_names(table: pd.DataFrame) -> pd.Series:
    """backgrounds.csv (``int,label``) as a background index -> file name series."""
    return pd.Series(table["label"].astype(str).to_numpy(), index=table["int"])


def _metadata_only(root: Path) -> bool:
    """Whether ``root`` is the metadata-only folder of an on-the-fly ``siscore evaluate``
    (its metadata lists only the images predicted, not the whole grid)."""
    try:
        data = json.loads((root / "dataset.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("images") is False


def _spec_beside(path: Path) -> dict | None:
    """The build spec in ``dataset.json`` beside a lone metadata CSV (``siscore evaluate``
    writes one), so its grid, not every varying column, names the factors; else None."""
    try:
        spec = json.loads(path.with_name("dataset.json").read_text("utf-8")).get("spec")
    except (OSError, ValueError, AttributeError):
        return None
    return spec if isinstance(spec, dict) else None


def from_dataset(root: str | Path, label_map: str | Path | None = None) -> Reference:
    """Load a dataset folder or zip (metadata.csv and its class tables; images are not
    opened); ``label_map`` overrides its label table."""
    try:
        info = load_dataset(root, label_map=label_map)
    except DatasetError as exc:
        raise ScoreError(str(exc)) from None
    return from_info(info)


def from_metadata(path: str | Path, class_names: str | Path | None = None,
                  label_map: str | Path | None = None) -> Reference:
    """Load a lone metadata-compatible CSV.

    Each image's class is its ``label`` column, else ``foreground_class`` looked up in
    ``class_names`` (an ``int,label`` CSV; default: foreground_classes_metadata_indices.csv
    beside the file). Valid ImageNet indices come from ``label_map`` (default:
    label_map.csv beside the file, else the built-in table).
    """
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"--metadata {path}: no such file")
    try:
        md = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"--metadata {path}: not a readable CSV ({exc})") from None
    if "image_id" not in md.columns:
        raise ScoreError(f"{path}: no 'image_id' column; is this a metadata.csv?")
    try:
        check_image_ids(md, str(path))  # at least one row; ids whole, in range, unique
    except DatasetError as exc:
        raise ScoreError(str(exc)) from None
    if "label" in md.columns:
        codes, uniques = pd.factorize(md["label"].astype(str), sort=True)
        names = [str(u) for u in uniques]
    else:
        table = Path(class_names) if class_names else path.with_name(CLASS_FILE)
        if "foreground_class" not in md.columns or not table.is_file():
            raise ScoreError(f"{path}: no 'label' column, so each image's class must come from "
                             "'foreground_class' and a class-names CSV (int,label; "
                             "class_names, --class-names); "
                             f"{table} is missing")
        by_index = pd.read_csv(table).sort_values("int")
        names = by_index["label"].astype(str).tolist()
        try:
            codes = whole_numbers(md["foreground_class"], str(path), "foreground_class",
                                  high=len(names) - 1, meaning=f" (the classes of {table})")
        except DatasetError as exc:
            raise ScoreError(str(exc)) from None
        md["label"] = np.asarray(names, dtype=object)[codes]
    local = path.with_name("label_map.csv")
    try:
        if label_map is not None:
            imagenet = load_label_map(label_map)
        elif local.is_file():
            imagenet = read_label_map(local)
        else:
            imagenet = load_label_map(None)
    except LabelMapError as exc:
        raise ScoreError(str(exc)) from None
    info = DatasetInfo(path.parent, md, names, imagenet, _spec_beside(path))
    return Reference(md, names, np.asarray(codes, dtype=np.int64), imagenet, info.subset,
                     str(path), info.factors, path.parent)
