"""Object resampling: quality against a high-quality reference and time per object.

For every sample object (../shared) at every size and angle of the paper's size and
rotation subsets (512x512), resamples the object as the generator does
(:func:`siscore.generate.compose.resample_object` from the object's pyramid, the low-passed level
shared by the sizes of a band when upright, by the angles of a size when rotated) and compares it with the reference of
``tests/resample_reference.py`` (Lanczos-3 in floating point, premultiplied): PSNR of the
premultiplied colour over the canvas and over the object's pixels, alpha IoU at 50 %.
Bars: PSNR >= 40 dB, IoU >= 0.995. Also times the resampling per object (pyramid and
low-pass amortised as in a build) against one Pillow bilinear resize of the source (what
the generator did before; the original generator also rotated it).

Run: ``python benchmarks/bench_resample.py [--subsets size,rotation] [--every N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from siscore.generate.compose import Prepared, Pyramid, premultiply, prepare, resample_object  # noqa: E402
from siscore.generate.factors import SUBSETS  # noqa: E402
from siscore.generate.geometry import scaled_size  # noqa: E402
from tests.resample_reference import quality, reference_object  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "si-score-samples"


def sweep(subset: str, fg: Path, every: int = 1) -> None:
    grid = SUBSETS[subset].grid
    res = grid.resolution.values[0]
    areas, angles = grid.factors[1].values[::every], grid.factors[2].values
    rows, t_ours, t_pillow, n = [], 0.0, 0.0, 0
    for path in sorted(fg.glob("*/*.png")):
        straight = np.asarray(Image.open(path).convert("RGBA"))
        pil = premultiply(straight)
        t0 = time.perf_counter()
        pyramid = Pyramid.of(pil)
        t_ours += time.perf_counter() - t0
        prepared = {}  # as a build's cache: a band's level serves its sizes, a size's its angles
        for area in areas:
            size = scaled_size(straight.shape[1], straight.shape[0], *res, area)
            for angle in angles:
                t0 = time.perf_counter()
                key = Prepared.key_for(size, angle)
                if key not in prepared:
                    prepared[key] = prepare(pyramid, size, angle)
                ours = resample_object(prepared[key], size, angle)
                t1 = time.perf_counter()
                pil.resize(size, Image.Resampling.BILINEAR)
                t_pillow += time.perf_counter() - t1
                t_ours += t1 - t0
                n += 1
                q = quality(ours, reference_object(straight, size, angle))
                rows.append((path.stem, area, angle, q))
    psnr = np.array([r[3]["psnr"] for r in rows])
    obj = np.array([r[3]["psnr_object"] for r in rows])
    iou = np.array([r[3]["iou"] for r in rows])
    print(f"  {subset}: {len(rows)} objects, PSNR min {psnr.min():.1f} / median {np.median(psnr):.1f} dB "
          f"(object pixels only: min {obj.min():.1f} / median {np.median(obj):.1f}), alpha IoU min "
          f"{iou.min():.4f} / median {np.median(iou):.4f}; {1000 * t_ours / n:.2f} ms per object "
          f"(Pillow bilinear resize of the source: {1000 * t_pillow / n:.2f} ms)")
    for name, area, angle, q in rows:
        if q["psnr"] < 40 or q["iou"] < 0.995:
            print(f"    below a bar: {name} area {area} angle {angle}: PSNR {q['psnr']:.1f} dB, "
                  f"IoU {q['iou']:.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", default="size,rotation")
    parser.add_argument("--every", type=int, default=1, help="every N-th size only (faster)")
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    args = parser.parse_args(argv)
    if not (args.samples / "foregrounds").is_dir():
        print(f"skipped: {args.samples} is absent")
        return
    print("object resampling vs Lanczos-3 in floating point (bars: PSNR >= 40 dB, IoU >= 0.995)")
    for subset in args.subsets.split(","):
        sweep(subset, args.samples / "foregrounds", args.every)


if __name__ == "__main__":
    main()
