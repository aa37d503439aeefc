"""The aiortc version every adaptation in this package was written against and checked on."""

from __future__ import annotations

import aiortc

PINNED_AIORTC_VERSION = "1.16.0"


class AiortcVersionError(RuntimeError):
    pass


def check_version() -> None:
    if aiortc.__version__ != PINNED_AIORTC_VERSION:
        raise AiortcVersionError(
            f"media/aiortc/ adapts aiortc {PINNED_AIORTC_VERSION} internals, "
            f"found {aiortc.__version__}: re-check every adaptation before changing the pin"
        )
