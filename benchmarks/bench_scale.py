"""Scale-out overhead: the same build on local processes and on a 4-worker Dask LocalCluster,
and the projected time of the full paper build (611,608 images) on N machines.

Builds a location grid (x, y every ``--step``, area 0.2, 500x500 like the paper) from the
embedded assets three times in one run: 1 local process (the per-image cost of one
core), ``--workers`` local processes (loky, siscore's default), and a Dask
``LocalCluster`` of ``--workers`` single-threaded worker processes (cluster start-up
timed separately). Every build is checked byte-identical to the first.

Prints images/s of each, the Dask overhead per image (Dask seconds minus local seconds,
divided by images), and the projection
``T(N) = start + images x core_s_per_image x MIX / (N x cores x efficiency)`` where ``MIX``
weighs in the dearer size and rotation images and
``efficiency`` is the measured (local 1-process rate x workers) / Dask rate ratio capped
by the cores this machine really has. Assumptions are printed with the numbers.

Run: ``make bench`` or ``python benchmarks/bench_scale.py [--step 0.1 --workers 4]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from siscore import Grid, build

PAPER_IMAGES = 611_608  # SI-SCORE: size 92,884 + location 479,184 + rotation 39,540
# Cost of a size / rotation image relative to a location image (bench_build: 3.4x and 6.3x
# their JPEG floor against 1.06x for location): the paper mix costs MIX x a location image.
MIX = (479_184 * 1.0 + 92_884 * 3.4 / 1.06 + 39_540 * 6.3 / 1.06) / PAPER_IMAGES


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _timed(grid: Grid, out: Path, **kw) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = build(grid, out, progress=False, **kw)
    return time.perf_counter() - t0, result.written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=float, default=0.1, help="location grid step (0.05 = paper)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--cores-per-machine", type=int, default=32, help="for the projection")
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    n = round(1 / args.step)
    grid = Grid(location=[(i / n, j / n) for i in range(n + 1) for j in range(n + 1)], area=[0.2],
                resolution=[(500, 500)])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        s1, images = _timed(grid, root / "one", jobs=1)
        ref = _digest(root / "one")
        s_local, _ = _timed(grid, root / "local", jobs=args.workers)
        assert _digest(root / "local") == ref, "local processes: bytes differ"
        t0 = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            start = time.perf_counter() - t0
            s_dask, _ = _timed(grid, root / "dask", scheduler=client)
        assert _digest(root / "dask") == ref, "Dask: bytes differ"
    per_core = s1 / images
    print(f"machine: {cores} cores; grid: {images} images of 500x500 (location, step {args.step})")
    print(f"  1 local process          : {s1:6.1f} s  {images / s1:6.1f} images/s  "
          f"({1000 * per_core:.1f} ms of one core per image)")
    print(f"  {args.workers} local processes (loky): {s_local:6.1f} s  {images / s_local:6.1f} images/s")
    print(f"  {args.workers}-worker Dask LocalCluster: {s_dask:6.1f} s  {images / s_dask:6.1f} images/s "
          f"(+ {start:.1f} s cluster start)")
    overhead = (s_dask - s_local) / images
    print(f"  Dask overhead vs local processes: {1000 * overhead:+.2f} ms per image "
          f"({100 * (s_dask / s_local - 1):+.0f} %)")
    usable = min(cores, args.workers)
    efficiency = min(1.0, (images / s_dask) / (usable * images / s1))
    print(f"  parallel efficiency on Dask (rate / ({usable} x one-process rate)): {efficiency:.2f}")
    c = args.cores_per_machine
    print(f"projection, full paper build ({PAPER_IMAGES:,} images), {c} cores per machine, "
          f"{1000 * per_core:.1f} ms of a core per location image (this machine's) x {MIX:.2f} for the "
          f"size/rotation mix, efficiency {efficiency:.2f}, + {start:.0f} s start-up, shared storage "
          "not the bottleneck:")
    for machines in (1, 4, 16, 64):
        t = start + PAPER_IMAGES * per_core * MIX / (machines * c * efficiency)
        print(f"  {machines:3d} machine(s): {t / 60:7.1f} min")


if __name__ == "__main__":
    main()
