"""Custom interventions: registry, built-ins, plugins, determinism and bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

import siscore
from siscore import ConfigError, Grid, build
from siscore.generate.compose import Paste, Sprite, premultiply
from siscore.generate.render import InterventionError
from tests.test_build import library, tree_digest  # noqa: F401 - fixture re-used

CELL = dict(location=[(0.5, 0.5)], area=[0.25], resolution=[(96, 96)])


def rows(path: Path) -> list[dict[str, str]]:
    with open(path / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_list_and_metadata_columns(library, tmp_path) -> None:  # noqa: F811
    names = siscore.list_interventions()
    assert {"background_blur", "object_brightness", "object_contrast", "object_greyscale",
            "occluder", "jpeg_quality", "horizontal_flip", "blend"} <= set(names)
    grid = Grid(**CELL, background_blur=[0, 3], horizontal_flip=[False, True])
    out = tmp_path / "ds"
    build(grid, out, foregrounds=library[0], backgrounds=library[1], progress=False)
    md = rows(out)
    assert list(md[0])[-2:] == ["background_blur", "horizontal_flip"]
    assert {(r["background_blur"], r["horizontal_flip"]) for r in md} == {
        ("0", "False"), ("0", "True"), ("3", "False"), ("3", "True")}


def _image(out: Path, row: dict[str, str]) -> np.ndarray:
    from PIL import Image

    classes = sorted(p.name for p in out.iterdir() if p.is_dir())
    folder = out / classes[int(row["foreground_class"])]
    return np.asarray(Image.open(next(folder.glob(f"{row['image_id']}.*"))))


def test_background_blur_zero_is_identity_and_blur_blurs(library, tmp_path) -> None:  # noqa: F811
    plain = tmp_path / "plain"
    blurred = tmp_path / "blur"
    build(Grid(**CELL), plain, foregrounds=library[0], backgrounds=library[1], progress=False,
          fmt="png")
    build(Grid(**CELL, background_blur=[0, 4]), blurred, foregrounds=library[0],
          backgrounds=library[1], progress=False, fmt="png")
    base = rows(plain)
    for r in rows(blurred):
        twin = next(b for b in base if (b["foreground_class"], b["foreground_instance"], b["background"])
                    == (r["foreground_class"], r["foreground_instance"], r["background"]))
        a, b = _image(blurred, r), _image(plain, twin)
        corner = (slice(0, 12), slice(0, 12))  # background only
        if r["background_blur"] == "0":
            assert np.array_equal(a, b)
        else:
            sharp = cv2.Laplacian(b[corner].astype(np.float64), cv2.CV_64F).var()
            assert cv2.Laplacian(a[corner].astype(np.float64), cv2.CV_64F).var() < sharp


def obj() -> np.ndarray:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[5:35, 10:50] = (200, 120, 40, 255)
    return rgba


def call(name: str, image, value, seed: int = 0):
    return siscore.get_intervention(name).func(image, value, np.random.default_rng(seed))


def test_object_colour_interventions() -> None:
    o = obj()
    assert np.array_equal(call("object_brightness", o, 1.0), o)
    assert call("object_brightness", o, 0.5)[10, 20, 0] == 100
    assert call("object_contrast", o, 0.0)[10, 20, :3].std() == 0  # all to the mean grey
    grey = call("object_greyscale", o, 1.0)
    assert grey[10, 20, 0] == grey[10, 20, 1] == grey[10, 20, 2]
    assert np.array_equal(call("object_greyscale", o, 0.0), o)
    assert np.array_equal(call("horizontal_flip", o, True), o[:, ::-1])
    assert np.array_equal(call("horizontal_flip", o, False), o)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
def test_occluder_covers_the_fraction_of_the_object(fraction) -> None:
    o = obj()
    for seed in range(6):
        out = call("occluder", o, fraction, seed)
        grey = (out[..., 0] == 128) & (out[..., 3] == 255)
        covered = (o[..., 3][grey] > 0).sum() / (o[..., 3] > 0).sum()
        assert abs(covered - fraction) <= 1 / 30 + 1e-9  # one row or column of the object


def test_jpeg_quality_degrades() -> None:
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    low, high = call("jpeg_quality", img, 5), call("jpeg_quality", img, 95)
    assert np.abs(low.astype(int) - img).mean() > np.abs(high.astype(int) - img).mean()


def test_blend_modes_and_poisson_fallback() -> None:
    bg = np.full((80, 80, 3), (40, 160, 40), np.uint8)
    sprite = Sprite.from_premultiplied(np.asarray(premultiply(obj())))
    inside, border = Paste(bg, sprite, 10, 20), Paste(bg, sprite, -15, 20)
    alpha, rec = call("blend", inside, "alpha")
    assert np.array_equal(alpha, inside.alpha()) and rec == {"blend_fallback": False}
    feather, _ = call("blend", inside, "feather")
    assert np.array_equal(feather[40, 40], alpha[40, 40]) and not np.array_equal(feather, alpha)
    poisson, rec = call("blend", inside, "poisson")
    assert rec == {"blend_fallback": False} and not np.array_equal(poisson, alpha)
    fallback, rec = call("blend", border, "poisson")
    assert rec == {"blend_fallback": True} and np.array_equal(fallback, border.alpha())


def test_interventions_are_deterministic_across_jobs(library, tmp_path) -> None:  # noqa: F811
    grid = Grid(location=[(0.3, 0.5), (0.7, 0.5)], area=[0.25], resolution=[(96, 96)],
                occluder=[0.3, 0.6], blend=["feather", "poisson"])
    build(grid, tmp_path / "a", foregrounds=library[0], backgrounds=library[1], jobs=1, progress=False)
    build(grid, tmp_path / "b", foregrounds=library[0], backgrounds=library[1], jobs=2, progress=False)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


USER_MODULE = '''
import numpy as np
import siscore

@siscore.intervention("tint", stage="composite", value_type=int)
def tint(image, value, rng):
    """Add value to the red channel."""
    out = image.astype(np.int16)
    out[..., 0] += value
    return np.clip(out, 0, 255).astype(np.uint8)
'''


def test_user_module_works_with_worker_processes(library, tmp_path, monkeypatch) -> None:  # noqa: F811
    (tmp_path / "mytint.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    importlib.import_module("mytint")
    out = tmp_path / "ds"
    result = build(Grid(**CELL, tint=[0, 60]), out, foregrounds=library[0], backgrounds=library[1],
                   jobs=2, progress=False)
    assert result.complete and {r["tint"] for r in rows(out)} == {"0", "60"}


def test_cli_plugin_and_config(library, tmp_path) -> None:  # noqa: F811
    (tmp_path / "mytint2.py").write_text(USER_MODULE)
    cfg = tmp_path / "grid.toml"
    cfg.write_text('[grid]\nlocation = [[0.5, 0.5]]\narea = [0.25]\nresolution = [[96, 96]]\n'
                   'tint = [0, 80]\nblend = ["alpha", "poisson"]\n')
    env = {"PYTHONPATH": str(tmp_path)}
    cmd = [sys.executable, "-m", "siscore", "build", "--config", str(cfg), "--plugin", "mytint2",
           "--out", str(tmp_path / "ds"), "--foregrounds", str(library[0]), "--backgrounds",
           str(library[1]), "-j", "2", "-q"]
    import os

    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    md = rows(tmp_path / "ds")
    assert {r["tint"] for r in md} == {"0", "80"} and "blend_fallback" in md[0]
    missing = subprocess.run([*cmd[:6], "--plugin", "no_such_module", *cmd[8:]], capture_output=True,
                             text=True, env={**os.environ, **env})
    assert missing.returncode != 0 and "--plugin no_such_module: cannot import it" in missing.stderr


def test_entry_point_discovery(tmp_path) -> None:
    (tmp_path / "siscore_fancy.py").write_text(USER_MODULE.replace('"tint"', '"fancy_tint"'))
    dist = tmp_path / "siscore_fancy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: siscore-fancy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[siscore.generate.interventions]\nfancy = siscore_fancy\n")
    import os

    done = subprocess.run([sys.executable, "-m", "siscore", "interventions"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "fancy_tint" in done.stdout and "composite" in done.stdout


def test_unknown_factor_and_wrong_types() -> None:
    with pytest.raises(ConfigError, match="unknown factor 'backgroud_blur'.*background_blur"):
        Grid(backgroud_blur=[1])
    with pytest.raises(ConfigError, match="factor 'background_blur': value 'a' has type str, expected int or float"):
        Grid(background_blur=["a"])
    with pytest.raises(ConfigError, match="factor 'horizontal_flip': value 1 has type int, expected bool"):
        Grid(horizontal_flip=[1])
    with pytest.raises(ConfigError, match="factor 'blend': value 'soft' must be one of alpha, feather, poisson"):
        Grid(blend=["soft"])
    with pytest.raises(ValueError, match="stage must be one of"):
        siscore.intervention("bad", stage="early")


@pytest.mark.parametrize("body,message", [
    ("raise RuntimeError('boom')", r"raised RuntimeError: boom while rendering image 0 \(foreground"),
    ("return image[:-1]", "returned a uint8 array of shape"),
    ("return image[..., :3]", r"expected a uint8 array of shape \(.*, 4\) \(mode RGBA\)"),
    ("return image.astype(float)", "returned a float64 array"),
    ("return None", "returned NoneType"),
])
def test_broken_intervention_names_itself_and_the_image(library, tmp_path, body, message) -> None:  # noqa: F811
    namespace: dict = {}
    exec(textwrap.dedent(f"""
        import siscore
        @siscore.intervention("broken", stage="foreground")
        def broken(image, value, rng):
            {body}
    """), namespace)
    with pytest.raises(InterventionError, match=f"intervention 'broken' .*{message}"):
        build(Grid(**CELL, broken=[1]), tmp_path / "ds", foregrounds=library[0],
              backgrounds=library[1], progress=False)
