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


@pytest.fixture(params=["rtp", "frames"])
async def any_relay(request: pytest.FixtureRequest) -> AsyncIterator[Relay]:
    """The relay with each forwarding path (RelayConfig.forwarding), for the core checks."""
    relay = Relay(RelayConfig(forwarding=request.param))
    yield relay
    await relay.close()


@pytest.fixture
async def clients() -> AsyncIterator[ClientPool]:
    pool = ClientPool()
    yield pool
    await pool.close()
