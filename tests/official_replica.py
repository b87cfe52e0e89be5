"""A small replica of the official SI-SCORE bucket, served by moto's S3 server on localhost.

Keys as in the real bucket (``foregrounds/<class>/<OpenImagesID>_<n1>_<n2>.png``,
``backgrounds/<name>.jpg``, ``rotation.zip`` unpacking to ``rotation/``,
``location.zip`` to ``location20_area02_min0pc/``, ``object_rotation_mini.zip``
to ``object_rotation_mini/``, the loose files under ``object_rotation/``) and an
``object_size_mini.zip`` holding ``../`` and absolute members. The images are
made from the embedded assets, so the tests run on a fresh clone.

The subset folders are written as the original generator writes them: no
label_map.csv or dataset.json, factor values such as ``0.15000000000000002``,
and the official ``foreground_classes.csv`` indices (``kite`` -> 21, the bird;
``laptop`` -> 620 only).
"""

from __future__ import annotations

import collections
import contextlib
import io
import re
import shutil
import socket
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siscore import Grid, build
from siscore.generate.assets import embedded_assets

BUCKET = "si-score-dataset"
OFFICIAL_INDEX = {"cup": 968, "kite": 21, "laptop": 620}  # as the official CSV has them
AREAS = [0.15, 0.35]
ROTATIONS = [1, 21]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def asset_library(root: Path) -> tuple[Path, Path]:
    """Foregrounds cup/, kite/, laptop/ (official file names) and 3 backgrounds."""
    src_fg, src_bg = embedded_assets()
    pngs = sorted(src_fg.rglob("*.png"))
    fg, bg = root / "foregrounds", root / "backgrounds"
    for i, (label, src) in enumerate([("cup", pngs[0]), ("cup", pngs[1]), ("kite", pngs[2]),
                                      ("laptop", pngs[3])]):
        (fg / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, fg / label / f"{i:04x}a5c3e9b21f_{i}_{i + 1}.png")
    bg.mkdir(parents=True)
    for p in sorted(src_bg.glob("*.jpg"))[:3]:
        shutil.copy(p, bg / p.name)
    return fg, bg


def officialise(built: Path, out: Path) -> Path:
    """Copy a siscore build into the original generator's layout and number formatting."""
    shutil.copytree(built, out)
    for name in ("label_map.csv", "dataset.json"):
        (out / name).unlink(missing_ok=True)
    for extra in out.glob(".*"):
        shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    md = pd.read_csv(out / "metadata.csv")
    text = md.astype(object)
    for col in ("x_coord", "y_coord", "area"):  # 0.15 -> 0.15000000000000002, as numpy wrote them
        text[col] = [repr(float(np.nextafter(v, 2.0))) for v in md[col]]
    text.to_csv(out / "metadata.csv", index=False)
    classes = pd.read_csv(out / "foreground_classes_metadata_indices.csv")["label"]
    pd.DataFrame({"int": [OFFICIAL_INDEX[c] for c in classes], "label": classes}).to_csv(
        out / "foreground_classes.csv", index=False)
    return out


def zip_folder(folder: Path, zip_path: Path, inner: str, extra: dict[str, bytes] | None = None
               ) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{inner}/{p.relative_to(folder).as_posix()}")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return zip_path


@dataclass
class Replica:
    endpoint: str
    fg: Path  # the library the bucket's assets came from
    bg: Path
    official: Path  # the official-layout rotation folder (what rotation.zip holds)
    built: Path  # the same images as siscore built them
    label_map: Path  # label map used for the build (kite -> 21, as the generator did)
    big_key: str  # the large object for the kill-and-resume test
    big_size: int


def official_files(root: Path) -> tuple[Path, Path, Path, Path, Path]:
    """Assets, the generator's label map, a siscore build and its official-layout copy."""
    fg, bg = asset_library(root / "lib")
    label_map = root / "generator_labels.csv"
    label_map.write_text("label,imagenet_index\ncup,968\nkite,21\nlaptop,620 681\n", "utf-8")
    built = root / "built"
    build(Grid(area=AREAS, rotation=ROTATIONS, resolution=[(48, 48)]), built, foregrounds=fg,
          backgrounds=bg, label_map=label_map, progress=False)
    official = officialise(built, root / "official" / "rotation")
    return fg, bg, label_map, built, official


def uploader(endpoint: str):
    """A signed client that stores no extra checksums (as the 2020 uploads of the bucket)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(request_checksum_calculation="when_required"))


def make_replica(root: Path, endpoint: str) -> Replica:
    """Build the replica's files under ``root`` and upload them to the server at ``endpoint``."""
    fg, bg, label_map, built, official = official_files(root)
    zips = root / "zips"
    zips.mkdir()
    zip_folder(official, zips / "rotation.zip", "rotation")
    zip_folder(official, zips / "object_rotation_mini.zip", "object_rotation_mini")
    evil = {"../escaped.txt": b"outside", "/tmp/absolute-siscore.txt": b"absolute",
            "object_size_mini/../../escaped2.txt": b"outside"}
    zip_folder(official, zips / "object_size_mini.zip", "object_size_mini", evil)
    rng = np.random.default_rng(0)  # a big member so that a download can be killed midway
    filler = {"location20_area02_min0pc/filler.bin": rng.bytes(6 << 20)}
    zip_folder(official, zips / "location.zip", "location20_area02_min0pc", filler)

    s3 = uploader(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    for kind, folder in (("foregrounds", fg), ("backgrounds", bg)):
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                s3.put_object(Bucket=BUCKET, Key=f"{kind}/{p.relative_to(folder).as_posix()}",
                              Body=p.read_bytes(), ACL="public-read")
    for p in sorted(official.rglob("*")):
        if p.is_file():
            s3.put_object(Bucket=BUCKET, Key=f"object_rotation/{p.relative_to(official).as_posix()}",
                          Body=p.read_bytes(), ACL="public-read")
    for z in sorted(zips.iterdir()):
        s3.put_object(Bucket=BUCKET, Key=z.name, Body=z.read_bytes(), ACL="public-read")
    big = zips / "location.zip"
    return Replica(endpoint, fg, bg, official, built, label_map, "location.zip",
                   big.stat().st_size)


def put_multipart(endpoint: str, key: str, data: bytes, part_size: int) -> str:
    """Upload ``data`` in parts of ``part_size`` bytes; return the multipart ETag."""
    s3 = uploader(endpoint)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ACL="public-read")
    parts = []
    for n, start in enumerate(range(0, len(data), part_size), start=1):
        r = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=n,
                           Body=io.BytesIO(data[start:start + part_size]))
        parts.append({"ETag": r["ETag"], "PartNumber": n})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})
    return s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')


class Proxy:
    """A TCP proxy in front of the S3 server that slows responses down (``rate`` bytes/s)
    and, with ``corrupt``, flips one byte in the body of every response over 100 kB."""

    def __init__(self, upstream_port: int, rate: float | None = None, corrupt: bool = False) -> None:
        self.upstream_port, self.rate, self.corrupt = upstream_port, rate, corrupt
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            methods: collections.deque[bytes] = collections.deque()
            threading.Thread(target=self._pipe, args=(client, upstream, methods, False),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, methods, True),
                             daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, methods: collections.deque,
              downstream: bool) -> None:
        state = [b"", 0, -1]  # response header so far, body bytes left, byte to flip
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not downstream:
                    methods.extend(re.findall(rb"(?:^|\r\n)(GET|HEAD|PUT|POST|DELETE) /", data))
                elif self.corrupt:
                    data = self._flip(data, state, methods)
                dst.sendall(data)
                if downstream and self.rate:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _flip(data: bytes, state: list, methods: collections.deque) -> bytes:
        """Track response boundaries; flip the 5000th body byte of large GET responses."""
        out = bytearray(data)
        pos = 0
        while pos < len(out):
            header, body_left, flip_at = state
            if body_left == 0:
                before = len(header)
                header += bytes(out[pos:])
                end = header.find(b"\r\n\r\n")
                if end < 0:
                    state[:] = [header, 0, -1]
                    return bytes(out)
                length = 0
                for line in header[:end].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if (methods.popleft() if methods else b"GET") == b"HEAD":
                    length = 0
                large = header.startswith(b"HTTP/1.1 200") and length > 100_000
                state[:] = [b"", length, 5000 if large else -1]
                pos += end + 4 - before
            else:
                take = min(body_left, len(out) - pos)
                if 0 <= flip_at < take:
                    out[pos + flip_at] ^= 0xFF
                state[:] = [b"", body_left - take, flip_at - take if flip_at >= take else -1]
                pos += take
        return bytes(out)
