"""The journal writer belongs to its relay: one thread per relay, ended when the relay closes
and its last recording has stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from media import LocalDirectoryStorage, ParticipantRecorder, Relay


async def ended(relay: Relay) -> bool:
    for _ in range(40):
        if not relay.journal_writer.running:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_each_relay_has_its_own_writer_closed_with_it(tmp_path: Path) -> None:
    one, other = Relay(), Relay()
    assert one.journal_writer is not other.journal_writer
    assert one.room("a").journal_writer is one.room("b").journal_writer is one.journal_writer
    room = one.room("session")
    recorder = ParticipantRecorder(room, "alice", LocalDirectoryStorage(tmp_path))
    assert not one.journal_writer.running  # the thread starts with the first recording
    recorder.start()
    assert one.journal_writer.running
    assert not other.journal_writer.running
    await recorder.stop()
    assert one.journal_writer.running  # the relay still takes recordings
    await one.close()
    await other.close()
    assert await ended(one)
    late = ParticipantRecorder(room, "bob", LocalDirectoryStorage(tmp_path))
    with pytest.raises(RuntimeError, match="relay is closed"):
        late.start()


async def test_a_recording_running_when_its_relay_closes_is_written_until_it_stops(
    tmp_path: Path,
) -> None:
    relay = Relay()
    storage = LocalDirectoryStorage(tmp_path)
    recorder = ParticipantRecorder(relay.room("session"), "alice", storage)
    recorder.start()
    await relay.close()
    await asyncio.sleep(0.6)  # a writer turn after the close
    assert relay.journal_writer.running
    assert storage.has_journal("alice")
    await asyncio.wait_for(recorder.stop(), 5)  # its journal is closed by the writer
    assert await ended(relay)
