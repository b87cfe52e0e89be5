"""Summary tables per model: a DataFrame, CSV, and LaTeX (booktabs) for the paper."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from siscore.report.scores import Scores, as_scores, check_baseline, clopper_pearson

#: Extra per-model numbers taken from ``<stem>.summary.json`` when present, in this order.
SUMMARY_KEYS = ("coverage", "center_border_gap", "rotation_auc", "imagenet_top1",
                "effective_robustness")
HEADERS = {
    "model": "Model", "images": "Images", "accuracy": "Accuracy (\\%)",
    "cell_mean": "Cell mean (\\%)", "worst_cell_accuracy": "Worst cell (\\%)",
    "p5_p95_ratio": "P5/P95", "coverage": "Coverage", "center_border_gap": "Centre--border gap",
    "rotation_auc": "Rotation AUC", "imagenet_top1": "ImageNet top-1 (\\%)",
    "effective_robustness": "Eff.\\ robustness (pp)", "diff_vs_baseline": "$\\Delta$ vs baseline",
}


def _where(row: pd.Series, factors: list[str]) -> str:
    parts = []
    for f in factors:
        v = row[f]
        parts.append(f"{f}={v:g}" if isinstance(v, (int, float, np.number)) else f"{f}={v}")
    return ", ".join(parts)


def summary_table(scores: Scores | pd.DataFrame | str, baseline: str | None = None) -> pd.DataFrame:
    """One row per model: images, pooled accuracy with its 95% Clopper-Pearson interval,
    mean and worst cell accuracy (and where), the P5/P95 ratio of cell accuracies, the
    extra numbers of the summary JSON, and with a baseline the mean difference from it
    (normalised accuracy for location and rotation, accuracy otherwise)."""
    scores = as_scores(scores)
    baseline = check_baseline(scores, baseline)
    json_models: dict[str, dict[str, Any]] = (scores.summary or {}).get("models", {}) or {}
    frame = scores.frame
    records = []
    for model in scores.models:
        rows = frame[(frame["model"] == model) & (frame["n"] > 0)]
        extra = json_models.get(model, {}) or {}
        n, correct = float(rows["n"].sum()), float(rows["correct"].sum())
        low, high = clopper_pearson(np.array([correct]), np.array([n]))
        acc = rows["accuracy"].to_numpy(dtype=float)
        worst = rows.loc[rows["accuracy"].idxmin()] if len(rows) else None
        p5, p95 = (np.nanpercentile(acc, [5, 95]) if len(acc) else (np.nan, np.nan))
        record: dict[str, Any] = {
            "model": model,
            "images": int(extra.get("n_images", n)),
            "accuracy": correct / n if n else np.nan,
            "accuracy_ci_low": float(low[0]),
            "accuracy_ci_high": float(high[0]),
            "cell_mean": float(np.nanmean(acc)) if len(acc) else np.nan,
            "worst_cell_accuracy": float(worst["accuracy"]) if worst is not None else np.nan,
            "worst_cell": _where(worst, scores.factors) if worst is not None else "",
            "p5_p95_ratio": float(extra.get("p5_p95_ratio", p5 / p95 if p95 else np.nan)),
        }
        for key in SUMMARY_KEYS:
            if isinstance(extra.get(key), (int, float)):
                record[key] = float(extra[key])
        records.append(record)
    table = pd.DataFrame(records)
    if baseline is not None:
        table["diff_vs_baseline"] = _baseline_diffs(scores, baseline)
    return table


def _baseline_diffs(scores: Scores, baseline: str) -> list[float]:
    from siscore.report.scores import with_difference

    if scores.kind in ("location", "rotation") and "normalized" in scores.frame:
        diffs = with_difference(scores, baseline, "normalized")
        return [float(diffs.loc[diffs["model"] == m, "diff"].mean()) for m in scores.models]
    pooled = scores.frame.groupby("model")[["correct", "n"]].sum()
    acc = pooled["correct"] / pooled["n"]
    return [float(acc[m] - acc[baseline]) for m in scores.models]


def table_to_csv(table: pd.DataFrame) -> str:
    """CSV text with numbers rounded to 6 significant digits (stable across runs)."""
    return table.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def latex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially (``_`` in model names above all)."""
    out = []
    for ch in str(text):
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append("\\textbackslash{}")
        elif ch == "~":
            out.append("\\textasciitilde{}")
        elif ch == "^":
            out.append("\\textasciicircum{}")
        else:
            out.append(ch)
    return "".join(out)


def _pct(value: float) -> str:
    return "--" if value is None or not math.isfinite(value) else f"{value * 100:.1f}"


def _num(value: float, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "--"
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    return text.replace("-", "$-$")


def table_to_latex(table: pd.DataFrame, source: str = "") -> str:
    """A booktabs ``tabular`` (no float, so the paper adds its own caption and label).

    Accuracies are percentages with the 95% interval in brackets; needs
    ``\\usepackage{booktabs}``.
    """
    cols = [c for c in HEADERS if c in table.columns]
    lines = [f"% siscore report: summary of {latex_escape(source)}" if source else
             "% siscore report: summary per model",
             "% needs \\usepackage{booktabs}",
             "\\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", "\\toprule",
             " & ".join(HEADERS[c] for c in cols) + " \\\\", "\\midrule"]
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c == "model":
                cells.append(latex_escape(v))
            elif c == "images":
                cells.append(f"{int(v):,}".replace(",", "{,}"))
            elif c == "accuracy":
                cells.append(f"{_pct(v)} [{_pct(row['accuracy_ci_low'])}, "
                             f"{_pct(row['accuracy_ci_high'])}]")
            elif c in ("cell_mean", "worst_cell_accuracy"):
                cells.append(_pct(v))
            elif c == "imagenet_top1":  # percent, as siscore score writes it
                cells.append("--" if not math.isfinite(v) else f"{v:.1f}")
            elif c == "effective_robustness":  # percentage points
                cells.append("--" if not math.isfinite(v) else f"{v:+.2f}".replace("-", "$-$"))
            else:
                cells.append(_num(float(v), signed=c == "diff_vs_baseline"))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)
