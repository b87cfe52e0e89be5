"""``siscore build --shard I/N``: any number of processes build into one folder at once, each
holding only its shard's lock; the last to finish (or a run without ``--shard``) merges, and
the folder is byte-identical to a one-process build. A run without ``--shard`` and a second
process on the same shard are refused with one line naming the process that holds the lock;
a lock of a killed process is no obstacle (an OS lock: it went with the process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from siscore import ConfigError, Grid, build
from siscore.generate.factors import load_config
from tests.test_build import library, tree_digest  # noqa: F401 - fixture re-used

REPO = Path(__file__).resolve().parents[1]
GRID_TOML = """
[grid]
location = { x = [0.0, 0.25, 0.5, 0.75, 1.0], y = [0.0, 0.5, 1.0] }
area = [0.2]
resolution = [[64, 64]]
"""
GRID4 = Grid(area=[0.1, 0.15, 0.2, 0.25], resolution=[(64, 64)])
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def _siscore(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "siscore", *args], env=ENV, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("fmt", ["jpg", "webdataset"])
def test_shards_build_at_once_into_one_folder_as_one_process_does(library, tmp_path, fmt) -> None:  # noqa: F811
    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(GRID_TOML)
    reference = tmp_path / "reference"
    build(load_config(cfg)[0], reference, foregrounds=fg, backgrounds=bg, fmt=fmt, progress=False)
    out = tmp_path / "ds"
    common = ["build", "--config", str(cfg), "--foregrounds", str(fg), "--backgrounds", str(bg),
              "--format", fmt, "--out", str(out), "--jobs", "1", "-q"]
    procs = [_siscore(*common, "--shard", f"{i}/4") for i in range(4)]  # all four at once
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    # the last shard to finish merged: the dataset is complete, with no state left
    assert (out / "dataset.json").is_file() and not (out / ".siscore").exists()
    again = build(load_config(cfg)[0], out, foregrounds=fg, backgrounds=bg, fmt=fmt, progress=False)
    assert again.complete and again.written == 0 and again.reused == again.kept
    assert tree_digest(out) == tree_digest(reference)


def _holder(out: Path, shard: str) -> subprocess.Popen:
    """A process holding the locks of ``shard`` ('I/N', or '' for a build without one) on
    ``out`` until its stdin is closed, as a running build does."""
    part = f"({shard.replace('/', ', ')})" if shard else "None"
    code = textwrap.dedent(f"""
        import sys
        from siscore.generate.write import OutputDir
        with OutputDir({str(out)!r}).lock({part}) as held:
            held.started()
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siscore", *args], env=ENV, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_a_running_shard_refuses_a_merge_run_and_its_twin_but_not_another_shard(library, tmp_path) -> None:  # noqa: F811
    fg, bg = library
    out = tmp_path / "ds"
    cfg = tmp_path / "grid.toml"
    cfg.write_text("[grid]\narea = [0.1, 0.15, 0.2, 0.25]\n")
    args = ["build", "--config", str(cfg), "--resolution", "64", "--foregrounds", str(fg),
            "--backgrounds", str(bg), "--out", str(out), "-q"]
    holder = _holder(out, "0/2")
    try:
        with pytest.raises(ConfigError) as info:
            build(GRID4, out, foregrounds=fg, backgrounds=bg, progress=False)
        assert str(info.value) == (
            f"out={str(out)!r}: shard 0/2 is still being built into this folder (process "
            f"{holder.pid}); wait for the shards to finish (or stop them), then run again to merge")
        res = _cli(*args)
        assert res.returncode == 1 and res.stderr.strip().splitlines() == [
            f"Error: --out {out}: shard 0/2 is still being built into this folder (process "
            f"{holder.pid}); wait for the shards to finish (or stop them), then run again to merge"]
        res = _cli(*args, "--shard", "0/2")
        assert res.returncode == 1 and res.stderr.strip().splitlines() == [
            f"Error: --out {out}: shard 0/2 is already being built by process {holder.pid}; each "
            "shard runs once at a time"]
        other = build(GRID4, out, foregrounds=fg, backgrounds=bg, shard="1/2", progress=False)
        assert other.written > 0 and not other.complete  # shard 0 has not rendered yet
    finally:
        holder.communicate("\n", timeout=30)
    done = build(GRID4, out, foregrounds=fg, backgrounds=bg, progress=False)
    assert done.complete and done.reused == other.written and not (out / ".siscore").exists()


def test_a_merge_run_refuses_shards_and_a_killed_holder_leaves_no_stale_lock(library, tmp_path) -> None:  # noqa: F811
    fg, bg = library
    out = tmp_path / "ds"
    holder = _holder(out, "")  # a build without --shard
    try:
        with pytest.raises(ConfigError, match=rf"another build \(process {holder.pid}\) is writing to "
                                              "this folder"):
            build(GRID4, out, foregrounds=fg, backgrounds=bg, shard="1/2", progress=False)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # killed: its OS locks go with it
        holder.wait()
    assert (out / ".siscore" / "locks" / "build.lock").exists()  # the file stays, unlocked
    assert build(GRID4, out, foregrounds=fg, backgrounds=bg, progress=False).complete
    assert not (out / ".siscore").exists()
