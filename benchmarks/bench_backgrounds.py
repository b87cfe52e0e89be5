"""Benchmark of `siscore backgrounds`: filter quality on hand-labelled photos, and speed.

Quality: the photos of tests/data/background_labels.csv that are available
here (installed packages, the SI-SCORE samples in ../shared, siscore's embedded
assets, and with --debian-root the extracted Debian wallpaper packages) are
filtered with the default thresholds; prints precision and recall of "kept"
against the label "uncluttered", per source and overall, and every
disagreement with its reason. Speed: scoring throughput, de-duplication of
many hashes, contact-sheet drawing.

    .venv/bin/python benchmarks/bench_backgrounds.py
    .venv/bin/python benchmarks/bench_backgrounds.py --fetch-debian /tmp/debs   # apt-get download
    .venv/bin/python benchmarks/bench_backgrounds.py --debian-root /tmp/debs --sheet out.png
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "background_labels.csv"
SHARED = REPO.parent / "shared" / "data" / "si-score-samples"
DEBIAN_PACKAGES = ("mate-backgrounds", "lomiri-wallpapers-16.04", "plasma-workspace-wallpapers")


def fetch_debian(root: Path) -> Path:
    """``apt-get download`` the wallpaper packages and extract each into ``root/<package>``."""
    root.mkdir(parents=True, exist_ok=True)
    for package in DEBIAN_PACKAGES:
        if (root / package).is_dir():
            continue
        subprocess.run(["apt-get", "download", package], cwd=root, check=True)
        deb = next(root.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / package)], check=True)
    return root


def quality(debian_root: Path | None, sheet: Path | None, jobs: int) -> None:
    from siscore.backgrounds import Thresholds, filter_folder
    from siscore.backgrounds.evaluation import agreement, assemble, load_labels
    from siscore.backgrounds.phash import from_hex, near_duplicates
    from siscore.generate.assets import embedded_assets

    labels = load_labels(LABELS)
    roots = {"shared": SHARED if SHARED.is_dir() else None,
             "assets": embedded_assets()[1].parent, "debian": debian_root}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        table = assemble(labels, roots, folder)
        missing = sorted({lb.source for lb in labels} - {lb.source for lb in table.values()})
        t0 = time.perf_counter()
        # quality is measured without de-duplication (the set holds crops of the same photos);
        # the duplicates the default --dup-distance would drop are listed below
        result = filter_folder(folder, Path(tmp) / "lib", Thresholds(dup_distance=-1), jobs=jobs,
                               sheet=sheet is not None)
        seconds = time.perf_counter() - t0
        if sheet is not None and result.sheets:
            shutil.copy(result.sheets[0], sheet)
    rows = result.rows
    print(f"labelled photos available: {len(table)} of {len(labels)}"
          + (f" (sources not available: {', '.join(missing)})" if missing else ""))
    print(f"filter (score + decide + copy{' + sheet' if sheet else ''}): {seconds:.1f} s, "
          f"{len(rows) / seconds:.1f} photos/s with {jobs} job(s)")
    groups = {"SI-SCORE samples": {"shared"}, "packages (skimage/sklearn/matplotlib)":
              {"skimage", "sklearn", "matplotlib"}, "embedded assets": {"assets"},
              "Debian wallpapers": {"debian"}}
    for title, sources in groups.items():
        sub = {k: v for k, v in table.items() if v.source in sources}
        if sub:
            print(f"  {title:40s} {agreement(rows, sub)}")
    core = {k: v for k, v in table.items() if v.source != "debian"}
    print(f"  {'without Debian (what the tests use)':40s} {agreement(rows, core)}")
    print(f"  {'all':40s} {agreement(rows, table)}")
    single = [r for r in rows if table[r["file"]].category in ("person", "animal", "object")]
    rejected = sum(r["decision"] != "kept" for r in single)
    print(f"  photos with one prominent subject (person/animal/object): {rejected}/{len(single)} rejected")
    scored = [r for r in rows if r.get("phash")]
    dups = near_duplicates([from_hex(r["phash"]) for r in scored], Thresholds().dup_distance)
    for i, (j, dist) in sorted(dups.items()):
        print(f"  near-duplicates (default --dup-distance): {scored[i]['file']} ~ "
              f"{scored[j]['file']} (distance {dist})")
    print("disagreements with the hand labels:")
    for r in rows:
        lb = table[r["file"]]
        if (r["decision"] == "kept") != lb.uncluttered:
            what = "kept but labelled not usable" if lb.uncluttered is False else "rejected but usable"
            print(f"  {r['file']:45s} {what} ({lb.category}: {lb.notes}); "
                  f"object {r['object_contrast']:.1f}, focus {r['centre_focus']:.2f}"
                  + (f"; {r['reason']}" if r["reason"] else ""))


def speed() -> None:
    from skimage import data

    from siscore.backgrounds.metrics import measure
    from siscore.backgrounds.phash import near_duplicates
    from siscore.backgrounds.scoring import score_file
    from siscore.generate.saliency import least_salient_square

    photo = data.astronaut()
    n = 20
    t0 = time.perf_counter()
    for _ in range(n):
        measure(photo)
    print(f"measure() on a 512x512 photo: {1000 * (time.perf_counter() - t0) / n:.1f} ms")
    big = np.ascontiguousarray(np.tile(photo, (6, 8, 1)))  # 4096x3072
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        Image.fromarray(big).save(Path(tmp) / "big.jpg", quality=90)
        Image.fromarray(big).save(Path(tmp) / "big.png", compress_level=1)
        for name in ("big.jpg", "big.png"):
            t0 = time.perf_counter()
            score_file(Path(tmp) / name)
            print(f"score_file() on a 4096x3072 {name[-3:].upper()}: "
                  f"{1000 * (time.perf_counter() - t0):.0f} ms (decode included)")
    t0 = time.perf_counter()
    least_salient_square(big)
    print(f"least_salient_square() on 4096x3072: {1000 * (time.perf_counter() - t0):.0f} ms")
    rng = np.random.default_rng(0)
    hashes = [int(h) for h in rng.integers(0, 2**63, 10_000, dtype=np.int64)]
    t0 = time.perf_counter()
    near_duplicates(hashes, 10)
    print(f"near_duplicates() of 10,000 distinct hashes: {time.perf_counter() - t0:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debian-root", type=Path, help="folder with the extracted packages")
    parser.add_argument("--fetch-debian", type=Path, metavar="DIR",
                        help="apt-get download and extract the Debian wallpaper packages into DIR")
    parser.add_argument("--sheet", type=Path, help="copy the contact sheet (first page) here")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    root = fetch_debian(args.fetch_debian) if args.fetch_debian else args.debian_root
    quality(root, args.sheet, args.jobs)
    speed()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
