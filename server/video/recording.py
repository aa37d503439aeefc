"""The session's recorder and snapshot taps, over the media recorder and frame tap.

Signaling decides *when* (consent); this decides *where*: files go under the storage directory,
one folder per recording, and every file is registered in the database as it starts, so a crash
leaves a row that start-up marks incomplete, then recovers from the file's journal. A finalized
or recovered file is published to the recording store (server/video/store.py) before its row
says so: a row that is playable is playable from every host.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media import LocalDirectoryStorage, ParticipantRecorder, Relay, recover
from media.frame_tap import FrameTap
from server.db import transaction, utcnow
from server.models import Recording
from server.services.audit import Actor
from server.services.video.recordings import (
    find_open_recording,
    finish_recording_file,
    register_recording_file,
)
from server.services.video.recovery import (
    claim_file_for_recovery,
    fail_file_recovery,
    get_recording_file,
    mark_interrupted_files,
)
from server.video.store import RecordingStore
from signaling.ports import SessionTaps

log = logging.getLogger(__name__)

SYSTEM = Actor("system", None, "recorder")


def _in_background(background: set[asyncio.Task[None]], work: Awaitable[object]) -> None:
    """Run ``work`` as a task kept in ``background`` (which a graceful shutdown waits for) until
    it ends; a failure is logged, never lost with the task."""

    async def run() -> None:
        try:
            await work
        except Exception:
            log.exception("background recording work failed")

    task = asyncio.create_task(run())
    background.add(task)
    task.add_done_callback(background.discard)


def _recording_dir(storage_root: Path, session_id: str, recording_id: str) -> Path:
    """One recording's storage directory: a ``LocalDirectoryStorage`` root, which knows where
    each participant's files are in it."""
    return storage_root / session_id / recording_id


class SessionRecorder:
    """RecorderPort for one session: a ParticipantRecorder per consenting participant."""

    def __init__(
        self,
        relay: Relay,
        session_id: str,
        db: async_sessionmaker[AsyncSession],
        storage_root: Path,
        background: set[asyncio.Task[None]],
        store: RecordingStore,
    ) -> None:
        self._relay = relay
        self._session_id = session_id
        self._db = db
        self._root = storage_root
        self._store = store
        self._background = background
        self._recording_id: str | None = None
        self._storage: LocalDirectoryStorage | None = None
        self._recorders: dict[str, ParticipantRecorder] = {}
        self._files: dict[str, uuid.UUID] = {}
        # The recording's own clock (pauses excluded), the same one annotations carry, so each
        # file can say where it begins on it.
        self._recorded_ms = 0.0
        self._running_since: float | None = None
        self._offsets: dict[str, float] = {}

    def _clock_ms(self) -> float:
        running = 0.0
        if self._running_since is not None:
            running = (time.monotonic() - self._running_since) * 1000
        return self._recorded_ms + running

    async def _current_recording(self) -> str:
        async with transaction(self._db) as session:
            rec = await find_open_recording(session, self._session_id)
            if rec is None:
                raise RuntimeError("no recording row for the session: consent not stored")
            return rec.id

    async def start(self, participant_ids: Sequence[str]) -> None:
        self._recording_id = await self._current_recording()
        self._storage = LocalDirectoryStorage(
            _recording_dir(self._root, self._session_id, self._recording_id)
        )
        self._recorded_ms, self._running_since = 0.0, time.monotonic()
        for pid in participant_ids:
            await self.add_participant(pid)

    async def add_participant(self, participant_id: str) -> None:
        if self._storage is None or self._recording_id is None:
            raise RuntimeError("recorder not started")
        if participant_id in self._recorders:
            return
        peer = self._relay.room(self._session_id).peer(participant_id)
        if peer is not None and not peer.publish:
            # Observers are recorded as present (they consented) but send no media: no file.
            return
        recorder = ParticipantRecorder(
            self._relay.room(self._session_id), participant_id, self._storage
        )
        recorder.start()
        self._recorders[participant_id] = recorder
        self._offsets[participant_id] = offset = self._clock_ms()
        async with transaction(self._db) as session:
            row = await register_recording_file(
                session,
                self._session_id,
                self._recording_id,
                participant_id,
                str(self._storage.final_path(participant_id).relative_to(self._root)),
                utcnow(),
                SYSTEM,
                offset_ms=int(offset),
            )
            self._files[participant_id] = row.id

    async def remove_participant(self, participant_id: str) -> None:
        recorder = self._recorders.get(participant_id)
        if recorder is not None:
            # Nothing more is written for them; their file is finalized with everyone's.
            recorder.pause()

    async def pause(self) -> None:
        self._recorded_ms = self._clock_ms()
        self._running_since = None
        for recorder in self._recorders.values():
            recorder.pause()

    async def resume(self) -> None:
        if self._running_since is None:
            self._running_since = time.monotonic()
        for recorder in self._recorders.values():
            recorder.resume()

    async def stop(self) -> None:
        recorders, files, offsets = dict(self._recorders), dict(self._files), dict(self._offsets)
        self._recorders.clear()
        self._files.clear()
        self._offsets.clear()
        self._recorded_ms, self._running_since = self._clock_ms(), None
        for recorder in recorders.values():
            await recorder.stop()
        # Remuxing a long recording takes seconds: never inside the session's lock.
        _in_background(self._background, self._finalize(recorders, files, offsets))

    async def _finalize(
        self,
        recorders: dict[str, ParticipantRecorder],
        files: dict[str, uuid.UUID],
        offsets: dict[str, float],
    ) -> None:
        for pid, recorder in recorders.items():
            file_id = files.get(pid)
            offset: int | None = None
            try:
                result = await recorder.finalize()
                await _publish(self._store, self._root, recorder.storage, pid)
                status, sha, duration = "finalized", result.sha256, int(result.duration * 1000)
                # The file begins with its first packet, a little after its recorder started.
                offset = int(offsets.get(pid, 0.0) + result.starts_at * 1000)
            except Exception:
                log.exception("finalizing the recording of %s failed", pid)
                status, sha, duration = "incomplete", None, None
            if file_id is None:
                continue
            async with transaction(self._db) as session:
                await finish_recording_file(
                    session,
                    file_id,
                    status=status,
                    sha256=sha,
                    duration_ms=duration,
                    offset_ms=offset,
                    actor=SYSTEM,
                )


class SessionSnapshots:
    """SnapshotPort: one still from the forwarded stream, decoded off the forwarding path."""

    def __init__(self, relay: Relay, session_id: str) -> None:
        self._relay = relay
        self._session_id = session_id

    async def snapshot(self, participant_id: str) -> bytes | None:
        tap = FrameTap(self._relay.room(self._session_id), participant_id)
        tap.start()
        try:
            shot = await tap.snapshot("jpeg", within=3.0)
        except (TimeoutError, RuntimeError, LookupError, ValueError):
            # No frame yet (camera off, just joined): the therapist is told, nothing is saved.
            return None
        finally:
            tap.close()
        return shot.data


class Recorders:
    """The runtime's recorders: built per session, and all finalized on a graceful shutdown
    (so a restart for a deploy does not leave recordings marked incomplete)."""

    def __init__(
        self,
        relay: Relay,
        db: async_sessionmaker[AsyncSession],
        storage_root: Path,
        store: RecordingStore,
    ) -> None:
        self._relay = relay
        self._db = db
        self._root = storage_root
        self._store = store
        self.background: set[asyncio.Task[None]] = set()
        self._live: weakref.WeakSet[SessionRecorder] = weakref.WeakSet()

    def spawn(self, work: Awaitable[object]) -> None:
        """Background work a graceful shutdown waits for (within its grace)."""
        _in_background(self.background, work)

    def taps(self, session_id: str) -> SessionTaps:
        recorder = SessionRecorder(
            self._relay, session_id, self._db, self._root, self.background, self._store
        )
        self._live.add(recorder)
        return SessionTaps(recorder=recorder, snapshots=SessionSnapshots(self._relay, session_id))

    async def shutdown(self, grace_seconds: float = 30.0) -> None:
        for recorder in list(self._live):
            try:
                await recorder.stop()
            except Exception:
                log.exception("stopping a recorder at shutdown failed")
        if self.background:
            await asyncio.wait(self.background, timeout=grace_seconds)


async def mark_interrupted_recordings(
    db: async_sessionmaker[AsyncSession],
    hosted_elsewhere: Callable[[str], Awaitable[bool]] | None = None,
    storage_root: Path | None = None,
    started_before: datetime | None = None,
) -> list[uuid.UUID]:
    """At start-up, or when a node is declared dead: files a dead process left 'recording'
    become incomplete (ids returned); their recordings end at the last write to their journals
    on disk (mark_interrupted_files)."""
    async with transaction(db) as session:
        return await mark_interrupted_files(
            session,
            SYSTEM,
            hosted_elsewhere,
            lambda rec: _last_journal_write(storage_root, rec),
            started_before,
        )


def _last_journal_write(storage_root: Path | None, recording: Recording) -> datetime | None:
    """When any participant's journal of the recording was last appended to, if on disk."""
    if storage_root is None:
        return None
    recording_dir = _recording_dir(storage_root, str(recording.session_id), recording.id)
    if not recording_dir.is_dir():
        return None
    written = LocalDirectoryStorage(recording_dir).last_journal_write()
    return None if written is None else datetime.fromtimestamp(written, UTC)


async def _publish(store: RecordingStore, root: Path, storage: object, participant_id: str) -> None:
    """The participant's final file, from the working directory to the store (its key: the
    path under the working directory, as the database keeps it)."""
    if not isinstance(storage, LocalDirectoryStorage):
        raise TypeError("recordings are written to a LocalDirectoryStorage")
    path = storage.final_path(participant_id)
    await asyncio.to_thread(store.publish, str(path.relative_to(root)), path)


async def recover_recordings(
    db: async_sessionmaker[AsyncSession],
    storage_root: Path,
    file_ids: Iterable[uuid.UUID],
    store: RecordingStore,
) -> dict[str, str]:
    """Build interrupted files from their journals (``media.recover``): each playable as
    'recovered', ending up to ~0.5 s before the process stopped; a file with nothing on disk
    to build from stays incomplete. One file at a time, each in a child process at nice 10: a
    restart after a busy hour does not take the cores the sessions starting meanwhile need.
    Returns what became of each file id (recovered, incomplete, skipped)."""
    outcome: dict[str, str] = {}
    for file_id in file_ids:
        outcome[str(file_id)] = await _recover_one(db, storage_root, file_id, store)
    return outcome


async def _recover_one(
    db: async_sessionmaker[AsyncSession],
    storage_root: Path,
    file_id: uuid.UUID,
    store: RecordingStore,
) -> str:
    async with db() as session:
        row = await get_recording_file(session, file_id)
        if row is None:
            return "skipped"
        recording_dir = _recording_dir(storage_root, str(row.session_id), row.recording_id)
        participant_id = row.participant_id
    storage = LocalDirectoryStorage(recording_dir) if recording_dir.is_dir() else None
    if storage is None or not (
        storage.has_journal(participant_id) or storage.is_finalized(participant_id)
    ):
        return "skipped"  # nothing was journaled (or the files are gone): stays incomplete
    async with transaction(db) as session:
        row = await claim_file_for_recovery(session, file_id)
    if row is None:
        return "skipped"  # another worker has it, or it is no longer incomplete
    provisional = row.offset_ms
    try:
        result = await recover(storage, participant_id)
        await _publish(store, storage_root, storage, participant_id)
    except Exception as exc:
        log.exception("recovering the recording file %s failed", file_id)
        async with transaction(db) as session:
            await fail_file_recovery(session, file_id, str(exc), SYSTEM)
        return "incomplete"
    async with transaction(db) as session:
        await finish_recording_file(
            session,
            file_id,
            status="recovered",
            sha256=result.sha256,
            duration_ms=int(result.duration * 1000),
            offset_ms=None if provisional is None else int(provisional + result.starts_at * 1000),
            actor=SYSTEM,
        )
    log.warning(
        "recovered an interrupted recording",
        extra={"file": str(file_id), "duration_s": round(result.duration, 1)},
    )
    return "recovered"
