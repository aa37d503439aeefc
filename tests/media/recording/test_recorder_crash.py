from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from media.recording import replay
from media.recording.storage import LocalDirectoryStorage
from media.testing.recording import decode_recording

ROOT = Path(__file__).resolve().parents[3]


def test_sigkill_leaves_a_journal_the_recording_is_built_from(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "media.testing.record_session", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    journals = [tmp_path / p / "journal.bin" for p in ("alice", "bob")]
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "recording"
        # Both journals grow (appended every 0.5 s) for a few seconds of media.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(j.is_file() and j.stat().st_size > 200_000 for j in journals):
                break
            time.sleep(0.2)
        time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL

    storage = LocalDirectoryStorage(tmp_path)
    assert storage.participants() == ["alice", "bob"]
    # A crash can cut the last record short: reading stops before it.
    with journals[1].open("ab") as file:
        file.write(b"\x40\x06\x00\x00\x01\x00")
    # Alice's file is built in this process, bob's by the command the operations guide gives.
    for participant in ("alice", "bob"):
        # No finalize marker: the application can mark the recording incomplete.
        assert not storage.is_finalized(participant)
    final = replay.salvage(storage, "alice")
    built = subprocess.run(
        [sys.executable, "-m", "media.recording.replay", str(tmp_path), "bob"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    summary = json.loads(built.stdout)
    bob_file = storage.path_of(summary["file"])
    assert hashlib.sha256(bob_file.read_bytes()).hexdigest() == summary["sha256"]
    for path, frames in ((storage.path_of(final.name), final.video_packets), (bob_file, None)):
        decoded = decode_recording(path)  # raises on a damaged file
        numbers = [n for _, n in decoded.video]
        assert decoded.video_unreadable == 0
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == len(numbers)
        assert numbers[-1] - numbers[0] + 1 - len(numbers) <= 5  # (almost) none missing
        assert decoded.video[-1][0] - decoded.video[0][0] > 1.5
        assert decoded.audio
        if frames is not None:
            assert frames == decoded.video_frames
