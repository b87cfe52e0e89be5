"""Metadata-only dataset folders and simulated predictions, for tests and benchmarks.

:func:`write_metadata_folder` writes the official layout's CSVs (``metadata.csv``,
``foreground_classes.csv``, ``foreground_classes_metadata_indices.csv``,
``backgrounds.csv``) for the paper's grids without rendering any image, so scoring
can be exercised at full scale (600,000 rows) in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LOCATION = np.round(np.arange(21) * 0.05, 2)
SIZE = np.round(np.arange(1, 101) * 0.01, 2)
ROTATION_AREAS = np.array([0.2, 0.5, 0.8, 1.0])
ANGLES = np.arange(1, 342, 20)


def _grid(subset: str) -> pd.DataFrame:
    if subset == "location":
        x, y = np.meshgrid(LOCATION, LOCATION, indexing="ij")
        return pd.DataFrame({"x_coord": x.ravel(), "y_coord": y.ravel(), "area": 0.2,
                             "rotation": 0})
    if subset == "size":
        return pd.DataFrame({"x_coord": 0.5, "y_coord": 0.5, "area": SIZE, "rotation": 0})
    if subset == "rotation":
        a, r = np.meshgrid(ROTATION_AREAS, ANGLES, indexing="ij")
        return pd.DataFrame({"x_coord": 0.5, "y_coord": 0.5, "area": a.ravel(),
                             "rotation": r.ravel()})
    raise ValueError(f"subset {subset!r}: choose location, size or rotation")


def write_metadata_folder(root: str | Path, subset: str = "location", n_classes: int = 62,
                          n_objects: int = 614, bgs_per_fg: int = 2, n_images: int | None = None,
                          resolution: int = 500, seed: int = 0) -> Path:
    """Write a metadata-only dataset folder for ``subset`` and return its path.

    Objects are spread round-robin over ``n_classes`` classes (class ``c`` is ImageNet
    index ``7 * c``); every (object, background) pair is crossed with the subset's grid,
    in the official id order (grid cell outermost). ``n_images`` truncates the table.
    ``pct_inside_image`` is the box fraction inside for a square object.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grid = _grid(subset)
    klass = np.arange(n_objects) % n_classes
    inst = np.arange(n_objects) // n_classes
    backgrounds = rng.integers(0, 867, size=(n_objects, bgs_per_fg))
    g = np.repeat(np.arange(len(grid)), n_objects * bgs_per_fg)
    pair = np.tile(np.arange(n_objects * bgs_per_fg), len(grid))
    obj = pair // bgs_per_fg
    md = grid.iloc[g].reset_index(drop=True)
    side = np.sqrt(md["area"].to_numpy())
    inside = np.ones(len(md))
    for c in ("x_coord", "y_coord"):
        lo, hi = md[c].to_numpy() - side / 2, md[c].to_numpy() + side / 2
        inside *= (np.minimum(hi, 1) - np.maximum(lo, 0)) / side
    md.insert(0, "image_id", np.arange(len(md)))
    md["foreground_class"] = klass[obj]
    md["foreground_instance"] = inst[obj]
    md["background"] = backgrounds.ravel()[pair]
    md["bg_resolution_width"] = resolution
    md["bg_resolution_height"] = resolution
    md["pct_inside_image"] = np.round(inside, 4)
    if n_images is not None:
        md = md.iloc[:n_images]
    md.to_csv(root / "metadata.csv", index=False)
    labels = [f"class{c:03d}" for c in range(n_classes)]
    pd.DataFrame({"int": 7 * np.arange(n_classes), "label": labels}).to_csv(
        root / "foreground_classes.csv", index=False)
    pd.DataFrame({"int": np.arange(n_classes), "label": labels}).to_csv(
        root / "foreground_classes_metadata_indices.csv", index=False)
    pd.DataFrame({"int": np.arange(867), "label": [f"bg{i:03d}.jpg" for i in range(867)]}).to_csv(
        root / "backgrounds.csv", index=False)
    return root


def simulate_predictions(metadata: pd.DataFrame, accuracy: np.ndarray, seed: int = 0,
                         model: str | None = None) -> pd.DataFrame:
    """A predictions table (image_id, top1, top5[, model]) that is right with probability
    ``accuracy`` per image (class ``c``'s right answer is ImageNet index ``7 * c``).

    Wrong top-1 answers are ``7c + 1``; the true index sits in the top-5 of half of them.
    """
    rng = np.random.default_rng(seed)
    truth = 7 * metadata["foreground_class"].to_numpy(dtype=np.int64)
    right = rng.random(len(truth)) < accuracy
    top1 = np.where(right, truth, truth + 1)
    in5 = right | (rng.random(len(truth)) < 0.5)
    rest = np.stack([truth + 1, truth + 2, truth + 3, truth + 4], axis=1)
    fifth = np.where(in5, truth, truth + 5)
    top5 = np.column_stack([top1, np.where(right[:, None], rest, np.column_stack(
        [truth + 2, truth + 3, truth + 4, fifth]))]) % 1000
    cols = [pd.Series(top5[:, j]).astype(str) for j in range(5)]
    text = cols[0].str.cat(cols[1:], sep=" ")
    out = pd.DataFrame({"image_id": metadata["image_id"].to_numpy(), "top1": top1 % 1000,
                        "top5": text})
    if model is not None:
        out["model"] = model
    return out
