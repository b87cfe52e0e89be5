"""The model check of `siscore backgrounds filter` with a real classifier, on the labelled photos.

Filters the hand-labelled photos of tests/data/background_labels.csv that are
available here (as benchmarks/bench_backgrounds.py) with the default
thresholds, without and with ``--model`` (object mode: any ImageNet class but a
scene class above ``--max-prob``), and prints precision and recall of "kept"
against the label "uncluttered", and what the model rejected.

    .venv/bin/python benchmarks/bench_backgrounds_model.py [--model efficientnet_lite0] [--max-prob 0.3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--max-prob", type=float, nargs="+", default=[0.3])
    parser.add_argument("--debian-root", type=Path)
    args = parser.parse_args(argv)

    from bench_backgrounds import LABELS, SHARED

    from siscore.backgrounds import Thresholds, filter_folder
    from siscore.backgrounds.evaluation import agreement, assemble, load_labels
    from siscore.backgrounds.model_check import load_model_check
    from siscore.generate.assets import embedded_assets

    labels = load_labels(LABELS)
    roots = {"shared": SHARED if SHARED.is_dir() else None,
             "assets": embedded_assets()[1].parent, "debian": args.debian_root}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        table = assemble(labels, roots, folder)
        print(f"labelled photos available: {len(table)} of {len(labels)}")
        base = filter_folder(folder, Path(tmp) / "lib0", Thresholds(dup_distance=-1),
                             progress=False, sheet=False)
        print(f"  without the model check:            {agreement(base.rows, table)}")
        for max_prob in args.max_prob:
            judge = load_model_check(args.model, max_prob=max_prob, folder=folder, device="cpu")
            t0 = time.perf_counter()
            res = filter_folder(folder, Path(tmp) / f"lib{max_prob}", Thresholds(dup_distance=-1),
                                model=judge, progress=False, sheet=False)
            seconds = time.perf_counter() - t0
            print(f"  with --model {args.model} --max-prob {max_prob}: {agreement(res.rows, table)}"
                  f"  ({seconds:.1f} s)")
            for r in res.rows:
                if r.get("model_class"):
                    lb = table[r["file"]]
                    print(f"    {r['file']:40s} usable={lb.uncluttered!s:5s} {r['decision']:9s} "
                          f"{r['model_class']} p={float(r['model_prob']):.2f}")


if __name__ == "__main__":
    main()
