"""An S3 emulator for tests: moto's server mode (a real HTTP server speaking the S3 API), in a
process of its own; ``wrap`` runs it in a network namespace."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx

# moto accepts any credentials; boto3 wants some.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "tandem-test",
    "AWS_SECRET_ACCESS_KEY": "tandem-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@contextlib.contextmanager
def moto_server(
    log: Path, host: str = "127.0.0.1", port: int = 0, wrap: tuple[str, ...] = ()
) -> Iterator[str]:
    """Yields the endpoint URL once the emulator answers (looked for from this namespace
    unless ``wrap`` puts it elsewhere: then the caller waits)."""
    if port == 0:
        from live import free_port

        port = free_port()
    endpoint = f"http://{host}:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*wrap, sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        if not wrap:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(endpoint, timeout=1)
                    break
                except httpx.HTTPError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto did not start: {log.read_text()}") from None
                    time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_environment(endpoint: str, bucket: str) -> dict[str, str]:
    """What a Tandem process needs to keep its recordings in the emulator's bucket."""
    return {
        **CREDENTIALS,
        "TANDEM_RECORDING_STORE": "s3",
        "TANDEM_S3_ENDPOINT_URL": endpoint,
        "TANDEM_S3_BUCKET": bucket,
        "TANDEM_S3_PREFIX": "recordings/",
    }
