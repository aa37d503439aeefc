"""Who is in a session (lobby, present, reconnecting) and the views each role may see."""

from __future__ import annotations

from collections.abc import Iterator

from signaling.participant import Participant
from signaling.protocol import LobbyUpdate, Participants, SessionState, Waiting, _Message

ACTIVE = ("lobby", "present", "reconnecting")
IN_ROOM = ("present", "reconnecting")


class Roster:
    def __init__(self) -> None:
        self._people: dict[str, Participant] = {}

    def __iter__(self) -> Iterator[Participant]:
        # A copy: callers drop people while iterating.
        return iter(list(self._people.values()))

    def get(self, participant_id: str) -> Participant | None:
        return self._people.get(participant_id)

    def add(self, who: Participant) -> None:
        self._people[who.participant_id] = who

    def discard(self, who: Participant) -> None:
        self._people.pop(who.participant_id, None)

    def therapist(self) -> Participant | None:
        return next(
            (p for p in self._people.values() if p.role == "therapist" and p.source_of is None),
            None,
        )

    def waiting(self, link_id: str, client_id: str) -> Participant | None:
        """The lobby entry of this device for this link (a reload keeps its place)."""
        for p in self._people.values():
            if p.phase == "lobby" and p.link_id == link_id and p.client_id == client_id:
                return p
        return None

    def holders(self, link_id: str) -> list[Participant]:
        return [p for p in self._people.values() if p.link_id == link_id and p.phase in ACTIVE]

    def in_room(self) -> list[Participant]:
        return [p for p in self._people.values() if p.phase in IN_ROOM]

    def active_count(self) -> int:
        return sum(1 for p in self._people.values() if p.phase in ACTIVE)

    def is_empty(self) -> bool:
        return not any(p.phase in ACTIVE for p in self._people.values())

    def is_live(self) -> bool:
        """The therapist and at least one other person are present together."""
        present = [p for p in self._people.values() if p.phase == "present" and p.source_of is None]
        return len(present) > 1 and any(p.role == "therapist" for p in present)

    def lobby_update(self) -> LobbyUpdate:
        return LobbyUpdate(
            waiting=[
                Waiting(
                    participant_id=p.participant_id,
                    name=p.name,
                    role=p.role,
                    since=p.since,
                    location=p.location,
                )
                for p in self._people.values()
                if p.phase == "lobby"
            ]
        )

    async def broadcast_participants(self, state: SessionState) -> None:
        # Everyone in the room sees everyone in the room, observers included: no hidden observers.
        present = self.in_room()
        message = Participants(state=state, participants=[p.info() for p in present])
        for who in present:
            await who.send(message)

    async def send_to_therapist(self, message: _Message) -> None:
        therapist = self.therapist()
        if therapist is not None and therapist.phase == "present":
            await therapist.send(message)
