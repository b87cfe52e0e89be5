"""Per-cell statistics: grouping, correctness, class balancing and normalisation.

Everything here works on whole arrays (``np.bincount`` over cell codes), so the cost
of scoring grows with the number of predictions only through a few vector passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from siscore.formats.checks import check_factor_values
from siscore.formats.datastore import DatasetError
from siscore.score.io import Predictions, ScoreError, load_logits
from siscore.score.reference import Reference
from siscore.score.stats import clopper_pearson

NORMALIZE = ("p95", "max", "none")
DEFAULT_NORMALIZE = {"location": "p95", "size": "max", "rotation": "max"}


@dataclass
class Cells:
    """The grid cells of the kept images: a code per image (-1 when filtered out)."""

    by: list[str]
    table: pd.DataFrame  # one row per cell, the ``by`` columns, in sorted order
    code: np.ndarray  # per metadata row: cell code, or -1 when the image is filtered out

    @property
    def kept(self) -> np.ndarray:
        return self.code >= 0


def make_cells(ref: Reference, by: Sequence[str], min_pct_inside: float | None = None) -> Cells:
    """Group the metadata rows by ``by`` after the ``--min-pct-inside`` filter.

    The filter keeps images with ``pct_inside_image >= min_pct_inside`` (one vectorised
    comparison; the original notebook's ``a == b & c > t`` parsed as ``a == (b & c) > t``).
    """
    md = ref.metadata
    kept = np.ones(len(md), dtype=bool)
    if min_pct_inside is not None:
        if not 0.0 <= min_pct_inside <= 1.0:
            raise ScoreError(f"--min-pct-inside {min_pct_inside}: give a fraction in 0..1")
        if "pct_inside_image" not in md.columns:
            raise ScoreError(f"{ref.source}: no pct_inside_image column, so --min-pct-inside "
                             "cannot filter; drop the option")
        kept = md["pct_inside_image"].to_numpy(dtype=float) >= min_pct_inside
    if not kept.any():
        raise ScoreError(f"--min-pct-inside {min_pct_inside}: no image of {ref.source} is that "
                         "far inside; lower the threshold")
    keys = pd.DataFrame({c: ref.column(c) for c in by})
    try:  # an empty, infinite or formula-like value can be no cell of the grid
        check_factor_values(keys, by, ref.source)
    except DatasetError as exc:
        raise ScoreError(str(exc)) from None
    keys = keys[kept]
    groups = keys.groupby(list(by), sort=True, dropna=False)
    code = np.full(len(md), -1, dtype=np.int64)
    code[kept] = groups.ngroup().to_numpy()
    table = groups.size().index.to_frame(index=False)
    table.columns = list(by)
    return Cells(list(by), table, code)


def _check_range(pred: Predictions, values: np.ndarray, column: str, n_outputs: int,
                 mapped: bool) -> None:
    bad = (values < 0) | (values >= n_outputs)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad.reshape(len(values), -1).any(1))[0])
    shown = values[i].tolist() if values.ndim > 1 else int(values[i])
    where = f"{pred.source}, row {pred.line(i)}: {column} = {shown} is outside 0..{n_outputs - 1}"
    if mapped:
        raise ScoreError(f"{where}, the outputs of --output-map; drop --output-map if {column} "
                         "already holds ImageNet-1k indices (as `siscore evaluate` writes it)")
    raise ScoreError(f"{where} (ImageNet-1k): the model's output is not ImageNet-1k; translate "
                     "its outputs to ImageNet-1k indices, or pass --output-map FILE (a CSV "
                     "'output,imagenet_index' or 'output,label')")


def restricted_topk(logits: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` outputs (N x k, any order) among the ``allowed`` output columns only."""
    cols = np.flatnonzero(allowed)
    sub = logits[:, cols]
    k = min(k, len(cols))
    if k == 1:
        return cols[sub.argmax(1)][:, None]
    part = np.argpartition(-sub, k - 1, axis=1)[:, :k]
    return cols[part]


def hits(ref: Reference, pred: Predictions, pos: np.ndarray, valid: np.ndarray, topk: int,
         label_space: str = "imagenet", mapped: bool = False) -> np.ndarray:
    """1.0 where the prediction (top-1, or any of the top-5) is a valid index of the label.

    ``valid`` is :meth:`Reference.valid_table` (``mapped``: through an output map)."""
    n_outputs = valid.shape[1]
    klass = ref.class_code[pos]
    if label_space == "dataset":
        logits = load_logits(pred, n_outputs)
        top = restricted_topk(logits, valid.any(0), topk)
        return valid[klass[:, None], top].any(1).astype(float)
    if label_space != "imagenet":
        raise ScoreError(f"--label-space {label_space!r}: choose imagenet or dataset")
    if topk == 1:
        _check_range(pred, pred.top1, "top1", n_outputs, mapped)
        return valid[klass, pred.top1].astype(float)
    if pred.top5 is None:
        raise ScoreError(f"{pred.source}: --topk 5 needs a 'top5' column (five indices "
                         "separated by spaces); re-run `siscore evaluate`, or score --topk 1")
    _check_range(pred, pred.top5, "top5", n_outputs, mapped)
    return valid[klass[:, None], pred.top5].any(1).astype(float)


def cell_stats(cells: Cells, hit_full: np.ndarray, klass: np.ndarray, balance: bool,
               level: float = 0.95) -> pd.DataFrame:
    """``n, correct, accuracy, ci_low, ci_high`` per cell with at least one prediction.

    ``hit_full`` has one entry per metadata row (NaN: no prediction). With ``balance``,
    each class present in a cell weighs equally: accuracy is the mean of the per-class
    accuracies, ``correct`` = accuracy x n, and the interval is Clopper-Pearson at the
    Kish effective sample size m^2 / sum_c(1/n_c) (m classes present, n_c images each).
    """
    n_cells = len(cells.table)
    sel = cells.kept & ~np.isnan(hit_full)
    code, hit = cells.code[sel], hit_full[sel]
    n = np.bincount(code, minlength=n_cells).astype(np.int64)
    if not balance:
        correct = np.bincount(code, weights=hit, minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = correct / n
        low, high = clopper_pearson(correct, n, level)
    else:
        n_classes = int(klass.max()) + 1
        pair, inv = np.unique(code * n_classes + klass[sel], return_inverse=True)
        n_c = np.bincount(inv).astype(float)
        acc_c = np.bincount(inv, weights=hit) / n_c
        cell_of = pair // n_classes
        m = np.bincount(cell_of, minlength=n_cells).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.bincount(cell_of, weights=acc_c, minlength=n_cells) / m
            n_eff = m**2 / np.bincount(cell_of, weights=1.0 / n_c, minlength=n_cells)
        correct = np.nan_to_num(accuracy) * n
        low, high = clopper_pearson(np.nan_to_num(accuracy) * n_eff, np.nan_to_num(n_eff), level)
    out = cells.table.copy()
    out["n"], out["correct"], out["accuracy"] = n, correct, accuracy
    out["ci_low"], out["ci_high"] = low, high
    out["_cell"] = np.arange(n_cells)
    return out[n > 0].reset_index(drop=True)


def default_normalize(subset: str | None, by: Sequence[str], factors: Sequence[str]) -> str:
    """The paper's normalisation for the subset when grouping by its factors, else none."""
    if list(by) == list(factors):
        return DEFAULT_NORMALIZE.get(subset or "", "none")
    return "none"


def default_over(subset: str | None, by: Sequence[str], method: str) -> list[str]:
    """Columns the normaliser runs over: rotation within each area for the rotation
    subset's ``max``; otherwise all grouping columns (one denominator per model)."""
    if subset == "rotation" and method == "max" and "rotation" in by and len(by) > 1:
        return ["rotation"]
    return list(by)


def normalize(stats: pd.DataFrame, method: str, by: Sequence[str], over: Sequence[str]
              ) -> np.ndarray:
    """Each cell's accuracy divided by the 95th percentile (``p95``, numpy linear) or the
    maximum (``max``) of the cell accuracies that share the values of the grouping
    columns not in ``over``; ``none`` returns the accuracy itself."""
    if method not in NORMALIZE:
        raise ScoreError(f"--normalize {method!r}: choose one of {', '.join(NORMALIZE)}")
    unknown = [c for c in over if c not in by]
    if unknown:
        raise ScoreError(f"--normalize-over {', '.join(unknown)}: not a grouping column "
                         f"(grouping by {', '.join(by)})")
    acc = stats["accuracy"]
    if method == "none":
        return acc.to_numpy(dtype=float)
    reduce = (lambda s: np.percentile(s, 95, method="linear")) if method == "p95" else "max"
    rest = [c for c in by if c not in over]
    if rest:
        denom = acc.groupby([stats[c] for c in rest], dropna=False).transform(reduce)
    else:
        denom = pd.Series(reduce(acc) if method == "p95" else acc.max(), index=acc.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom.to_numpy() > 0, acc.to_numpy() / denom.to_numpy(), np.nan)
