"""Reading predictions CSVs (and their optional logits side file), checked row by row.

A predictions CSV needs ``image_id`` and ``top1`` (an ImageNet-1k index, or an output
index of the model when an output map is given); ``top5`` (five indices separated by
spaces) and ``model`` are optional; any other column (``label``, ``correct1`` ...) is
read only for consistency checks. Full logits may sit beside the CSV in
``<name>.logits.npz`` (what ``siscore evaluate --logits`` writes), ``<stem>.npz`` or
``<name>.npz``, with the arrays ``image_id`` and ``logits``. ``<name>.meta.json``
(written by ``siscore evaluate``) gives the weights the predictions came from, and whether the model
was randomly initialised (``random_init``).

Model names enter a scores file here: a name that is empty, or that a spreadsheet would
read as a formula (:func:`siscore.formats.labels.formula_lead`: a leading ``=``, ``+``,
``-``, ``@``, tab or carriage return), is refused with one line (:func:`check_name`).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siscore.errors import SiscoreError
from siscore.formats import predictions as file_format
from siscore.formats.labels import formula_lead, formula_refusal


class ScoreError(SiscoreError, ValueError):
    """Input that cannot be scored; the message names the file, row or option and the fix."""


@dataclass
class Predictions:
    """One model's predictions, as arrays aligned row by row with the source file."""

    name: str
    source: str  # file name (or "<DataFrame>") for messages
    image_id: np.ndarray  # int64
    top1: np.ndarray  # int64
    top5_text: pd.Series | np.ndarray | None = None  # raw top5 column, parsed on first use
    label: np.ndarray | None = None  # class names written by the predictor, if any
    rows: np.ndarray | None = None  # line number of each row in the source file
    logits_path: Path | None = None  # side file with full logits, if present
    weights: str | None = None  # torchvision weight enum the predictions came from, if known
    imagenet_top1: float | None = None  # the model's ImageNet top-1 recorded by evaluate
    models_in_file: int = 1  # models sharing the source file (and so its one logits file)
    images_total: int | None = None  # images the evaluate run had to predict (its meta.json)
    random_init: bool = False  # evaluate recorded random weights (no pretrained, no checkpoint)

    @property
    def top5(self) -> np.ndarray | None:
        """(N, 5) int64 top-5 indices, or None without a top5 column (parsed once, lazily)."""
        if self.top5_text is None:
            return None
        if not isinstance(self.top5_text, np.ndarray):
            rows = self.rows if self.rows is not None else np.arange(2, len(self) + 2)
            self.top5_text = parse_top5(self.top5_text, self.source, rows)
        return self.top5_text

    def line(self, i: int) -> int:
        """The source line of row ``i`` (the header is line 1)."""
        return int(self.rows[i]) if self.rows is not None else i + 2

    def __len__(self) -> int:
        return len(self.image_id)


def show(value: object) -> str:
    """``repr`` of a table cell, numpy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_name(name: object, where: str, fix: str = "--name, or the model column") -> str:
    """``name`` as a model name for a scores file; an empty one, or one a spreadsheet would
    read as a formula, is a :class:`ScoreError` that starts with ``where`` and ends with
    where to change it (``fix``)."""
    text = "" if name is None else str(name)
    if not text.strip():
        raise ScoreError(f"{where}: empty model name; give every model a name ({fix})")
    if formula_lead(text):
        raise ScoreError(f"{where}: model name {formula_refusal(text)} ({fix})")
    return text


def _int_column(values: pd.Series, column: str, source: str, rows: np.ndarray) -> np.ndarray:
    """The column as int64; a cell that is not an integer is an error naming its row."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numeric) | (numeric != np.round(numeric))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScoreError(f"{source}, row {rows[i]}: {column} = {show(values.iloc[i])} is not an "
                         f"integer; every row needs an integer {column} (fix or delete the row)")
    big = np.abs(numeric) > file_format.INT64_MAX  # 2**63 and above wrap to negative in int64
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise ScoreError(f"{source}, row {rows[i]}: {column} = {show(values.iloc[i])} does not "
                         f"fit a 64-bit integer (at most {file_format.INT64_MAX}); fix or "
                         "delete the row")
    return numeric.astype(np.int64)


def parse_top5(values: pd.Series, source: str, rows: np.ndarray) -> np.ndarray:
    """Parse a column of ``"i j k l m"`` strings into an (N, 5) int64 array, vectorised."""
    n = len(values)
    if n == 0:
        return np.zeros((0, 5), dtype=np.int64)
    if values.isna().all():
        raise ScoreError(f"{source}: the top5 column is empty on every row; top-5 needs five "
                         "indices per row (re-run `siscore evaluate`), or score with --topk 1")
    text = values.astype(object).where(values.notna(), "").astype(str)
    if pd.api.types.is_integer_dtype(values.dtype):  # one index per row cannot be top-5
        flat = np.zeros(0, dtype=np.int64)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                flat = np.fromstring(" ".join(text.tolist()), sep=" ", dtype=np.int64)
            except (ValueError, DeprecationWarning):
                flat = np.zeros(0, dtype=np.int64)
    if flat.size == 5 * n:
        return flat.reshape(n, 5)
    counts = np.array([len(t.split()) for t in text.tolist()])
    bad = np.flatnonzero((counts != 5) | values.isna().to_numpy())
    i = int(bad[0]) if bad.size else 0
    raise ScoreError(f"{source}, row {rows[i]}: top5 = {show(values.iloc[i])} is not five integer "
                     "indices separated by spaces (e.g. '931 105 951 742 327'); fix the row, "
                     "or drop the top5 column and score with --topk 1")


def logits_side_file(path: Path) -> Path | None:
    """``<name>.logits.npz``, ``<stem>.npz`` or ``<name>.npz`` beside a predictions CSV."""
    for candidate in (path.with_name(path.name + ".logits.npz"), path.with_suffix(".npz"),
                      path.with_name(path.name + ".npz")):
        if candidate.is_file():
            return candidate
    return None


def evaluate_meta(path: Path, key: str) -> object:
    """A value recorded in ``<name>.meta.json`` by ``siscore evaluate``, or None."""
    meta = path.with_name(path.name + ".meta.json")
    try:
        return json.loads(meta.read_text("utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def evaluate_weights(path: Path) -> str | None:
    """The weight enum recorded in ``<name>.meta.json`` by ``siscore evaluate``, if any."""
    value = evaluate_meta(path, "weights")
    return value if isinstance(value, str) else None


def from_frame(frame: pd.DataFrame, name: str | None = None, source: str = "<DataFrame>",
               logits_path: Path | None = None, weights: str | None = None
               ) -> list[Predictions]:
    """Split a predictions table into one :class:`Predictions` per model.

    The model name is the ``model`` column when present, else ``name``.
    """
    missing = [c for c in ("image_id", "top1") if c not in frame.columns]
    if missing:
        raise ScoreError(
            f"{source}: missing column(s) {missing} (found {list(frame.columns)}); a predictions "
            "CSV needs at least 'image_id' and 'top1' (the predicted ImageNet-1k index), "
            "e.g. 'image_id,top1' then '0,931'")
    if frame.empty:
        raise ScoreError(f"{source}: no prediction rows; evaluate the model first")
    rows = np.arange(2, len(frame) + 2)
    image_id = _int_column(frame["image_id"], "image_id", source, rows)
    top1 = _int_column(frame["top1"], "top1", source, rows)
    top5 = frame["top5"] if "top5" in frame.columns else None
    label = frame["label"].astype(str).to_numpy() if "label" in frame.columns else None
    if "model" not in frame.columns or (name is not None and frame["model"].nunique() <= 1):
        if name is None:
            raise ScoreError(f"{source}: no 'model' column and no name given; pass --name NAME "
                             "(or name=...) to say which model made these predictions")
        check_name(name, source)
        return [Predictions(name, source, image_id, top1, top5, label, rows, logits_path,
                            weights)]
    models = frame["model"]
    if models.isna().any():
        i = int(np.flatnonzero(models.isna().to_numpy())[0])
        raise ScoreError(f"{source}, row {rows[i]}: empty model name; fill the 'model' column "
                         "on every row, or delete the column and pass --name")
    codes, uniques = pd.factorize(models.astype(str))
    distinct = [str(u) for u in uniques]
    for i, model in enumerate(distinct):
        check_name(model, f"{source}, row {rows[int(np.argmax(codes == i))]}, column model")
    if name is not None:
        raise ScoreError(f"{source}: --name {name!r} given, but the 'model' column names "
                         f"{len(distinct)} models ({', '.join(distinct[:4])}); drop --name")
    out = []
    for i, model in enumerate(distinct):
        keep = codes == i
        out.append(Predictions(model, source, image_id[keep], top1[keep],
                               None if top5 is None else top5[keep].reset_index(drop=True),
                               None if label is None else label[keep], rows[keep],
                               logits_path, weights, len(distinct)))
    return out


def read_predictions(path: str | Path, name: str | None = None) -> list[Predictions]:
    """Read a predictions CSV: one :class:`Predictions` per model it holds.

    The model name is the ``model`` column, else ``name``, else the file's stem.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"{path}: no such predictions file (write it with `siscore evaluate "
                         "--out`, or give the path of an existing CSV)")
    try:
        frame = file_format.read_predictions(path)  # the one reader evaluate uses too
    except file_format.PredictionsError as exc:
        raise ScoreError(str(exc)) from None
    for col in frame.columns.difference(file_format.INTEGER_COLUMNS):
        frame[col] = frame[col].mask(frame[col] == "")  # an empty cell is a missing value
    if name is None and "model" not in frame.columns:
        name = path.stem
    out = from_frame(frame, name, str(path), logits_side_file(path), evaluate_weights(path))
    total = evaluate_meta(path, "images_total")
    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
        for pred in out:
            pred.images_total = total
    random_init = evaluate_meta(path, "random_init") is True
    for pred in out:
        pred.random_init = random_init
    if len(out) == 1:  # evaluate writes one model per file; its meta.json is that model's
        out[0].imagenet_top1 = file_format.recorded_top1(path)
    return out


def load_logits(pred: Predictions, n_outputs: int) -> np.ndarray:
    """The logits of ``pred``'s rows (N x n_outputs), read from its side file and aligned."""
    path = pred.logits_path
    if path is None:
        raise ScoreError(
            f"{pred.source}: --label-space dataset needs the full logits, but there is no "
            f"side file {Path(pred.source).name}.logits.npz (or "
            f"{Path(pred.source).with_suffix('.npz').name}) beside it; run `siscore evaluate "
            "--logits`, or score with --label-space imagenet")
    if pred.models_in_file > 1:
        raise ScoreError(f"{pred.source}: holds {pred.models_in_file} models but one logits file "
                         f"({path.name}); for --label-space dataset write one predictions file "
                         "(and one logits file) per model")
    try:
        with np.load(path) as data:
            ids, logits = np.asarray(data["image_id"]), np.asarray(data["logits"])
    except (OSError, ValueError, KeyError) as exc:
        raise ScoreError(f"{path}: not a logits file with arrays 'image_id' and 'logits' "
                         f"({exc}); re-run `siscore evaluate` or delete it") from None
    if logits.ndim != 2 or len(logits) != len(ids):
        raise ScoreError(f"{path}: 'logits' has shape {logits.shape} for {len(ids)} image ids; "
                         "expected (N, classes); re-run `siscore evaluate`")
    if logits.shape[1] != n_outputs:
        raise ScoreError(
            f"{path}: the logits have {logits.shape[1]} columns, expected {n_outputs} "
            "(ImageNet-1k unless an output map is given): the model's output is not "
            "ImageNet-1k; pass --output-map CSV mapping each output to an ImageNet index "
            "or a dataset label")
    index = pd.Index(ids)
    if not index.is_unique:
        dup = ids[index.duplicated()][0]
        raise ScoreError(f"{path}: image_id {dup} appears more than once; re-run evaluate")
    pos = index.get_indexer(pred.image_id)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise ScoreError(f"{path}: no logits for image_id {pred.image_id[i]} (row "
                         f"{pred.line(i)} of {pred.source}); the side file belongs to another "
                         "run: re-run `siscore evaluate`, or delete it")
    return logits[pos]


def read_imagenet_acc(path: str | Path) -> dict[str, float]:
    """Read ``model,imagenet_top1`` (top-1 accuracy in percent) into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"--imagenet-acc {path}: no such file; write a CSV with the header "
                         "'model,imagenet_top1' (accuracy in percent, e.g. 'resnet50,76.13')")
    try:  # only an empty cell is missing: a model called NA keeps its name
        table = pd.read_csv(path, dtype={"model": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"--imagenet-acc {path}: not a readable CSV ({exc})") from None
    if not {"model", "imagenet_top1"} <= set(table.columns):
        raise ScoreError(f"{path}: expected the columns 'model,imagenet_top1' (found "
                         f"{list(table.columns)}); one row per model, accuracy in percent")
    acc = pd.to_numeric(table["imagenet_top1"], errors="coerce").to_numpy(dtype=float)
    bad = ~((acc > 0) & (acc < 100)) | table["model"].isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScoreError(f"{path}, row {i + 2}: imagenet_top1 = "
                         f"{show(table['imagenet_top1'].iloc[i])} for model {show(table['model'].iloc[i])} "
                         "is not a percentage strictly between 0 and 100")
    if (acc <= 1).all():
        raise ScoreError(f"{path}: every imagenet_top1 is at most 1; write percentages "
                         "(76.13, not 0.7613)")
    return dict(zip(table["model"].astype(str), acc.tolist(), strict=True))
