"""A custom intervention end to end: register it, build a dataset, evaluate a model, score it.

1. registers ``background_noise`` (Gaussian noise on the background, drawn from the
   per-image generator siscore hands over) with ``@siscore.intervention``;
2. trains the small CNN of ``train_location_cnn.py`` on clean, centred objects from the
   embedded assets (CPU, about a minute; ``--quick``: seconds);
3. builds a dataset whose grid crosses ``background_noise`` with the built-in
   ``object_greyscale`` (``siscore.build``, 2 worker processes);
4. evaluates the CNN on it (``siscore.evaluate``) and scores accuracy per cell of the two
   new factors (``siscore.score``), with Clopper-Pearson intervals.

The numbers are the same on every run: torch trains and evaluates on one thread (a sum of
floats is split across threads, so its rounding, and after training the table, would depend
on the machine's core count), the training draws from seeded generators, and the build's
worker processes draw each image from its own generator (their number does not matter).
A CPU of another kind may still round differently (its own vector kernels).

Run: ``python examples/custom_intervention.py [--quick] [--out examples/out/custom]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

import siscore

HERE = Path(__file__).resolve().parent


def _non_negative(value: float) -> str | None:
    return "must be >= 0" if value < 0 else None


@siscore.intervention("background_noise", stage="background", value_type=(int, float),
                      check=_non_negative)
def background_noise(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``value`` grey levels to the background."""
    noise = rng.normal(0.0, value, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _cnn_example():  # the training code of the location example, reused as a module
    spec = importlib.util.spec_from_file_location("train_location_cnn", HERE / "train_location_cnn.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_location_cnn"] = module  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced run (for tests)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "custom")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same numbers whatever the machine's cores (see the module)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> dict[str, float]:
    from siscore.evaluate import evaluate
    from siscore.score import score_predictions

    cnn = _cnn_example()
    setup = cnn.QUICK if args.quick else cnn.FULL
    fg_dir, bg_dir = siscore.generate.assets.embedded_assets()
    fgs, train_bgs, _ = cnn.assets(fg_dir, bg_dir, setup.resolution)
    classes = sorted({fg.label for fg in fgs})
    images, labels = cnn.training_set(fgs, train_bgs, True, setup, 0, 0)
    model = cnn.train(images, labels, len(classes), setup, 0, "clean")

    grid = siscore.Grid(location=[(0.5, 0.5)], area=[0.2], rotation=[0],
                        resolution=[(setup.resolution, setup.resolution)],
                        background_noise=[0, 24, 48, 96], object_greyscale=[0.0, 1.0])
    data = args.out / "data"
    built = siscore.build(grid, data, bgs_per_fg=4, jobs=args.jobs, progress=False, fmt="png")
    print(built.summary())

    imagenet = {fg.label: fg.imagenet[0] for fg in fgs}
    preds = args.out / "clean_cnn.csv"
    evaluate(model, cnn.to_input, data, preds, name="clean_cnn", device="cpu", progress=False,
             output_classes=[imagenet[c] for c in classes], overwrite=True)
    result = score_predictions(data, [preds], by=["background_noise", "object_greyscale"])
    result.write(args.out / "scores.csv")
    table = result.scores.pivot(index="background_noise", columns="object_greyscale", values="accuracy")
    print(f"\ntop-1 accuracy (chance {1 / len(classes):.2f}) by background noise (rows, grey levels) "
          "and object greyscale (columns):")
    print(table.round(3).to_string())
    print(f"\nwritten: {args.out}/scores.csv (+ .summary.json), predictions {preds}")
    return {f"noise={n:g},grey={g:g}": float(a) for (n, g), a in table.stack().items()}


if __name__ == "__main__":
    main()
