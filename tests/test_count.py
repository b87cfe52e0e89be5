"""``siscore build --dry-run`` counts without listing the plan (issue 23: 3.6x10^8 cells ran over
two minutes): the counts equal those of checking every image, on grids of every shape."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from siscore.generate.build import make_plan
from siscore.generate.count import _Angles, kept_counts, runs
from siscore.generate.factors import Grid, load_config
from siscore.generate.geometry import rotated_size
from siscore.generate.ranges import PairGrid, ValueRange
from tests.test_build import library  # noqa: F401 - fixture re-used

REPO = Path(__file__).resolve().parents[1]


def counted_image_by_image(plan) -> tuple[int, dict[str, int]]:  # noqa: ANN001
    """The reference: every image of the plan, kept or not, as the build decides."""
    per_class: dict[str, int] = {}
    for item in plan.items():
        if plan.is_kept(item):
            per_class[plan.label(item)] = per_class.get(plan.label(item), 0) + 1
    return sum(per_class.values()), dict(sorted(per_class.items()))


def random_grid(rng: random.Random) -> Grid:
    xs = sorted({round(rng.uniform(0, 1), rng.choice([1, 2, 6])) for _ in range(rng.randint(1, 6))})
    ys = sorted({round(rng.uniform(0, 1), rng.choice([1, 2, 6])) for _ in range(rng.randint(1, 6))})
    location = PairGrid(xs, ys) if rng.random() < 0.5 else [(x, y) for x in xs for y in ys]
    areas = sorted({max(0.001, round(rng.uniform(0.001, 1.5), rng.choice([2, 3, 4])))
                    for _ in range(rng.randint(1, 8))})
    angles = sorted({rng.choice([0, 90, 180, 270, 360, -90, 45, rng.randint(-360, 360),
                                 round(rng.uniform(-360, 360), 3)]) for _ in range(rng.randint(1, 8))})
    resolution = sorted({rng.choice([(64, 64), (97, 61), (120, 200), (33, 47)])
                         for _ in range(rng.randint(1, 2))})
    return Grid(location=location, area=areas, rotation=angles, resolution=resolution,
                **({"object_greyscale": [0, 1]} if rng.random() < 0.3 else {}))


@pytest.mark.parametrize("seed", range(12))
def test_counts_equal_checking_every_image(library, seed: int) -> None:  # noqa: F811
    rng = random.Random(seed)
    grid = random_grid(rng)
    min_pct = rng.choice([0.0, 0.25, 0.5, 0.95, 1.0, round(rng.random(), 4)])
    plan, _ = make_plan(grid, foregrounds=library[0], backgrounds=library[1], min_pct_inside=min_pct,
                        bgs_per_fg=rng.choice([1, 2]))
    assert kept_counts(plan) == counted_image_by_image(plan)


def test_rotated_canvases_equal_the_geometry_module() -> None:
    rng = random.Random(0)
    angles = [0, 90, 180, 270, 360, -90, -270, 45, 1e-9, 89.999999, *(rng.uniform(-360, 360) for _ in range(300))]
    table = _Angles(angles)
    for w, h in [(1, 1), (2, 7), (37, 5), (500, 313), (1024, 1), *((rng.randint(1, 900), rng.randint(1, 900)) for _ in range(30))]:
        expected = sorted(rotated_size(w, h, a) for a in angles)
        keys, counts = table.canvases(w, h)
        got = sorted((int(k) >> 20, int(k) & 0xFFFFF) for k, n in zip(keys, counts) for _ in range(n))
        assert got == expected, (w, h)


def test_runs_of_a_long_range_are_found_without_listing_it() -> None:
    values = ValueRange(0, 1, 1e-7)  # 10,000,001 values
    seen = []
    found = runs(values, lambda x: seen.append(x) or int(x * 512))
    assert [k for k, _ in found] == list(range(513)) and sum(n for _, n in found) == len(values)
    assert len(seen) < 40 * 513  # a few reads per run, not ten million
    assert found[0] == (0, sum(1 for i in range(20_000) if int(values[i] * 512) == 0))


BIG = """[grid]
location = {{ x = {{ start = 0, stop = 0.99995, step = 0.00005 }}, y = {{ start = 0, stop = 0.89995, step = 0.00005 }} }}
area = [0.2, 0.6]
rotation = [0, 30]
[build]
min_pct_inside = {min_pct}
"""  # 20,000 x 18,000 = 3.6x10^8 locations, x 4 = 1.44x10^9 cells


@pytest.mark.parametrize("min_pct", [0, 0.5])
def test_a_dry_run_of_billions_of_cells_answers_with_exact_counts(library, tmp_path, min_pct) -> None:  # noqa: F811
    config = tmp_path / "big.toml"
    config.write_text(BIG.format(min_pct=min_pct))
    grid, _ = load_config(config, max_images=10**12)
    assert isinstance(grid.factors[0].values, PairGrid) and len(grid.factors[0]) == 360_000_000
    args = ["build", "--config", str(config), "--dry-run", "--max-images", str(10**13),
            "--foregrounds", str(library[0]), "--backgrounds", str(library[1])]
    # in a process of its own: the old code listed the 3.6x10^8 locations (tens of GB)
    res = subprocess.run([sys.executable, "-m", "siscore", *args], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=600)
    assert res.returncode == 0, res.stderr
    head = res.stdout.splitlines()[0]
    planned = 360_000_000 * 4 * 4 * 2  # cells x 4 foregrounds x 2 backgrounds each
    kept = int(head.split(": ")[1].split()[0])
    assert head == (f"{config}: {kept} images would be written ({planned - kept} filtered out of "
                    f"{planned} planned, 3 classes)")
    assert (kept == planned) if min_pct == 0 else (0 < kept < planned)
    per_class = [int(line.rsplit(": ", 1)[1]) for line in res.stdout.splitlines()[1:]]
    assert sum(per_class) == kept and math.gcd(*per_class) % 2 == 0  # two backgrounds each
