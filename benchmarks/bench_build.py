"""Generator speed against the JPEG floor, and peak memory against library size.

For each subset, renders it from the SI-SCORE samples (../shared) with 2 jobs
(wall time of `siscore.build`, asset scan and start-up included) and, in the
same run, JPEG-encodes and writes the same images (decoded from the build, not
timed) with the same encoder (Pillow, quality 75) and 2 workers: the floor.
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
from siscore.build import _pool_context
from siscore.compose import encode
from siscore.factors import SUBSETS

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "si-score-samples"


def _encode_job(args: tuple[list[str], str]) -> float:
    """Decode some built images (not timed), then time encoding and writing them again."""
    paths, folder = args
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    t0 = time.perf_counter()
    for i, image in enumerate(images):
        with open(os.path.join(folder, f"{os.getpid()}-{i}.jpg"), "wb") as f:
            f.write(encode(image, "jpg", 75))
    return time.perf_counter() - t0


def jpeg_floor(dataset: Path, jobs: int) -> float:
    """Seconds to JPEG-encode and write the images of a built dataset with ``jobs`` workers
    (same encoder and quality): the sum of the workers' encoding times divided by ``jobs``,
    i.e. perfectly balanced, a lower bound."""
    paths = sorted(str(p) for p in dataset.glob("*/*.jpg"))
    per = 128
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tasks = [(paths[s : s + per], tmp) for s in range(0, len(paths), per)]
        with _pool_context().Pool(jobs) as pool:  # the build's own kind of worker pool
            return sum(pool.map(_encode_job, tasks, chunksize=1)) / jobs


def time_build(subset: str, fg: Path, bg: Path, jobs: int) -> tuple[float, int, float]:
    """(seconds to build, images written, floor seconds for the same images)."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        t0 = time.perf_counter()
        result = build(subset, Path(tmp) / subset, foregrounds=fg, backgrounds=bg, jobs=jobs,
                       progress=False)
        seconds = time.perf_counter() - t0
        return seconds, result.written, jpeg_floor(Path(tmp) / subset, jobs)


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


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum of current RSS, largest peak RSS) in KiB over ``root`` and its descendants."""
    parents, rss, hwm = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields["PPid"])
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
        hwm[pid] = int(fields.get("VmHWM", "0 kB").split()[0])
    tree = {root}
    grew = True
    while grew:
        new = {p for p, pp in parents.items() if pp in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(rss.get(p, 0) for p in tree), max((hwm.get(p, 0) for p in tree), default=0)


def peak_memory(fg: Path, bg: Path, jobs: int) -> tuple[float, float]:
    """Peak RSS (MiB) of a 2-location build: (all its processes together, the largest one),
    sampled from /proc every 50 ms while it runs."""
    code = (
        "import sys;from siscore import build, Grid;"
        "g=Grid(location=[(0.5, 0.5), (0.0, 0.0)]);"
        f"build(g, sys.argv[1], foregrounds={str(fg)!r}, backgrounds={str(bg)!r}, "
        f"jobs={jobs}, progress=False)"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        proc = subprocess.Popen([sys.executable, "-c", code, str(Path(tmp) / "loc")])
        total = largest = 0
        while proc.poll() is None:
            t, h = _tree_rss(proc.pid)
            total, largest = max(total, t), max(largest, h)
            time.sleep(0.05)
        if proc.returncode:
            raise SystemExit(f"build failed with status {proc.returncode}")
        return total / 1024, largest / 1024


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
        seconds, n, floor = time_build(subset, fg, bg, args.jobs)
        res = SUBSETS[subset].grid.resolution.values[0]
        print(f"  {subset:9s} {n:6d} images {res[0]}x{res[1]}: build {seconds:6.2f} s "
              f"({n / seconds:5.0f} img/s), floor {floor:6.2f} s ({n / floor:5.0f} img/s), "
              f"ratio {seconds / floor:4.2f}x")
    if args.memory:
        print("peak memory of a 2-location build (MiB) vs library size")
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            for n in (60, 612, 1224, 2448):
                lib = Path(tmp) / f"fg{n}"
                make_library(fg, lib, n)
                total, largest = peak_memory(lib, bg, args.jobs)
                print(f"  {n:4d} foregrounds ({n * 2 * 2:5d} images): all processes {total:5.0f} MiB, "
                      f"largest process {largest:5.0f} MiB")
                shutil.rmtree(lib)


if __name__ == "__main__":
    main()
