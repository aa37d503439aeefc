from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from media import Relay, RelayConfig
from media.testing.client import ClientPool


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    relay = Relay(RelayConfig())
    yield relay
    await relay.close()


@pytest.fixture
async def clients() -> AsyncIterator[ClientPool]:
    pool = ClientPool()
    yield pool
    await pool.close()
