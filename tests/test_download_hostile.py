"""`siscore download` from a server that lies: keys and zip members that would land elsewhere
or cannot be written, bodies that never end, and output folders that cannot be one. A real S3
server (moto's, on localhost); each case gets its own bucket. Every refusal is one line, no
traceback, nothing written outside --out and nothing half-written under a final name."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from siscore.cli import main
from siscore.download import download_assets, download_subset
from siscore.download.s3 import DownloadError
from siscore.errors import ParamError
from tests.disk_limits import limit_file_size
from tests.lying_server import EndlessBodies
from tests.official_replica import free_port, uploader

REPO = Path(__file__).resolve().parents[1]
JPEG = b"\xff\xd8\xff\xe0" + bytes(2000) + b"\xff\xd9"


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def bucket_with(endpoint: str, name: str, objects: dict[str, bytes]) -> str:
    s3 = uploader(endpoint)
    s3.create_bucket(Bucket=name)
    for key, data in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=data, ACL="public-read")
    return name


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` with a digest of its content (or 'dir')."""
    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else
            hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def one_error_line(text: str) -> str:
    assert "Traceback" not in text, text
    errors = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, text
    return errors[0]


UNSAFE_KEYS = {
    "climbs into backgrounds": ({"foregrounds/../backgrounds/x.jpg": JPEG}, "'..' in the path"),
    "climbs onto the record": ({"foregrounds/../.siscore-download.jsonl": b'{"path": "x"}\n'},
                               "'..' in the path"),
    "300-character key": ({"foregrounds/" + "k" * 300 + ".png": JPEG},
                          "a name component of 304 bytes (at most 250)"),
    "a file and a folder": ({"foregrounds/zebra": JPEG, "foregrounds/zebra/z.png": JPEG},
                            "'foregrounds/zebra' is a file, so it cannot be a folder too"),
    "two keys one path": ({"foregrounds/y.png": JPEG, "foregrounds//y.png": JPEG},
                          "the same path as 'foregrounds//y.png'"),
    "a key named as a partial download": ({"foregrounds/a.png": JPEG,
                                           "foregrounds/a.png.part": JPEG},
                                          "its path is where 'foregrounds/a.png' is downloaded"),
}


@pytest.mark.parametrize("case", list(UNSAFE_KEYS))
def test_unsafe_keys_are_refused_before_anything_is_written(endpoint, tmp_path, case) -> None:
    objects, reason = UNSAFE_KEYS[case]
    bucket = bucket_with(endpoint, f"keys-{list(UNSAFE_KEYS).index(case)}",
                         {**objects, "foregrounds/cat/ok.png": JPEG, "backgrounds/b.jpg": JPEG})
    out = tmp_path / "dl"
    out.mkdir()
    (out / ".siscore-download.jsonl").write_text("an earlier download's record\n")
    before = snapshot(tmp_path)
    code, text = run("download", "assets", "--only", "foregrounds", "--out", str(out),
                     "--endpoint-url", endpoint, "--bucket", bucket)
    assert code == 1
    line = one_error_line(text)
    assert f"s3://{bucket}/foregrounds/" in line and "unsafe key" in line and reason in line
    assert "nothing was downloaded" in line
    assert snapshot(tmp_path) == before  # not even the safe keys, nor a lock file
    # the same input from Python: the same refusal, as a SiscoreError
    with pytest.raises(DownloadError, match="unsafe key"):
        download_assets(out, ("foregrounds",), endpoint_url=endpoint, bucket=bucket,
                        progress=False)
    assert snapshot(tmp_path) == before


def test_a_folder_where_the_zip_goes(endpoint, tmp_path) -> None:
    bucket = bucket_with(endpoint, "zip-folder", {"location.zip": zip_bytes({"x/a.txt": b"a"})})
    (tmp_path / "location.zip").mkdir()
    (tmp_path / "location.zip" / "mine.txt").write_text("keep me")
    before = snapshot(tmp_path)
    code, text = run("download", "location", "--out", str(tmp_path), "--endpoint-url", endpoint,
                     "--bucket", bucket)
    assert code == 1
    line = one_error_line(text)
    assert f"{tmp_path / 'location.zip'} is a folder, where the download puts a file" in line
    assert "give another --out" in line
    assert snapshot(tmp_path) == before


def test_a_symbolic_link_inside_out_is_not_followed(endpoint, tmp_path) -> None:
    bucket = bucket_with(endpoint, "links", {"foregrounds/cat/f.png": JPEG,
                                             "size.zip": zip_bytes({"ds/a.txt": b"a"})})
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "dl"
    elsewhere.mkdir()
    out.mkdir()
    (out / "foregrounds").symlink_to(elsewhere)
    (out / "ds").symlink_to(elsewhere)
    code, text = run("download", "assets", "--only", "foregrounds", "--out", str(out),
                     "--endpoint-url", endpoint, "--bucket", bucket)
    assert code == 1
    line = one_error_line(text)
    assert f"s3://{bucket}/foregrounds/cat/f.png: would be written to" in line
    assert "(a symbolic link on the way); nothing was downloaded" in line
    code, text = run("download", "size", "--out", str(out), "--endpoint-url", endpoint,
                     "--bucket", bucket)
    assert code == 0 and "refused zip member 'ds/a.txt' (resolves outside" in text, text
    assert list(elsewhere.iterdir()) == []


def zip_bytes(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None,
              compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


REFUSED_MEMBERS = {
    "a file then a folder of that name": (
        zip_bytes({"ds/a": b"file", "ds/a/b": b"under it"}),
        {"ds/a/b": "'ds/a' is a file, so it cannot be a folder too"}, {"ds/a": b"file"}),
    "a symbolic link then a member under it": (
        zip_bytes({"ds/link/passwd": b"mine"}, symlinks={"ds/link": "/etc"}),
        {"ds/link": "a symbolic link"}, {"ds/link/passwd": b"mine"}),
    "a 300-character name": (
        zip_bytes({"ds/" + "m" * 300: b"long", "ds/ok.txt": b"ok"}),
        {"ds/" + "m" * 300: "a name component of 300 bytes (at most 255)"}, {"ds/ok.txt": b"ok"}),
    "the download record and the zip itself": (
        zip_bytes({".siscore-download.jsonl": b"forged\n", "size.zip": b"not a zip",
                   "ds/ok.txt": b"ok"}),
        {".siscore-download.jsonl": "the name of a file the download keeps in the folder",
         "size.zip": "the name of a file the download keeps in the folder"},
        {"ds/ok.txt": b"ok"}),
}


@pytest.mark.parametrize("case", list(REFUSED_MEMBERS))
def test_zip_members_that_cannot_be_written_are_refused(endpoint, tmp_path, case) -> None:
    data, refused, written = REFUSED_MEMBERS[case]
    bucket = bucket_with(endpoint, f"members-{list(REFUSED_MEMBERS).index(case)}",
                         {"size.zip": data})
    out = tmp_path / "dl"
    code, text = run("download", "size", "--out", str(out), "--endpoint-url", endpoint,
                     "--bucket", bucket)
    assert code == 0, text
    assert "Traceback" not in text
    for member, reason in refused.items():
        assert f"refused zip member {member!r} ({reason}): not extracted" in text, text
    for member, content in written.items():
        assert (out / member).read_bytes() == content
    assert (out / "size.zip").read_bytes() == data  # the zip is not overwritten by a member
    record = (out / ".siscore-download.jsonl").read_text()
    assert '"key": "size.zip"' in record and "forged" not in record
    assert not [p for p in out.rglob("*") if p.is_symlink() or p.name.endswith(".part")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl"]  # nothing outside --out
    result = download_subset("size", out, endpoint_url=endpoint, bucket=bucket, progress=False)
    assert sorted(result.refused) == sorted(refused.items())  # the same from Python


def test_damaged_deflate_data_is_one_line(endpoint, tmp_path) -> None:
    data = bytearray(zip_bytes({"ds/a.txt": b"hello " * 1000}, compression=zipfile.ZIP_DEFLATED))
    offset = data.index(b"ds/a.txt") + len("ds/a.txt")  # the member's deflate stream follows
    data[offset:offset + 8] = b"\xff" * 8  # a reserved block type: zlib.error on reading
    bucket = bucket_with(endpoint, "deflate", {"size.zip": bytes(data)})
    code, text = run("download", "size", "--out", str(tmp_path), "--endpoint-url", endpoint,
                     "--bucket", bucket)
    assert code == 1
    line = one_error_line(text)
    assert "size.zip: member ds/a.txt is damaged (error: Error -3 while decompressing" in line
    assert "delete the zip and download it again" in line
    assert not (tmp_path / "ds" / "a.txt").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    with pytest.raises(DownloadError, match="member ds/a.txt is damaged"):
        download_subset("size", tmp_path, endpoint_url=endpoint, bucket=bucket, progress=False)


def cli(*args: str, preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", "from siscore.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, preexec_fn=preexec,
                          timeout=timeout)


def test_disk_full_while_unzipping_keeps_the_zip(endpoint, tmp_path) -> None:
    big = bytes(3 << 20)  # 3 MB of zeros: a 3 kB zip, and a file over the 1 MB limit below
    data = zip_bytes({"ds/small.txt": b"small", "ds/big.bin": big},
                     compression=zipfile.ZIP_DEFLATED)
    bucket = bucket_with(endpoint, "disk-full", {"size.zip": data})
    args = ("download", "size", "--out", str(tmp_path), "--endpoint-url", endpoint,
            "--bucket", bucket, "-q")
    done = cli(*args, preexec=limit_file_size(1 << 20))
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "no space left while unzipping size.zip" in line
    assert "the zip is fine: free some space and run the same command again" in line
    assert "delete" not in line
    assert (tmp_path / "size.zip").read_bytes() == data
    assert not (tmp_path / "ds" / "big.bin").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".unzip-")]
    done = cli(*args)  # space freed: the same command finishes
    assert done.returncode == 0, done.stderr
    assert "reused 1" in done.stdout and "1 file(s) written, 1 already there" in done.stdout
    assert (tmp_path / "ds" / "big.bin").read_bytes() == big


def test_a_body_that_never_ends_is_cut_at_the_listed_size(endpoint, tmp_path) -> None:
    bucket = bucket_with(endpoint, "endless", {"backgrounds/b.jpg": JPEG})
    liar = EndlessBodies(endpoint)
    try:
        done = cli("download", "assets", "--only", "backgrounds", "--out", str(tmp_path),
                   "--endpoint-url", liar.endpoint, "--bucket", bucket, "-q", timeout=60)
    finally:
        liar.close()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (f"failed: backgrounds/b.jpg: the server sent more than the {len(JPEG)} bytes its "
            "listing declared; deleted, run again to re-fetch") in done.stdout
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert max(p.stat().st_size for p in files) < len(JPEG)  # no .part, no final file
    assert not (tmp_path / "backgrounds" / "b.jpg").exists()


def test_out_that_cannot_be_a_folder(endpoint, tmp_path) -> None:
    bucket = bucket_with(endpoint, "out-checks", {"foregrounds/c/f.png": JPEG,
                                                  "backgrounds/b.jpg": JPEG})
    afile = tmp_path / "afile"
    afile.write_text("mine")
    cases = {
        str(afile): "is a file, not a folder; give a folder",
        str(afile / "sub"): f"{afile} is a file, not a folder; give a path inside a folder",
        "/dev/null": "is a character device, not a folder",
        str(tmp_path / ("n" * 300)): "is longer than 255 bytes; give a shorter one",
    }
    for out, message in cases.items():
        code, text = run("download", "assets", "--out", out, "--endpoint-url", endpoint,
                         "--bucket", bucket)
        assert code == 1
        line = one_error_line(text)
        assert line.startswith(f"Error: --out {out}: ") and message in line
        with pytest.raises(ParamError, match="out="):
            download_assets(out, endpoint_url=endpoint, bucket=bucket, progress=False)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_out_in_a_folder_this_user_cannot_write(endpoint, tmp_path) -> None:
    bucket = bucket_with(endpoint, "unwritable", {"foregrounds/c/f.png": JPEG,
                                                    "backgrounds/b.jpg": JPEG})
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    drop: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anywhere: run without the capability that allows it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        drop = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run([*drop, sys.executable, "-c", "from siscore.cli import main; main()",
                               "download", "assets", "--out", str(locked / "dl"),
                               "--endpoint-url", endpoint, "--bucket", bucket],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        line = one_error_line(done.stderr)
        assert line.startswith(f"Error: --out {locked / 'dl'}: {locked} is not writable; give a "
                               "folder in a folder you can write")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)
