"""Summary tables per model: a DataFrame, CSV, and LaTeX (booktabs) for the paper."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from siscore.formats.values import cell_text
from siscore.report.scores import Scores, as_scores, check_baseline, clopper_pearson

#: Per-model measures taken from ``<stem>.summary.json`` when present (each with its
#: ``<name>_ci`` interval over objects when the JSON has one), in this order.
SUMMARY_KEYS = ("mean_accuracy", "uniformity", "border_ratio", "rotation_retention",
                "coverage", "imagenet_top1", "effective_robustness")
PERCENT = ("accuracy", "mean_accuracy", "worst_cell_accuracy", "diff_accuracy")
HEADERS = {
    "model": "Model", "images": "Images", "accuracy": "Accuracy (\\%)",
    "mean_accuracy": "Cell mean (\\%)", "worst_cell_accuracy": "Worst cell (\\%)",
    "uniformity": "Uniformity", "border_ratio": "Border/centre",
    "rotation_retention": "Rotation retention", "coverage": "Coverage",
    "imagenet_top1": "ImageNet top-1 (\\%)", "effective_robustness": "Eff.\\ robustness (pp)",
    "diff_accuracy": "$\\Delta$ accuracy (pp)", "diff_normalized": "$\\Delta$ normalised",
}


def _where(row: pd.Series, factors: list[str]) -> str:
    return cell_text({f: row[f] for f in factors})


def _number(value: Any) -> float:
    """A JSON number as float; None, text or anything else as NaN (never a crash)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _number(value[0]), _number(value[1])
    return None


def summary_table(scores: Scores | pd.DataFrame | str, baseline: str | None = None) -> pd.DataFrame:
    """One row per model: images, pooled accuracy with its 95% Clopper-Pearson interval,
    the mean cell accuracy, the worst cell (and where), the summary JSON's measures with
    their intervals over objects (``<name>_ci_low``/``_ci_high``), and with a baseline the
    mean difference from it per cell in accuracy (``diff_accuracy``, absolute) and in
    normalised accuracy (``diff_normalized``), side by side."""
    scores = as_scores(scores)
    baseline = check_baseline(scores, baseline)
    summary = scores.summary or {}
    json_models: dict[str, dict[str, Any]] = summary.get("models", {}) or {}
    frame = scores.frame
    records = []
    for model in scores.models:
        rows = frame[(frame["model"] == model) & (frame["n"] > 0)]
        extra = json_models.get(model, {}) or {}
        if not isinstance(extra, dict):
            extra = {}
        n, correct = float(rows["n"].sum()), float(rows["correct"].sum())
        low, high = clopper_pearson(np.array([correct]), np.array([n]))
        acc = rows["accuracy"].to_numpy(dtype=float)
        finite = rows[np.isfinite(acc)]
        worst = finite.loc[finite["accuracy"].idxmin()] if len(finite) else None
        images = _number(extra.get("n_images"))
        record: dict[str, Any] = {
            "model": model,
            "images": int(images) if np.isfinite(images) else int(n),
            "accuracy": correct / n if n else np.nan,
            "accuracy_ci_low": float(low[0]),
            "accuracy_ci_high": float(high[0]),
            "mean_accuracy": float(np.nanmean(acc)) if np.isfinite(acc).any() else np.nan,
            "worst_cell_accuracy": float(worst["accuracy"]) if worst is not None else np.nan,
            "worst_cell": _where(worst, scores.factors) if worst is not None else "",
        }
        for key in SUMMARY_KEYS:
            if key in extra:
                record[key] = _number(extra[key])
            ci = _interval(extra.get(key + "_ci"))
            if ci is not None and key in record:
                record[key + "_ci_low"], record[key + "_ci_high"] = ci
        records.append(record)
    table = pd.DataFrame(records)
    if baseline is not None:
        _baseline_diffs(scores, baseline, table, summary)
    return table


def _baseline_diffs(scores: Scores, baseline: str, table: pd.DataFrame,
                    summary: dict[str, Any]) -> None:
    from siscore.report.scores import with_difference

    diffs = with_difference(scores, baseline, "accuracy")
    table["diff_accuracy"] = [float(diffs.loc[diffs["model"] == m, "diff"].mean())
                              for m in scores.models]
    if summary.get("baseline") == baseline:  # intervals over objects from siscore score
        models = summary.get("models", {}) or {}
        lows, highs = [], []
        for m in scores.models:
            entry = (models.get(m) or {}).get("diff_vs_baseline", {}) or {}
            est = entry.get("mean_accuracy") if isinstance(entry, dict) else None
            ci = _interval(est[1:]) if isinstance(est, list) and len(est) == 3 else None
            lows.append(ci[0] if ci else np.nan)
            highs.append(ci[1] if ci else np.nan)
        table["diff_accuracy_ci_low"], table["diff_accuracy_ci_high"] = lows, highs
    if "normalized" in scores.frame and scores.frame["normalized"].notna().any():
        diffs = with_difference(scores, baseline, "normalized")
        table["diff_normalized"] = [float(diffs.loc[diffs["model"] == m, "diff"].mean())
                                    for m in scores.models]


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


def format_value(column: str, value: Any, row: pd.Series) -> str:
    """A summary cell as text: percentages for accuracies, signed numbers for differences,
    and the interval in brackets when the table has one; ``--`` when not a number."""
    v = _number(value)
    if not math.isfinite(v):
        return "--"
    signed = column.startswith("diff_") or column == "effective_robustness"
    scale = 100.0 if column in PERCENT else 1.0
    digits = 1 if column in PERCENT or column in ("imagenet_top1",) else (
        2 if column == "effective_robustness" else 3)

    def fmt(x: float) -> str:
        return f"{x * scale:+.{digits}f}" if signed else f"{x * scale:.{digits}f}"

    text = fmt(v)
    low, high = row.get(column + "_ci_low"), row.get(column + "_ci_high")
    if low is not None and high is not None and math.isfinite(_number(low)) \
            and math.isfinite(_number(high)):
        text += f" [{fmt(float(low))}, {fmt(float(high))}]"
    return text


def _latex_value(column: str, value: Any, row: pd.Series) -> str:
    return format_value(column, value, row).replace("-", "$-$").replace("$-$$-$", "--")


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
            else:
                cells.append(_latex_value(c, v, row))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)
