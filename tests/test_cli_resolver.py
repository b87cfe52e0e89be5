"""One "subset / config / overrides" resolver for every command that renders (issue 21, item 4).

``siscore build`` and ``siscore evaluate`` (on the fly) resolve a subset or a config file and
the options over it through :func:`siscore.generate.spec.resolve_render`: the same inputs give
the same images and the same errors, ``--max-images`` and an unknown ``[build]`` key included.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.errors import ConfigError, ParamError, UsageError
from siscore.evaluate import SidePaths
from siscore.generate.factors import SUBSETS, Grid
from siscore.generate.spec import parse_resolution, resolve_render
from tests.test_build import library  # noqa: F401 - fixture re-used

FAST_MODEL = ["--model", "mobilenet_v3_small", "--random-weights", "--crop", "32", "-j", "0", "-q"]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_the_command_line_beats_the_file_which_beats_the_default(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "[grid]\narea = [0.1, 0.2]\n[build]\nseed = 7\nmin_pct_inside = 0.5\n")
    from_file = resolve_render(config=cfg)
    assert (from_file.seed, from_file.bgs_per_fg, from_file.min_pct_inside) == (7, 2, 0.5)
    typed = resolve_render(config=cfg, seed=3, bgs_per_fg=1, min_pct_inside=0.0)
    assert (typed.seed, typed.bgs_per_fg, typed.min_pct_inside) == (3, 1, 0.0)
    assert resolve_render(config=_config(tmp_path, "[grid]\narea = [0.1]\n")).min_pct_inside == 0.0
    for name, subset in SUBSETS.items():
        spec = resolve_render(name)
        assert (spec.grid, spec.subset, spec.seed, spec.min_pct_inside) == (name, name, 0, subset.min_pct_inside)


def test_resolution_replaces_the_grids_and_keeps_the_subsets_name(tmp_path: Path) -> None:
    spec = resolve_render("size", resolution="64x48")
    assert isinstance(spec.grid, Grid) and spec.subset == "size" and spec.min_pct_inside == 0.95
    assert spec.grid.resolution.values == ((64, 48),)
    assert [len(f) for f in spec.grid.factors] == [len(f) for f in SUBSETS["size"].grid.factors]
    assert parse_resolution("500") == parse_resolution(500) == (500, 500)
    assert parse_resolution((640, 480)) == (640, 480)
    with pytest.raises(ParamError, match=r"^resolution='big': write N or WxH"):
        parse_resolution("big")


def test_exactly_one_of_subset_or_config(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "[grid]\narea = [0.1]\n")
    for kwargs in ({}, {"subset": "size", "config": cfg}):
        with pytest.raises(UsageError, match="give exactly one of a subset"):
            resolve_render(**kwargs)
    with pytest.raises(ParamError, match=r"^subset='sizes': choose one of size, location, rotation"):
        resolve_render("sizes")


def _error_line(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    return result.exit_code, lines[-1]


@pytest.mark.parametrize(("text", "extra", "message"), [
    ("[grid]\narea = [0.1]\n[build]\njobs = 2\n", [], "unknown [build] option 'jobs'"),
    ("[grid]\narea = [0.1]\n[build]\nseed = 'x'\n", [], "[build] seed = 'x' must be an integer"),
    ("[grid]\narea = [0.1, 0.2, 0.3, 0.4]\n", ["--max-images", "3"], "the grid has 4 cells"),
    ("[grid]\narea = [0.1, 0.2]\nresolution = [64]\n", ["--max-images", "15"], "the plan has 16 images"),
    ("[grid]\nblur = [1]\n", [], "unknown factor 'blur'"),
])
def test_build_and_evaluate_refuse_the_same_input_with_the_same_line(library, tmp_path, text,  # noqa: F811
                                                                        extra, message) -> None:
    cfg = _config(tmp_path, text)
    assets = ["--foregrounds", str(library[0]), "--backgrounds", str(library[1])]
    built = _error_line("build", "--config", str(cfg), *assets, *extra, "--out", str(tmp_path / "ds"))
    evaluated = _error_line("evaluate", "--config", str(cfg), *assets, *extra, *FAST_MODEL,
                            "--out", str(tmp_path / "p.csv"))
    assert built == evaluated and built[0] == 1 and message in built[1], (built, evaluated)
    assert built[1].startswith("Error: --max-images" if "--max-images" in extra else "Error: --config ")
    assert not (tmp_path / "ds").exists() and not (tmp_path / "p.csv").exists()


def test_evaluate_on_the_fly_renders_what_build_writes_with_the_same_options(library, tmp_path) -> None:  # noqa: F811
    """--subset with --resolution, --seed, --bgs-per-fg and --min-pct-inside over a config-free
    subset: the metadata evaluate writes beside its predictions is the build's, byte for byte."""
    options = ["--subset", "size", "--resolution", "48", "--seed", "3", "--bgs-per-fg", "1",
               "--min-pct-inside", "0.6", "--foregrounds", str(library[0]),
               "--backgrounds", str(library[1])]
    res = CliRunner().invoke(main, ["build", *options, "--out", str(tmp_path / "ds"), "-q"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["evaluate", *options, *FAST_MODEL, "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    side = SidePaths(tmp_path / "p.csv").dataset
    assert (side / "metadata.csv").read_bytes() == (tmp_path / "ds" / "metadata.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(pd.read_csv(tmp_path / "ds" / "metadata.csv"))


def test_evaluate_checks_the_render_before_loading_any_model(tmp_path: Path) -> None:
    """A bad config is refused before the weights are looked for (they are not cached)."""
    cfg = _config(tmp_path, "[grid]\narea = [0.1]\n[build]\nbgs = 2\n")
    code, line = _error_line("evaluate", "--config", str(cfg), "--model", "resnet50", "--weights",
                             "IMAGENET1K_V2", "--offline", "--out", str(tmp_path / "p.csv"))
    assert code == 1 and "unknown [build] option 'bgs'" in line


def test_config_errors_are_the_same_from_python(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "[grid]\narea = [0.1, 0.2, 0.3, 0.4]\n")
    with pytest.raises(ConfigError, match=r"^max_images=3: .*the grid has 4 cells"):
        resolve_render(config=cfg, max_images=3)
