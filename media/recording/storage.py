"""Where one session's recording lives: a journal while recording, then segments and a final file.

The recorder only sees ``RecordingStorage``; an object store can implement it later (upload on
``commit``) without touching the relay. Names are storage-relative ("alice/seg-000001.webm").

Completeness is visible in storage alone, so the application can tell after a crash: a
participant whose journal (or segments) exist but who has no finalize marker has an
*incomplete* recording, which ``media.recording.replay`` can still build from the journal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from media.recording import journal

_SEGMENT_SUFFIX = ".webm"
_PARTIAL = ".part"
_FINAL = "final.webm"
_MARKER = "final.json"
_JOURNAL = "journal.bin"


class WritableObject(Protocol):
    """A file being written; invisible to ``segments``/``open_read`` until committed."""

    name: str
    file: BinaryIO

    def commit(self) -> int:
        """Make the object complete and durable; returns its size in bytes."""
        ...

    def abort(self) -> None: ...


class RecordingStorage(Protocol):
    def open_journal(self, participant_id: str) -> BinaryIO:
        """The participant's journal, for appending (created with its header if new)."""
        ...

    def read_journal(self, participant_id: str) -> BinaryIO:
        """Raises FileNotFoundError when the participant has none."""
        ...

    def remove_journal(self, participant_id: str) -> None: ...

    def open_segment(self, participant_id: str, index: int) -> WritableObject: ...

    def segments(self, participant_id: str) -> list[str]:
        """Committed segments of a participant, in recording order."""
        ...

    def final_name(self, participant_id: str) -> str:
        """Where the participant's final file is (or will be, once finalized)."""
        ...

    def open_final(self, participant_id: str) -> WritableObject: ...

    def open_read(self, name: str) -> BinaryIO: ...

    def mark_finalized(self, participant_id: str, manifest: dict[str, object]) -> None: ...

    def is_finalized(self, participant_id: str) -> bool: ...

    def participants(self) -> list[str]:
        """Everyone with a journal or at least one committed segment."""
        ...


class _LocalFile:
    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self._path = root / name
        self._partial = self._path.with_name(self._path.name + _PARTIAL)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Seekable: the WebM muxer goes back to write sizes and cues when it can.
        self.file: BinaryIO = self._partial.open("w+b")

    def commit(self) -> int:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        # rename is atomic: a reader (or a crash) sees a complete segment or none.
        self._partial.replace(self._path)
        return self._path.stat().st_size

    def abort(self) -> None:
        self.file.close()
        self._partial.unlink(missing_ok=True)


class LocalDirectoryStorage:
    """``root/<participant>/``: ``journal.bin``, ``seg-NNNNNN.webm``, ``final.webm`` and the
    ``final.json`` marker."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, participant_id: str) -> str:
        if not participant_id or "/" in participant_id or participant_id.startswith("."):
            raise ValueError(f"participant id unusable as a directory: {participant_id!r}")
        return participant_id

    def open_journal(self, participant_id: str) -> BinaryIO:
        folder = self.root / self._dir(participant_id)
        folder.mkdir(parents=True, exist_ok=True)
        file = (folder / _JOURNAL).open("ab")
        if file.tell() == 0:
            file.write(journal.MAGIC)
        return file

    def read_journal(self, participant_id: str) -> BinaryIO:
        return (self.root / self._dir(participant_id) / _JOURNAL).open("rb")

    def remove_journal(self, participant_id: str) -> None:
        (self.root / self._dir(participant_id) / _JOURNAL).unlink(missing_ok=True)

    def open_segment(self, participant_id: str, index: int) -> _LocalFile:
        return _LocalFile(
            self.root, f"{self._dir(participant_id)}/seg-{index:06d}{_SEGMENT_SUFFIX}"
        )

    def segments(self, participant_id: str) -> list[str]:
        folder = self.root / self._dir(participant_id)
        if not folder.is_dir():
            return []
        return [
            f"{participant_id}/{path.name}"
            for path in sorted(folder.glob(f"seg-*{_SEGMENT_SUFFIX}"))
        ]

    def final_name(self, participant_id: str) -> str:
        return f"{self._dir(participant_id)}/{_FINAL}"

    def final_path(self, participant_id: str) -> Path:
        """The final file on disk (``final_name`` under the root)."""
        return self.path_of(self.final_name(participant_id))

    def open_final(self, participant_id: str) -> _LocalFile:
        return _LocalFile(self.root, self.final_name(participant_id))

    def open_read(self, name: str) -> BinaryIO:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"outside the recording: {name!r}")
        return path.open("rb")

    def path_of(self, name: str) -> Path:
        return self.root / name

    def mark_finalized(self, participant_id: str, manifest: dict[str, object]) -> None:
        marker = _LocalFile(self.root, f"{self._dir(participant_id)}/{_MARKER}")
        marker.file.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
        marker.commit()

    def is_finalized(self, participant_id: str) -> bool:
        return (self.root / self._dir(participant_id) / _MARKER).is_file()

    def read_manifest(self, participant_id: str) -> dict[str, Any]:
        """What ``mark_finalized`` stored."""
        data = json.loads((self.root / self._dir(participant_id) / _MARKER).read_bytes())
        if not isinstance(data, dict):
            raise ValueError(f"{participant_id}: {_MARKER} is not an object")
        return data

    def has_journal(self, participant_id: str) -> bool:
        return (self.root / self._dir(participant_id) / _JOURNAL).is_file()

    def last_journal_write(self) -> float | None:
        """When any participant's journal was last appended to (Unix time), if one is left."""
        times = [path.stat().st_mtime for path in self.root.glob(f"*/{_JOURNAL}")]
        return max(times) if times else None

    def participants(self) -> list[str]:
        return sorted(
            path.name
            for path in self.root.iterdir()
            if path.is_dir()
            and ((path / _JOURNAL).is_file() or any(path.glob(f"seg-*{_SEGMENT_SUFFIX}")))
        )
