"""A documentation world (therapist, client, plan of care) for the video service tests that need
goals; test_session_hooks.py has a world of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from doc_world import DocWorld, open_world

from server.config import Settings


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[DocWorld]:
    async with open_world(settings.database_url) as world:
        yield world
