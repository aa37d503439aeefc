"""The one rule for tests that need a real service (PostgreSQL, Redis, Chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")


def service_missing(what: str) -> None:
    """Skip on a bare machine; CI sets TANDEM_REQUIRE_SERVICES=1 so the skip becomes a failure."""
    if os.environ.get("TANDEM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (TANDEM_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available, skipping")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        service_missing(f"headless Chromium ({CHROMIUM})")
