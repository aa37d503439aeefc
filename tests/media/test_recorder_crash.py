from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from media import remux
from media.storage import LocalDirectoryStorage
from media.testing.recording import decode_recording

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_leaves_decodable_segments_and_an_incomplete_marker(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "media.testing.record_session", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "recording"
        storage = LocalDirectoryStorage(tmp_path)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(len(storage.segments(p)) >= 3 for p in ("alice", "bob")):
                break
            time.sleep(0.2)
        # Mid-segment: the open one is what a crash may lose.
        time.sleep(0.7)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL

    storage = LocalDirectoryStorage(tmp_path)
    assert storage.participants() == ["alice", "bob"]
    for participant in ("alice", "bob"):
        # No finalize marker: the application can mark the recording incomplete.
        assert not storage.is_finalized(participant)
        segments = storage.segments(participant)
        assert len(segments) >= 3
        last_number = -1
        for name in segments:
            decoded = decode_recording(storage.path_of(name))  # raises on a damaged file
            numbers = [n for _, n in decoded.video]
            assert decoded.video_frames > 0, name
            assert decoded.video_unreadable == 0, name
            assert numbers == sorted(numbers), name
            assert numbers[0] > last_number, name
            assert decoded.audio, name
            last_number = numbers[-1]
        # What survived can still be joined into one file (the "salvage" path).
        salvaged = remux.concatenate(storage, participant)
        assert decode_recording(storage.path_of(salvaged.name)).video_frames == sum(
            decode_recording(storage.path_of(name)).video_frames for name in segments
        )
