"""Mutated frames over real WebSockets against a real Tandem process while a call runs: text,
binary, oversized and deeply nested frames, before and after `join`; the call keeps its media and
the server logs no unhandled exception."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from fuzz_frames import frames
from live import TEST_PASSWORD, LiveServer, serving_with_account
from live_call import join_token, new_call
from protocol_client import ProtocolClient, login

EMAIL = "fuzz@example.test"
FRAMES = 2_000
SEED = 7


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving_with_account(tmp_path, EMAIL) as live:
        yield live


async def test_fuzzed_sockets_leave_a_running_call_alone(server: LiveServer) -> None:
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    call = new_call(http, server.base_url, "Fuzz target")
    session_id, therapist, parent = call.session_id, call.therapist, call.parent
    token = join_token(call.urls["parent"])
    await call.start()
    assert parent.participant_id
    await therapist.wait_media_from(parent.participant_id, frames=5)

    rng = random.Random(SEED)
    closes: dict[int | None, int] = {}
    fuzzed = 0
    source = frames(SEED, FRAMES)
    while fuzzed < FRAMES:
        intruder = ProtocolClient(server.base_url, session_id, token=token)
        await intruder.connect()
        assert intruder.ws is not None
        if rng.random() < 0.5:
            await intruder.join()  # a lobby waiter, then garbage
        try:
            for _ in range(rng.randint(1, 8)):
                frame = next(source)
                fuzzed += 1
                if rng.random() < 0.1:
                    await intruder.ws.send(frame.encode("utf-8", errors="replace"))
                else:
                    await intruder.ws.send(frame)
        except (websockets.ConnectionClosed, StopIteration):
            pass
        await intruder.close()
        closes[intruder.close_code] = closes.get(intruder.close_code, 0) + 1

    print(f"{fuzzed} frames over {sum(closes.values())} sockets; close codes {closes}")
    await therapist.wait_media_from(parent.participant_id, frames=5)
    await therapist.send({"type": "ping"})
    await therapist.expect("pong")
    await asyncio.sleep(0.5)  # let the server finish logging the last sockets
    log = server.log()
    assert "Traceback" not in log
    assert not re.search(r"\bERROR\b", log), [line for line in log.splitlines() if "ERROR" in line]
    await parent.close()
    await therapist.close()
    http.close()
