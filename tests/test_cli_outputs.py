"""``--out`` is checked before any work, for every command with one (issue 23): a device node
or a pipe is never replaced by a regular file, a parent that is a file and a parent we cannot
write are one line each, exit non-zero, and nothing is created. The same from Python."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.errors import ParamError
from siscore.utils.files import check_output_path

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
MODEL = ["--model", "mobilenet_v3_small", "--random-weights", "--crop", "32", "-j", "0", "-q"]

# every command of ours that writes: its arguments before --out, the option, folder or file
COMMANDS = {
    "build": (["build", "--subset", "location"], "--out", True),
    "evaluate --out": (["evaluate", "--subset", "location", *MODEL], "--out", False),
    "evaluate --out-dir": (["evaluate", "--subset", "location", *MODEL], "--out-dir", True),
    "extract coco": (["extract", "coco", "--annotations", "a.json", "--images", "."], "--out", True),
    "extract openimages": (["extract", "openimages", "--segmentation", "s.csv", "--boxes", "b.csv",
                            "--class-descriptions", "c.csv", "--images", ".", "--masks", "."],
                           "--out", True),
    "extract boxes": (["extract", "boxes", "--boxes", "b.csv", "--images", "."], "--out", True),
}


def special_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)
    else:
        if not ROOT:
            pytest.skip("making a device node needs root")
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    return path


def run(args: list[str], cwd: Path) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, args)
    finally:
        os.chdir(old)
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("kind", ["chardev", "fifo"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_device_node_or_pipe_is_refused_and_left_as_it_is(tmp_path: Path, command: str, kind: str) -> None:
    args, option, folder = COMMANDS[command]
    target = special_file(tmp_path, kind)
    before = sorted(os.listdir(tmp_path))
    code, output = run([*args, option, str(target)], tmp_path)
    what = "a character device" if kind == "chardev" else "a named pipe (FIFO)"
    assert code == 1 and output == (f"Error: {option} {target}: is {what}, not a "
                                    f"{'folder' if folder else 'file'}; give a path to a "
                                    f"{'folder' if folder else 'file'} to write\n")
    mode = os.stat(target).st_mode
    assert (stat.S_ISCHR(mode) if kind == "chardev" else stat.S_ISFIFO(mode))
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_parent_that_is_a_file_is_one_line(tmp_path: Path, command: str) -> None:
    args, option, _folder = COMMANDS[command]
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    code, output = run([*args, option, str(blocker / "sub" / "out")], tmp_path)
    assert code == 1 and output == (f"Error: {option} {blocker / 'sub' / 'out'}: {blocker} is a file, "
                                    "not a folder; give a path inside a folder\n")
    assert blocker.read_text() == "a file" and sorted(os.listdir(tmp_path)) == ["notes.txt"]


@pytest.fixture()
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder we may not write into: /proc/1 for root (permissions do not stop root), else a
    folder without write permission."""
    if ROOT:
        yield Path("/proc/1")
        return
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unwritable_parent_is_one_line(tmp_path: Path, unwritable: Path, command: str) -> None:
    args, option, folder = COMMANDS[command]
    before = sorted(os.listdir(unwritable))
    code, output = run([*args, option, str(unwritable / "new")], tmp_path)
    assert code == 1 and output == (f"Error: {option} {unwritable / 'new'}: {unwritable} is not "
                                    f"writable; give a {'folder' if folder else 'file'} in a folder "
                                    "you can write\n")
    assert sorted(os.listdir(unwritable)) == before


def test_a_folder_where_a_file_is_wanted_and_the_reverse(tmp_path: Path) -> None:
    (tmp_path / "file.csv").write_text("x")
    code, output = run(["evaluate", "--subset", "location", *MODEL, "--out", str(tmp_path)], tmp_path)
    assert code == 2 and f"Invalid value for '--out': File '{tmp_path}' is a directory." in output
    from siscore.evaluate.study import evaluate_models

    with pytest.raises(ParamError, match=r"^out='.*': is a folder; give the path of a file to write$"):
        evaluate_models(["mobilenet_v3_small"], subset="location", out=tmp_path)
    code, output = run(["build", "--subset", "location", "--out", str(tmp_path / "file.csv")], tmp_path)
    assert code == 2 and f"Invalid value for '--out': Directory '{tmp_path / 'file.csv'}' is a file." in output
    from siscore import build

    with pytest.raises(ParamError, match=r"^out='.*file.csv': is a file, not a folder; give a folder$"):
        build("location", tmp_path / "file.csv")
    assert (tmp_path / "file.csv").read_text() == "x"


def test_the_library_refuses_the_same_outputs(tmp_path: Path, unwritable: Path) -> None:
    from siscore import build
    from siscore.evaluate.study import evaluate_models

    target = special_file(tmp_path, "fifo")
    with pytest.raises(ParamError, match=r"^out='.*fifo': is a named pipe \(FIFO\), not a folder"):
        build("location", target)
    with pytest.raises(ParamError, match=r"^out='.*fifo': is a named pipe \(FIFO\), not a file"):
        evaluate_models(["mobilenet_v3_small"], subset="location", out=target, random_weights=True)
    with pytest.raises(ParamError, match=r"^out_dir='.*/new': .* is not writable"):
        evaluate_models(["mobilenet_v3_small"], subset="location", out_dir=unwritable / "new")
    import torch

    from siscore.evaluate import evaluate

    with pytest.raises(ParamError, match=r"^out='.*fifo': is a named pipe \(FIFO\), not a file"):
        evaluate(torch.nn.Linear(3, 1000), None, tmp_path / "no-dataset", target)
    assert stat.S_ISFIFO(os.stat(target).st_mode)


def test_check_output_path_accepts_what_can_be_written(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("x")
    check_output_path(tmp_path / "old.csv", folder=False)  # replaced by the writer, atomically
    check_output_path(tmp_path / "a" / "b" / "new.csv", folder=False)  # parents are created
    check_output_path(tmp_path, folder=True)
    assert sorted(os.listdir(tmp_path)) == ["old.csv"]
    with pytest.raises(ParamError, match="longer than 255 bytes"):
        check_output_path(tmp_path / ("x" * 300), folder=True)


def test_a_run_that_fails_creates_no_output_folder(tmp_path: Path) -> None:
    """--out-dir is created when the models are loaded and the images found, not before."""
    code, output = run(["evaluate", "--subset", "location", *MODEL, "--foregrounds",
                        str(tmp_path / "missing"), "--out-dir", str(tmp_path / "preds")], tmp_path)
    assert code == 1 and "missing" in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "preds").exists()


@pytest.mark.parametrize("out", [None, ""])
def test_no_output_path_from_python_is_one_line(out, tmp_path) -> None:
    """build(grid, None) was a TypeError from os.fspath; an empty path is refused too."""
    import siscore

    with pytest.raises(siscore.ParamError) as info:
        siscore.build(siscore.Grid(resolution=[(64, 64)]), out, progress=False)
    assert str(info.value) == f"out={out!r}: give the path of a folder to write"
