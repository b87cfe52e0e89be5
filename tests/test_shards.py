"""Evaluation split across processes: a 2-process torchrun (gloo, CPU) and --shard I/N give
the same predictions file as one process; a lost part resumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siscore import Grid, build
from siscore.cli import main
from siscore.evaluate import evaluate
from siscore.evaluate.shards import part_path, sharded
from tests.test_build import library  # noqa: F401 - fixture re-used
from tests.tiny_model import TinyNet, to_tensor

GRID = Grid(location=[(0.2, 0.3), (0.7, 0.6), (0.5, 0.5)], area=[0.1, 0.3], resolution=[(64, 64)])
MODEL = ["--model", "resnet18", "--random-weights", "--resize", "40", "--crop", "32", "--device",
         "cpu", "--batch-size", "8", "--workers", "0", "--logits", "-q"]


@pytest.fixture(scope="module")
def dataset(library, tmp_path_factory) -> Path:  # noqa: F811
    root = tmp_path_factory.mktemp("shards") / "ds"
    build(GRID, root, foregrounds=library[0], backgrounds=library[1], progress=False)
    return root


def _files(out: Path) -> dict[str, object]:
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text())
    with np.load(out.with_name(out.name + ".logits.npz")) as z:
        arrays = {k: z[k].tolist() for k in z.files}
    return {"csv": out.read_bytes(), "meta": meta, "logits": arrays}


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("ref") / "preds.csv"
    res = CliRunner().invoke(main, ["evaluate", "--dataset", str(dataset), *MODEL, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return _files(out)


def test_torchrun_two_processes_equal_one(dataset, reference, tmp_path) -> None:
    out = tmp_path / "preds.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "siscore", "evaluate", "--dataset", str(dataset), *MODEL, "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _files(out) == reference
    assert not part_path(out, (0, 2)).parent.exists()  # the parts are merged and gone


def test_manual_shards_merge_when_the_last_part_is_done(dataset, reference, tmp_path) -> None:
    out = tmp_path / "preds.csv"
    for i in (1, 0):
        res = CliRunner().invoke(main, ["evaluate", "--dataset", str(dataset), *MODEL, "--out", str(out),
                                        "--shard", f"{i}/2"])
        assert res.exit_code == 0, res.output
        assert out.exists() == (i == 0)  # merged by the process that completes the last part
    assert _files(out) == reference




def test_a_lost_part_resumes(dataset, tmp_path) -> None:
    ref = tmp_path / "ref.csv"
    evaluate(TinyNet(), to_tensor, dataset, ref, name="tiny", batch_size=4, progress=False)
    out = tmp_path / "preds.csv"
    sharded(evaluate, "0/2")(TinyNet(), to_tensor, dataset, out, name="tiny", batch_size=4, progress=False)

    model, calls = TinyNet(), []

    def die_after_two_batches(*_: object) -> None:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt  # the rank is lost mid-part
    hook = model.register_forward_hook(die_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        sharded(evaluate, "1/2")(model, to_tensor, dataset, out, name="tiny", batch_size=4, progress=False)
    hook.remove()
    assert not out.exists()
    again = sharded(evaluate, "1/2")(model, to_tensor, dataset, out, name="tiny", batch_size=4,
                                     progress=False)
    assert 0 < again.evaluated < again.total and again.complete
    assert out.read_bytes() == ref.read_bytes()
    assert (json.loads(out.with_name("preds.csv.meta.json").read_text())["fingerprint"]
            == json.loads(ref.with_name("ref.csv.meta.json").read_text())["fingerprint"])


@pytest.mark.parametrize("value", ["2/2", "x", "1/0"])
def test_bad_shard_is_one_line(dataset, tmp_path, value) -> None:
    res = CliRunner().invoke(main, ["evaluate", "--dataset", str(dataset), *MODEL,
                                    "--out", str(tmp_path / "p.csv"), "--shard", value])
    assert res.exit_code != 0 and "--shard" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def three_images(library, tmp_path_factory) -> Path:  # noqa: F811
    """A dataset of 3 images: one cut-out on one background at 3 sizes."""
    root = tmp_path_factory.mktemp("three")
    cls = sorted(p for p in library[0].iterdir() if p.is_dir())[0]
    (root / "fg" / cls.name).mkdir(parents=True)
    shutil.copy(sorted(cls.glob("*.png"))[0], root / "fg" / cls.name)
    build(Grid(area=[0.1, 0.2, 0.3], resolution=[(48, 48)]), root / "ds", foregrounds=root / "fg",
          backgrounds=library[1], bgs_per_fg=1, progress=False)
    return root / "ds"


def test_more_parts_than_images_run_at_once_and_merge(three_images, tmp_path) -> None:
    ref = tmp_path / "ref" / "preds.csv"
    ref.parent.mkdir()
    one = [*MODEL, "--batch-size", "1"]  # batches of one image, as in the parts: the same floats
    res = CliRunner().invoke(main, ["evaluate", "--dataset", str(three_images), *one, "--out", str(ref)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "preds.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-m", "siscore", "evaluate", "--dataset", str(three_images),
                               *one, "--out", str(out), "--shard", f"{i}/5"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(5)]  # 5 processes at once, 2 of them with an empty part
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert _files(out) == _files(ref)
    assert not part_path(out, (0, 5)).parent.exists()


def test_a_huge_part_count_fails_before_anything_is_written(dataset, tmp_path) -> None:
    out = tmp_path / "sub" / "p.csv"
    res = CliRunner().invoke(main, ["evaluate", "--dataset", str(dataset), *MODEL, "--out", str(out),
                                    "--shard", "3/1000000"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines() == [
        "Error: --shard 3/1000000: N is at most 99,999 parts; split the dataset into fewer"]
    assert not any(tmp_path.iterdir())
