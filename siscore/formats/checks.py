"""A dataset's tables are untrusted input: values that cannot be right are refused on loading.

:func:`siscore.formats.dataset.load_dataset` (behind ``info``, ``evaluate`` and ``score``)
runs these checks, each ending in one :class:`DatasetError` line that names the file, the
row (its line in the file, the header being row 1), the column and the value:

- ``metadata.csv`` lists at least one image; ``image_id`` is a whole number in
  0..2**53-1 (no NaN, no fraction, no ``1e20``) and unique; ``foreground_class`` is a
  whole number naming a class;
- factor values are finite numbers, or (an intervention's) text that a spreadsheet would
  not read as a formula; the geometric factors are numbers;
- the class table ``foreground_classes_metadata_indices.csv`` numbers its classes
  0..n-1 once each, and every label is a plain folder name (it becomes the folder of the
  class's images): not empty, no ``/``, ``\\``, ``..``, and no formula lead.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from siscore.formats.datastore import DatasetError, Store, outside_reason
from siscore.formats.labels import FORMULA_LEADS, formula_lead, formula_refusal

MAX_ID = 2**53 - 1
"""The largest image id: every id below it is exact as a float (JSON, spreadsheets)."""
NUMERIC_FACTORS = ("x_coord", "y_coord", "area", "rotation", "bg_resolution_width",
                   "bg_resolution_height")
FIX = "fix the row or re-download the dataset"


def shown_cell(value: object) -> str:
    """A table cell as messages show it: ``repr`` of the plain Python value (numpy scalars
    unwrapped), NaN as ``an empty cell``."""
    value = value.item() if isinstance(value, np.generic) else value
    return "an empty cell" if isinstance(value, float) and np.isnan(value) else repr(value)


def whole_numbers(column: pd.Series, where: str, name: str, high: int = MAX_ID,
                  meaning: str = "") -> np.ndarray:
    """``column`` as int64, or one line naming the first row whose value is not a whole
    number in 0..``high`` (``where``: the file as messages name it)."""
    if pd.api.types.is_integer_dtype(column.dtype):
        values = column.to_numpy()
        bad = (values < 0) | (values > high)
    else:
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (numbers < 0) | (numbers > high)
        values = np.where(bad, 0, numbers)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(f"{where}, row {i + 2}: {name} = {shown_cell(column.iloc[i])} is not a whole "
                           f"number in 0..{high}{meaning}; {FIX}")
    return values.astype(np.int64)


def check_image_ids(md: pd.DataFrame, where: str) -> None:
    """At least one row; ``image_id`` whole, in range and unique (in place: as int64)."""
    if md.empty:
        raise DatasetError(f"{where}: lists no images (a header only); rebuild or re-download "
                           "the dataset")
    ids = whole_numbers(md["image_id"], where, "image_id")
    repeated = pd.Series(ids).duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(ids == ids[np.flatnonzero(repeated)[0]])[:2] + 2
        raise DatasetError(f"{where}, row {rows[1]}: image_id = {ids[rows[0] - 2]} repeats row "
                           f"{rows[0]}; each image is listed once: {FIX}")
    md["image_id"] = ids


def check_factor_values(md: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    """Factor values: finite numbers, or text that is not a number nor formula-like; the
    geometric factors (:data:`NUMERIC_FACTORS`) are numbers."""
    for col in columns:
        if col not in md.columns:
            continue
        column = md[col]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
            values = column.to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DatasetError(f"{where}, row {i + 2}: {col} = {shown_cell(column.iloc[i])} is not a "
                                   f"finite number; every image needs a value of each factor; {FIX}")
            continue
        text = column.astype(str)
        numbers = pd.to_numeric(column, errors="coerce")
        for i in np.flatnonzero(column.isna().to_numpy()):
            raise DatasetError(f"{where}, row {i + 2}: {col} = an empty cell; every image needs a "
                               f"value of each factor; {FIX}")
        if col in NUMERIC_FACTORS:
            for i in np.flatnonzero(numbers.isna().to_numpy()):
                raise DatasetError(f"{where}, row {i + 2}: {col} = {shown_cell(column.iloc[i])} is not a "
                                   f"number; {FIX}")
        finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=0.0))
        for i in np.flatnonzero(~finite):
            raise DatasetError(f"{where}, row {i + 2}: {col} = {shown_cell(column.iloc[i])} is not a "
                               f"finite number; {FIX}")
        risky = text.str[:1].isin(FORMULA_LEADS).to_numpy() & numbers.isna().to_numpy()
        for i in np.flatnonzero(risky):
            raise DatasetError(f"{where}, row {i + 2}: {col} = {formula_refusal(text.iloc[i])} "
                               "(or re-download the dataset)")


def check_classes(table: pd.DataFrame, store: Store, name: str) -> list[str]:
    """The class names of ``foreground_classes_metadata_indices.csv`` in index order,
    each a plain folder name, the indices 0..n-1 once each."""
    where = store.describe(name)
    if table.empty:
        raise DatasetError(f"{where}: lists no classes (a header only); rebuild or re-download "
                           "the dataset")
    index = whole_numbers(table["int"], where, "int", high=len(table) - 1,
                          meaning=" (the classes are numbered 0..n-1)")
    if len(set(index.tolist())) != len(index):
        i = int(np.flatnonzero(pd.Series(index).duplicated().to_numpy())[0])
        raise DatasetError(f"{where}, row {i + 2}: int = {index[i]} numbers two classes; {FIX}")
    labels = table["label"]
    for i, label in enumerate(labels.tolist()):
        text = "" if isinstance(label, float) and np.isnan(label) else str(label)
        why = outside_reason(text) or ("is a path, not a folder name" if "/" in text
                                       else "is '.'" if text == "." else None)
        if why is not None:
            raise DatasetError(f"{where}, row {i + 2}: label {text!r} {why}; a label names the "
                               "folder of its images inside the dataset: this dataset is damaged "
                               "or hostile, do not use it")
        if formula_lead(text):
            raise DatasetError(f"{where}, row {i + 2}: label {formula_refusal(text)} (or "
                               "re-download the dataset)")
    order = np.argsort(index, kind="stable")
    return [str(labels.iloc[i]) for i in order]
