"""A live call against a real Tandem process: a session started as the page starts it, the
therapist in, the parent knocked and admitted from the lobby. Shared by the live tests in
tests/server/ (test modules cannot import each other)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from protocol_client import ProtocolClient, start_session

JOIN_TOKEN = re.compile(r"/join/[0-9a-f-]{36}/(.+)$")


def join_token(url: str) -> str:
    """The token part of a join URL (``/join/<link id>/<token>``)."""
    match = JOIN_TOKEN.search(url)
    assert match, url
    return match.group(1)


async def admit(therapist: ProtocolClient, parent: ProtocolClient) -> None:
    """The parent knocks and waits in the lobby; the therapist, already in, admits them."""
    await parent.join()
    assert (await parent.expect("welcome"))["lobby"] is True
    await therapist.expect_matching(
        "lobby_update",
        lambda m: parent.participant_id in [w["participant_id"] for w in m["waiting"]],
    )
    await therapist.send({"type": "admit", "participant_id": parent.participant_id})
    await parent.expect("admitted")


async def join_and_admit(therapist: ProtocolClient, parent: ProtocolClient) -> None:
    await therapist.join()
    await therapist.expect("welcome")
    await admit(therapist, parent)


@dataclass
class LiveCall:
    """A started session's two participants, not joined until `start`."""

    session_id: str
    urls: dict[str, str]
    therapist: ProtocolClient
    parent: ProtocolClient

    async def start(self) -> None:
        await join_and_admit(self.therapist, self.parent)

    async def flowing(self, frames: int = 15) -> None:
        """Media arrives both ways."""
        assert self.therapist.participant_id
        assert self.parent.participant_id
        await self.therapist.wait_media_from(self.parent.participant_id, frames=frames)
        await self.parent.wait_media_from(self.therapist.participant_id, frames=frames)

    async def close(self) -> None:
        await self.parent.close()
        await self.therapist.close()


def new_call(
    http: httpx.Client, base_url: str, title: str, *, parent_base_url: str | None = None
) -> LiveCall:
    """Starts an ad hoc session as the signed-in therapist behind ``http``; the parent may reach
    another node (``parent_base_url``). The two send different tones (440 and 660 Hz)."""
    session_id, urls = start_session(http, title=title)
    therapist = ProtocolClient(
        base_url, session_id, cookie=http.cookies["tandem_session"], tone_hz=440
    )
    parent = ProtocolClient(
        parent_base_url or base_url, session_id, token=join_token(urls["parent"]), tone_hz=660
    )
    return LiveCall(session_id, urls, therapist, parent)
