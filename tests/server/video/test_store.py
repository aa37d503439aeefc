"""The recording store's two adapters, for real: a shared directory, and an S3 bucket in moto's
server mode (an S3 emulator speaking the S3 API over HTTP)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from s3 import s3_client

from server.video.s3_store import S3Store
from server.video.store import CHUNK, RecordingStore, SharedDirectoryStore

KEY = "sess/rec/p_1/final.webm"


@pytest.fixture(params=["shared-directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RecordingStore:
    if request.param == "shared-directory":
        return SharedDirectoryStore(tmp_path / "shared")
    client = s3_client(request.getfixturevalue("s3_endpoint"))
    bucket = f"tandem-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket)
    return S3Store(client, bucket, prefix="recordings/")


def recorded(tmp_path: Path, size: int) -> Path:
    source = tmp_path / "work" / KEY
    source.parent.mkdir(parents=True)
    source.write_bytes(secrets.token_bytes(size))
    return source


def test_a_published_file_reads_back_whole_and_by_range(
    store: RecordingStore, tmp_path: Path
) -> None:
    source = recorded(tmp_path, 2 * CHUNK + 1234)
    data = source.read_bytes()
    store.publish(KEY, source)
    source.unlink()  # read from the store, not from where it was recorded
    assert store.size(KEY) == len(data)
    assert b"".join(store.open_range(KEY, 0, len(data))) == data
    assert b"".join(store.open_range(KEY, CHUNK - 10, 5000)) == data[CHUNK - 10 : CHUNK + 4990]
    assert b"".join(store.open_range(KEY, len(data) - 7, 7)) == data[-7:]


def test_a_file_not_in_the_store_is_not_found(store: RecordingStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.size("sess/rec/p_9/final.webm")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../../b", "a//b", "./a"])
def test_keys_outside_the_store_are_refused(store: RecordingStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a recording key"):
        store.size(key)


def test_the_working_directory_as_the_shared_one_publishes_in_place(tmp_path: Path) -> None:
    source = recorded(tmp_path, 100)
    store = SharedDirectoryStore(tmp_path / "work")
    store.publish(KEY, source)
    assert store.size(KEY) == 100
    assert sorted(p.name for p in source.parent.iterdir()) == ["final.webm"]
