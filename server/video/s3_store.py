"""Recordings in an S3-compatible object store (AWS S3, MinIO, Ceph RGW...), through boto3.

Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile,
an instance role); the bucket, endpoint, region and key prefix from TANDEM_S3_* settings. Uploads
use boto3's managed transfer (multipart past 8 MB); playback asks for the byte range the browser
asked for and streams the answer.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from server.config import Settings

from .store import CHUNK, checked_key

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store:
    kind = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self._prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        if not settings.s3_bucket:
            raise ValueError("TANDEM_RECORDING_STORE=s3 needs TANDEM_S3_BUCKET")
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def _key(self, key: str) -> str:
        return self._prefix + checked_key(key)

    def publish(self, key: str, source: Path) -> None:
        self._client.upload_file(
            str(source), self.bucket, self._key(key), ExtraArgs={"ContentType": "video/webm"}
        )

    def size(self, key: str) -> int:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                raise FileNotFoundError(key) from None
            raise
        return int(head["ContentLength"])

    def open_range(self, key: str, start: int, length: int) -> Generator[bytes, None, None]:
        if length <= 0:
            return
        answer = self._client.get_object(
            Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{start + length - 1}"
        )
        body = answer["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()
