"""A participant that speaks Tandem's documented signaling protocol over a real WebSocket,
with a real aiortc peer connection for media (media.testing.client)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from media.testing.client import TestClient as MediaClient

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
JOIN_URL = re.compile(r'class="join-url" readonly value="([^"]+)"')


def login(base_url: str, email: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    token = CSRF.search(http.get("/login").text)
    assert token
    response = http.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    return http


def start_session(http: httpx.Client, **fields: str) -> tuple[str, dict[str, str]]:
    """Starts an ad hoc session the way the page does; returns (session id, role -> join URL)."""
    page = http.get("/sessions", headers={"accept": "text/html"})
    token = CSRF.search(page.text)
    assert token
    response = http.post("/sessions", data={"csrf_token": token.group(1), **fields})
    assert response.status_code == 303, response.text
    session_id = response.headers["location"].rsplit("/", 1)[1]
    return session_id, join_urls(http, session_id)


def join_urls(http: httpx.Client, session_id: str) -> dict[str, str]:
    console = http.get(f"/sessions/{session_id}", headers={"accept": "text/html"}).text
    urls: dict[str, str] = {}
    for block in console.split('<li class="link-row"')[1:]:
        role = re.search(r'data-role="(\w+)"', block)
        url = JOIN_URL.search(block)
        if role and url:
            urls.setdefault(role.group(1), html.unescape(url.group(1)))
    return urls


def confirm_location(base_url: str, session_id: str, token: str, state: str) -> None:
    """What the parent's check page does before knocking: confirm the state they are in."""
    with httpx.Client(base_url=base_url, timeout=10) as parent:
        page = parent.get(f"/join/{session_id}/{token}", headers={"accept": "text/html"}).text
        csrf = re.search(r'data-csrf="([0-9a-f]+)"', page)
        assert csrf, "the join page asks for no location"
        response = parent.post(
            f"/join/{session_id}/{token}/location",
            data={"state": state},
            headers={"x-csrf-token": csrf.group(1), "accept": "application/json"},
        )
        assert response.status_code == 200, response.text


def csrf_token(http: httpx.Client, page: str) -> str:
    match = CSRF.search(http.get(page, headers={"accept": "text/html"}).text)
    assert match
    return match.group(1)


class ProtocolClient:
    """One participant. Messages are kept in order; `expect` waits for the next of a type."""

    def __init__(
        self,
        base_url: str,
        session_id: str,
        *,
        token: str | None = None,
        cookie: str | None = None,
        publish: bool = True,
        client_id: str | None = None,
        tone_hz: float = 440.0,
        origin: str | None = None,
        heartbeat: int | None = None,
    ) -> None:
        # Seconds between the messages this client promises (?heartbeat=); it never keeps it.
        self.heartbeat = heartbeat
        self.base_url = base_url
        self.session_id = session_id
        self.token = token
        self.cookie = cookie
        self.publish = publish
        self.client_id = client_id or secrets.token_urlsafe(12)
        self.tone_hz = tone_hz
        self.origin = origin or base_url
        self.ws: ClientConnection | None = None
        self.media: MediaClient | None = None
        self.messages: list[dict[str, Any]] = []
        self._seen = 0
        self._new = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.close_code: int | None = None
        self.participant_id: str | None = None
        self.rejoin: str | None = None

    @property
    def ws_url(self) -> str:
        host = urlsplit(self.base_url).netloc
        query = ["as=therapist"] if self.cookie else []
        if self.heartbeat is not None:
            query.append(f"heartbeat={self.heartbeat}")
        suffix = f"?{'&'.join(query)}" if query else ""
        return f"ws://{host}/ws/sessions/{self.session_id}{suffix}"

    async def connect(self) -> None:
        headers = {"Cookie": f"tandem_session={self.cookie}"} if self.cookie else {}
        self.ws = await websockets.connect(
            self.ws_url, origin=Origin(self.origin), additional_headers=headers,
            max_size=None,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                self.messages.append(message)
                if message["type"] == "welcome":
                    self.participant_id = message["participant_id"]
                if message["type"] == "admitted":
                    self.rejoin = message["rejoin"]
                if message["type"] == "offer" and self.media is not None:
                    await self.media.on_offer(message["sdp"], message["revision"])
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self._new.set()

    async def send(self, message: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def join(self, *, rejoin: str | None = None) -> None:
        """Connects (if needed), attaches a fresh media peer, and sends `join`."""
        if self.ws is None:
            await self.connect()
        if self.media is not None:
            await self.media.close()
        self.media = MediaClient(self.participant_id or "pending", publish=self.publish,
                                 tone_hz=self.tone_hz)  # fmt: skip

        async def answer(sdp: str, revision: int) -> None:
            await self.send({"type": "answer", "sdp": sdp, "revision": revision})

        self.media.answer_with(answer)
        message: dict[str, Any] = {"type": "join", "v": 1, "client_id": self.client_id}
        if self.token:
            message["token"] = self.token
        if rejoin:
            message["rejoin"] = rejoin
        await self.send(message)

    async def expect(self, kind: str, within: float = 10.0) -> dict[str, Any]:
        """The next message of `kind` not yet consumed (earlier ones of other kinds are kept)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for i in range(self._seen, len(self.messages)):
                if self.messages[i]["type"] == kind:
                    self._seen = i + 1
                    return self.messages[i]
            if self.close_code is not None:
                raise AssertionError(f"closed ({self.close_code}) while waiting for {kind}: "
                                     f"{[m['type'] for m in self.messages]}")  # fmt: skip
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {kind} within {within}s: "
                                     f"{[m['type'] for m in self.messages]}")  # fmt: skip
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def expect_matching(
        self, kind: str, check: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        """The next message of `kind` for which `check` holds (others of that kind are consumed)."""
        while True:
            message = await self.expect(kind, within)
            if check(message):
                return message

    async def wait_closed(self, within: float = 10.0) -> int | None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), within)
        return self.close_code

    def frames_from(self, participant_id: str) -> list[int]:
        assert self.media is not None
        return list(self.media.stream(participant_id).video_numbers)

    def audio_from(self, participant_id: str) -> int:
        assert self.media is not None
        return self.media.stream(participant_id).audio_frames

    async def wait_media_from(
        self, participant_id: str, frames: int = 20, audio: int = 20, within: float = 15.0
    ) -> None:
        assert self.media is not None
        start_v = len(self.frames_from(participant_id))
        start_a = self.audio_from(participant_id)
        await self.media.wait_for(
            lambda: (
                len(self.frames_from(participant_id)) >= start_v + frames
                and self.audio_from(participant_id) >= start_a + audio
            ),
            within,
            f"media from {participant_id}",
        )

    async def drop(self) -> None:
        """The network goes away: socket and peer connection die without a goodbye."""
        if self.ws is not None:
            self.ws.transport.abort()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        self.ws = None
        self.close_code = None
        if self.media is not None:
            await self.media.close()
            self.media = None

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.media is not None:
            await self.media.close()
