"""Issue 11, the generator's share: bad asset folders, bad configs, huge grids, a full disk,
two builds at once, huge images, plugins given as files, `info` on --config builds,
parameter names in API errors and progress bars in logs. Each test failed before its fix."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore import ConfigError, Grid, build
from siscore.cli import main
from siscore.errors import ParamError
from siscore.generate.write import OutputDir
from tests import test_bad_inputs
from tests.test_build import library  # noqa: F401 - fixture re-used

REPO = Path(__file__).resolve().parents[1]
GRID = test_bad_inputs.GRID
GRID4 = Grid(area=[0.1, 0.15, 0.2, 0.25], resolution=[(64, 64)])  # 2 tasks: a shard leaves work
lib = test_bad_inputs.lib  # the writable copy of the small library (a fixture)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line_error(res) -> str:
    """The CLI's error: exactly one line, no traceback."""
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    errors = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in res.output, res.output  # click may add usage
    return errors[0]


def run_siscore(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # as the `siscore` console script runs: the current folder is not on sys.path
    code = "import sys; sys.path.remove(''); from siscore.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)


# -- 5: symbolic link loops, broken links, folders named like images -------------------------
def test_link_loops_broken_links_and_folders_named_like_images_are_skipped(lib, tmp_path) -> None:
    fg, bg = lib
    label = sorted(p.name for p in fg.iterdir())[0]
    os.symlink("loop_b", fg / "loop_a")  # a class folder that is a link loop
    os.symlink("loop_a", fg / "loop_b")
    os.symlink("self.png", fg / label / "self.png")  # a link to itself
    os.symlink("nowhere.png", fg / label / "dangling.png")
    (fg / label / "folder.png").mkdir()
    os.symlink("loop.jpg", bg / "loop.jpg")
    os.symlink("gone.jpg", bg / "dangling.jpg")
    (bg / "folder.jpg").mkdir()
    out = tmp_path / "ds"
    res = invoke("build", "--config", str(_config(tmp_path)), "--out", str(out),
                 "--foregrounds", str(fg), "--backgrounds", str(bg), "-q")
    assert res.exit_code == 0, res.output
    info = json.loads((out / "dataset.json").read_text())
    reasons = {s["path"]: s["reason"] for s in info["skipped_assets"]}
    assert reasons["loop_a"] == reasons["loop_b"] == "symbolic link loop"
    assert reasons[f"{label}/self.png"] == "symbolic link loop"
    assert reasons[f"{label}/dangling.png"].startswith("broken symbolic link")
    assert reasons[f"{label}/folder.png"].startswith("a folder, not an image file")
    assert reasons["loop.jpg"] == "symbolic link loop"
    assert reasons["dangling.jpg"].startswith("broken symbolic link")
    assert reasons["folder.jpg"].startswith("a folder, not an image file")
    assert len(info["spec"]["backgrounds"]) == 3 and info["counts"]["images"] == 4 * 2  # nothing lost
    result = build(GRID, tmp_path / "ds2", foregrounds=fg, backgrounds=bg, progress=False)
    assert "symbolic link loop" in result.summary() and "dangling.png: broken symbolic link" in result.summary()


def test_asset_folder_that_is_a_link_loop(lib, tmp_path) -> None:
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    line = one_line_error(invoke("build", "--subset", "size", "--out", str(tmp_path / "ds"),
                                 "--foregrounds", str(tmp_path / "loop1"), "--backgrounds", str(lib[1])))
    assert line == f"Error: --foregrounds {tmp_path / 'loop1'}: symbolic link loop"


# -- 6: [build] values of the wrong type, empty [grid] ---------------------------------------
def _config(tmp_path: Path, text: str = '[grid]\narea = [0.2]\n', name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ('[build]\nseed = "abc"\n', "[build] seed = 'abc' must be an integer"),
    ("[build]\nbgs_per_fg = 1.5\n", "[build] bgs_per_fg = 1.5 must be an integer"),
    ("[build]\nseed = true\n", "[build] seed = True must be an integer"),
    ('[build]\nmin_pct_inside = "most"\n', "[build] min_pct_inside = 'most' must be a number"),
    ("build = 3\n", "[build] must be a table of options"),
    ("[build]\njobs = 2\n", "unknown [build] option 'jobs'"),
])
def test_build_options_of_the_wrong_type(lib, tmp_path, text, message) -> None:
    config = _config(tmp_path, "[grid]\narea = [0.2]\n" + text if "[build]" in text
                     else text + "[grid]\narea = [0.2]\n")
    line = one_line_error(invoke("build", "--config", str(config), "--out", str(tmp_path / "ds"),
                                 "--foregrounds", str(lib[0]), "--backgrounds", str(lib[1])))
    assert line.startswith(f"Error: --config {config}: ") and message in line
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("[grid]\n", "[grid] is empty; name at least one factor"),
    ("grid = 5\n", "[grid] must be a table"),
    ('[grid]\narea = {start = "a", stop = 1, step = 0.1}\n', "range start 'a' is not a finite number"),
    ("[grid]\narea = {start = 0.1, stop = 1, step = 0}\n", "range step must be positive"),
])
def test_empty_or_malformed_grid_is_refused(lib, tmp_path, text, message) -> None:
    config = _config(tmp_path, text)
    line = one_line_error(invoke("build", "--config", str(config), "--dry-run",
                                 "--foregrounds", str(lib[0]), "--backgrounds", str(lib[1])))
    assert line.startswith(f"Error: --config {config}: ") and message in line


# -- 7: huge grids are counted, never listed, and refused above --max-images ----------------
BILLION = "[grid]\nlocation = { x = { start = 0, stop = 0.99999, step = 0.00001 }, " \
          "y = { start = 0, stop = 0.9999, step = 0.0001 } }\n"  # 100,000 x 10,000 cells


def test_a_billion_cell_grid_is_counted_and_refused_without_being_listed(lib, tmp_path) -> None:
    config = _config(tmp_path, BILLION)
    for extra in (["--dry-run"], ["--out", str(tmp_path / "ds")]):
        line = one_line_error(invoke("build", "--config", str(config), "--foregrounds", str(lib[0]),
                                     "--backgrounds", str(lib[1]), *extra))
        assert line == (f"Error: --max-images 10000000: {config}: the grid has 1,000,000,000 cells "
                        "(images per foreground/background pair), more than this limit; raise it "
                        "to build such a grid")
    assert not (tmp_path / "ds").exists()
    from siscore.generate.factors import load_config
    with pytest.raises(ConfigError, match=r"^max_images=10000000: .*1,000,000,000 cells"):
        load_config(config)


def test_max_images_counts_the_asset_pairs_too(lib, tmp_path) -> None:
    grid = Grid(area=[0.1, 0.2], resolution=[(64, 64)])  # 2 cells x 4 foregrounds x 2 backgrounds
    with pytest.raises(ConfigError, match=r"^max_images=15: the plan has 16 images \(2 grid cells x 8 "):
        build(grid, tmp_path / "ds", foregrounds=lib[0], backgrounds=lib[1], max_images=15)
    assert not (tmp_path / "ds").exists()
    line = one_line_error(invoke("build", "--config", str(_config(tmp_path, "[grid]\narea = [0.1, 0.2]\n")),
                                 "--resolution", "64", "--max-images", "15", "--out", str(tmp_path / "ds"),
                                 "--foregrounds", str(lib[0]), "--backgrounds", str(lib[1])))
    assert line.startswith("Error: --max-images 15: the plan has 16 images")
    assert build(grid, tmp_path / "ds", foregrounds=lib[0], backgrounds=lib[1], max_images=16,
                 progress=False).complete


def test_dry_run_counts_per_geometry_as_the_build_does(lib, tmp_path) -> None:
    grid = Grid(location=[(0.0, 0.5), (0.5, 0.5), (0.9, 0.1)], area=[0.1, 0.6], rotation=[0, 45],
                resolution=[(64, 64), (96, 80)], object_greyscale=[0, 1])
    kw = dict(foregrounds=lib[0], backgrounds=lib[1], min_pct_inside=0.9, progress=False)
    dry = build(grid, tmp_path / "ds", dry_run=True, **kw)
    real = build(grid, tmp_path / "ds", **kw)
    assert (dry.planned, dry.kept, dry.per_class) == (real.planned, real.kept, real.per_class)
    assert 0 < dry.kept < dry.planned == 3 * 2 * 2 * 2 * 2 * 8


# -- 8: a full disk --------------------------------------------------------------------------
_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from siscore.cli import main
main()
"""


def _limited_build(limit: int, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", _LIMITED.format(limit=limit), "build", *args],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("limit", [500, 4000])  # no image fits / images fit, metadata.csv does not
def test_full_disk_gives_one_error_and_nothing_partial(lib, tmp_path, limit) -> None:
    out = tmp_path / "ds"
    args = ["--config", str(_config(tmp_path, "[grid]\nlocation = {x = [0.3, 0.5, 0.7], y = [0.3, 0.5, 0.7]}\n"
                                              "area = [0.1, 0.2]\n")),
            "--resolution", "64", "--out", str(out), "--foregrounds", str(lib[0]),
            "--backgrounds", str(lib[1]), "-q"]
    res = _limited_build(limit, *args)
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip() == (f"Error: --out {out}: cannot write there (File too large); free some "
                                  "space (or fix its permissions) and run the same command again: it "
                                  "resumes, nothing partial was kept")
    finals = [p for p in out.rglob("*") if p.is_file() and ".siscore" not in p.parts]
    assert not [p for p in finals if p.suffix != ".jpg"]  # no metadata.csv, no dataset.json, no .tmp
    assert not list((out / ".siscore" / "tmp").iterdir())
    if limit == 4000:
        assert len(finals) == 144  # every image done, atomically; only the merge failed
    done = run_siscore("build", *args)
    assert done.returncode == 0 and (out / "metadata.csv").is_file() and not (out / ".siscore").exists()


# -- 11: two builds into one folder ----------------------------------------------------------
def test_a_second_build_into_the_same_folder_is_refused_naming_the_first(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    build(GRID4, out, foregrounds=lib[0], backgrounds=lib[1], shard="0/2", progress=False)
    target = OutputDir(out)
    with target.lock():  # this process now plays the first build
        (target.state / "locks" / "build.lock.pid").write_text(f"4242 {socket.gethostname()}\n")
        with pytest.raises(ConfigError, match=r"^out='.*ds': another build \(process 4242\) is writing "):
            build(GRID4, out, foregrounds=lib[0], backgrounds=lib[1], progress=False)
        grid4 = _config(tmp_path, "[grid]\narea = [0.1, 0.15, 0.2, 0.25]\n")  # the same spec
        line = one_line_error(invoke("build", "--config", str(grid4), "--resolution", "64",
                                     "--out", str(out), "--foregrounds", str(lib[0]),
                                     "--backgrounds", str(lib[1]), "-q"))
        assert line.startswith(f"Error: --out {out}: another build (process 4242)")
    assert not (out / "metadata.csv").exists() and (out / ".siscore" / "parts").is_dir()  # untouched


def test_real_concurrent_build_is_refused_with_its_pid(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from siscore.generate.write import OutputDir
            target = OutputDir({str(out)!r})
            with target.lock():
                print("locked", flush=True)
                sys.stdin.readline()
        """)], env=dict(os.environ, PYTHONPATH=str(REPO)), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = run_siscore("build", "--config", str(_config(tmp_path)), "--out", str(out),
                          "--foregrounds", str(lib[0]), "--backgrounds", str(lib[1]))
        assert res.returncode == 1
        assert res.stderr.strip().startswith(f"Error: --out {out}: another build (process {holder.pid}) "
                                             "is writing to this folder")
    finally:
        holder.communicate("\n", timeout=30)
    assert build(GRID, out, foregrounds=lib[0], backgrounds=lib[1], progress=False).complete  # freed


def test_stale_temporary_files_of_dead_builds_are_removed(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    build(GRID4, out, foregrounds=lib[0], backgrounds=lib[1], shard="1/2", progress=False)
    for name in (".metadata.csv.tmp", ".metadata.csv.99999.tmp", ".dataset.json.99999.tmp"):
        (out / name).write_text("half a file")
    (out / ".siscore" / "tmp" / "99999-3.jpg.tmp").write_bytes(b"half")
    assert build(GRID4, out, foregrounds=lib[0], backgrounds=lib[1], progress=False).complete
    assert not list(out.glob(".*.tmp")) and not (out / ".siscore").exists()


# -- 12: huge images are scanned from their headers ------------------------------------------
def _big_png(path: Path, side: int) -> None:
    """A side x side RGBA PNG written row by row (a few MB on disk, never in memory)."""
    row = b"\x00" + bytes([90, 140, 200, 255]) * side
    comp = zlib.compressobj(1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)))
        data = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
        f.write(chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_a_14000_pixel_png_is_scanned_without_decoding_it(tmp_path) -> None:
    (tmp_path / "bg").mkdir()
    (tmp_path / "fg" / "cup").mkdir(parents=True)
    _big_png(tmp_path / "bg" / "huge.png", 14000)
    shutil.copy(tmp_path / "bg" / "huge.png", tmp_path / "fg" / "cup" / "huge.png")
    data = (tmp_path / "bg" / "huge.png").read_bytes()
    (tmp_path / "bg" / "cut.png").write_bytes(data[: len(data) // 2])  # truncated: still caught
    script = textwrap.dedent(f"""
        from siscore.generate.assets import scan_backgrounds, scan_foregrounds
        bgs, skipped = scan_backgrounds({str(tmp_path / 'bg')!r})
        fgs, _ = scan_foregrounds({str(tmp_path / 'fg')!r}, {{"cup": (968,)}})
        print([b.size for b in bgs], [f.size for f in fgs], [s.path[-7:] for s in skipped])
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so it would report the
        # peak of the (xdist) process that started this one
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        print(int(hwm.split()[1]) // 1024)
    """)
    res = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=120)
    sizes, peak_mb = res.stdout.strip().splitlines()
    assert sizes == "[(14000, 14000)] [(14000, 14000)] ['cut.png']", res.stderr
    assert int(peak_mb) < 400  # one decoded copy alone is 784 MB


# -- 14: --plugin as a file path or from the current folder ---------------------------------
PLUGIN = '''
import numpy as np
from siscore import intervention

@intervention("{name}", stage="composite", value_type=int)
def tint(image, value, rng):
    """Add a constant to the red channel."""
    out = image.copy()
    out[..., 0] = np.clip(out[..., 0].astype(int) + value, 0, 255)
    return out
'''


def test_plugin_as_a_file_path_and_from_the_current_folder(lib, tmp_path) -> None:
    (tmp_path / "tint_grid.py").write_text(PLUGIN.format(name="tint_file"))
    (tmp_path / "tint_here.py").write_text(PLUGIN.format(name="tint_here"))
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('half-written plugin')\n")
    listed = run_siscore("interventions", "--plugin", "./tint_grid.py", "--plugin", "tint_here",
                         cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "tint_file" in listed.stdout and "tint_here" in listed.stdout
    config = _config(tmp_path, "[grid]\narea = [0.2]\ntint_file = [0, 60]\nresolution = [64]\n")
    built = run_siscore("build", "--plugin", str(tmp_path / "tint_grid.py"), "--config", str(config),
                        "--out", str(tmp_path / "ds"), "--foregrounds", str(lib[0]),
                        "--backgrounds", str(lib[1]), "--jobs", "2", "-q")
    assert built.returncode == 0, built.stderr
    assert "tint_file" in (tmp_path / "ds" / "metadata.csv").read_text().splitlines()[0]
    for plugin, message in [("./missing.py", "--plugin ./missing.py: no such Python file"),
                            ("broken_plugin", "--plugin broken_plugin: importing it failed: "
                                              "RuntimeError: half-written plugin")]:
        res = run_siscore("interventions", "--plugin", plugin, cwd=tmp_path)
        assert res.returncode != 0 and res.stderr.strip() == f"Error: {message}", res.stderr


# -- 15, 20: `siscore info` on --config builds, and --dataset --------------------------------
def test_info_takes_factors_from_the_spec_not_from_columns(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    config = _config(tmp_path, "[grid]\nlocation = {x = [0.25, 0.75], y = [0.5]}\n"
                               'blend = ["alpha", "poisson"]\nresolution = [64]\n')
    assert invoke("build", "--config", str(config), "--out", str(out), "--foregrounds", str(lib[0]),
                  "--backgrounds", str(lib[1]), "-q").exit_code == 0
    for args in (["info", str(out)], ["info", "--dataset", str(out)]):
        res = invoke(*args)
        assert res.exit_code == 0, res.output
        head = res.output.splitlines()[0]
        assert head == f"{out}: 32 images, 3 classes"  # no "subset location": dataset.json has none
        assert "x_coord (2 values)" in res.output and "blend (2 values): alpha: 16, poisson: 16" in res.output
        assert "blend_fallback" not in res.output  # a record column, never a factor
        assert "y_coord" in res.output and "area" in res.output


def test_info_without_a_dataset_or_with_two(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert "give the dataset folder" in one_line_error(invoke("info"))
    assert "two dataset folders" in one_line_error(invoke("info", str(tmp_path / "a"), "--dataset",
                                                          str(tmp_path / "b")))


# -- 22: the API names its parameters, the CLI its options -----------------------------------
def test_api_errors_name_parameters_and_cli_errors_name_options(lib, tmp_path) -> None:
    out = tmp_path / "ds"
    cases = [
        (dict(foregrounds="fg-missing"), "foregrounds='fg-missing': folder does not exist",
         ["--foregrounds", "fg-missing"], "--foregrounds fg-missing: folder does not exist"),
        (dict(backgrounds=tmp_path / "nope"), f"backgrounds='{tmp_path / 'nope'}': folder does not exist",
         ["--backgrounds", str(tmp_path / "nope")], f"--backgrounds {tmp_path / 'nope'}: folder does not exist"),
        (dict(jobs=0), "jobs=0: must be at least 1", ["--jobs", "0"], "--jobs 0: must be at least 1"),
        (dict(bgs_per_fg=9), "bgs_per_fg=9: is larger than the 3 usable backgrounds",
         ["--bgs-per-fg", "9"], "--bgs-per-fg 9: is larger than the 3 usable backgrounds"),
        (dict(seed="abc"), "seed='abc': must be an integer", None, None),
        (dict(fmt="gif"), "fmt='gif': choose jpg, png or webdataset", None, None),
        (dict(crop="middle"), "crop='middle': choose one of", None, None),
    ]
    for kwargs, api_message, cli_args, cli_message in cases:
        opts = dict(foregrounds=lib[0], backgrounds=lib[1], progress=False) | kwargs
        with pytest.raises(ParamError) as exc:  # ConfigError, or AssetError for the folders
            build(GRID, out, **opts)
        assert str(exc.value).startswith(api_message)
        if cli_args:
            args = ["--foregrounds", str(lib[0]), "--backgrounds", str(lib[1]), *cli_args]
            line = one_line_error(invoke("build", "--subset", "size", "--out", str(out), *args))
            assert line.startswith(f"Error: {cli_message}")
    assert not out.exists()


# -- 23: no progress-bar redraws in logs -----------------------------------------------------
def test_progress_bars_are_silent_when_stderr_is_not_a_terminal(lib, tmp_path) -> None:
    res = run_siscore("build", "--config", str(_config(tmp_path)), "--resolution", "64",
                      "--out", str(tmp_path / "ds"), "--foregrounds", str(lib[0]),
                      "--backgrounds", str(lib[1]))
    assert res.returncode == 0 and "\r" not in res.stderr and "rendering" not in res.stderr
    assert "dataset complete" in res.stdout

    from siscore.utils.progress import progress_bar, track
    assert list(track(range(3), desc="x")) == [0, 1, 2]
    with progress_bar(3, "x") as bar:
        assert bar.disable  # pytest's captured stderr is not a terminal
