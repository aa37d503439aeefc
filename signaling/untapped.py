"""Stand-in media taps until the media recorder and frame tap are wired in.

PLACEHOLDER: `untapped` records nothing and has no frames. The session still runs the whole
consent flow against it (and persists consents, states and spans), so the protocol can ship
first; the server swaps in the media recorder (media/recording/recorder.py,
media/frame_tap.py) by passing its own `SessionTapsFactory` to `SessionHostFactory`.
"""

from __future__ import annotations

from collections.abc import Sequence

from signaling.ports import SessionTaps


class NoRecorder:
    async def start(self, participant_ids: Sequence[str]) -> None:
        return None

    async def pause(self) -> None:
        return None

    async def resume(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def add_participant(self, participant_id: str) -> None:
        return None

    async def remove_participant(self, participant_id: str) -> None:
        return None


class NoSnapshots:
    async def snapshot(self, participant_id: str) -> bytes | None:
        return None


def untapped(session_id: str) -> SessionTaps:
    return SessionTaps(recorder=NoRecorder(), snapshots=NoSnapshots())
