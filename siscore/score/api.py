"""The scoring entry points: :func:`score_predictions` (everything) and :func:`score` (the table)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.errors import write_failed
from siscore.formats.dataset import DatasetInfo
from siscore.score import effective as er
from siscore.score.io import Predictions, ScoreError, check_name, from_frame, read_predictions
from siscore.score.measures import (
    interval,
    measures_for,
    model_replicates,
    replicate_measures,
)
from siscore.score.reference import OutputMap, Reference, from_dataset, from_info
from siscore.score.scoring import (
    Cells,
    cell_stats,
    default_normalize,
    default_over,
    hits,
    make_cells,
    normalize,
)
from siscore.score.stats import object_weights, paired_bootstrap
from siscore.score.summary import model_summary, write_json
from siscore.utils.files import atomic_text, check_output_path

PredictionsLike = str | Path | pd.DataFrame | Predictions
DIFF_COLUMNS = ["baseline", "diff_accuracy", "diff_ci_low", "diff_ci_high", "diff_normalized"]
#: every column of a scores file that is not a grouping factor
SCORE_COLUMNS = ("model", "n", "correct", "accuracy", "ci_low", "ci_high", "normalized",
                 "normalize", "topk", "objects", *DIFF_COLUMNS, "random_init")


@dataclass
class ScoreResult:
    """A tidy scores table (one row per model and cell), the summary, and notes to show."""

    scores: pd.DataFrame
    summary: dict[str, Any]
    effective: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def write(self, out: str | Path) -> list[Path]:
        """Write ``out`` (CSV), ``<stem>.summary.json`` and, if computed,
        ``<stem>.effective.csv``, each atomically (a unique temporary name, then a rename;
        nothing is left behind when a write fails). Returns the paths written."""
        out = Path(out)
        check_target(out)
        paths = [out, out.with_name(out.stem + ".summary.json")]
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_text(out, self.scores.to_csv(index=False))
            write_json(paths[1], self.summary)
            if self.effective is not None:
                paths.append(out.with_name(out.stem + ".effective.csv"))
                atomic_text(paths[2], self.effective.to_csv(index=False))
        except OSError as exc:
            raise ScoreError(write_failed(out, exc)) from None
        return paths


def check_target(out: Path, option: str = "--out", *, inputs: Sequence[Path] = (),
                 dataset: Path | None = None) -> None:
    """Refuse, before any work, an ``out`` that cannot be the scores CSV: a folder, a
    device node, a path under a file, an unwritable folder
    (:func:`siscore.utils.files.check_output_path`; errors name ``option`` on the command
    line and ``out`` from Python); and one whose CSV or summary would replace an input file
    (``inputs``) or land inside the ``dataset`` folder (its metadata.csv, say)."""
    check_output_path(out, folder=False, option=option, param="out")
    written = [out, out.with_name(out.stem + ".summary.json"),
               out.with_name(out.stem + ".effective.csv")]
    for target in written:
        for source in inputs:
            if source.exists() and target.exists() and os.path.samefile(source, target):
                raise ScoreError(f"{option} {out}: would replace the input {source}; write the "
                                 "scores to another file, e.g. scores.csv")
    if dataset is not None and dataset.is_dir() and out.resolve().is_relative_to(dataset.resolve()):
        raise ScoreError(f"{option} {out}: is inside the dataset folder {dataset}; write the "
                         "scores outside it, e.g. scores.csv")


def as_reference(dataset: str | Path | DatasetInfo | Reference) -> Reference:
    """A dataset folder, a loaded :class:`DatasetInfo`, or a :class:`Reference`."""
    if isinstance(dataset, Reference):
        return dataset
    if isinstance(dataset, DatasetInfo):
        return from_info(dataset)
    return from_dataset(dataset)


def as_predictions(items: Iterable[PredictionsLike], names: Sequence[str | None] | None = None
                   ) -> list[Predictions]:
    """Read every predictions source; model names must end up distinct."""
    items = list(items)
    names = list(names) if names else [None] * len(items)
    if len(names) != len(items):
        raise ScoreError(f"{len(names)} --name value(s) for {len(items)} --predictions file(s); "
                         "give one --name per file, in the same order, or none")
    out: list[Predictions] = []
    for item, name in zip(items, names, strict=True):
        if isinstance(item, Predictions):
            check_name(item.name, item.source)
            out.append(item)
        elif isinstance(item, pd.DataFrame):
            out += from_frame(item, name or (None if "model" in item else f"model{len(out)}"))
        else:
            out += read_predictions(item, name)
    seen: dict[str, str] = {}
    for p in out:
        if p.name in seen:
            raise ScoreError(f"model name {p.name!r} comes from both {seen[p.name]} and "
                             f"{p.source}; give each file its own --name")
        seen[p.name] = p.source
    if not out:
        raise ScoreError("no predictions given; pass --predictions FILE")
    return out


def score_predictions(
    dataset: str | Path | DatasetInfo | Reference,
    predictions: Iterable[PredictionsLike],
    *,
    names: Sequence[str | None] | None = None,
    by: Sequence[str] | None = None,
    normalize_method: str | None = None,
    normalize_over: Sequence[str] | None = None,
    topk: int = 1,
    label_space: str = "imagenet",
    min_pct_inside: float | None = None,
    balance_classes: bool = False,
    baseline: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    output_map: OutputMap | None = None,
    imagenet_acc: Mapping[str, float] | None = None,
    fit_models: Sequence[str] | None = None,
    testbed: Mapping[str, tuple[float, float]] | None = None,
    level: float = 0.95,
) -> ScoreResult:
    """Score predictions per grid cell. See docs/score.md for every option.

    Returns the tidy table (``model``, the grouping columns, ``n, correct, accuracy,
    ci_low, ci_high, normalized, normalize`` (the normaliser: ``none``, ``p95`` or ``max``),
    ``topk``, with a bootstrap ``objects``, with ``baseline`` the ``diff_*`` columns, and
    ``random_init`` when a model has random weights),
    the per-model summary, and the effective-robustness table when at least two models
    have a known ImageNet top-1.
    """
    if topk not in (1, 5):
        raise ScoreError(f"--topk {topk}: choose 1 or 5")
    if n_boot < 1:
        raise ScoreError(f"--bootstrap {n_boot}: give at least 1 resample (1000 is usual)")
    ref = as_reference(dataset)
    preds = as_predictions(predictions, names)
    if baseline is not None and baseline not in {p.name for p in preds}:
        raise ScoreError(f"--baseline {baseline!r} is not one of the models scored "
                         f"({', '.join(p.name for p in preds)}); give one of those names")
    notes = list(ref.notes)
    by = list(by) if by else list(ref.factors)
    if not by:
        raise ScoreError(f"{ref.source}: no factor varies in this dataset, so there is no grid "
                         "to score; pass --by COLUMN (e.g. --by label)")
    clash = [c for c in by if c in SCORE_COLUMNS]
    if clash:
        raise ScoreError(f"--by {clash[0]}: the scores file has a column of that name already "
                         f"({', '.join(SCORE_COLUMNS)}); rename the factor in {ref.source}")
    method = normalize_method or default_normalize(ref.subset, by, ref.factors)
    over = list(normalize_over) if normalize_over else default_over(ref.subset, by, method)
    cells = make_cells(ref, by, min_pct_inside)
    valid = ref.valid_table(output_map)
    n_kept = int(cells.kept.sum())

    hit: dict[str, np.ndarray] = {}
    tables: dict[str, pd.DataFrame] = {}
    summaries: dict[str, dict[str, Any]] = {}
    boot = _Bootstrap.of(ref, cells, balance_classes, n_boot, seed)
    replicates: dict[str, dict[str, np.ndarray]] = {}
    for pred in preds:
        pos = ref.positions(pred)
        full = np.full(len(ref.metadata), np.nan)
        full[pos] = hits(ref, pred, pos, valid, topk, label_space, output_map is not None)
        full[~cells.kept] = np.nan
        hit[pred.name] = full
        stats = cell_stats(cells, full, ref.class_code, balance_classes, level)
        if stats.empty:
            raise ScoreError(f"{pred.source}: none of its {len(pred)} predictions is of an image "
                             f"kept by the filters; nothing to score for {pred.name!r}")
        stats["normalized"] = normalize(stats, method, by, over)
        stats["topk"] = topk
        if boot is not None:
            stats["objects"] = boot.objects_per_cell(full)[stats["_cell"].to_numpy()]
        tables[pred.name] = stats
        n_scored = int((~np.isnan(full)).sum())
        n_total = n_kept
        if ref.metadata_only and pred.images_total:
            n_total = max(n_kept, pred.images_total)  # the metadata lists only what was predicted
        summaries[pred.name] = model_summary(stats, by, n_scored, n_total, level)
        if boot is not None:
            replicates[pred.name] = boot.measures(stats, by, full)
            summaries[pred.name].update(_with_intervals(replicates[pred.name], level))
        if pred.weights:
            summaries[pred.name]["weights"] = pred.weights
        if pred.random_init:
            summaries[pred.name]["random_init"] = True
            notes.append(f"{pred.name}: random weights ({pred.source}.meta.json records "
                         "random_init: true); its scores say nothing about a trained model")
        if n_scored < n_total:
            notes.append(f"{pred.name}: predictions for {n_scored} of {n_total} images "
                         f"(coverage {100 * n_scored / n_total:.1f}%); scored on those only")
        if np.isnan(stats["normalized"]).any() and method != "none":
            notes.append(f"{pred.name}: some normalisers are 0 (accuracy 0 everywhere in a "
                         "group): normalized is empty there")
    if baseline is not None and boot is not None:
        for name, reps in replicates.items():
            summaries[name]["diff_vs_baseline"] = _paired_diffs(reps, replicates[baseline],
                                                                level)

    if baseline is not None:
        _add_differences(ref, cells, hit, tables, baseline, balance_classes, n_boot, seed, level)
    random = {p.name for p in preds if p.random_init}
    frame = pd.concat([t.assign(model=name, normalize=method, random_init=name in random)
                       for name, t in tables.items()], ignore_index=True)
    columns = ["model", *by, "n", "correct", "accuracy", "ci_low", "ci_high", "normalized",
               "normalize", "topk", *(["objects"] if boot is not None else []),
               *(DIFF_COLUMNS if baseline is not None else []),
               *(["random_init"] if random else [])]
    frame = frame[columns]

    summary: dict[str, Any] = {
        "subset": ref.subset, "factors": by, "normalize": method, "normalize_over": over,
        "topk": topk, "label_space": label_space, "min_pct_inside": min_pct_inside,
        "balance_classes": balance_classes, "baseline": baseline, "dataset": ref.source,
        "dataset_images": n_kept, "models": summaries,
    }
    if boot is not None:
        summary["bootstrap"] = {"resamples": n_boot, "seed": seed, "unit": "object",
                                "objects": boot.n_objects, "level": level}
    else:
        notes.append(f"{ref.source}: no foreground_instance column, so the summary measures "
                     "have no intervals over objects")
    effective = _effective(summary, imagenet_acc, fit_models, notes,
                           {p.name: p.weights for p in preds}, testbed, level,
                           {p.name: p.imagenet_top1 for p in preds})
    summary["notes"] = list(notes)
    return ScoreResult(frame, summary, effective, notes)


@dataclass
class _Bootstrap:
    """The resamples of objects shared by every model (so model differences are paired)."""

    obj: np.ndarray  # per metadata row: object code
    weights: np.ndarray  # (objects x resamples) draw counts
    object_class: np.ndarray | None  # per object: class code, with --balance-classes
    cells: Cells

    @property
    def n_objects(self) -> int:
        return self.weights.shape[0]

    @classmethod
    def of(cls, ref: Reference, cells: Cells, balance: bool, n_boot: int, seed: int
           ) -> _Bootstrap | None:
        md = ref.metadata
        if "foreground_instance" not in md.columns:
            return None
        inst = md["foreground_instance"].to_numpy(dtype=np.int64)
        key = ref.class_code * (int(inst.max()) + 1) + inst
        pairs, obj = np.unique(key, return_inverse=True)
        object_class = pairs // (int(inst.max()) + 1) if balance else None
        return cls(obj, object_weights(len(pairs), n_boot, seed), object_class, cells)

    def objects_per_cell(self, full: np.ndarray) -> np.ndarray:
        """Distinct objects with a scored image, per grid cell."""
        sel = ~np.isnan(full) & (self.cells.code >= 0)
        pairs = np.unique(self.cells.code[sel] * self.n_objects + self.obj[sel])
        return np.bincount(pairs // self.n_objects, minlength=len(self.cells.table))

    def measures(self, stats: pd.DataFrame, by: Sequence[str], full: np.ndarray
                 ) -> dict[str, np.ndarray]:
        """Every summary measure of one model: point estimate first, then each resample."""
        sel = ~np.isnan(full)
        acc, n = model_replicates(self.cells.code[sel], self.obj[sel], full[sel],
                                  len(self.cells.table), stats["_cell"].to_numpy(),
                                  self.weights, self.object_class)
        acc[:, 0] = stats["accuracy"].to_numpy(dtype=float)  # the table's own estimate
        return replicate_measures(measures_for(stats, by), acc, n)


def _with_intervals(reps: dict[str, np.ndarray], level: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in reps.items():
        out[name] = float(values[0])
        out[name + "_ci"] = interval(values[1:], level)
    return out


def _paired_diffs(reps: dict[str, np.ndarray], base: dict[str, np.ndarray], level: float
                  ) -> dict[str, list[float]]:
    """Each measure minus the baseline's, [estimate, low, high] over the same resamples."""
    out = {}
    for name, values in reps.items():
        diff = values - base[name]
        out[name] = [float(diff[0]), *interval(diff[1:], level)]
    return out


def _add_differences(ref: Reference, cells: Cells, hit: dict[str, np.ndarray],
                     tables: dict[str, pd.DataFrame], baseline: str, balance: bool,
                     n_boot: int, seed: int, level: float) -> None:
    """Add the ``diff_*`` columns: model minus baseline per cell, bootstrapped over objects."""
    md = ref.metadata
    if "foreground_instance" not in md.columns:
        raise ScoreError(f"{ref.source}: no foreground_instance column, so objects cannot be "
                         "resampled for --baseline; score without --baseline")
    inst = md["foreground_instance"].to_numpy(dtype=np.int64)
    key = ref.class_code * (int(inst.max()) + 1) + inst
    pairs, obj = np.unique(key, return_inverse=True)
    object_class = pairs // (int(inst.max()) + 1) if balance else None
    weights = object_weights(len(pairs), n_boot, seed)
    base_hit, base = hit[baseline], tables[baseline]
    base_norm = pd.Series(base["normalized"].to_numpy(), index=base["_cell"].to_numpy())
    n_cells = len(cells.table)
    for name, table in tables.items():
        table["baseline"] = baseline
        if name == baseline:
            for c in DIFF_COLUMNS[1:]:
                table[c] = 0.0
            continue
        both = ~np.isnan(hit[name]) & ~np.isnan(base_hit)
        est, low, high = paired_bootstrap(cells.code[both], obj[both],
                                          hit[name][both] - base_hit[both], n_cells, weights,
                                          object_class=object_class, level=level)
        at = table["_cell"].to_numpy()
        table["diff_accuracy"], table["diff_ci_low"], table["diff_ci_high"] = (
            est[at], low[at], high[at])
        table["diff_normalized"] = table["normalized"].to_numpy() - base_norm.reindex(at).to_numpy()


def _effective(summary: dict[str, Any], table: Mapping[str, float] | None,
               fit_models: Sequence[str] | None, notes: list[str],
               weights: Mapping[str, str | None],
               testbed: Mapping[str, tuple[float, float]] | None, level: float,
               recorded: Mapping[str, float | None] | None = None) -> pd.DataFrame | None:
    """Fill imagenet_top1 (and where it came from) and effective_robustness (with its
    interval) into the summary."""
    models = summary["models"]
    sources: dict[str, str] = {}
    # torchvision's metadata costs seconds to import: look it up only when a fit is possible
    # and evaluate recorded no value
    unknown = [n for n in models if not (table and n in table) and not (recorded or {}).get(n)]
    x = er.imagenet_top1(list(models), table, weights=weights, recorded=recorded,
                         use_torchvision=bool(unknown) and (len(models) >= 2 or bool(testbed)),
                         sources=sources)
    for name, value in x.items():
        models[name]["imagenet_top1"] = value
        models[name]["imagenet_top1_source"] = sources[name]
    y = {name: 100 * s["mean_accuracy"] for name, s in models.items()}
    asked = bool(testbed or fit_models or table)
    if not x or (len(x) < 2 and not asked):
        return None
    try:
        result, fit = er.effective_robustness(x, y, fit_models, testbed, level)
    except ScoreError as exc:
        if asked:
            raise
        notes.append(f"no effective robustness: {exc}")
        return None
    for row in result.itertuples():
        models[row.model]["effective_robustness"] = float(row.effective_robustness)
        models[row.model]["effective_robustness_ci"] = [
            float(row.effective_robustness_ci_low), float(row.effective_robustness_ci_high)]
    summary["effective_robustness_fit"] = fit
    return result
