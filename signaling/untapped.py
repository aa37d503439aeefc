"""The taps a session gets when its host is given none: a recorder that writes nothing and a
snapshot source with no frames.

The session still runs the whole consent flow against them (and the backend still stores
consents, states and spans), which is what signaling's own tests exercise. The server passes
its own `SessionTapsFactory` to `SessionHostFactory` (server/video/recording.py: the media
recorder and frame tap), so a running Tandem never uses these.
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
