"""A client's call quality report (the `quality` message), fine unless told otherwise."""

from __future__ import annotations

from typing import Any


def quality_report(**changes: Any) -> dict[str, Any]:
    fine: dict[str, Any] = {
        "type": "quality", "seconds": 5.0, "send_kbps": 1000.0, "recv_kbps": 800.0,
        "fps": 30.0, "loss": 0.01, "rtt_ms": 50, "freezes": 0, "frozen_ms": 0,
        "candidate": "host", "protocol": "udp",
    }  # fmt: skip
    fine.update(changes)
    return fine
