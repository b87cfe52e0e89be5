"""Evaluation throughput with a real model (EfficientNet-Lite0): forward alone vs `siscore evaluate`.

Measured on this machine, in images per second, on a location grid built from
the embedded assets (500x500 JPEGs):

1. the data pipeline alone (decode JPEG + Lite0's preprocessing, a DataLoader
   with the default workers; and rendered on the fly);
2. Lite0's forward pass alone on preprocessed batches (the floor to compare with);
3. ``siscore.evaluate.evaluate`` end to end (read, decode, preprocess, forward,
   write the predictions) with the default workers of ``siscore evaluate``; the
   ratio 3/2 is the share of the model's speed the whole pipeline keeps (target >= 90 %);
4. several models in one pass (``evaluate_many``, images rendered once) against
   the same models run one after the other.

Run: ``python benchmarks/bench_evaluate.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from siscore.cli.evaluate_cmd import _default_workers
from siscore.evaluate import FolderDataset, RenderedDataset, create_model, evaluate, evaluate_many
from siscore.generate.build import build
from siscore.generate.factors import Grid


def _grid(n_side: int) -> Grid:
    steps = [round(i / (n_side - 1), 4) for i in range(n_side)]
    return Grid(location=[(x, y) for x in steps for y in steps], area=[0.2], resolution=[(500, 500)])


def pipeline_rate(dataset: object, workers: int, batch_size: int = 32) -> float:
    """Images per second through a DataLoader (no model)."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    t0, n = time.perf_counter(), 0
    for images, _, _ in loader:
        n += len(images)
    return n / (time.perf_counter() - t0)


def forward_rate(module: torch.nn.Module, size: int, batches: int, batch_size: int = 32) -> float:
    """Images per second of the forward pass alone (after one warm-up batch)."""
    x = torch.randn(batch_size, 3, size, size)
    with torch.inference_mode():
        module(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            module(x)
    return batches * batch_size / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and batches")
    parser.add_argument("--jobs", type=int, default=None,
                        help=f"data-loader workers (default: siscore evaluate's, {_default_workers()})")
    args = parser.parse_args(argv)
    n_side = 4 if args.quick else 8
    jobs = _default_workers() if args.jobs is None else args.jobs
    lite0 = create_model("efficientnet_lite0")
    results: dict[str, float] = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"GPU: {'yes' if torch.cuda.is_available() else 'none'}; workers {jobs}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "location"
        built = build(_grid(n_side), root, progress=False)
        print(f"dataset: {built.kept} images at 500x500 (embedded assets)")
        folder = FolderDataset(root, lite0.transform)
        rendered = RenderedDataset.from_grid(_grid(n_side), lite0.transform)
        results[f"decode+preprocess, {jobs} workers"] = pipeline_rate(folder, jobs)
        results[f"render+jpeg+preprocess, {jobs} workers"] = pipeline_rate(rendered, jobs)
        fwd = forward_rate(lite0.module, 224, 2 if args.quick else 4)
        results["Lite0 forward only"] = fwd
        t0 = time.perf_counter()
        r = evaluate(lite0, None, folder, Path(tmp) / "preds.csv", workers=jobs, batch_size=32,
                     device="cpu", progress=False)
        e2e = r.evaluated / (time.perf_counter() - t0)
        results[f"evaluate() end to end (folder), {jobs} workers"] = e2e

        models = [lite0, create_model("efficientnet_lite1")]
        small = RenderedDataset.from_grid(_grid(max(3, n_side // 2)))
        t0 = time.perf_counter()
        for i, m in enumerate(models):
            evaluate(m, None, small, Path(tmp) / f"sep{i}.csv", workers=jobs, device="cpu",
                     progress=False)
        separate = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate_many(models, small, [Path(tmp) / f"one{i}.csv" for i in range(len(models))],
                      workers=jobs, device="cpu", progress=False)
        one_pass = time.perf_counter() - t0
        results["Lite0+Lite1 rendered, separate runs (s)"] = separate
        results["Lite0+Lite1 rendered, one pass (s)"] = one_pass
    width = max(map(len, results))
    for key, value in results.items():
        unit = "s" if key.endswith("(s)") else "images/s"
        print(f"{key:<{width}}  {value:8.1f} {unit}")
    print(f"-> end to end keeps {100 * e2e / fwd:.0f}% of the forward-only speed (target >= 90%); "
          f"one pass takes {one_pass / separate:.2f}x the time of separate runs")
    return results


if __name__ == "__main__":
    main()
