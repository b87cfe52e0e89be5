"""`siscore download` against a real S3 server (moto's, on localhost) holding a replica of the
official bucket: fetch, reuse, kill and resume, corruption, unsafe zip members, then build from
the downloaded assets and evaluate and score the downloaded subset."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.download import download_subset
from siscore.download.fetch import fetch_objects
from siscore.download.s3 import DownloadError, list_objects, make_client
from siscore.download.verify import first_part_size, verify
from siscore.formats.dataset import load_dataset
from tests.official_replica import BUCKET, Proxy, Replica, free_port, make_replica, put_multipart

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def replica(tmp_path_factory) -> Replica:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield make_replica(tmp_path_factory.mktemp("replica"), f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_assets_download_reuse_and_build(replica: Replica, tmp_path: Path) -> None:
    out = tmp_path / "official"
    code, text = run("download", "assets", "--out", str(out), "--endpoint-url", replica.endpoint)
    assert code == 0, text
    assert "\r" not in text  # no progress bar redraws when stderr is not a terminal (issue 11, 23)
    assert "fetched 7 file(s)" in text and "reused 0" in text and "failed 0" in text
    for kind, src in (("foregrounds", replica.fg), ("backgrounds", replica.bg)):
        for p in src.rglob("*.png" if kind == "foregrounds" else "*.jpg"):
            assert md5(out / kind / p.relative_to(src)) == md5(p)
    assert not list(out.rglob("*.part"))
    code, text = run("download", "assets", "--out", str(out), "--endpoint-url", replica.endpoint)
    assert code == 0 and "fetched 0 file(s)" in text and "reused 7" in text, text

    # a local file damaged after the download (same size, new mtime) is detected and re-fetched
    victim = next((out / "backgrounds").glob("*.jpg"))
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    code, text = run("download", "assets", "--out", str(out), "--endpoint-url", replica.endpoint)
    assert code == 0 and "fetched 1 file(s)" in text and "reused 6" in text, text
    assert md5(victim) == md5(replica.bg / victim.name)

    built, config = tmp_path / "built", tmp_path / "grid.toml"
    config.write_text("[grid]\narea = [0.2]\nrotation = [1]\nresolution = [[32, 32]]\n")
    code, text = run("build", "--foregrounds", str(out / "foregrounds"), "--backgrounds",
                     str(out / "backgrounds"), "--label-map", str(replica.label_map), "--config",
                     str(config), "--out", str(built), "-q")
    assert code == 0, text
    info = load_dataset(built, check_files=True)
    assert sorted(info.classes) == ["cup", "kite", "laptop"] and len(info.metadata) == 8


def test_subset_download_extract_evaluate_and_score(replica: Replica, tmp_path: Path) -> None:
    from siscore.evaluate import evaluate
    from tests.test_evaluate_run import ColourNet, to_tensor

    out = tmp_path / "dl"
    code, text = run("download", "rotation", "--out", str(out), "--endpoint-url", replica.endpoint,
                     "-q")
    assert code == 0, text
    assert f"dataset: {out / 'rotation'}" in text and "fetched 1 file(s)" in text
    assert (out / "rotation.zip").is_file() and (out / "rotation" / "metadata.csv").is_file()
    info = load_dataset(out, check_files=True)  # the folder the zip was unpacked into
    assert info.root == out / "rotation" and len(info.metadata) == 32

    preds = tmp_path / "colournet.csv"
    result = evaluate(ColourNet(), to_tensor, out, preds, name="colournet", batch_size=8,
                      progress=False)
    assert result.complete and result.evaluated == 32
    scores = tmp_path / "scores.csv"
    code, text = run("score", "--dataset", str(out), "-p", str(preds), "--out", str(scores))
    assert code == 0, text
    table = pd.read_csv(scores)
    assert sorted(table["area"].unique()) == [0.15, 0.35] and table["n"].sum() == 32

    # a second run reuses the verified zip and keeps the extracted files
    code, text = run("download", "rotation", "--out", str(out), "--endpoint-url", replica.endpoint)
    assert code == 0 and "reused 1" in text and "0 file(s) written" in text, text


def test_zip_read_in_place(replica: Replica, tmp_path: Path) -> None:
    code, text = run("download", "rotation", "--mini", "--no-extract", "--out", str(tmp_path),
                     "--endpoint-url", replica.endpoint)
    assert code == 0, text
    zipped = tmp_path / "object_rotation_mini.zip"
    assert f"dataset: {zipped / 'object_rotation_mini'}" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".siscore-download.jsonl", ".siscore-download.lock", ".siscore-download.lock.pid",
        zipped.name]
    code, text = run("info", str(zipped))
    assert code == 0 and "32 images, 3 classes, subset rotation" in text, text


def test_unsafe_zip_members_are_refused_and_reported(replica: Replica, tmp_path: Path) -> None:
    out = tmp_path / "inner" / "dl"
    code, text = run("download", "size", "--mini", "--out", str(out), "--endpoint-url",
                     replica.endpoint)
    assert code == 0, text
    for member in ("../escaped.txt", "/tmp/absolute-siscore.txt",
                   "object_size_mini/../../escaped2.txt"):
        assert f"refused zip member {member!r}" in text
    assert not (tmp_path / "inner" / "escaped.txt").exists()
    assert not (tmp_path / "inner" / "escaped2.txt").exists()
    assert not Path("/tmp/absolute-siscore.txt").exists()
    assert load_dataset(out).root == out / "object_size_mini"
    # a second subset into the same folder: each download names its own dataset folder
    code, text = run("download", "rotation", "--mini", "--out", str(out), "--endpoint-url",
                     replica.endpoint)
    assert code == 0 and f"dataset: {out / 'object_rotation_mini'}" in text, text
    code, text = run("info", str(out))
    assert code != 0 and "holds 2 datasets" in text


def test_kill_midway_then_resume(replica: Replica, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    slow = Proxy(int(replica.endpoint.rsplit(":", 1)[1]), rate=2e6)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from siscore.cli import main; main()", "download", "location",
         "--out", str(out), "--endpoint-url", slow.endpoint, "--jobs", "1", "-q"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    part = out / "location.zip.part"
    deadline = time.monotonic() + 60
    try:
        while not (part.exists() and part.stat().st_size > 1_000_000):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        slow.close()
        if proc.poll() is None:
            proc.kill()
    have = part.stat().st_size
    assert 1_000_000 < have < replica.big_size
    assert not (out / "location.zip").exists()  # nothing partial under the final name

    result = download_subset("location", out, endpoint_url=replica.endpoint, progress=False)
    assert result.ok and result.summary.resumed == ["location.zip"]
    assert result.summary.fetched == ["location.zip"] and not part.exists()
    assert (out / "location.zip").stat().st_size == replica.big_size
    assert result.paths == [out / "location20_area02_min0pc"]


def start_slow_download(replica: Replica, out: Path) -> tuple[subprocess.Popen, Proxy]:
    """``siscore download location`` through a proxy at 1 MB/s (the zip takes ~6 s), in its own
    process; returns once its .part holds 0.5 MB."""
    slow = Proxy(int(replica.endpoint.rsplit(":", 1)[1]), rate=1e6)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from siscore.cli import main; main()", "download", "location",
         "--out", str(out), "--endpoint-url", slow.endpoint, "--jobs", "1", "-q"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    part = out / "location.zip.part"
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size > 500_000):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            slow.close()
            pytest.fail(f"the download never started: {proc.stdout.read()}")
        time.sleep(0.02)
    return proc, slow


def test_ctrl_c_ends_a_download_and_leaves_the_part_to_resume(replica: Replica,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "dl"
    proc, slow = start_slow_download(replica, out)
    try:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)  # ends at once, not when the zip is complete
    finally:
        slow.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted: run the same command again to resume" in output
    assert "Traceback" not in output
    part = out / "location.zip.part"
    assert 500_000 < part.stat().st_size < replica.big_size
    assert not (out / "location.zip").exists()  # nothing partial under the final name
    code, text = run("download", "location", "--out", str(out), "--endpoint-url",
                     replica.endpoint, "-q")
    assert code == 0 and "1 resumed from a partial download" in text, text
    assert (out / "location.zip").stat().st_size == replica.big_size and not part.exists()


def test_a_second_download_into_the_same_folder_is_refused(replica: Replica,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "dl"
    first, slow = start_slow_download(replica, out)
    try:
        second = subprocess.run(
            [sys.executable, "-c", "from siscore.cli import main; main()", "download",
             "location", "--out", str(out), "--endpoint-url", replica.endpoint, "-q"],
            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=120)
        assert first.poll() is None  # the first one runs on, undisturbed
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    finally:
        slow.close()
        if first.poll() is None:
            first.kill()
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert (f"Error: {out}: another siscore download (process {first.pid}) is writing into "
            f"this folder (it holds {out / '.siscore-download.lock'}); wait for it to finish, "
            "or give another --out") in second.stderr
    result = download_subset("location", out, endpoint_url=replica.endpoint, progress=False)
    assert result.ok and result.summary.resumed == ["location.zip"]  # its .part was intact
    assert md5(out / "location.zip") == md5(replica.official.parent.parent / "zips" /
                                            "location.zip")


def test_corruption_in_transit_is_detected(replica: Replica, tmp_path: Path) -> None:
    bad = Proxy(int(replica.endpoint.rsplit(":", 1)[1]), corrupt=True)
    try:
        code, text = run("download", "location", "--out", str(tmp_path), "--endpoint-url",
                         bad.endpoint)
    finally:
        bad.close()
    assert code != 0
    assert "failed: location.zip: MD5" in text and "does not match the ETag" in text, text
    assert "1 file(s) failed; run the same command again to resume" in text
    assert not (tmp_path / "location.zip").exists()
    assert not (tmp_path / "location.zip.part").exists()
    assert not (tmp_path / "location20_area02_min0pc").exists()
    code, text = run("download", "location", "--out", str(tmp_path), "--endpoint-url",
                     replica.endpoint)
    assert code == 0 and "fetched 1 file(s)" in text, text


def test_multipart_etag_is_verified(replica: Replica, tmp_path: Path) -> None:
    data = os.urandom((5 << 20) + 12345)
    etag = put_multipart(replica.endpoint, "multipart/big.bin", data, 5 << 20)
    assert etag.endswith("-2")
    client = make_client(replica.endpoint)
    objects = list_objects(client, BUCKET, "multipart/")
    summary = fetch_objects(client, BUCKET, objects, tmp_path, lambda o: o.key, progress=False)
    assert summary.fetched == ["multipart/big.bin"] and not summary.size_only
    target = tmp_path / "multipart" / "big.bin"
    assert target.read_bytes() == data
    part_size = first_part_size(client, BUCKET, objects[0])
    assert part_size == 5 << 20
    assert verify(target, objects[0]) == "multipart"  # found among the whole-MiB part sizes
    target.write_bytes(data[:-1] + b"\x00")
    with pytest.raises(DownloadError, match="multipart ETag .* does not match"):
        verify(target, objects[0], part_size=part_size)
    assert verify(target, objects[0]) == "size"  # without the part size: reported as size-only


def test_missing_bucket_and_object_errors(replica: Replica, tmp_path: Path) -> None:
    code, text = run("download", "size", "--out", str(tmp_path), "--endpoint-url",
                     replica.endpoint)
    assert code != 0 and "s3://si-score-dataset/size.zip: no such object" in text, text
    code, text = run("download", "assets", "--out", str(tmp_path), "--endpoint-url",
                     replica.endpoint, "--bucket", "no-such-bucket")
    assert code != 0 and "listing s3://no-such-bucket/foregrounds/" in text, text
    assert "Traceback" not in text
    code, text = run("download", "size", "--mini", "--loose", "--out", str(tmp_path),
                     "--endpoint-url", replica.endpoint)
    assert code != 0 and "--mini comes as a zip only" in text, text
    code, text = run("download", "assets", "--out", str(tmp_path), "--endpoint-url", "not a url")
    assert code != 0 and "--endpoint-url 'not a url'" in text and "Traceback" not in text, text
    assert list(tmp_path.iterdir()) == []


def test_loose_subset_files(replica: Replica, tmp_path: Path) -> None:
    code, text = run("download", "rotation", "--loose", "--out", str(tmp_path), "--endpoint-url",
                     replica.endpoint, "--workers", "4")  # the old spelling of --jobs
    assert code == 0, text
    assert f"dataset: {tmp_path / 'object_rotation'}" in text
    assert len(load_dataset(tmp_path, check_files=True).metadata) == 32
