"""A relay room with two test participants, recorded until the process is killed.

``python -m media.testing.record_session DIR``: tests SIGKILL it to check what survives a crash.
"""

from __future__ import annotations

import asyncio
import sys

from media import Relay
from media.recording.recorder import ParticipantRecorder
from media.recording.storage import LocalDirectoryStorage
from media.testing.client import ClientPool


async def record_forever(root: str) -> None:
    relay = Relay()
    pool = ClientPool()
    room = relay.room("session")
    storage = LocalDirectoryStorage(root)
    for participant in ("alice", "bob"):
        ParticipantRecorder(room, participant, storage).start()
    await pool.join(room, "alice", tone_hz=500.0)
    await pool.join(room, "bob", tone_hz=1000.0)
    print("recording", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(record_forever(sys.argv[1]))
