"""Coaching in the call: cue cards for the parent, and the session's chat.

Both are annotations (stored, acked, audited like a note); this module holds who may send them
and who sees them live. A cue goes to the parents in the room and never to an observer: the
therapist coaches the parent without the child or a student watching it appear. A chat message
goes to everyone in the room, its author included (the echo is the author's confirmation that
the others have it too).
"""

from __future__ import annotations

from collections import deque

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
    """This host's recent chat, replayed to whoever enters the room. A new host (a restart, a
    node's death) starts empty: the messages stay in the session's record all the same."""

    def __init__(self) -> None:
        self._said: deque[ChatMessage] = deque(maxlen=CHAT_HISTORY)

    def add(self, said: ChatMessage) -> None:
        self._said.append(said)

    async def replay(self, who: Participant) -> None:
        if who.source_of is None:
            for said in tuple(self._said):
                await who.send(said)


async def relay_chat(
    ctx: HostContext, history: ChatHistory, who: Participant, msg: Chat, session_ms: int
) -> None:
    said = ChatMessage(
        author_id=who.participant_id,
        name=who.name,
        role=who.role,
        text=msg.text,
        session_ms=session_ms,
        at=ctx.now(),
    )
    history.add(said)
    for p in ctx.roster.in_room():
        if p.source_of is None:
            await p.send(said)
