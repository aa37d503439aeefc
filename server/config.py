"""Settings read from the environment (and an optional `.env`), validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ENV_PREFIX = "TANDEM_"


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it and says how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    var_dir: Path
    storage_dir: Path
    redis_url: str | None = None
    redis_prefix: str = "tandem:"
    public_base_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_window_seconds: int = 300
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_seconds: int = 3600
    join_link_grace_minutes: int = 30
    # "rtp" (packets forwarded below aiortc's per-packet objects) or "frames" (through aiortc's
    # receivers and senders); media/config.py RelayConfig.forwarding.
    relay_forwarding: str = "rtp"
    # The UDP ports (first, last) the relay's connections bind; None: any the kernel picks.
    relay_ports: tuple[int, int] | None = None
    # The address the relay's ICE candidates carry (a host behind 1:1 NAT); None: its own.
    relay_announced_address: str | None = None
    # TANDEM_RELAY_LOOPBACK: offer 127.0.0.1 (True) or never (False); None: by the public
    # address (`relay_offers_loopback`).
    relay_loopback: bool | None = None
    # The machine, as `tandem drain` names it (several nodes of one host drain together).
    host_name: str = "localhost"
    # A node takes no new session past these (None: no limit); docs/operations.md.
    node_max_sessions: int | None = None
    node_cpu_limit: float | None = 0.9
    # Where finished recordings are kept (server/video/store.py): "shared-directory" (the
    # storage directory itself, mounted on every host) or "s3".
    recording_store: str = "shared-directory"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""
    # /metrics: with a token, `Authorization: Bearer <token>` from anywhere; without, loopback only.
    metrics_token: str | None = None
    # Email: smtp:// or smtps:// with user and password in the URL; None: the logging sender.
    smtp_url: str | None = None
    mail_from: str = "Tandem <no-reply@localhost>"
    # The outbox worker's first retry delay; each further retry waits twice as long (max 1 h).
    outbox_retry_seconds: int = 30
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def cookies_secure(self) -> bool:
        # The demo runs on http://127.0.0.1, where a Secure cookie would never come back.
        return bool(self.public_base_url and self.public_base_url.startswith("https://"))

    @property
    def relay_offers_loopback(self) -> bool:
        """Whether the relay offers a 127.0.0.1 candidate. Only a browser on the server's own
        machine can use one (the demo, the test servers: aioice never offers it by itself);
        anywhere else it points the browser's connectivity checks at its own machine. Without
        TANDEM_RELAY_LOOPBACK: when the public address is a loopback host, or unset (the local
        default: links then read http://127.0.0.1:8000)."""
        if self.relay_loopback is not None:
            return self.relay_loopback
        if self.public_base_url is None:
            return True
        return _is_loopback_host(urlsplit(self.public_base_url).hostname)


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{lineno}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"{ENV_PREFIX}{name} must be between {minimum} and {maximum}, got {value}"
        )
    return value


def _urls(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(ENV_PREFIX + name, "")
    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    for url in urls:
        if not url.startswith(schemes):
            raise ConfigError(f"{ENV_PREFIX}{name}: {url!r} must start with one of {schemes}")
    return urls


def _relay_ports(env: Mapping[str, str]) -> tuple[int, int] | None:
    name = ENV_PREFIX + "RELAY_PORTS"
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d{1,5})\s*-\s*(\d{1,5})", raw)
    if match is None:
        raise ConfigError(f"{name} must be a UDP port range like 40000-40999, got {raw!r}")
    first, last = int(match[1]), int(match[2])
    # Below 1024 the server would need privileges it should not have.
    if not 1024 <= first <= last <= 65535:
        raise ConfigError(
            f"{name} must run from a lower to a higher port, both between 1024 and 65535,"
            f" got {raw!r}"
        )
    return first, last


def _announced_address(env: Mapping[str, str]) -> str | None:
    name = ENV_PREFIX + "RELAY_ANNOUNCED_ADDRESS"
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be an IP address (the relay's public address behind 1:1 NAT, e.g."
            f" 203.0.113.10), got {raw!r}; a host name cannot go into ICE candidates"
        ) from None
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        raise ConfigError(f"{name} must be an address browsers can reach, got {raw!r}")
    if address.is_link_local:
        raise ConfigError(f"{name} must not be a link-local address, got {raw!r}")
    return str(address)


def _is_loopback_host(host: str | None) -> bool:
    # A name other than localhost is not resolved: settings are read without the network.
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _relay_loopback(env: Mapping[str, str]) -> bool | None:
    name = ENV_PREFIX + "RELAY_LOOPBACK"
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if raw not in ("1", "0"):
        raise ConfigError(
            f"{name} must be 1 (offer 127.0.0.1 to browsers on this machine) or 0 (never),"
            f" got {raw!r}; unset, it follows {ENV_PREFIX}PUBLIC_BASE_URL"
        )
    return raw == "1"


def _database_url(env: Mapping[str, str], var_dir: Path) -> str:
    url = env.get(ENV_PREFIX + "DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'tandem.db'}"
    # Operators paste the URLs their provider hands out; map them to the async drivers we ship.
    if url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    elif url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            f"{ENV_PREFIX}DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {url!r}"
        )
    return url


def _cpu_limit(env: Mapping[str, str]) -> float | None:
    raw = (env.get(ENV_PREFIX + "NODE_CPU_LIMIT") or "0.9").strip().lower()
    if raw in ("off", "none", "0"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 64:
        raise ConfigError(
            f"{ENV_PREFIX}NODE_CPU_LIMIT must be cores (e.g. 0.9) between 0.05 and 64, or off;"
            f" got {raw!r}"
        )
    return value


def _host_name(env: Mapping[str, str]) -> str:
    name = env.get(ENV_PREFIX + "HOST_NAME") or socket.gethostname()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ConfigError(f"{ENV_PREFIX}HOST_NAME may use letters, digits and _.- only")
    return name


def _secret_key(env: Mapping[str, str], var_dir: Path) -> str:
    key = env.get(ENV_PREFIX + "SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters")
        return key
    # Generated once and kept, so sessions and join links survive restarts.
    path = var_dir / "secret_key"
    if path.is_file():
        stored = path.read_text(encoding="utf-8").strip()
        if len(stored) >= 32:
            return stored
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def _smtp_url(env: Mapping[str, str]) -> str | None:
    name = ENV_PREFIX + "SMTP_URL"
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"{name} must look like smtp://user:password@mail.example.org:587 or"
            " smtps://user:password@mail.example.org:465"
        )
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ConfigError(f"{name} has an invalid port") from None
    return raw


def _mail_from(env: Mapping[str, str], public_base_url: str | None) -> str:
    raw = (env.get(ENV_PREFIX + "MAIL_FROM") or "").strip()
    if raw:
        if "@" not in raw or "\n" in raw or "\r" in raw:
            raise ConfigError(
                f"{ENV_PREFIX}MAIL_FROM must be an address, e.g. Tandem <no-reply@example.org>"
            )
        return raw
    host = urlsplit(public_base_url).hostname if public_base_url else None
    return f"Tandem <no-reply@{host or 'localhost'}>"


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    env: dict[str, str] = {}
    if dotenv is not None:
        env.update(read_dotenv(dotenv))
    env.update(os.environ if environ is None else environ)

    var_dir = Path(env.get(ENV_PREFIX + "VAR_DIR") or "var").resolve()
    storage_dir = Path(env.get(ENV_PREFIX + "STORAGE_DIR") or var_dir / "recordings").resolve()

    redis_url = env.get(ENV_PREFIX + "REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL must be a redis:// URL, got {redis_url!r}")

    redis_prefix = env.get(ENV_PREFIX + "REDIS_PREFIX") or "tandem:"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,40}", redis_prefix):
        raise ConfigError(f"{ENV_PREFIX}REDIS_PREFIX may use letters, digits and _.:- only")

    public_base_url = (env.get(ENV_PREFIX + "PUBLIC_BASE_URL") or "").rstrip("/") or None
    if public_base_url:
        parts = urlsplit(public_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{ENV_PREFIX}PUBLIC_BASE_URL must look like https://tandem.example.org,"
                f" got {public_base_url!r}"
            )

    log_level = (env.get(ENV_PREFIX + "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    log_format = (env.get(ENV_PREFIX + "LOG_FORMAT") or "json").lower()
    if log_format not in ("json", "text"):
        raise ConfigError(f"{ENV_PREFIX}LOG_FORMAT must be json or text")

    turn_urls = _urls(env, "TURN_URLS", ("turn:", "turns:"))
    turn_secret = env.get(ENV_PREFIX + "TURN_SECRET") or None
    if turn_urls and not turn_secret:
        raise ConfigError(f"{ENV_PREFIX}TURN_URLS is set but {ENV_PREFIX}TURN_SECRET is not")

    relay_forwarding = (env.get(ENV_PREFIX + "RELAY_FORWARDING") or "rtp").lower()
    if relay_forwarding not in ("rtp", "frames"):
        raise ConfigError(f"{ENV_PREFIX}RELAY_FORWARDING must be rtp or frames")

    recording_store = (env.get(ENV_PREFIX + "RECORDING_STORE") or "shared-directory").lower()
    if recording_store not in ("shared-directory", "s3"):
        raise ConfigError(f"{ENV_PREFIX}RECORDING_STORE must be shared-directory or s3")
    s3_bucket = env.get(ENV_PREFIX + "S3_BUCKET") or None
    if recording_store == "s3" and not s3_bucket:
        raise ConfigError(f"{ENV_PREFIX}RECORDING_STORE=s3 needs {ENV_PREFIX}S3_BUCKET")
    s3_endpoint_url = env.get(ENV_PREFIX + "S3_ENDPOINT_URL") or None
    if s3_endpoint_url and not s3_endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_PREFIX}S3_ENDPOINT_URL must be an http(s):// URL")
    s3_prefix = env.get(ENV_PREFIX + "S3_PREFIX") or ""
    if s3_prefix and not re.fullmatch(r"[A-Za-z0-9_.\-/]{1,200}", s3_prefix):
        raise ConfigError(f"{ENV_PREFIX}S3_PREFIX may use letters, digits and _.-/ only")

    metrics_token = env.get(ENV_PREFIX + "METRICS_TOKEN") or None
    if metrics_token is not None and len(metrics_token) < 16:
        raise ConfigError(f"{ENV_PREFIX}METRICS_TOKEN needs at least 16 characters")

    return Settings(
        database_url=_database_url(env, var_dir),
        secret_key=_secret_key(env, var_dir),
        var_dir=var_dir,
        storage_dir=storage_dir,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        public_base_url=public_base_url,
        log_level=log_level,
        log_format=log_format,
        session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 60, 5, 24 * 60),
        session_absolute_hours=_int(env, "SESSION_ABSOLUTE_HOURS", 12, 1, 24 * 14),
        login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5, 1, 1000),
        login_window_seconds=_int(env, "LOGIN_WINDOW_SECONDS", 300, 10, 86400),
        stun_urls=_urls(env, "STUN_URLS", ("stun:", "stuns:")),
        turn_urls=turn_urls,
        turn_secret=turn_secret,
        turn_ttl_seconds=_int(env, "TURN_TTL_SECONDS", 3600, 60, 86400),
        join_link_grace_minutes=_int(env, "JOIN_LINK_GRACE_MINUTES", 30, 0, 24 * 60),
        relay_forwarding=relay_forwarding,
        relay_ports=_relay_ports(env),
        relay_announced_address=_announced_address(env),
        relay_loopback=_relay_loopback(env),
        metrics_token=metrics_token,
        host_name=_host_name(env),
        node_max_sessions=_int(env, "NODE_MAX_SESSIONS", 0, 0, 100_000) or None,
        node_cpu_limit=_cpu_limit(env),
        recording_store=recording_store,
        s3_bucket=s3_bucket,
        s3_endpoint_url=s3_endpoint_url,
        s3_region=env.get(ENV_PREFIX + "S3_REGION") or None,
        s3_prefix=s3_prefix,
        smtp_url=_smtp_url(env),
        mail_from=_mail_from(env, public_base_url),
        outbox_retry_seconds=_int(env, "OUTBOX_RETRY_SECONDS", 30, 1, 3600),
    )
