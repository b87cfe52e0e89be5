"""Synthetic scores tables shaped like ``siscore score`` output, for the report tests.

The numbers are made up (smooth accuracy surfaces plus binomial noise from a fixed seed)
under plainly synthetic model names; they exercise the figures and say nothing about any
real model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from siscore.score.stats import clopper_pearson

#: (model name, overall skill, sensitivity to the factor)
MODELS = (("model-a", 0.55, 1.0), ("model-b", 0.66, 0.7), ("model-c", 0.74, 0.45))
BASE = MODELS[0][0]


def finish(rows: list[dict], factors: list[str], seed: int, per: str | None,
           method: str = "p95") -> pd.DataFrame:
    """Sample correct counts; add intervals, the normaliser's values and its record."""
    frame = pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    frame["correct"] = rng.binomial(frame["n"].to_numpy(), frame.pop("p").to_numpy())
    frame["accuracy"] = frame["correct"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = clopper_pearson(frame["correct"], frame["n"])
    groups = frame.groupby(["model", *([per] if per else [])], sort=False)["accuracy"]
    if method == "max":
        frame["normalized"] = frame["accuracy"] / groups.transform("max")
    elif method == "p95":
        frame["normalized"] = frame["accuracy"] / groups.transform(lambda a: a.quantile(0.95))
    else:
        frame["normalized"] = frame["accuracy"]
    frame["normalize"] = method
    frame["topk"] = 1
    return frame[["model", *factors, "n", "correct", "accuracy", "ci_low", "ci_high",
                  "normalized", "normalize", "topk"]]


def location_scores(seed: int = 0, n: int = 1228, steps: int = 21) -> pd.DataFrame:
    """steps x steps object centres; accuracy falls towards the borders."""
    grid = np.round(np.linspace(0, 1, steps), 2)
    rows = []
    for model, skill, sens in MODELS:
        for y in grid:
            for x in grid:
                r = np.hypot(x - 0.5, (y - 0.45) * 1.15)
                p = skill * (1 - sens * 0.55 * r**2.2 * 2.2)
                rows.append({"model": model, "x_coord": x, "y_coord": y, "n": n,
                             "p": float(np.clip(p, 0.02, 0.98))})
    return finish(rows, ["x_coord", "y_coord"], seed, None)


def rotation_scores(seed: int = 1, n: int = 549) -> pd.DataFrame:
    """4 sizes x 18 angles; upside-down objects are hardest, small objects most of all."""
    rows = []
    for model, skill, sens in MODELS:
        for area in (0.2, 0.5, 0.8, 1.0):
            for angle in range(1, 342, 20):
                dip = (1 - np.cos(np.radians(angle))) / 2
                p = skill * (0.8 + 0.25 * area) * (1 - sens * 0.45 * dip * (1.3 - 0.5 * area))
                rows.append({"model": model, "area": area, "rotation": angle, "n": n,
                             "p": float(np.clip(p, 0.02, 0.98))})
    return finish(rows, ["area", "rotation"], seed, "area", "max")


def size_scores(seed: int = 2, n: int = 930) -> pd.DataFrame:
    """Object areas 1%..100%: accuracy rises steeply for small objects."""
    rows = []
    for model, skill, sens in MODELS:
        for pct in range(1, 101):
            area = pct / 100
            p = skill * (1.1 - sens * 0.9 * np.exp(-area / 0.12)) - 0.05 * area
            rows.append({"model": model, "area": area, "n": max(20, int(n * (1 - area) ** 0.5)),
                         "p": float(np.clip(p, 0.01, 0.98))})
    return finish(rows, ["area"], seed, None, "max")


def breakdown_scores(by: str = "label", seed: int = 3) -> pd.DataFrame:
    """Per-class (``label``) or per-background (``background_name``) accuracy."""
    names = [f"class-{c}" for c in "abcdefghi"] if by == "label" else [
        f"background-{i}" for i in range(8)]
    rng = np.random.default_rng(seed + 100)
    ease = rng.uniform(-0.35, 0.3, len(names))
    counts = rng.integers(400, 1800, len(names))
    counts[-2] = 12  # one rare cell, to show the low-count marking
    rows = []
    for model, skill, _ in MODELS:
        for name, e, c in zip(names, ease, counts, strict=True):
            rows.append({"model": model, by: name, "n": int(c),
                         "p": float(np.clip(skill + e, 0.02, 0.99))})
    return finish(rows, [by], seed, None, "none")


def grid_scores(factors: dict[str, list], seed: int = 4, n: int = 40,
                models: tuple[str, ...] = ("model-a", "model-b"),
                method: str = "none") -> pd.DataFrame:
    """Any grid: every model on the cross product of ``factors`` (a smooth, made-up
    accuracy per cell), normalised by ``method``."""
    rows = []
    for m, model in enumerate(models):
        for k, combo in enumerate(itertools.product(*factors.values())):
            p = 0.35 + 0.15 * m + 0.3 * ((k * 7919) % 11) / 11
            rows.append({"model": model, **dict(zip(factors, combo, strict=True)), "n": n,
                         "p": min(p, 0.98)})
    return finish(rows, list(factors), seed, None, method)
