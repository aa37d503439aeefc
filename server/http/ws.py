"""The signaling WebSocket: authenticate, check Origin, then only pump frames to the router."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.db import transaction
from server.services.accounts import resolve_login_session
from server.services.audit import Actor, record_audit
from server.state import AppState
from server.video.runtime import video_runtime
from signaling.ports import Identity, TherapistIdentity
from signaling.protocol import CloseCode

from .security import SESSION_COOKIE, own_origin

log = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 10.0
# A client may promise a message at least every `?heartbeat=` seconds (its pings); silence for
# this many heartbeats then means its network is gone. A cut link never closes a TCP socket by
# itself, and until the socket closes the others would see a frozen tile instead of
# "reconnecting" (docs/signaling.md, "Transport").
SILENT_HEARTBEATS = 2.5
CLOSE_WAIT_SECONDS = 0.5
MAX_HEARTBEAT_SECONDS = 60


def silence_limit(websocket: WebSocket) -> float | None:
    """Seconds of silence after which the client is gone (None: it promised no heartbeat)."""
    raw = websocket.query_params.get("heartbeat", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HEARTBEAT_SECONDS:
        return None
    return int(raw) * SILENT_HEARTBEATS


class WebSocketConnection:
    """The signaling layer's Connection over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._send_lock = asyncio.Lock()
        self.closed = False

    async def send(self, message_json: str) -> None:
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self._ws.send_text(message_json)
            except (RuntimeError, OSError, WebSocketDisconnect):
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        # Already gone: nothing left to tell the client.
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close(code=code, reason=reason[:120])


def expected_origin(state: AppState, websocket: WebSocket) -> str:
    host = websocket.headers.get("host", "")
    return own_origin(state.settings.public_base_url, websocket.url.scheme, host)


async def _identity(state: AppState, websocket: WebSocket) -> Identity:
    token = websocket.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with transaction(state.db) as session:
        user = await resolve_login_session(session, token, state.session_policy)
        if user is None:
            return None
        return TherapistIdentity(user_id=str(user.id), display_name=user.name)


async def session_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.tandem
    runtime = video_runtime(state)
    session_id = websocket.path_params["session_id"]
    remote = websocket.client.host if websocket.client else None

    origin = websocket.headers.get("origin")
    if origin != expected_origin(state, websocket):
        await record_audit(
            state.audit,
            Actor.anonymous(remote),
            "signaling.connect",
            object_type="video_session",
            object_id=session_id[:64],
            outcome="refused",
            detail={"reason": "bad_origin", "origin": (origin or "")[:200]},
        )
        await websocket.close(code=CloseCode.POLICY_VIOLATION, reason="origin not allowed")
        return

    # Link holders connect anonymously even in a browser where someone is signed in.
    as_therapist = websocket.query_params.get("as") == "therapist"
    identity = await _identity(state, websocket) if as_therapist else None
    if as_therapist and identity is None:
        await websocket.close(code=CloseCode.FORBIDDEN, reason="sign in first")
        return

    await websocket.accept()
    if runtime.draining:
        # Its calls are moving to other nodes: the client retries, the load balancer (which
        # sees /healthz answer 503) sends it to another.
        await websocket.close(code=CloseCode.SERVICE_RESTART, reason="node draining")
        return
    silence = silence_limit(websocket)
    conn = WebSocketConnection(websocket)
    handle = await runtime.router.connect(session_id, conn, identity, remote)
    state.metrics.connections.inc()
    first = True
    try:
        while websocket.application_state == WebSocketState.CONNECTED:
            # A socket that never says `join` must not hold a slot forever; a joined one that
            # promised a heartbeat must keep it.
            limit, why = (JOIN_TIMEOUT_SECONDS, "join expected") if first else (silence, "")
            try:
                async with asyncio.timeout(limit):
                    message = await websocket.receive()
            except TimeoutError:
                code = CloseCode.POLICY_VIOLATION if first else CloseCode.SILENT
                # A silent peer may be a dead one that never answers the closing handshake:
                # the others must hear it is gone now, not when the handshake times out.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                        await conn.close(code, why or "no heartbeat")
                break
            first = False
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                # The protocol is JSON text frames only; binary is a client bug or an attack.
                await conn.close(CloseCode.UNSUPPORTED_DATA, "text frames only")
                break
            await handle.receive(text)
            if conn.closed:
                break
    except WebSocketDisconnect:
        pass
    finally:
        state.metrics.connections.dec()
        await handle.disconnected()


routes = [WebSocketRoute("/ws/sessions/{session_id}", session_socket)]
