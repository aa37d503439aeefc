from __future__ import annotations

import asyncio
import bisect
import hashlib
from pathlib import Path

from media import Relay
from media.hooks import MediaEvent, SegmentWritten
from media.recording.recorder import ParticipantRecorder, RecordingResult
from media.recording.storage import LocalDirectoryStorage
from media.testing.client import ClientPool, TestClient
from media.testing.recording import Decoded, decode_recording, first_time_near


class Collect:
    def __init__(self) -> None:
        self.events: list[MediaEvent] = []

    async def on_event(self, event: MediaEvent) -> None:
        self.events.append(event)


def av_offset(client: TestClient, decoded: Decoded, new_tone: float) -> float:
    """How far audio is from video in the file, against what was sent at the same moment.

    The tone switched at a known capture time; the video frame captured then has a known
    number. In a synced file, (audio time of the switch - file time of that frame) equals
    (switch capture time - that frame's capture time).
    """
    assert client.audio is not None
    assert client.video is not None
    switched_at, frequency = client.audio.switches[-1]
    assert frequency == new_tone
    number = bisect.bisect_left(client.video.captured_at, switched_at)
    captured_at = client.video.captured_at[number]
    video_time = next(at for at, n in decoded.video if n >= number)
    audio_time = first_time_near(decoded.audio, new_tone)
    assert audio_time is not None, "the new tone is not in the recording"
    return (audio_time - video_time) - (switched_at - captured_at)


async def test_two_party_recording_is_synced_complete_and_not_reencoded(
    tmp_path: Path, clients: ClientPool
) -> None:
    hooks = Collect()
    relay = Relay(hooks=hooks)
    try:
        room = relay.room("session")
        storage = LocalDirectoryStorage(tmp_path)
        recorders = {p: ParticipantRecorder(room, p, storage) for p in ("alice", "bob")}
        # Started before anyone joins: the recorders pick up the participants' feeds.
        for recorder in recorders.values():
            recorder.start()
        alice = await clients.join(room, "alice", tone_hz=500.0)
        bob = await clients.join(room, "bob", tone_hz=1000.0)
        await asyncio.sleep(5)
        assert alice.audio is not None
        assert bob.audio is not None
        alice.audio.frequency = 1500.0
        bob.audio.frequency = 2500.0
        await asyncio.sleep(5)
        results: dict[str, RecordingResult] = {}
        for participant, recorder in recorders.items():
            results[participant] = await recorder.finalize()

        for client, tones in ((alice, (500.0, 1500.0)), (bob, (1000.0, 2500.0))):
            participant = client.participant_id
            result = results[participant]
            stats = recorders[participant].stats()
            path = storage.path_of(result.path)
            # Where the storage said the final file would be, before it was built.
            assert path == storage.final_path(participant)
            assert result.path == storage.final_name(participant)
            decoded = decode_recording(path)

            # Every packet the recorder got went to the journal, and every frame built from
            # it is in the file; nothing was dropped on the way.
            assert stats.dropped == 0
            assert stats.journaled == stats.received
            assert stats.written["video"] == result.video_frames == decoded.video_frames
            # The content is what was sent: pattern numbers, increasing, none unreadable,
            # (almost) none missing, over the ~10 s recorded.
            numbers = [n for _, n in decoded.video]
            assert numbers == sorted(numbers)
            assert len(set(numbers)) == len(numbers)
            assert decoded.video_unreadable == 0
            assert numbers[-1] - numbers[0] + 1 - len(numbers) <= 5
            times = [at for at, _ in decoded.video]
            assert times == sorted(times)
            assert times[-1] - times[0] > 8.5
            # Audio is there: both tones survive (Opus packets copied, not re-encoded).
            assert first_time_near(decoded.audio, tones[0]) is not None
            assert first_time_near(decoded.audio, tones[1]) is not None
            assert decoded.audio[-1][0] - decoded.audio[0][0] > 8.5
            # A/V sync from sender reports.
            offset = av_offset(client, decoded, tones[1])
            print(f"A/V offset {participant}: {offset * 1000:.0f} ms")
            assert abs(offset) < 0.1, offset

            assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
            assert abs(result.duration - (decoded.video[-1][0] - decoded.video[0][0])) < 0.5
            assert len(result.spans) == 1
            assert result.segments >= 1  # they rotate on the publisher's keyframes
            assert storage.is_finalized(participant)

        # Forwarding stayed decode- and encode-free while recording.
        relay_stats = relay.stats()
        assert relay_stats.decode_calls == 0
        assert relay_stats.encode_calls == 0
        await asyncio.sleep(0.1)  # let the hook consumer catch up
        written = [e for e in hooks.events if isinstance(e, SegmentWritten)]
        assert {e.participant_id for e in written} == {"alice", "bob"}
        assert len(written) == sum(r.segments for r in results.values())
        assert all(e.bytes > 0 and e.last_timestamp >= e.first_timestamp for e in written)
    finally:
        await relay.close()


async def test_reconnect_continues_the_recording_in_a_new_segment(
    tmp_path: Path, relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    storage = LocalDirectoryStorage(tmp_path)
    alice = await clients.join(room, "alice")
    recorder = ParticipantRecorder(room, "alice", storage)
    recorder.start()
    await alice.wait_for(lambda: recorder.stats().received["video"] >= 60, 10, "first stream")
    new_alice = await clients.join(room, "alice")
    await alice.close()
    received = recorder.stats().received["video"]
    await new_alice.wait_for(
        lambda: recorder.stats().received["video"] >= received + 60, 10, "second stream"
    )
    result = await recorder.finalize()

    numbers = [n for _, n in decode_recording(storage.path_of(result.path)).video]
    # The new connection's pattern restarts from 0: both streams are in the one file.
    restart = next(i for i in range(1, len(numbers)) if numbers[i] < numbers[i - 1])
    assert numbers[:restart] == sorted(numbers[:restart])
    assert numbers[restart:] == sorted(numbers[restart:])
    assert len(numbers) - restart >= 50
    assert result.segments >= 2  # the new stream starts a segment
