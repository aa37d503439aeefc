"""The pin: media/aiortc/ was written against these versions and only these."""

from __future__ import annotations

import aioice
import aiortc
import pylibsrtp

from media.aiortc import PINNED_AIORTC_VERSION, check_version


def test_versions_are_the_pinned_ones() -> None:
    assert aiortc.__version__ == PINNED_AIORTC_VERSION == "1.16.0"
    check_version()
    assert aioice.__version__.startswith("0.13")
    assert pylibsrtp.__version__.startswith("1.0")
