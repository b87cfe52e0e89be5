"""Generator speed against the JPEG floor, and peak memory against library size.

For each subset, renders it from the SI-SCORE samples (../shared) with 2 jobs
and, in the same run, JPEG-encodes and writes the same number of images of the
same size with the same encoder (Pillow, quality 75) and 2 workers: the floor.
Prints both times and their ratio (target: build <= 1.5x floor).

Then builds the location subset at two library sizes (60 and 612 foregrounds,
derived from the samples) and prints the peak resident memory of the build,
which must not grow with the number of assets.

Run: ``make bench`` or ``python benchmarks/bench_build.py [--subsets location,size,rotation]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from siscore import build
from siscore.assets import load_background
from siscore.build import _pool_context
from siscore.compose import encode, prepare_background
from siscore.factors import SUBSETS

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "si-score-samples"


def _encode_job(args: tuple[np.ndarray, str, int, int]) -> None:
    image, folder, start, count = args
    for i in range(start, start + count):
        with open(os.path.join(folder, f"{i}.jpg"), "wb") as f:
            f.write(encode(image, "jpg", 75))


def jpeg_floor(n: int, resolution: tuple[int, int], backgrounds: Path, jobs: int) -> float:
    """Seconds to JPEG-encode and write ``n`` images at ``resolution`` with ``jobs`` workers."""
    bgs = [prepare_background(load_background(str(p)), resolution)
           for p in sorted(backgrounds.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    per = 256
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tasks = [(bgs[(s // per) % len(bgs)], tmp, s, min(per, n - s)) for s in range(0, n, per)]
        t0 = time.perf_counter()
        with _pool_context().Pool(jobs) as pool:  # the build's own kind of worker pool
            pool.map(_encode_job, tasks, chunksize=1)
        return time.perf_counter() - t0


def time_build(subset: str, fg: Path, bg: Path, jobs: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        t0 = time.perf_counter()
        result = build(subset, Path(tmp) / subset, foregrounds=fg, backgrounds=bg, jobs=jobs,
                       progress=False)
        return time.perf_counter() - t0, result.written


def make_library(src: Path, dst: Path, n: int) -> None:
    """A library of ``n`` foregrounds derived from the samples (flips, crops, rescales)."""
    sources = sorted(src.glob("*/*.png"))
    for i in range(n):
        path = sources[i % len(sources)]
        img = Image.open(path)
        k = i // len(sources)
        if k % 2:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        scale = 0.6 + 0.4 * ((k * 7) % 10) / 10
        img = img.resize((max(8, int(img.width * scale)), max(8, int(img.height * scale))))
        out = dst / path.parent.name
        out.mkdir(parents=True, exist_ok=True)
        img.save(out / f"{path.stem}_{i:04d}.png", compress_level=1)


def peak_memory(fg: Path, bg: Path, jobs: int) -> float:
    """Peak RSS (MiB) of the largest process of a 3x3-location build, in a subprocess."""
    code = (
        "import resource,sys;from siscore import build, Grid;"
        "g=Grid(location=[(x,y) for x in (0,.5,1) for y in (0,.5,1)]);"
        f"build(g, sys.argv[1], foregrounds={str(fg)!r}, backgrounds={str(bg)!r}, "
        f"jobs={jobs}, progress=False);"
        "r=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "c=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;print(max(r,c)/1024)"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = subprocess.run([sys.executable, "-c", code, str(Path(tmp) / "loc")],
                             capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", default="location,size,rotation")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if not SAMPLES.is_dir():
        print(f"skipped: {SAMPLES} is absent")
        return
    fg, bg = SAMPLES / "foregrounds", SAMPLES / "backgrounds"
    print(f"generator vs JPEG floor ({args.jobs} jobs, {os.cpu_count()} cores)")
    for subset in args.subsets.split(","):
        seconds, n = time_build(subset, fg, bg, args.jobs)
        res = SUBSETS[subset].grid.resolution.values[0]
        floor = jpeg_floor(n, res, bg, args.jobs)
        print(f"  {subset:9s} {n:6d} images {res[0]}x{res[1]}: build {seconds:6.2f} s "
              f"({n / seconds:5.0f} img/s), floor {floor:6.2f} s ({n / floor:5.0f} img/s), "
              f"ratio {seconds / floor:4.2f}x")
    if args.memory:
        print("peak memory of a 3x3-location build (MiB, largest process) vs library size")
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            for n in (60, 612):
                lib = Path(tmp) / f"fg{n}"
                make_library(fg, lib, n)
                mib = peak_memory(lib, bg, args.jobs)
                print(f"  {n:4d} foregrounds ({n * 2 * 9} images): peak {mib:6.0f} MiB")
                shutil.rmtree(lib)


if __name__ == "__main__":
    main()
