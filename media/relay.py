"""The relay: the process's rooms, its counters and hook events, and its recorders' journal
writer, all created and closed together (the application holds one per process)."""

from __future__ import annotations

from media.aiortc import install
from media.config import RelayConfig
from media.hooks import HookDispatcher, MediaHooks
from media.recording.writer import JournalWriter
from media.room import Room
from media.stats import Counters, RelayStats


class Relay:
    """Forwarding SFU: rooms of peer connections, encoded media in, the same media out."""

    def __init__(
        self, config: RelayConfig | None = None, *, hooks: MediaHooks | None = None
    ) -> None:
        install()
        self.config = config if config is not None else RelayConfig()
        self._counters = Counters()
        # One ordered event stream per relay: the application persists it (media/hooks.py).
        self.hooks = HookDispatcher(hooks)
        # The thread its rooms' recorders append their journals with; closed with the relay.
        self.journal_writer = JournalWriter()
        self._rooms: dict[str, Room] = {}

    def room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = Room(room_id, self.config, self._counters, self.hooks, self.journal_writer)
            self._rooms[room_id] = room
        return room

    def get_room(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        while self._rooms:
            _, room = self._rooms.popitem()
            await room.close()
        await self.hooks.close()
        # Recordings still running keep their turns until they stop; nothing new starts.
        self.journal_writer.close()

    def stats(self) -> RelayStats:
        peers = sum(room.peer_count for room in self._rooms.values())
        return self._counters.snapshot(rooms=len(self._rooms), peers=peers)
