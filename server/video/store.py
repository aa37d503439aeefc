"""Where finished recordings are kept, so that whichever host serves a request can play them.

Recording writes to the node's working directory (TANDEM_STORAGE_DIR; media/recording/storage.py:
a journal while recording, then segments and the final file). A file that is finalized or
recovered is then *published* to the store under its key (its path relative to the working
directory, as the database keeps it), and playback reads it back from the store. Home-program
clips are kept here too (key ``clips/<name>``), cut from a ``local_copy`` of their recording.
Blocking calls: run them in a thread.

- ``SharedDirectoryStore``: a directory every host mounts (NFS or the like). When it is the
  working directory itself (TANDEM_RECORDING_STORE=shared-directory, the default), publishing
  has nothing to do, and any host can also rebuild the journals a dead host left.
- ``S3Store`` (server/video/s3_store.py): an S3-compatible bucket, through boto3.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Protocol

from server.config import Settings

CHUNK = 256 * 1024


class RecordingStore(Protocol):
    kind: str

    def publish(self, key: str, source: Path) -> None:
        """Make the finished file at ``source`` readable under ``key`` from every host."""
        ...

    def size(self, key: str) -> int:
        """Bytes stored under ``key``; FileNotFoundError when there is nothing."""
        ...

    def open_range(self, key: str, start: int, length: int) -> Generator[bytes, None, None]:
        """``length`` bytes from ``start``, in chunks (blocking: iterate in a thread)."""
        ...


def checked_key(key: str) -> str:
    """A storage-relative path: no absolute path, no `..`, no empty part."""
    parts = key.split("/")
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"not a recording key: {key!r}")
    return key


class SharedDirectoryStore:
    """Files under ``root``, a directory every host mounts (keys are relative paths)."""

    kind = "shared-directory"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def publish(self, key: str, source: Path) -> None:
        target = self.path(key)
        if target == source.resolve():
            return  # recorded right here (the working directory is the shared one)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with source.open("rb") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        # Atomic on one file system (NFS included): a reader sees the whole file or none.
        partial.replace(target)

    def size(self, key: str) -> int:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.stat().st_size

    def open_range(self, key: str, start: int, length: int) -> Generator[bytes, None, None]:
        with self.path(key).open("rb") as handle:
            handle.seek(start)
            remaining = length
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk


@contextlib.contextmanager
def local_copy(store: RecordingStore, key: str, working_dir: Path) -> Iterator[Path]:
    """A file on this host's disk holding what the store keeps under ``key``: the working
    directory's own when it has one (this host recorded it, or the store is the working
    directory), else a download into the working directory, removed on exit. Blocking: run
    it in a thread. FileNotFoundError when the store has nothing under ``key``."""
    here = working_dir / checked_key(key)
    if here.is_file():
        yield here
        return
    size = store.size(key)
    with scratch_file(working_dir, ".download-") as path:
        written = 0
        with path.open("wb") as out:
            for chunk in store.open_range(key, 0, size):
                out.write(chunk)
                written += len(chunk)
        if written != size:
            raise OSError(f"{key}: the store gave {written} of its {size} bytes")
        yield path


@contextlib.contextmanager
def scratch_file(working_dir: Path, prefix: str) -> Iterator[Path]:
    """A new empty file in the working directory (named ``prefix``..., ``.part``), removed on
    exit whatever happens."""
    handle, name = tempfile.mkstemp(dir=working_dir, prefix=prefix, suffix=".part")
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def recording_store(settings: Settings) -> RecordingStore:
    """The store the settings name (docs/operations.md, "Recordings on several hosts")."""
    if settings.recording_store == "s3":
        from server.video.s3_store import S3Store

        return S3Store.from_settings(settings)
    return SharedDirectoryStore(settings.storage_dir)
