"""The parallel layer on real engines: a Dask LocalCluster of worker processes, loky, joblib.

Every build here is compared byte for byte with a one-process build of the same grid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore import Grid, build
from siscore.cli import main
from siscore.generate.factors import ConfigError
from tests.test_build import library, tree_digest  # noqa: F401 - fixture re-used

distributed = pytest.importorskip("distributed")

SMALL = Grid(location=[(0.2, 0.3), (0.7, 0.6), (0.5, 0.5)], area=[0.1, 0.3], resolution=[(96, 96)])
# ~970 images of 200 px: long enough to kill something in the middle
MEDIUM_TOML = """
[grid]
location = { x = { start = 0.0, stop = 1.0, step = 0.1 }, y = { start = 0.0, stop = 1.0, step = 0.1 } }
area = [0.2]
resolution = [[200, 200]]
"""


@pytest.fixture(scope="module")
def client():
    """A real Dask cluster: 2 single-threaded worker processes with nannies."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _reference(tmp_path_factory, grid, fg, bg, name="ref") -> dict[str, str]:
    ref = tmp_path_factory.mktemp(name) / "ds"
    build(grid, ref, foregrounds=fg, backgrounds=bg, jobs=1, progress=False)
    return tree_digest(ref)


def test_dask_cluster_build_is_byte_identical(library, client, tmp_path, tmp_path_factory) -> None:  # noqa: F811
    fg, bg = library
    result = build(SMALL, tmp_path / "dask", foregrounds=fg, backgrounds=bg, scheduler=client,
                   progress=False)
    assert result.complete and result.written == result.kept
    assert tree_digest(tmp_path / "dask") == _reference(tmp_path_factory, SMALL, fg, bg)


def test_cli_local_cluster_equals_local_processes(library, tmp_path) -> None:  # noqa: F811
    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text('[grid]\nlocation = [[0.2, 0.3], [0.7, 0.6]]\narea = [0.1, 0.3]\n'
                   'resolution = [[96, 96]]\n')
    digests = []
    for name, extra in (("local", ["--jobs", "2"]), ("cluster", ["--scheduler", "local:2"]),
                        ("threads", ["--scheduler", "joblib:threading", "--jobs", "2"])):
        res = CliRunner().invoke(main, ["build", "--config", str(cfg), "--out", str(tmp_path / name),
                                        "--foregrounds", str(fg), "--backgrounds", str(bg), "-q",
                                        *extra])
        assert res.exit_code == 0, res.output
        digests.append(tree_digest(tmp_path / name))
    assert digests[0] == digests[1] == digests[2]


def _build_until_images(grid, out: Path, fg: Path, bg: Path, n: int = 100, **options):
    """Start ``build`` in a thread; return (thread, outcome) once ``n`` images are on disk
    (or after 60 s). ``outcome`` gets the result, or the exception."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = build(grid, out, foregrounds=fg, backgrounds=bg, progress=False, **options)
        except BaseException as exc:  # reported by the caller's assertion
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for _ in out.glob("*/*.jpg")) < n:
        time.sleep(0.01)
    return thread, outcome


def _worker_pids(client) -> list[int]:
    return list(client.run(os.getpid).values())


def test_worker_killed_mid_build_is_survived(library, client, tmp_path, tmp_path_factory) -> None:  # noqa: F811
    from siscore.generate.factors import load_config

    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(MEDIUM_TOML)
    grid = load_config(cfg)[0]
    out = tmp_path / "ds"
    thread, outcome = _build_until_images(grid, out, fg, bg, scheduler=client)
    victim = _worker_pids(client)[0]
    assert not (out / "metadata.csv").exists(), "the build finished before a worker could be killed"
    os.kill(victim, signal.SIGKILL)
    thread.join(300)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result.complete and 0 < result.written + result.reused == result.kept
    assert victim not in _worker_pids(client)  # the worker really died (its nanny replaced it)
    assert tree_digest(out) == _reference(tmp_path_factory, grid, fg, bg, "ref_medium")


def test_killed_client_resumes_to_identical_bytes(library, tmp_path, tmp_path_factory) -> None:  # noqa: F811
    from siscore.generate.factors import load_config

    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(MEDIUM_TOML)
    out = tmp_path / "ds"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siscore", "build", "--config", str(cfg), "--out", str(out),
         "--foregrounds", str(fg), "--backgrounds", str(bg), "--scheduler", "local:2", "-q"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None \
            and sum(1 for _ in out.glob("*/*.jpg")) < 100:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the client, its local cluster and its workers
    proc.wait()
    assert not (out / "metadata.csv").exists(), "the build finished before it could be killed"
    grid = load_config(cfg)[0]
    resumed = build(grid, out, foregrounds=fg, backgrounds=bg, jobs=2, progress=False)
    assert resumed.complete and resumed.reused > 0
    assert tree_digest(out) == _reference(tmp_path_factory, grid, fg, bg, "ref_medium2")


def test_worker_that_cannot_import_an_intervention(library, client, tmp_path, monkeypatch) -> None:  # noqa: F811
    """The module is importable here but not on the (already started) Dask workers."""
    (tmp_path / "only_here.py").write_text(textwrap.dedent('''
        import os

        import siscore

        if "ONLY_HERE" not in os.environ:  # workers get the caller's sys.path: fail otherwise
            raise ImportError("only_here is not installed on this machine")

        @siscore.intervention("only_here_tint", stage="composite", value_type=int)
        def tint(image, value, rng):
            return image
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ONLY_HERE", "1")  # the workers, started before, lack it
    import importlib

    importlib.import_module("only_here")
    grid = Grid(location=[(0.5, 0.5)], area=[0.2], resolution=[(64, 64)], only_here_tint=[0, 1])
    with pytest.raises(ConfigError, match="cannot load the interventions.*only_here") as err:
        build(grid, tmp_path / "ds", foregrounds=library[0], backgrounds=library[1],
              scheduler=client, progress=False)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("tcp://127.0.0.1:9", "cannot reach the Dask scheduler"),
    ("nowhere", "give a Dask scheduler address"),
    ("local:0", "local:N with N >= 1"),
    ("joblib:nope", "joblib has no backend 'nope'"),
])
def test_bad_scheduler_is_one_line_and_writes_nothing(library, tmp_path, monkeypatch, value,  # noqa: F811
                                                     expected) -> None:
    monkeypatch.setattr("siscore.utils.parallel.CONNECT_TIMEOUT", "1s")
    out = tmp_path / "ds"
    res = CliRunner().invoke(main, ["build", "--subset", "location", "--out", str(out),
                                    "--foregrounds", str(library[0]), "--backgrounds", str(library[1]),
                                    "--scheduler", value, "-q"])
    assert res.exit_code != 0
    assert "--scheduler" in res.output and value in res.output and expected in res.output, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()


SCRIPT = """
import siscore
from siscore import Grid
grid = Grid(location=[(0.5, 0.5), (0.2, 0.2)], area=[0.2], resolution=[(64, 64)])
r = siscore.build(grid, {out!r}, jobs=2, progress=False{extra})
print("complete", r.complete)
"""


def test_script_without_main_guard_builds_with_local_processes(tmp_path) -> None:
    """Issue 11 item 13: it used to hang forever (every worker re-ran the script)."""
    script = tmp_path / "noguard.py"
    script.write_text(SCRIPT.format(out=str(tmp_path / "ds"), extra=""))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "complete True" in done.stdout, done.stderr[-2000:]


def test_script_without_main_guard_is_refused_for_a_local_cluster(tmp_path) -> None:
    script = tmp_path / "noguard.py"
    script.write_text(SCRIPT.format(out=str(tmp_path / "ds"), extra=", scheduler='local:2'"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert 'if __name__ == "__main__":' in last and "noguard.py:5" in last, done.stderr[-2000:]
    assert done.stderr.count("Traceback") == 1  # one error, not one per worker
    assert not (tmp_path / "ds").exists()
    guarded = tmp_path / "guarded.py"
    body = SCRIPT.format(out=str(tmp_path / "ds2"), extra=", scheduler='local:2'").strip().splitlines()
    guarded.write_text("\n".join(body[:3] + ['if __name__ == "__main__":']
                                 + ["    " + line for line in body[3:]]) + "\n")
    done = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "complete True" in done.stdout, done.stderr[-2000:]


def test_extract_on_a_dask_cluster_equals_one_process(client, tmp_path) -> None:
    from siscore.extract import extract_openimages
    from siscore.utils.parallel import scheduling
    from tests.extract_fixtures import build_openimages, cached_kit
    from tests.extract_fixtures import tree_digest as extract_digest

    fx = build_openimages(tmp_path / "oi", cached_kit())

    def run(out: Path, **kw) -> dict[str, str]:
        extract_openimages(fx.segmentation, fx.boxes, fx.classes, fx.images, fx.masks, out,
                           progress=False, **kw)
        return extract_digest(out)

    one = run(tmp_path / "one")
    with scheduling(client):
        assert run(tmp_path / "dask") == one


def test_backgrounds_on_a_dask_cluster_equal_one_process(client, tmp_path) -> None:
    import numpy as np
    from PIL import Image

    from siscore.backgrounds.scoring import score_folder
    from siscore.utils.parallel import scheduling

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(photos / f"p{i}.jpg")
    (photos / "notes.txt").write_text("not an image")
    one = score_folder(photos, jobs=1)
    with scheduling(client):
        assert score_folder(photos, jobs=1) == one
    assert score_folder(photos, jobs=2) == one


def _loky_workers() -> list[int]:
    """Live loky worker processes of this process (from /proc)."""
    me, pids = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] not in ("Z", "X") and b"popen_loky_posix" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_local_worker_killed_mid_build_is_survived(library, tmp_path, tmp_path_factory) -> None:  # noqa: F811
    """A lost local process: the unfinished tasks go to a fresh pool, the bytes are the same."""
    from siscore.generate.factors import load_config

    fg, bg = library
    cfg = tmp_path / "grid.toml"
    cfg.write_text(MEDIUM_TOML)
    grid = load_config(cfg)[0]
    out = tmp_path / "ds"
    thread, outcome = _build_until_images(grid, out, fg, bg, jobs=2)
    workers = _loky_workers()
    assert workers, "no worker process found"
    assert not (out / "metadata.csv").exists(), "the build finished before a worker could be killed"
    os.kill(workers[0], signal.SIGKILL)
    thread.join(300)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].complete
    assert tree_digest(out) == _reference(tmp_path_factory, grid, fg, bg, "ref_medium3")


@pytest.mark.parametrize("command", [["backgrounds", "score"], ["backgrounds", "filter"]])
def test_backgrounds_cli_scheduler(tmp_path, command) -> None:
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.full((300, 400, 3), 40 * i, np.uint8)).save(photos / f"p{i}.jpg")
    out = tmp_path / ("scores.csv" if command[1] == "score" else "library")
    bad = CliRunner().invoke(main, [*command, str(photos), "--out", str(out), "--scheduler", "local:x"])
    assert bad.exit_code != 0 and "--scheduler 'local:x'" in bad.output and "Traceback" not in bad.output
    assert not out.exists()
    good = CliRunner().invoke(main, [*command, str(photos), "--out", str(out), "-q",
                                     "--scheduler", "joblib:threading", "--jobs", "2"])
    assert good.exit_code == 0, good.output
    assert out.exists()
