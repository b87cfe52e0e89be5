"""Generator speed against the JPEG floor and the original generator, and peak memory
against library size.

For each subset, renders it with 2 jobs from a library of 60 objects derived from the
SI-SCORE samples (../shared; ``--library 0`` uses the 9 samples themselves), wall time of
the whole ``siscore build`` command in a fresh process (interpreter start, asset scan and
worker start-up included), and, in the same run, JPEG-encodes (whole) and writes the
same images (decoded from the build, not timed) with 2 workers at quality 75: the floor.
Twice: with the build's encoder (libjpeg-turbo through OpenCV) and with Pillow's (the same
bytes, twice as slow). Prints the times and the ratios (target: build <= 1.5x floor).

Then, on the 9 samples, times the original generator's pipeline (a faithful re-run of
``dataset_generator.py``'s per-image work in one process: resize bilinear, rotate bicubic
with expand, pct_inside filter, paste with the alpha mask, JPEG at the default quality)
against ``siscore.build`` with 1 job: the speed-up per core (target: >= 5x for size and
rotation).

Then times the on-the-fly rendering of ``siscore evaluate`` (``RenderedDataset``, one
process, no model) on the samples' size and rotation subsets, in images/s.

Then builds the location subset at two library sizes (60 and 612 foregrounds,
derived from the samples) and prints the peak resident memory of the build,
which must not grow with the number of assets.

Run: ``make bench`` or ``python benchmarks/bench_build.py [--subsets location,size,rotation]``.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
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
from siscore.generate import allocator, jpeg
from siscore.generate.build import _pool_context
from siscore.generate.factors import SUBSETS

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "si-score-samples"


def _pillow_jpeg(image: np.ndarray) -> bytes:
    """Plain Pillow JPEG at quality 75, as the original generator saves."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


# the build's own encoder (whole images: the same bytes Pillow writes, twice as fast), and Pillow's
ENCODERS = {"opencv": lambda image: jpeg.encode(image, 75), "pillow": _pillow_jpeg}


def _encode_job(args: tuple[list[str], str, str]) -> float:
    """Decode some built images (not timed), then time encoding and writing them again."""
    paths, folder, encoder = args
    encode = ENCODERS[encoder]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    t0 = time.perf_counter()
    for i, image in enumerate(images):
        with open(os.path.join(folder, f"{os.getpid()}-{i}.jpg"), "wb") as f:
            f.write(encode(image))
    return time.perf_counter() - t0


def jpeg_floor(dataset: Path, jobs: int, encoder: str = "opencv") -> float:
    """Seconds to JPEG-encode (whole, with ``encoder``, quality 75) and write the images of a
    built dataset with ``jobs`` workers: the sum of the workers' encoding times divided by
    ``jobs``, i.e. perfectly balanced, a lower bound."""
    paths = sorted(str(p) for p in dataset.glob("*/*.jpg"))
    per = 128
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tasks = [(paths[s : s + per], tmp, encoder) for s in range(0, len(paths), per)]
        with _pool_context().Pool(jobs) as pool:  # the build's own kind of worker pool
            return sum(pool.map(_encode_job, tasks, chunksize=1)) / jobs


def time_build(subset: str, fg: Path, bg: Path, jobs: int) -> tuple[float, int, dict[str, float]]:
    """(seconds of the whole ``siscore build`` command, images written, floor seconds for
    the same images per encoder). The command runs in a fresh process, as a user runs it: interpreter
    start, imports, asset scan and worker start-up included."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = Path(tmp) / subset
        cmd = [sys.executable, "-m", "siscore", "build", "--subset", subset, "--out", str(out),
               "--foregrounds", str(fg), "--backgrounds", str(bg), "--jobs", str(jobs), "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - t0
        written = json.loads((out / "dataset.json").read_text())["counts"]["images"]
        return seconds, written, {encoder: jpeg_floor(out, jobs, encoder) for encoder in ENCODERS}


def on_the_fly(subset: str, fg: Path, bg: Path) -> tuple[float, float, int]:
    """Images/s of ``siscore evaluate``'s on-the-fly rendering (``RenderedDataset``, one
    process, no model): (with the JPEG round trip, raw pixels, images)."""
    from siscore.evaluate.data import RenderedDataset

    plan = build_plan(subset, fg, bg)
    rates = []
    for fmt in ("jpg", "raw"):
        data = RenderedDataset(plan, fmt=fmt)
        t0 = time.perf_counter()
        for i in range(len(data)):
            data.render(i)
        rates.append(len(data) / (time.perf_counter() - t0))
    return rates[0], rates[1], len(data)


def build_plan(subset: str, fg: Path, bg: Path):  # noqa: ANN201 - a Plan
    from siscore.generate.build import make_plan

    sub = SUBSETS[subset]
    return make_plan(sub.grid, foregrounds=fg, backgrounds=bg, min_pct_inside=sub.min_pct_inside)[0]


def original_pipeline(subset: str, fg: Path, bg: Path, out: Path, seed: int = 0) -> tuple[float, int]:
    """(seconds, images written) of the original generator's per-image work, in one process.

    As ``dataset_generator.py``: foregrounds and backgrounds loaded up front, backgrounds
    cropped and resized (bilinear) once; then for every (cell, foreground, background) in
    the cross product: resize the full-resolution cut-out (bilinear), rotate it (bicubic,
    expand), compute pct_inside, skip the image if below the subset's minimum, paste it
    with its alpha as the mask on a copy of the background, save it as JPEG.
    """
    sub = SUBSETS[subset]
    res = sub.grid.resolution.values[0]
    fgs = [Image.open(p).convert("RGBA") for p in sorted(fg.glob("*/*.png"))]
    bgs = []
    for p in sorted(bg.iterdir()):
        img = Image.open(p).convert("RGB")
        side = min(img.size)
        if side >= max(res):
            bgs.append(img.crop((0, 0, side, side)).resize(res, Image.BILINEAR))
    rng = np.random.default_rng(seed)
    pairs = [(f, int(b)) for f in range(len(fgs)) for b in rng.choice(len(bgs), 2, replace=False)]
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    t0 = time.perf_counter()
    for i, ((x, y), area, angle) in enumerate(itertools.product(*(f.values for f in sub.grid.factors[:3]))):
        for j, (f, b) in enumerate(pairs):
            obj, back = fgs[f], bgs[b]
            factor = np.sqrt(area / (obj.width * obj.height / (res[0] * res[1])))
            obj = obj.resize((int(obj.width * factor), int(obj.height * factor)), Image.BILINEAR)
            obj = obj.rotate(angle, resample=Image.BICUBIC, expand=True)
            x0 = int(int(x * res[0]) - obj.width * 0.5)
            y0 = int(int(y * res[1]) - obj.height * 0.5)
            inside = ((min(x0 + obj.width, res[0]) - max(x0, 0)) * (min(y0 + obj.height, res[1]) - max(y0, 0))
                      / (obj.width * obj.height))
            if inside < sub.min_pct_inside:
                continue
            image = back.copy()
            image.paste(obj, box=(x0, y0), mask=obj)
            with open(out / f"{i * len(pairs) + j}.jpg", "wb") as fh:
                image.save(fh, format="JPEG")
            written += 1
    return time.perf_counter() - t0, written


def per_core(subset: str, fg: Path, bg: Path) -> tuple[float, float, int]:
    """(original pipeline seconds, siscore build seconds with 1 job, images) on ``fg``, in
    this process, tuned as the ``siscore`` command tunes its own (siscore.generate.allocator), both
    pinned to one CPU with OpenCV on one thread: per core, not per process."""
    import cv2

    allocator.tune()
    cpus, threads = os.sched_getaffinity(0), cv2.getNumThreads()
    os.sched_setaffinity(0, {min(cpus)})
    cv2.setNumThreads(1)
    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            original, n = original_pipeline(subset, fg, bg, Path(tmp) / "original")
            t0 = time.perf_counter()
            build(subset, Path(tmp) / "siscore", foregrounds=fg, backgrounds=bg, jobs=1, progress=False)
            return original, time.perf_counter() - t0, n
    finally:
        os.sched_setaffinity(0, cpus)
        cv2.setNumThreads(threads)


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
    parser.add_argument("--library", type=int, default=60,
                        help="objects derived from the samples for the floor comparison (0: the samples)")
    parser.add_argument("--original", action=argparse.BooleanOptionalAction, default=True,
                        help="time the original generator's pipeline (size and rotation)")
    parser.add_argument("--on-the-fly", action=argparse.BooleanOptionalAction, default=True,
                        help="time siscore evaluate's on-the-fly rendering (size and rotation)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    args = parser.parse_args(argv)
    if not args.samples.is_dir():
        print(f"skipped: {args.samples} is absent")
        return
    fg, bg = args.samples / "foregrounds", args.samples / "backgrounds"
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        lib = fg
        if args.library:
            lib = Path(tmp) / "library"
            make_library(fg, lib, args.library)
        print(f"generator vs JPEG floor ({args.jobs} jobs, {os.cpu_count()} cores, "
              f"{args.library or 'the 9 sample'} objects)")
        for subset in args.subsets.split(","):
            seconds, n, floors = time_build(subset, lib, bg, args.jobs)
            res = SUBSETS[subset].grid.resolution.values[0]
            print(f"  {subset:9s} {n:6d} images {res[0]}x{res[1]}: build {seconds:6.2f} s "
                  f"({n / seconds:5.0f} img/s); floor with the build's encoder (OpenCV) "
                  f"{floors['opencv']:6.2f} s, ratio {seconds / floors['opencv']:4.2f}x; "
                  f"with Pillow's {floors['pillow']:6.2f} s, ratio {seconds / floors['pillow']:4.2f}x",
                  flush=True)
    on_samples = [s for s in args.subsets.split(",") if s in ("size", "rotation")]
    if args.original:
        print("per core, on the 9 samples: the original generator's pipeline (1 process) vs build (1 job)")
        for subset in on_samples:
            original, ours, n = per_core(subset, fg, bg)
            print(f"  {subset:9s} {n:6d} images: original {original:6.2f} s ({n / original:5.0f} img/s), "
                  f"siscore {ours:6.2f} s ({n / ours:5.0f} img/s), {original / ours:4.1f}x faster", flush=True)
    if args.on_the_fly:
        print("on the fly (siscore evaluate's RenderedDataset, 1 process, no model), on the 9 samples")
        for subset in on_samples:
            jpg, raw, n = on_the_fly(subset, fg, bg)
            print(f"  {subset:9s} {n:6d} images: {jpg:5.0f} img/s with the JPEG round trip, "
                  f"{raw:5.0f} img/s raw pixels", flush=True)
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
