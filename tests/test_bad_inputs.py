"""Every bad input of the generator issue: a clear message naming the file, and nothing lost."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siscore import ConfigError, Grid, build
from siscore.cli import main
from siscore.generate.assets import load_background, load_foreground
from tests.test_build import library  # noqa: F401 - fixture re-used

GRID = Grid(location=[(0.5, 0.5)], area=[0.2], resolution=[(64, 64)])


@pytest.fixture()
def lib(library, tmp_path) -> tuple[Path, Path]:  # noqa: F811
    """A writable copy of the small real library, to add broken files to."""
    fg, bg = library
    shutil.copytree(fg, tmp_path / "fg")
    shutil.copytree(bg, tmp_path / "bg")
    return tmp_path / "fg", tmp_path / "bg"


def cutout(lib: tuple[Path, Path]) -> np.ndarray:
    return load_foreground(str(sorted(lib[0].glob("*/*.png"))[0]))


def run_build(lib, out, grid=GRID, **kw):
    return build(grid, out, foregrounds=lib[0], backgrounds=lib[1], progress=False, **kw)


def skipped(result) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped_assets}


def test_corrupt_and_truncated_files_are_skipped_and_reported(lib, tmp_path) -> None:
    fg, bg = lib
    good = sorted(fg.glob("*/*.png"))[0]
    data = good.read_bytes()
    (good.parent / "truncated.png").write_bytes(data[: len(data) // 3])
    (bg / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 10)
    (bg / "notes.txt").write_text("not an image")
    n_fg, n_bg = len(list(fg.glob("*/*.png"))) - 1, 3
    result = run_build(lib, tmp_path / "ds")
    reasons = skipped(result)
    assert "truncated" in reasons[f"{good.parent.name}/truncated.png"] or "unreadable" in reasons[f"{good.parent.name}/truncated.png"]
    assert "unreadable" in reasons["garbage.jpg"]
    assert "not an image file" in reasons["notes.txt"]
    assert result.complete and result.written == n_fg * 2  # nothing else lost
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert {s["path"] for s in info["skipped_assets"]} == set(reasons)
    assert n_bg == len(info["spec"]["backgrounds"])


def test_foreground_without_alpha_or_with_empty_alpha(lib, tmp_path) -> None:
    fg = lib[0]
    rgba = cutout(lib)
    label = sorted(fg.iterdir())[0].name
    Image.fromarray(rgba[..., :3]).save(fg / label / "no_alpha.png")
    empty = rgba.copy()
    empty[..., 3] = 0
    Image.fromarray(empty).save(fg / label / "empty_alpha.png")
    result = run_build(lib, tmp_path / "ds")
    reasons = skipped(result)
    assert "no alpha channel" in reasons[f"{label}/no_alpha.png"]
    assert "alpha channel is empty" in reasons[f"{label}/empty_alpha.png"]
    assert result.complete and result.kept == 4 * 2


def test_scan_reads_little_but_misses_nothing(lib, tmp_path) -> None:
    """The scan decodes a cut-out's first rows only, yet a flipped byte deep in its data, a
    cut-out transparent at the top (decoded in full, kept) or empty, and a truncated JPEG
    background are all told apart, and what the build renders matches."""
    fg, bg = lib
    label = sorted(fg.iterdir())[0].name
    rgba = cutout(lib)
    top_clear = np.zeros((rgba.shape[0] + 40, rgba.shape[1], 4), np.uint8)
    top_clear[40:] = rgba  # 40 transparent rows, then the object
    Image.fromarray(top_clear).save(fg / label / "top_clear.png")
    clear_then_empty = top_clear.copy()
    clear_then_empty[..., 3] = 0
    Image.fromarray(clear_then_empty).save(fg / label / "all_clear.png")
    data = bytearray((fg / label / "top_clear.png").read_bytes())
    data[len(data) * 3 // 4] ^= 0xFF  # inside the image data, far below the first rows
    (fg / label / "flipped.png").write_bytes(bytes(data))
    photo = next(p for p in sorted(bg.iterdir()) if p.suffix == ".jpg")
    (bg / "cut.jpg").write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    result = run_build(lib, tmp_path / "ds")
    reasons = skipped(result)
    assert "unreadable or truncated" in reasons[f"{label}/flipped.png"]
    assert "alpha channel is empty" in reasons[f"{label}/all_clear.png"]
    assert "unreadable or truncated" in reasons["cut.jpg"]
    assert f"{label}/top_clear.png" not in reasons
    assert set(reasons) == {f"{label}/flipped.png", f"{label}/all_clear.png", "cut.jpg"}
    assert result.complete and result.kept == 5 * 2


def test_unusual_but_valid_modes_are_converted(lib, tmp_path) -> None:
    fg, bg = lib
    rgba = cutout(lib)
    label = sorted(fg.iterdir())[0].name
    Image.fromarray(rgba).convert("LA").save(fg / label / "grey_alpha.png")
    Image.fromarray(rgba).convert("RGBA").quantize(64).save(fg / label / "palette.png", transparency=0)
    cv2.imwrite(str(fg / label / "sixteen.png"),
                cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA).astype(np.uint16) * 257)
    photo = load_background(str(sorted(bg.glob("*.jpg"))[0]))
    Image.fromarray(photo).convert("CMYK").save(bg / "cmyk.jpg")
    cv2.imwrite(str(bg / "grey16.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    Image.fromarray(photo).convert("P").save(bg / "palette.png")
    # EXIF orientation 6: stored landscape, displayed portrait
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo[:200, :300]).save(bg / "rotated.jpg", exif=exif)

    sixteen = load_foreground(str(fg / label / "sixteen.png"))
    assert sixteen.dtype == np.uint8 and np.abs(sixteen.astype(int) - rgba).max() <= 1
    assert load_background(str(bg / "grey16.png")).shape == photo.shape
    assert load_background(str(bg / "rotated.jpg")).shape[:2] == (300, 200)
    assert load_background(str(bg / "cmyk.jpg")).shape == photo.shape

    result = run_build(lib, tmp_path / "ds", grid=Grid(resolution=[(150, 150)]), bgs_per_fg=7)
    assert skipped(result) == {}
    assert result.complete and result.kept == (4 + 3) * 7


def test_background_smaller_than_resolution_is_skipped(lib, tmp_path) -> None:
    photo = load_background(str(sorted(lib[1].glob("*.jpg"))[0]))
    Image.fromarray(photo[:40, :90]).save(lib[1] / "tiny.jpg")
    result = run_build(lib, tmp_path / "ds")
    assert "too small (90x40)" in skipped(result)["tiny.jpg"]
    assert result.complete and result.kept == 4 * 2


def test_label_without_imagenet_mapping(lib, tmp_path) -> None:
    rgba = cutout(lib)
    (lib[0] / "kite").mkdir()
    Image.fromarray(rgba).save(lib[0] / "kite" / "a.png")
    (lib[0] / "gizmo").mkdir()
    Image.fromarray(rgba).save(lib[0] / "gizmo" / "b.png")
    result = run_build(lib, tmp_path / "ds")
    reasons = skipped(result)
    assert "'kite' has no ImageNet-1k mapping" in reasons["kite/a.png"]
    assert "--label-map" in reasons["gizmo/b.png"]
    assert result.kept == 4 * 2
    mapping = tmp_path / "map.csv"
    mapping.write_text("label,imagenet_index\ngizmo,409 410\n")
    result = run_build(lib, tmp_path / "ds2", label_map=mapping)
    assert result.kept == 5 * 2
    with open(tmp_path / "ds2" / "label_map.csv") as f:
        assert {"label": "gizmo", "imagenet_index": "409 410"} in list(csv.DictReader(f))


def invoke(*args: str):
    return CliRunner().invoke(main, ["build", *args])


def test_empty_folders_fail_before_any_work(tmp_path) -> None:
    (tmp_path / "fg").mkdir()
    (tmp_path / "bg").mkdir()
    out = tmp_path / "ds"
    res = invoke("--subset", "location", "--foregrounds", str(tmp_path / "fg"), "--backgrounds",
                 str(tmp_path / "bg"), "--out", str(out))
    assert res.exit_code != 0 and res.output.strip().splitlines() == [
        f"Error: --foregrounds {tmp_path / 'fg'}: no usable foreground (expected "
        "DIR/<label>/<file>.png); it holds no class folder with a .png cut-out"]  # not cut at '; '
    assert not out.exists()
    res = invoke("--subset", "location", "--backgrounds", str(tmp_path / "bg"), "--out", str(out))
    assert res.exit_code != 0 and res.output.strip().splitlines() == [
        f"Error: --backgrounds {tmp_path / 'bg'}: no usable background image (expected a flat "
        "folder of jpg/png/webp photos); it holds no image file"]
    assert not out.exists()
    res = invoke("--subset", "location", "--foregrounds", str(tmp_path / "missing"), "--out", str(out))
    assert res.exit_code != 0 and "folder does not exist" in res.output and "missing" in res.output


def test_out_of_range_factor_values_fail_before_any_work(lib, tmp_path) -> None:
    for grid_text, message in [
        ("area = [0.2, -0.1]", "factor 'area': value -0.1 is outside"),
        ("location = [[0.5, 1.5]]", "factor 'location': value [0.5, 1.5] is outside"),
        ("rotation = [720]", "factor 'rotation': value 720 is outside"),
        ("resolution = [[8, 8]]", "factor 'resolution'"),
        ("area = ['big']", "factor 'area': value 'big' is not a number"),
        ("blur = [1]", "unknown factor 'blur'"),
        ("area = [0.2, 0.2]", "lists a value twice"),
        ("location = { x = [0.5] }", "factor 'location': give both x and y (found only ['x'])"),
    ]:
        cfg = tmp_path / "grid.toml"
        cfg.write_text(f"[grid]\n{grid_text}\n")
        out = tmp_path / "ds"
        res = invoke("--config", str(cfg), "--out", str(out), "--foregrounds", str(lib[0]),
                     "--backgrounds", str(lib[1]))
        assert res.exit_code != 0 and message in res.output, (grid_text, res.output)
        assert str(cfg) in res.output
        assert not out.exists()


def test_a_string_for_a_list_is_refused_from_python_as_from_toml() -> None:
    """Grid(area="big") once read 'b', 'i', 'g' as three values ("value 'b' is not a number")."""
    for kwargs, name in [({"area": "big"}, "area"), ({"rotation": "45"}, "rotation"),
                         ({"object_greyscale": "1"}, "object_greyscale")]:
        with pytest.raises(ConfigError) as info:
            Grid(**kwargs)
        value = next(iter(kwargs.values()))
        assert str(info.value) == (f"factor {name!r}: expected a list of values or a range table, "
                                   f"got {value!r}")


def test_bad_options_fail_before_any_work(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    common = ["--foregrounds", str(lib[0]), "--backgrounds", str(lib[1]), "--out", str(out)]
    for args, message in [
        (["--subset", "location", "--bgs-per-fg", "9"], "--bgs-per-fg 9: is larger than the 3"),
        (["--subset", "location", "--min-pct-inside", "2"], "--min-pct-inside 2.0: must be in [0, 1]"),
        (["--subset", "location", "--quality", "0"], "--quality 0"),
        (["--subset", "location", "--shard", "3/2"], "--shard 3/2"),
        (["--subset", "location", "--resolution", "big"], "--resolution big: write N or WxH"),
        ([], "--subset"),
    ]:
        res = invoke(*args, *common)
        assert res.exit_code != 0 and message in res.output, (args, res.output)
        assert not out.exists()


def test_unwritable_output(lib, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    res = invoke("--subset", "location", "--out", str(blocker / "ds"), "--foregrounds", str(lib[0]),
                 "--backgrounds", str(lib[1]))
    assert res.exit_code == 1 and res.output == (f"Error: --out {blocker / 'ds'}: {blocker} is a file, "
                                                 "not a folder; give a path inside a folder\n")
    assert blocker.read_text() == "a file where a folder should be"


def test_non_empty_foreign_output_folder_is_refused(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):
        run_build(lib, out)
    assert (out / "thesis.tex").read_text() == "precious"


def test_an_unknown_factor_says_how_to_register_a_plugin(lib, tmp_path) -> None:
    """A grid naming a factor no module registered: the message names --plugin (and
    load_plugin from Python), the command line and the library alike."""
    cfg = tmp_path / "grid.toml"
    cfg.write_text("[grid]\nwobble = [1, 2]\n")
    res = invoke("--config", str(cfg), "--out", str(tmp_path / "ds"), "--foregrounds", str(lib[0]),
                 "--backgrounds", str(lib[1]))
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert "unknown factor 'wobble'" in res.output and "--plugin MODULE" in res.output
    with pytest.raises(ConfigError, match=r"unknown factor 'wobble'.*load_plugin\('MODULE'\)"):
        Grid(wobble=[1, 2])
    assert not (tmp_path / "ds").exists()


def test_a_plugin_that_is_a_plain_folder_is_refused(tmp_path, monkeypatch) -> None:
    """A folder without __init__.py imports as an empty namespace package: it registered
    nothing and said nothing; now one line, from the command line and from Python."""
    from siscore.generate.interventions import load_plugin

    (tmp_path / "myplugins").mkdir()
    (tmp_path / "myplugins" / "wobble.py").write_text("raise SystemExit('must not run')\n")
    monkeypatch.chdir(tmp_path)
    expected = ("--plugin myplugins: is a folder without __init__.py, so none of its code runs; "
                "give the path of the .py file that registers the interventions")
    res = CliRunner().invoke(main, ["build", "--subset", "size", "--plugin", "myplugins",
                                    "--out", str(tmp_path / "ds")])
    assert res.exit_code != 0 and res.output.strip().splitlines()[-1] == f"Error: {expected}"
    assert not (tmp_path / "ds").exists()
    with pytest.raises(ConfigError, match="is a folder without __init__.py"):
        load_plugin("myplugins")
