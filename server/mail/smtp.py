"""The SMTP sender (aiosmtplib), configured by TANDEM_SMTP_URL.

smtp://user:password@host:port talks plain SMTP and upgrades with STARTTLS whenever the server
offers it; smtps://... is TLS from the first byte (port 465). Certificates are checked against
the system's CAs. A 5xx answer is final (SendRefused); anything else (the server down, a 4xx,
a timeout) is for the outbox to retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiosmtplib

from server.services.scheduling.delivery import OutgoingMessage, SendRefused

TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class SmtpConfig:
    hostname: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        assert parts.hostname  # server/config.py validated the URL
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def build_email(message: OutgoingMessage, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    if message.message_id:
        email["Message-ID"] = message.message_id
    email.set_content(message.body)
    if message.html_body:
        email.add_alternative(
            f'<!doctype html><html lang="en"><body>{message.html_body}</body></html>',
            subtype="html",
        )
    return email


class SmtpSender:
    def __init__(self, config: SmtpConfig, mail_from: str) -> None:
        self.config = config
        self.mail_from = mail_from

    async def send(self, message: OutgoingMessage) -> None:
        config = self.config
        try:
            await aiosmtplib.send(
                build_email(message, self.mail_from),
                hostname=config.hostname,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.implicit_tls,
                # None: STARTTLS when the server offers it (never on top of implicit TLS).
                start_tls=False if config.implicit_tls else None,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(500 <= refusal.code < 600 for refusal in exc.recipients):
                raise SendRefused(str(exc)) from exc
            raise
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            if 500 <= exc.code < 600:
                raise SendRefused(f"{exc.code} {exc.message}") from exc
            raise
