"""The documentation service tests' world: a therapist, a client and a plan of care."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from doc_world import DocWorld, open_world

from server.config import Settings


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[DocWorld]:
    async with open_world(settings.database_url) as world:
        yield world
