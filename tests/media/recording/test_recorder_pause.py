from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from media import Relay
from media.recording.recorder import ParticipantRecorder
from media.recording.storage import LocalDirectoryStorage
from media.testing.client import ClientPool
from media.testing.recording import decode_recording


async def test_pause_leaves_frames_out_and_shows_in_the_spans(
    tmp_path: Path, relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    storage = LocalDirectoryStorage(tmp_path)
    alice = await clients.join(room, "alice")
    assert alice.video is not None
    recorder = ParticipantRecorder(room, "alice", storage)
    recorder.start()
    await alice.wait_for(lambda: recorder.stats().received["video"] >= 60, 10, "recording")

    recorder.pause()
    paused_from = alice.video.frames_sent
    await asyncio.sleep(2)
    paused_until = alice.video.frames_sent
    recorder.resume()
    received = recorder.stats().received["video"]
    await alice.wait_for(
        lambda: recorder.stats().received["video"] >= received + 45, 10, "recording again"
    )
    result = await recorder.finalize()

    decoded = decode_recording(storage.path_of(result.path))
    numbers = [n for _, n in decoded.video]
    # Frames made while paused are not in the file (a few made just before the pause were
    # still on their way to the relay).
    left_out = [n for n in numbers if paused_from + 10 <= n < paused_until]
    assert left_out == []
    assert any(n < paused_from for n in numbers)
    assert any(n >= paused_until for n in numbers)
    # The file leaves the pause out: no ~2 s hole in the video's timeline.
    times = [at for at, _ in decoded.video]
    assert max(b - a for a, b in itertools.pairwise(times)) < 1.2

    assert len(result.spans) == 2
    first, second = result.spans
    assert 1.8 < second.start - first.end < 2.5
    assert abs(second.file_start - (first.file_start + first.end - first.start)) < 1e-6
    assert result.duration < second.end - result.starts_at - 1.5
    assert recorder.state == "stopped"
