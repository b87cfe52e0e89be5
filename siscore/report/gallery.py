"""The images behind the numbers: for each model, example images of its worst and best
cells (and, against a baseline, of the cells where the two differ most), with the true
label, the model's top-5 and whether it was right. With fewer than twice
:data:`N_CELLS` cells, the worst half and the best half are shown; cells where two models
score the same are no difference to show.

A cell is one cell of the report's figure (the layout's x, y and facet values; factors
the figure pools over are pooled here too). Cells scored on fewer than ``min_count``
images are passed over. Within a cell, images are spread over objects (one per object
before a second of any), errors first in the worst cells and in the best cells right
answers first; a comparison shows first the images on which the two models disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from siscore.formats.labels import imagenet_classes
from siscore.formats.values import factor_text
from siscore.report.cells import cell_values
from siscore.report.images import GalleryImages, SourceMissing
from siscore.report.measure import Measure
from siscore.report.scores import Scores
from siscore.score.io import Predictions
from siscore.utils.files import safe_name

PER_CELL = 8  # images shown per cell
N_CELLS = 3  # worst, best and most different cells shown per page


@dataclass
class Guess:
    """One model's answer on one image."""

    model: str
    top: list[str]  # class names, best first (top-5, or top-1 without a top5 column)
    right: bool
    valid: list[bool] = field(default_factory=list)  # each of ``top``: a right answer?


@dataclass
class Shot:
    """One image: its id, true label and each shown model's answer."""

    image_id: int
    label: str
    guesses: list[Guess]


@dataclass
class CellView:
    """One cell: which it is, its numbers and the images shown."""

    heading: str
    stats: str
    shots: list[Shot]
    shown: str  # "8 of 24 images, errors first"


@dataclass
class Page:
    """One gallery page (``<name>.html``)."""

    name: str
    title: str
    intro: str
    sections: list[tuple[str, list[CellView]]] = field(default_factory=list)

    @property
    def image_ids(self) -> set[int]:
        return {s.image_id for _, cells in self.sections for c in cells for s in c.shots}


class Answers:
    """Every model's right/wrong and top-5 names per metadata row of the source."""

    def __init__(self, source: GalleryImages, preds: dict[str, Predictions], topk: int) -> None:
        ref = source.reference
        self.source, self.names = source, imagenet_classes()
        self.valid = valid = ref.valid_table()
        self.right: dict[str, np.ndarray] = {}
        self.top: dict[str, np.ndarray] = {}
        for model, pred in preds.items():
            try:
                pos = ref.positions(pred)
            except Exception as exc:  # noqa: BLE001 - a ScoreError: other dataset's ids
                raise SourceMissing(f"{pred.source}: {exc}") from None
            top = pred.top5 if pred.top5 is not None else pred.top1[:, None]
            top = np.where((top >= 0) & (top < valid.shape[1]), top, 0)
            hit = valid[ref.class_code[pos][:, None], top[:, :topk]].any(1)
            right = np.full(len(ref.metadata), np.nan)
            right[pos] = hit
            full = np.full((len(ref.metadata), top.shape[1]), -1, dtype=np.int64)
            full[pos] = top
            self.right[model], self.top[model] = right, full

    def guess(self, model: str, row: int) -> Guess:
        top = [int(i) for i in self.top[model][row] if i >= 0]
        klass = self.source.reference.class_code[row]
        return Guess(model, [self.names[i] for i in top], bool(self.right[model][row]),
                     [bool(self.valid[klass, i]) for i in top])


def _member(source: GalleryImages, cell: pd.Series, keys: Sequence[str], numeric: set[str]
            ) -> np.ndarray:
    mask = np.ones(len(source.reference.metadata), dtype=bool)
    for key in keys:
        values = source.reference.column(key)
        if key in numeric:
            mask &= np.isclose(pd.to_numeric(values, errors="coerce").to_numpy(float),
                               float(cell[key]), rtol=0, atol=1e-9)
        else:
            mask &= (values.astype(str) == str(cell[key])).to_numpy()
    return mask


def _spread(md: pd.DataFrame, rows: np.ndarray, first: np.ndarray) -> list[int]:
    """Rows ordered ``first`` (a bool per row) first, then one per object before the
    second of any, then by image id."""
    table = pd.DataFrame({"row": rows, "first": ~first,
                          "obj": md["foreground_class"].to_numpy()[rows] * 100_000
                          + md.get("foreground_instance", pd.Series(0, index=md.index))
                          .to_numpy()[rows],
                          "id": md["image_id"].to_numpy()[rows]})
    table = table.sort_values(["first", "id"], kind="stable")
    table["rank"] = table.groupby(["first", "obj"]).cumcount()
    return table.sort_values(["first", "rank", "id"], kind="stable")["row"].tolist()


def _view(answers: Answers, cell: pd.Series, keys: Sequence[str], numeric: set[str],
          models: list[str], stats: str, want: str) -> CellView:
    """The images of ``cell``: ``want`` is ``errors``, ``right`` or ``disagree`` first."""
    md = answers.source.reference.metadata
    seen = np.ones(len(md), dtype=bool)
    for m in models:
        seen &= ~np.isnan(answers.right[m])
    rows = np.flatnonzero(_member(answers.source, cell, keys, numeric) & seen)
    right = {m: answers.right[m][rows] == 1 for m in models}
    first = {"errors": ~right[models[0]], "right": right[models[0]],
             "disagree": right[models[0]] != right[models[-1]]}[want]
    order = _spread(md, rows, first)[:PER_CELL]
    labels = md["label"].to_numpy()
    shots = [Shot(int(md["image_id"].iloc[r]), str(labels[r]),
                  [answers.guess(m, r) for m in models]) for r in order]
    words = {"errors": "errors first", "right": "right answers first",
             "disagree": "disagreements first"}[want]
    heading = ", ".join(f"{k} {factor_text(cell[k])}" for k in keys) or "all images"
    return CellView(heading, stats, shots, f"{len(shots)} of {len(rows)} images, {words}")


def _name(scores: Scores) -> str:
    return Path(scores.source).name


def _stats(row: pd.Series, measure: Measure) -> str:
    return (f"{measure.text(row['accuracy'])}% ({int(round(row['correct']))} of {int(row['n'])})"
            if measure.percent else f"{row['accuracy']:.2f}")


def plan_galleries(scores: Scores, keys: Sequence[str], answers: Answers, stem: str,
                   baseline: str | None, min_count: int) -> list[Page]:
    """One page per model (worst and best cells), and one per other model against the
    baseline (the cells where they differ most)."""
    accuracy = Measure("accuracy", scores.accuracy_label)
    cells = cell_values(scores, keys, accuracy)
    cells = cells[cells["n"] >= max(1, min_count)]
    numeric = set(scores.numeric)
    pages = []
    for model in [m for m in scores.models if m in answers.right]:
        mine = cells[cells["model"] == model].sort_values("accuracy", kind="stable")
        page = Page(safe_name(f"{stem}-gallery-{model}", "gallery"),
                    f"{model}: the images behind its worst and best cells",
                    f"Cells of {', '.join(keys) or 'the file'} from {_name(scores)}, by "
                    f"{scores.accuracy_label}; cells on fewer than {max(1, min_count)} images "
                    "are left out.")
        half = min(N_CELLS, len(mine) // 2) if len(mine) > 1 else len(mine)
        worst = [_view(answers, r, keys, numeric, [model], _stats(r, accuracy), "errors")
                 for _, r in mine.head(half).iterrows()]
        rest = mine.iloc[half:]
        best = [_view(answers, r, keys, numeric, [model], _stats(r, accuracy), "right")
                for _, r in rest.tail(N_CELLS).iloc[::-1].iterrows()]
        page.sections = [("Worst cells", worst), ("Best cells", best)]
        pages.append(page)
    if baseline in answers.right:
        pages += _comparisons(scores, cells, keys, answers, stem, baseline, numeric, accuracy)
    seen: set[str] = set()
    for page in pages:  # two model names may make one file name ("a/b", "a_b")
        base, k = page.name, 2
        while page.name in seen:
            page.name, k = f"{base}-{k}", k + 1
        seen.add(page.name)
    return pages


def _comparisons(scores: Scores, cells: pd.DataFrame, keys: Sequence[str], answers: Answers,
                 stem: str, baseline: str, numeric: set[str], accuracy: Measure) -> list[Page]:
    base = cells[cells["model"] == baseline]
    pages = []
    for model in [m for m in scores.models if m != baseline and m in answers.right]:
        pair = cells[cells["model"] == model].merge(base, on=list(keys), suffixes=("", "_b"))
        if pair.empty:
            continue
        pair["gap"] = (pair["accuracy"] - pair["accuracy_b"]).abs()
        top = pair[pair["gap"] > 0].sort_values("gap", ascending=False, kind="stable")
        top = top.head(N_CELLS)
        views = []
        for _, r in top.iterrows():
            theirs = pd.Series({c: r[f"{c}_b"] for c in ("accuracy", "correct", "n")})
            stats = f"{model} {_stats(r, accuracy)}, {baseline} {_stats(theirs, accuracy)}"
            views.append(_view(answers, r, keys, numeric, [model, baseline], stats,
                               "disagree"))
        pages.append(Page(safe_name(f"{stem}-gallery-{model}-vs-{baseline}", "gallery"),
                          f"{model} against {baseline}: the cells where they differ most",
                          f"Cells of {', '.join(keys) or 'the file'} from {_name(scores)}, by the "
                          f"difference in {scores.accuracy_label}.",
                          [("Cells that differ most", views)]))
    return pages
