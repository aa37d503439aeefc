"""Coaching in the call: cue cards for the parent, and the session's chat.

Both are annotations (stored, acked, audited like a note); this module holds who may send them
and who sees them live. A cue goes to the parents in the room and never to an observer: the
therapist coaches the parent without the child or a student watching it appear. A chat message
goes to everyone in the room, its author included (the echo is the author's confirmation that
the others have it too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

from signaling.host_context import HostContext
from signaling.participant import Participant
from signaling.protocol import Chat, ChatMessage, Cue, CueShown

DEFAULT_CUES = ("wait 5 seconds", "offer a choice", "model the word", "praise the attempt")
# What a late joiner or a reloaded page is shown of the chat (the record keeps all of it).
CHAT_HISTORY = 100


def may_send(who: Participant, msg: Cue | Chat) -> bool:
    if isinstance(msg, Cue):
        return who.role == "therapist"
    return True  # chat: anyone admitted (the caller checked the phase)


async def relay_cue(ctx: HostContext, who: Participant, msg: Cue, session_ms: int) -> None:
    shown = CueShown(
        author_id=who.participant_id, cue=msg.cue, text=msg.text, session_ms=session_ms
    )
    for p in ctx.roster.in_room():
        if p.role == "parent" and p.source_of is None:
            await p.send(shown)


class ChatHistory:
    """The session's recent chat, replayed to whoever enters the room. A new host (a restart, a
    node's death) fills it from the session's record (`restore`); this is the cache."""

    def __init__(self) -> None:
        self._said: deque[ChatMessage] = deque(maxlen=CHAT_HISTORY)

    def add(self, said: ChatMessage) -> None:
        self._said.append(said)

    def restore(self, earlier: Sequence[ChatMessage]) -> None:
        """The record's messages go first; what this host relayed meanwhile (saved or not) after
        them, once (the record may hold it already)."""
        stored = {_said_key(m) for m in earlier}
        since = [m for m in self._said if _said_key(m) not in stored]
        self._said = deque([*earlier, *since], maxlen=CHAT_HISTORY)

    async def replay(self, who: Participant) -> None:
        if who.source_of is None:
            for said in tuple(self._said):
                await who.send(said)


def _said_key(said: ChatMessage) -> tuple[str, int, str]:
    return said.author_id, said.session_ms, said.text


async def relay_chat(
    ctx: HostContext,
    history: ChatHistory,
    who: Participant,
    msg: Chat,
    session_ms: int,
    at: datetime,
) -> None:
    # `at` and `session_ms` are the stored annotation's: a replay from the record is identical.
    said = ChatMessage(
        author_id=who.participant_id,
        name=who.name,
        role=who.role,
        text=msg.text,
        session_ms=session_ms,
        at=at,
    )
    history.add(said)
    for p in ctx.roster.in_room():
        if p.source_of is None:
            await p.send(said)
