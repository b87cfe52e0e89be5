"""The S3 side of a download: an anonymous client, listings, and what a download did.

Fetching (``siscore.download.fetch``) streams each object to ``<name>.part``, resumes it
after a kill, and checks it (``siscore.download.verify``) before renaming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from siscore.errors import SiscoreError
from siscore.utils.extras import require


class DownloadError(SiscoreError, RuntimeError):
    """A bucket that cannot be listed or an object that cannot be fetched; the message says why."""


@dataclass(frozen=True)
class S3Object:
    """One object of a listing: key, size in bytes and ETag (quotes stripped)."""

    key: str
    size: int
    etag: str


@dataclass
class Summary:
    """What a download did: files fetched, reused (already verified) and failed, with bytes."""

    fetched: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    size_only: list[str] = field(default_factory=list)  # multipart ETag not reproducible
    resumed: list[str] = field(default_factory=list)  # fetched from a .part left by a killed run
    bytes_fetched: int = 0
    bytes_reused: int = 0
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Summary) -> None:
        for name in ("fetched", "reused", "failed", "size_only", "resumed", "notes"):
            getattr(self, name).extend(getattr(other, name))
        self.bytes_fetched += other.bytes_fetched
        self.bytes_reused += other.bytes_reused

    def text(self) -> str:
        lines = [f"fetched {len(self.fetched)} file(s) ({_human(self.bytes_fetched)}"
                 + (f", {len(self.resumed)} resumed from a partial download" if self.resumed
                    else "")
                 + f"), reused {len(self.reused)} ({_human(self.bytes_reused)}), failed "
                 f"{len(self.failed)}"]
        if self.size_only:
            lines.append(f"{len(self.size_only)} file(s) checked by size only (multipart ETag "
                         f"with an unknown part size), e.g. {self.size_only[0]}")
        lines += [f"failed: {key}: {reason}" for key, reason in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"... and {len(self.failed) - 20} more failures")
        lines += self.notes
        return "\n".join(lines)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def make_client(endpoint_url: str | None = None, workers: int = 8) -> Any:
    """An anonymous (unsigned) boto3 S3 client; ``endpoint_url`` points it at a mirror."""
    boto3 = require("boto3", "siscore download")
    require("botocore", "siscore download")
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(signature_version=UNSIGNED, max_pool_connections=max(10, workers),
                    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=20,
                    read_timeout=60)
    try:
        return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint_url,
                            config=config)
    except ValueError as exc:
        raise DownloadError(f"--endpoint-url {endpoint_url!r}: {exc}; give a URL such as "
                            "http://127.0.0.1:9000") from None


def _client_error(exc: Exception, what: str) -> DownloadError:
    return DownloadError(f"{what}: {exc}; check the network (or --endpoint-url) and run again")


def list_objects(client: Any, bucket: str, prefix: str) -> list[S3Object]:
    """Every object under ``prefix`` (folder markers skipped), in key order."""
    from botocore.exceptions import BotoCoreError, ClientError

    out: list[S3Object] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    out.append(S3Object(item["Key"], int(item["Size"]), item["ETag"].strip('"')))
    except (BotoCoreError, ClientError) as exc:
        raise _client_error(exc, f"listing s3://{bucket}/{prefix}") from None
    return sorted(out, key=lambda o: o.key)


def head_object(client: Any, bucket: str, key: str) -> S3Object | None:
    """The object at ``key``, or None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise _client_error(exc, f"s3://{bucket}/{key}") from None
    except BotoCoreError as exc:
        raise _client_error(exc, f"s3://{bucket}/{key}") from None
    return S3Object(key, int(head["ContentLength"]), head["ETag"].strip('"'))
