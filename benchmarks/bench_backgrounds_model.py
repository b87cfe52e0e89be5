"""The model check of `siscore backgrounds filter` with a real classifier, on the labelled photos.

Filters the hand-labelled photos of tests/data/background_labels.csv that are
available here (as benchmarks/bench_backgrounds.py) with the default
thresholds, without and with ``--model`` (object mode: any ImageNet class but a
scenery class above ``--max-prob``), and prints precision and recall of "kept"
against the label "uncluttered", how many of the object photos the thresholds
keep the model catches, and every photo the model rejects. Then, with the
SI-SCORE samples (../shared), the recall of real objects: the 9 sample
foregrounds pasted on the 8 sample backgrounds (centred, area 0.2, 384 px), and
the share of those 72 composites the model check rejects. Each figure twice:
with the geological formations alone as scenery (before plants, crops and fungi
were added) and with ``SCENERY_CLASSES`` (now). The model runs once per photo
(all 1000 classes; the two scenery sets are read off the same probabilities), so
it needs a model with the 1000 ImageNet outputs in order.

    .venv/bin/python benchmarks/bench_backgrounds_model.py [--model efficientnet_lite0] [--max-prob 0.2 0.3 0.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


class Judge:
    """A ModelJudge over every ImageNet class but ``scenery``; the probabilities of each
    photo are computed once and shared by every Judge with the same ``cache``."""

    def __init__(self, check, scenery, max_prob: float, cache: dict) -> None:
        self.check, self.max_prob, self.cache = check, max_prob, cache
        self.name = check.name
        self.objects = np.array([i not in scenery for i in range(len(check.labels))])

    def probs(self, name: str) -> np.ndarray | None:
        from PIL import Image

        from siscore.backgrounds.model_check import MODEL_SIDE
        from siscore.backgrounds.scan import BadImage, decode

        if name not in self.cache:
            try:
                rgb, _ = decode(self.check.folder / name, MODEL_SIDE)
            except BadImage:
                self.cache[name] = None
            else:
                self.cache[name] = self.check.probabilities(Image.fromarray(rgb))
        return self.cache[name]

    def __call__(self, files):
        out = {}
        for name in files:
            p = self.probs(name)
            if p is not None:
                k = int(np.argmax(np.where(self.objects, p, -1.0)))
                out[name] = (self.check.labels[k], float(p[k]))
        return out


def composites(root: Path, samples: Path) -> tuple[Path, list[str]]:
    """The sample foregrounds on the sample backgrounds: centred, area 0.2, 384x384."""
    from siscore import Grid, build

    build(Grid(location=[(0.5, 0.5)], area=[0.2], rotation=[0], resolution=[(384, 384)]), root,
          foregrounds=samples / "foregrounds", backgrounds=samples / "backgrounds",
          bgs_per_fg=8, progress=False)
    return root, sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--max-prob", type=float, nargs="+", default=[0.2])
    parser.add_argument("--debian-root", type=Path)
    args = parser.parse_args(argv)

    from bench_backgrounds import LABELS, SHARED

    from siscore.backgrounds import Thresholds, filter_folder
    from siscore.backgrounds.evaluation import agreement, assemble, load_labels
    from siscore.backgrounds.model_check import (
        GEOLOGICAL_FORMATIONS,
        SCENERY_CLASSES,
        ModelCheck,
        load_model_check,
    )
    from siscore.generate.assets import embedded_assets

    sceneries = {"geological formations only (before)": GEOLOGICAL_FORMATIONS,
                 f"SCENERY_CLASSES, {len(SCENERY_CLASSES)} classes (now)": SCENERY_CLASSES}
    labels = load_labels(LABELS)
    roots = {"shared": SHARED if SHARED.is_dir() else None,
             "assets": embedded_assets()[1].parent, "debian": args.debian_root}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        table = assemble(labels, roots, folder)
        print(f"labelled photos available: {len(table)} of {len(labels)}")
        base = filter_folder(folder, Path(tmp) / "lib0", Thresholds(dup_distance=-1),
                             progress=False, sheet=False)
        print(f"  without the model check: {agreement(base.rows, table)}")
        loaded = load_model_check(args.model, folder=folder, device="cpu")
        every = ModelCheck(loaded.module, loaded.transform, {str(i): (i,) for i in range(1000)},
                           name=loaded.name, folder=folder)
        photo_cache: dict = {}
        for max_prob in args.max_prob:
            for title, scenery in sceneries.items():
                judge = Judge(every, scenery, max_prob, photo_cache)
                t0 = time.perf_counter()
                res = filter_folder(folder, Path(tmp) / "lib", Thresholds(dup_distance=-1),
                                    model=judge, progress=False, sheet=False)
                seconds = time.perf_counter() - t0
                seen = [r for r in res.rows if r.get("model_class")]
                objects = [r for r in seen if not table[r["file"]].uncluttered]
                caught = sum(r["decision"] != "kept" for r in objects)
                timing = f"  ({seconds:.1f} s)" if seconds > 1 else ""  # cached after the first
                print(f"\n  --model {args.model} --max-prob {max_prob}, scenery = {title}:"
                      f"\n    {agreement(res.rows, table)}{timing}"
                      f"\n    object photos the thresholds keep, rejected by the model: "
                      f"{caught}/{len(objects)}")
                usable = [r for r in seen if table[r["file"]].uncluttered and r["decision"] == "kept"]
                if usable:
                    top = max(usable, key=lambda r: float(r["model_prob"]))
                    print(f"    closest usable photo kept: {top['file']} "
                          f"{names()[int(top['model_class'])]} p={float(top['model_prob']):.2f}")
                for r in seen:
                    lb = table[r["file"]]
                    if r["decision"] != "kept":
                        print(f"    rejected {r['file']:36s} {lb.category:8s} "
                              f"usable={lb.uncluttered!s:5s} "
                              f"{names()[int(r['model_class'])]} "
                              f"p={float(r['model_prob']):.2f}")
        if not SHARED.is_dir():
            print(f"\nSI-SCORE samples absent ({SHARED}): no composites")
            return
        root, files = composites(Path(tmp) / "composites", SHARED)
        background_of = backgrounds_of(root)
        bare = sorted(p.name for p in (SHARED / "backgrounds").iterdir())
        print(f"\nrecall of real objects: {len(files)} composites (9 sample foregrounds x 8 "
              "sample backgrounds, centred, area 0.2, 384 px) that the model check rejects, "
              "counted on the backgrounds the check keeps bare (a rejected background never "
              "gets an object pasted)")
        caches: tuple[dict, dict] = ({}, {})
        for max_prob in args.max_prob:
            for title, scenery in sceneries.items():
                every.folder = SHARED / "backgrounds"
                bare_judged = Judge(every, scenery, max_prob, caches[0])(bare)
                kept = {Path(f).stem for f, (_, p) in bare_judged.items() if p <= max_prob}
                every.folder = root
                judged = Judge(every, scenery, max_prob, caches[1])(files)
                caught = {f for f, (_, p) in judged.items() if p > max_prob}
                counted = [f for f in files if background_of[f] in kept]
                hits = [f for f in counted if f in caught]
                print(f"  --max-prob {max_prob}, scenery = {title}: bare backgrounds kept "
                      f"{len(kept)}/{len(bare)}; composites on them rejected {len(hits)}/"
                      f"{len(counted)} ({len(hits) / max(1, len(counted)):.2f}); all composites "
                      f"rejected {len(caught)}/{len(files)}")
                for f in sorted(set(counted) - caught):
                    c, p = judged[f]
                    print(f"    missed {f:18s} on {background_of[f]:20s} {names()[int(c)]} {p:.2f}")


def backgrounds_of(root: Path) -> dict[str, str]:
    """File of each composite (``label/image_id.jpg``) -> the stem of its background."""
    import pandas as pd

    md = pd.read_csv(root / "metadata.csv")
    labels = pd.read_csv(root / "foreground_classes_metadata_indices.csv").set_index("int")["label"]
    bgs = pd.read_csv(root / "backgrounds.csv").set_index("int")["label"]
    return {f"{labels[c]}/{i}.jpg": Path(str(bgs[b])).stem
            for i, c, b in zip(md["image_id"], md["foreground_class"], md["background"])}


def names() -> list[str]:
    from importlib.resources import files

    text = files("siscore").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


if __name__ == "__main__":
    main()
