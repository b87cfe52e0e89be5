"""Benchmark of `siscore extract openimages`: throughput (objects/s) and peak memory.

Builds an OpenImages fixture in the real formats with at least 10,000
segmentation rows: 640x480 JPEG photos (the SI-SCORE sample backgrounds, or
scikit-image's photos without ../shared) each holding 5 pasted sample
cut-outs, masks at 1.6x the image resolution in 16 ``validation-masks-{h}.zip``
files. Then, each in a fresh process:

* extraction with --jobs 1 and 2: objects/s and peak RSS (largest process);
* the same command again (resume: every object already done);
* reading only (stream, filter, join) of the segmentation CSV as is and with
  1,000,000 extra rows of an unmapped class: peak RSS must not grow.

    .venv/bin/python benchmarks/bench_extract.py
    .venv/bin/python benchmarks/bench_extract.py --objects 2000 --jobs 1 --extra-rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.extract_fixtures import (  # noqa: E402 - the repository root is added above
    BOX_HEADER,
    CLASSES,
    MID,
    SEG_HEADER,
    bbox_of,
    cached_kit,
    write_csv,
)

CELLS = [(0.2, 0.28), (0.5, 0.28), (0.8, 0.28), (0.33, 0.72), (0.67, 0.72)]
W, H, MASK_SCALE = 640, 480, 1.6
PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]


def _sprites(kit, size: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name, rgba in sorted(kit.cutouts.items()):
        if name not in MID:
            continue
        h, w = rgba.shape[:2]
        s = size / max(h, w)
        small = cv2.resize(rgba, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        out.append((name, small[..., :3], small[..., 3] > 127))
    return out


def build_fixture(root: Path, n_objects: int) -> dict[str, Path]:
    """Write the fixture; returns its paths."""
    kit = cached_kit()
    sprites = _sprites(kit, 170)
    photos = [cv2.resize(p, (W, H), interpolation=cv2.INTER_AREA) for p in kit.photos]
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    zips = {h: zipfile.ZipFile(masks / f"validation-masks-{h}.zip", "w", zipfile.ZIP_STORED)
            for h in "0123456789abcdef"}
    seg_rows, box_rows = [], []
    rng = np.random.default_rng(0)
    encoded: dict[tuple[int, int], tuple[bytes, list[str]]] = {}  # (sprite, cell) -> mask PNG, box
    for i in range(-(-n_objects // len(CELLS))):
        iid = f"{rng.integers(0, 2**63):016x}"
        image = photos[i % len(photos)].copy()
        for j, (cx, cy) in enumerate(CELLS):
            k = (i + j) % len(sprites)
            name, rgb, alpha = sprites[k]
            h, w = alpha.shape
            x0, y0 = int(cx * W - w / 2), int(cy * H - h / 2)
            region = image[y0:y0 + h, x0:x0 + w]
            region[alpha] = rgb[alpha]
            if (k, j) not in encoded:  # the same sprite in the same cell: the same mask file
                truth = np.zeros((H, W), np.uint8)
                truth[y0:y0 + h, x0:x0 + w] = alpha
                big = cv2.resize(truth * 255, (round(W * MASK_SCALE), round(H * MASK_SCALE)),
                                 interpolation=cv2.INTER_NEAREST_EXACT)
                encoded[k, j] = (cv2.imencode(".png", big, PNG_FAST)[1].tobytes(),
                                 list(map(str, bbox_of(truth > 0))))
            png, box = encoded[k, j]
            mid, bid = MID[name], f"{i:05x}{j:03x}"
            mask_path = f"{iid}_{mid.replace('/', '')}_{bid}.png"
            zips[iid[0]].writestr(mask_path, png)
            seg_rows.append([mask_path, iid, mid, bid, *box, "0.9", ""])
            box_rows.append([iid, "xclick", mid, "1", *box, "0", "0", "0", "0", "0"])
        cv2.imwrite(str(images / f"{iid}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    for z in zips.values():
        z.close()
    paths = {"segmentation": root / "validation-annotations-object-segmentation.csv",
             "boxes": root / "validation-annotations-bbox.csv",
             "classes": root / "class-descriptions-boxable.csv", "images": images, "masks": masks}
    write_csv(paths["segmentation"], SEG_HEADER, seg_rows)
    write_csv(paths["boxes"], BOX_HEADER, box_rows)
    write_csv(paths["classes"], ["LabelName", "DisplayName"], [[k, v] for k, v in CLASSES.items()])
    return paths


def with_extra_rows(seg: Path, out: Path, n: int) -> Path:
    """A copy of ``seg`` followed by ``n`` rows of an unmapped class (Person)."""
    with open(out, "w") as f:
        f.write(seg.read_text())
        block = 100_000
        for start in range(0, n, block):
            f.write("".join(f"{i:016x}_m01g317_{i:08x}.png,{i:016x},/m/01g317,{i:08x},0.1,0.5,0.2,0.6,0.8,\n"
                            for i in range(start, min(n, start + block))))
    return out


def child(args: argparse.Namespace) -> None:
    """Run one measurement in this process; print JSON with the time and peak RSS (MiB)."""
    paths = json.loads(args.paths)
    t0 = time.perf_counter()
    if args.child == "read":
        from siscore.extract.openimages import openimages_candidates

        cands, _, _ = openimages_candidates(paths["segmentation"], paths["boxes"], paths["classes"])
        result = {"candidates": len(cands)}
    else:
        from siscore.extract import extract_openimages

        r = extract_openimages(paths["segmentation"], paths["boxes"], paths["classes"], paths["images"],
                               paths["masks"], args.out, jobs=args.jobs, progress=False)
        result = {"processed": r.processed, "resumed": r.resumed, "kept": r.kept}
        if args.jobs > 1:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)  # reap the workers: their RSS counts below
    result["seconds"] = time.perf_counter() - t0
    result["rss_self_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_workers_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, paths: dict[str, Path], out: Path | None = None, jobs: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--paths", json.dumps({k: str(v) for k, v in paths.items()}),
           "--jobs", str(jobs)] + (["--out", str(out)] if out else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=10_000, help="objects (= segmentation rows) to extract")
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to time")
    ap.add_argument("--extra-rows", type=int, default=1_000_000,
                    help="unmapped rows appended for the streaming-memory check")
    ap.add_argument("--child", choices=["extract", "read"], help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.jobs = int(args.jobs)
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = build_fixture(root / "fixture", args.objects)
        n_rows = paths["segmentation"].read_text().count("\n") - 1
        print(f"fixture: {n_rows} segmentation rows, {W}x{H} JPEGs, masks {MASK_SCALE}x in 16 zips, "
              f"cut-outs from {cached_kit().source} ({time.perf_counter() - t0:.0f} s to build)")
        print(f"machine: {os.cpu_count()} CPUs")
        for jobs in (int(j) for j in args.jobs.split(",")):
            out = root / f"out-j{jobs}"
            r = measure("extract", paths, out, jobs)
            print(f"extract --jobs {jobs}: {r['processed']} objects ({r['kept']} kept) in {r['seconds']:.1f} s "
                  f"= {r['processed'] / r['seconds']:.0f} objects/s; peak RSS {r['rss_self_mib']:.0f} MiB "
                  f"(largest worker {r['rss_workers_mib']:.0f} MiB)")
            r = measure("extract", paths, out, jobs)
            print(f"  re-run (resume, all done): {r['resumed']} skipped in {r['seconds']:.1f} s")
        print("reading the segmentation CSV (stream, filter by class, join boxes) with extra rows "
              "of an unmapped class (chunks of 100,000 rows):")
        for extra in (0, args.extra_rows // 10, args.extra_rows):
            seg = with_extra_rows(paths["segmentation"], root / f"seg{extra}.csv", extra)
            r = measure("read", {**paths, "segmentation": seg})
            print(f"  {n_rows + extra:>9} rows: {r['seconds']:5.1f} s, peak RSS {r['rss_self_mib']:4.0f} MiB, "
                  f"{r['candidates']} candidates")
            seg.unlink()


if __name__ == "__main__":
    main()
