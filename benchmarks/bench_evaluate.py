"""Evaluation throughput: the data pipeline (decode or render, then preprocess) against the model.

Measured on this machine, in images per second:

1. dataset folder -> decode JPEG -> resnet18's preprocessing (resize 256, crop 224,
   normalise), through a DataLoader with N workers;
2. the same images rendered on the fly (render, JPEG round trip, preprocess);
3. resnet18's forward pass (random weights) on the CPU: float32, channels_last,
   bfloat16 autocast;
4. ``siscore.evaluate.evaluate`` end to end (folder, 1 worker).

The pipeline only matters while it is slower than the model: compare rows 1-2 with 3.
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

from siscore.build import build
from siscore.evaluate import FolderDataset, RenderedDataset, evaluate, load_model
from siscore.factors import Grid


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


def forward_rate(module: torch.nn.Module, batches: int, batch_size: int = 32, *,
                 channels_last: bool = False, amp: bool = False) -> float:
    """Images per second of the forward pass alone (after one warm-up batch)."""
    x = torch.randn(batch_size, 3, 224, 224)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        module(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            module(x)
    module.to(memory_format=torch.contiguous_format)
    return batches * batch_size / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and batches")
    parser.add_argument("--workers", type=int, nargs="*", default=None,
                        help="worker counts to try (default: 0, 1 and the CPU count)")
    args = parser.parse_args(argv)
    n_side = 3 if args.quick else 5
    workers = args.workers if args.workers is not None else sorted({0, 1, os.cpu_count() or 1})
    model = load_model("resnet18")  # random weights, resnet18's own preprocessing
    results: dict[str, float] = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "location"
        t0 = time.perf_counter()
        built = build(_grid(n_side), root, progress=False)
        print(f"dataset: {built.kept} images at 500x500 (embedded assets, {n_side}x{n_side} locations), "
              f"built in {time.perf_counter() - t0:.1f} s")
        folder = FolderDataset(root, model.transform)
        rendered = RenderedDataset.from_grid(_grid(n_side), model.transform)
        for w in workers:
            results[f"decode+preprocess, {w} workers"] = pipeline_rate(folder, w)
        for w in workers:
            results[f"render+jpeg+preprocess, {w} workers"] = pipeline_rate(rendered, w)
        batches = 2 if args.quick else 6
        results["resnet18 forward, float32"] = forward_rate(model.module, batches)
        results["resnet18 forward, channels_last"] = forward_rate(model.module, batches, channels_last=True)
        results["resnet18 forward, bfloat16 autocast"] = forward_rate(model.module, batches, amp=True)
        t0 = time.perf_counter()
        r = evaluate(model, None, folder, Path(tmp) / "preds.csv", workers=1, batch_size=32,
                     device="cpu", progress=False)
        results["evaluate() end to end, 1 worker"] = r.evaluated / (time.perf_counter() - t0)
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:8.1f} images/s")
    best_pipe = max(v for k, v in results.items() if k.startswith("decode"))
    fwd = results["resnet18 forward, float32"]
    print(f"-> the {'model' if fwd < best_pipe else 'data pipeline'} is the bottleneck here "
          f"(best decode pipeline {best_pipe:.0f}/s vs forward {fwd:.0f}/s)")
    return results


if __name__ == "__main__":
    main()
