"""Coaching in the call: cue cards for the parent, and the session's chat.

Both are annotations (stored, acked, audited like a note); this module holds who may send them
and who sees them live. A cue goes to the parents in the room and never to an observer: the
therapist coaches the parent without the child or a student watching it appear. A chat message
goes to everyone in the room, its author included (the echo is the author's confirmation that
the others have it too).
"""

from __future__ import annotations

from signaling.host_context import HostContext
from signaling.participant import Participant
from signaling.protocol import Chat, ChatMessage, Cue, CueShown

DEFAULT_CUES = ("wait 5 seconds", "offer a choice", "model the word", "praise the attempt")


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


async def relay_chat(ctx: HostContext, who: Participant, msg: Chat, session_ms: int) -> None:
    said = ChatMessage(
        author_id=who.participant_id,
        name=who.name,
        role=who.role,
        text=msg.text,
        session_ms=session_ms,
        at=ctx.now(),
    )
    for p in ctx.roster.in_room():
        if p.source_of is None:
            await p.send(said)
