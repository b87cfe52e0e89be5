"""The generator of two commits, interleaved: this machine's speed drifts over minutes, so
old and new are timed in alternation, each run after a ``sync`` and a pause, and the
medians compared.

For each round and each of the size and rotation subsets: ``siscore build`` with 2 jobs
from the 60-object library (the whole command in a fresh process, as in
``bench_build.py``) for the old commit, then the new one, then the JPEG floors of the new
build (OpenCV and Pillow encoders); and a 1-job build of the 9 samples pinned to one CPU
with OpenCV on one thread, for each commit.

Run: ``python benchmarks/bench_releases.py --old becff4d [--rounds 2]`` (the old commit is
checked out in a temporary git worktree; the new one is this checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_build import SAMPLES, jpeg_floor, make_library

REPO = Path(__file__).resolve().parents[1]
PER_CORE = """
import os, sys, time, tempfile
from pathlib import Path
import cv2
try:
    from siscore.generate import allocator
except ImportError:  # a release before the layout by stage, or before the allocator
    try:
        from siscore import allocator
    except ImportError:
        allocator = None
if allocator is not None:
    allocator.tune()
from siscore import build
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
cv2.setNumThreads(1)
samples = Path(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    build(sys.argv[1], Path(tmp) / "x", foregrounds=samples / "foregrounds",
          backgrounds=samples / "backgrounds", jobs=1, progress=False)
    print(time.perf_counter() - t0)
"""


def _settle() -> None:
    os.sync()
    time.sleep(3)


def _build(tree: Path, subset: str, lib: Path, out: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    _settle()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "siscore", "build", "--subset", subset, "--out", str(out),
                    "--foregrounds", str(lib), "--backgrounds", str(SAMPLES / "backgrounds"),
                    "--jobs", "2", "--quiet"], check=True, cwd=tree, env=env)
    return time.perf_counter() - t0


def _per_core(tree: Path, subset: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    _settle()
    out = subprocess.run([sys.executable, "-c", PER_CORE, subset, str(SAMPLES)], check=True, cwd=tree,
                         env=env, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not (SAMPLES / "foregrounds").is_dir():
        raise SystemExit(f"skipped: {SAMPLES} is absent")
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "-q", f"{args.old}^{{commit}}"],
                      capture_output=True).returncode:
        raise SystemExit(f"--old {args.old}: not a commit of {REPO}; give a commit or tag (git log)")
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(old), args.old],
                       check=True)
        try:
            lib = Path(tmp) / "library"
            make_library(SAMPLES / "foregrounds", lib, 60)
            trees = {"old": old, "new": REPO}
            for _ in range(args.rounds):
                for subset in ("size", "rotation"):
                    for name, tree in trees.items():
                        with tempfile.TemporaryDirectory(dir=tmp) as work:
                            out = Path(work) / subset
                            results.setdefault((subset, f"{name}, 2 jobs"), []).append(_build(tree, subset, lib, out))
                            if name == "new":
                                for encoder in ("opencv", "pillow"):
                                    _settle()
                                    results.setdefault((subset, f"floor, {encoder}"), []).append(
                                        jpeg_floor(out, 2, encoder))
                        results.setdefault((subset, f"{name}, 1 core"), []).append(_per_core(tree, subset))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)
    print(f"medians of {args.rounds} rounds (seconds), old = {args.old}")
    for (subset, what), values in sorted(results.items()):
        print(f"  {subset:9s} {what:16s} {statistics.median(values):6.2f}  "
              f"({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
