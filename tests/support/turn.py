"""A real TURN server (coturn) for the network tests, in a namespace of the test bed.

coturn runs in its shared-secret mode (``use-auth-secret``): it accepts the time-limited
credentials Tandem derives from TANDEM_TURN_SECRET (signaling/ice.py), as in production
(docs/operations.md). The configuration is written by the test: no TLS, a small relay port range,
no CLI, logs in the test's folder, nothing read from or written to /etc or /var.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netbed import Namespace

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
PORT = 3478


def turn_missing() -> str | None:
    return None if Path(TURNSERVER).exists() else "coturn (turnserver)"


@dataclass(frozen=True)
class Turn:
    address: str
    port: int
    secret: str
    log_path: Path

    def urls(self, transport: str = "tcp") -> str:
        """What TANDEM_TURN_URLS holds for this server."""
        return f"turn:{self.address}:{self.port}?transport={transport}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_turn(ns: Namespace, address: str, folder: Path) -> Turn:
    """Start turnserver in ``ns`` listening on ``address`` (UDP and TCP); the bed stops it."""
    secret = secrets.token_urlsafe(24)
    log_path = folder / "turnserver.log"
    config = folder / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                f"listening-ip={address}",
                f"relay-ip={address}",
                f"listening-port={PORT}",
                "min-port=49160",
                "max-port=49260",
                "realm=tandem.test",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                f"log-file={log_path}",
                "simple-log",
                f"pidfile={folder / 'turnserver.pid'}",
                f"userdb={folder / 'turndb.sqlite'}",
                "",
            ]
        )
    )
    # Its own output holds only perror lines (no SCTP in this kernel: "Protocol not supported").
    with (folder / "turnserver.out").open("w") as out:
        process = ns.popen(
            TURNSERVER, "-c", str(config), "--no-stdout-log", stdout=out, stderr=subprocess.STDOUT
        )
    if not ns.probe_ok("wait-tcp", address, str(PORT), "10"):
        process.terminate()
        raise RuntimeError(f"turnserver did not start:\n{log_path.read_text(errors='replace')}")
    return Turn(address, PORT, secret, log_path)
