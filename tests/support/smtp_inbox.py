"""A real SMTP server in-process (aiosmtpd, in its own thread): what the outbox sends arrives
here, parsed. It can refuse (a 451 "try later" for every message) or be down (stopped; its port
then refuses connections) and come back on the same port."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mailbox:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[EmailMessage] = []
        self.refusing = False
        self.refused = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # aiosmtpd's handler hook, called on the server's own loop.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refusing:
                self.refused += 1
                return "451 4.3.0 try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(message)
        return "250 OK"

    def start(self) -> None:
        # aiosmtpd waits 5 s for its thread to answer by default: too short on a loaded machine.
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=30)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def with_id(self, message_id: str | None) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.received if m["Message-ID"] == message_id]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content: str = part.get_content()
    return content
