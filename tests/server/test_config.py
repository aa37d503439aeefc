from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import ConfigError, load_settings, read_dotenv
from server.mail.smtp import SmtpConfig


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings({"TANDEM_VAR_DIR": str(tmp_path)}, dotenv=None)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}"
    assert settings.redis_url is None
    assert settings.storage_dir == tmp_path / "recordings"
    assert not settings.cookies_secure


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"TANDEM_VAR_DIR": str(tmp_path)}, dotenv=None).secret_key
    second = load_settings({"TANDEM_VAR_DIR": str(tmp_path)}, dotenv=None).secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_https_base_url_makes_cookies_secure(tmp_path: Path) -> None:
    settings = load_settings(
        {"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_PUBLIC_BASE_URL": "https://t.example.org/"},
        dotenv=None,
    )
    assert settings.cookies_secure
    assert settings.public_base_url == "https://t.example.org"


def test_postgres_urls_map_to_the_async_driver(tmp_path: Path) -> None:
    settings = load_settings(
        {"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_DATABASE_URL": "postgres://u@h/db"},
        dotenv=None,
    )
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("TANDEM_DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL"),
        ("TANDEM_REDIS_URL", "http://localhost", "REDIS_URL"),
        ("TANDEM_PUBLIC_BASE_URL", "tandem.example.org", "PUBLIC_BASE_URL"),
        ("TANDEM_SECRET_KEY", "short", "SECRET_KEY"),
        ("TANDEM_SESSION_IDLE_MINUTES", "soon", "SESSION_IDLE_MINUTES"),
        ("TANDEM_SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES"),
        ("TANDEM_LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("TANDEM_TURN_URLS", "turn:turn.example.org", "TURN_SECRET"),
        ("TANDEM_STUN_URLS", "http://stun.example.org", "STUN_URLS"),
        ("TANDEM_RELAY_PORTS", "40000", "RELAY_PORTS must be a UDP port range like"),
        ("TANDEM_RELAY_PORTS", "40000:40999", "RELAY_PORTS must be a UDP port range like"),
        ("TANDEM_RELAY_PORTS", "low-high", "RELAY_PORTS must be a UDP port range like"),
        ("TANDEM_RELAY_PORTS", "40999-40000", "RELAY_PORTS must run from a lower"),
        ("TANDEM_RELAY_PORTS", "500-600", "between 1024 and 65535"),
        ("TANDEM_RELAY_PORTS", "60000-70000", "between 1024 and 65535"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "relay.example.org", "must be an IP address"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "203.0.113", "must be an IP address"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "0.0.0.0", "an address browsers can reach"),  # noqa: S104
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "127.0.0.1", "an address browsers can reach"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "::", "an address browsers can reach"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "224.0.0.5", "an address browsers can reach"),
        ("TANDEM_RELAY_ANNOUNCED_ADDRESS", "fe80::1", "link-local"),
        ("TANDEM_RELAY_LOOPBACK", "yes", "RELAY_LOOPBACK must be 1 .* or 0"),
        ("TANDEM_RELAY_LOOPBACK", "true", "RELAY_LOOPBACK must be 1 .* or 0"),
        ("TANDEM_RELAY_LOOPBACK", "2", "RELAY_LOOPBACK must be 1 .* or 0"),
        ("TANDEM_NODE_CPU_LIMIT", "lots", "NODE_CPU_LIMIT must be cores"),
        ("TANDEM_NODE_CPU_LIMIT", "0.01", "NODE_CPU_LIMIT must be cores"),
        ("TANDEM_NODE_MAX_SESSIONS", "-1", "NODE_MAX_SESSIONS"),
        ("TANDEM_HOST_NAME", "host a", "HOST_NAME"),
        ("TANDEM_RECORDING_STORE", "ftp", "RECORDING_STORE must be"),
        ("TANDEM_RECORDING_STORE", "s3", "needs TANDEM_S3_BUCKET"),
        ("TANDEM_SMTP_URL", "mail.example.org:587", "SMTP_URL must look like smtp://"),
        ("TANDEM_SMTP_URL", "http://mail.example.org", "SMTP_URL must look like smtp://"),
        ("TANDEM_SMTP_URL", "smtp://mail.example.org:99999", "SMTP_URL has an invalid port"),
        ("TANDEM_MAIL_FROM", "Tandem", "MAIL_FROM must be an address"),
        ("TANDEM_OUTBOX_RETRY_SECONDS", "0", "OUTBOX_RETRY_SECONDS"),
    ],
)
def test_invalid_settings_are_refused_by_name(
    tmp_path: Path, name: str, value: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings({"TANDEM_VAR_DIR": str(tmp_path), name: value}, dotenv=None)


def test_smtp_url_and_the_from_address(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TANDEM_VAR_DIR": str(tmp_path),
            "TANDEM_PUBLIC_BASE_URL": "https://tandem.example.org",
            "TANDEM_SMTP_URL": "smtps://care%40example.org:p%3Ass@mail.example.org",
        },
        dotenv=None,
    )
    assert settings.mail_from == "Tandem <no-reply@tandem.example.org>"
    assert settings.smtp_url is not None
    config = SmtpConfig.from_url(settings.smtp_url)
    assert (config.hostname, config.port, config.implicit_tls) == ("mail.example.org", 465, True)
    assert (config.username, config.password) == ("care@example.org", "p:ss")
    plain = SmtpConfig.from_url("smtp://mail.example.org:587")
    assert (plain.port, plain.implicit_tls, plain.username) == (587, False, None)


def test_relay_port_range_and_announced_address(tmp_path: Path) -> None:
    settings = load_settings({"TANDEM_VAR_DIR": str(tmp_path)}, dotenv=None)
    assert (settings.relay_ports, settings.relay_announced_address) == (None, None)
    settings = load_settings(
        {
            "TANDEM_VAR_DIR": str(tmp_path),
            "TANDEM_RELAY_PORTS": " 40000 - 40999 ",
            "TANDEM_RELAY_ANNOUNCED_ADDRESS": "2001:DB8::0:10",
        },
        dotenv=None,
    )
    assert settings.relay_ports == (40000, 40999)
    assert settings.relay_announced_address == "2001:db8::10"
    one_port = load_settings(
        {"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_RELAY_PORTS": "40000-40000"}, dotenv=None
    )
    assert one_port.relay_ports == (40000, 40000)


@pytest.mark.parametrize(
    ("base_url", "loopback", "offered"),
    [
        (None, None, True),  # the local default: links read http://127.0.0.1:8000
        ("http://127.0.0.1:8000", None, True),  # the demo and the test servers
        ("http://localhost:8000", None, True),
        ("http://[::1]:8000", None, True),
        ("http://127.0.0.2:8000", None, True),
        ("https://tandem.example.org", None, False),  # production
        ("https://203.0.113.10", None, False),
        ("http://localhost.example.org", None, False),
        ("https://tandem.example.org", "1", True),  # said explicitly, either way
        ("http://127.0.0.1:8000", "0", False),
        (None, "0", False),
        (None, " ", True),  # empty: unset
    ],
)
def test_the_relay_offers_loopback_only_to_a_local_server_unless_told(
    tmp_path: Path, base_url: str | None, loopback: str | None, offered: bool
) -> None:
    env = {"TANDEM_VAR_DIR": str(tmp_path)}
    if base_url is not None:
        env["TANDEM_PUBLIC_BASE_URL"] = base_url
    if loopback is not None:
        env["TANDEM_RELAY_LOOPBACK"] = loopback
    settings = load_settings(env, dotenv=None)
    assert settings.relay_loopback == {None: None, "1": True, "0": False}.get(
        (loopback or "").strip() or None
    )
    assert settings.relay_offers_loopback is offered


def test_node_limits_and_recording_store(tmp_path: Path) -> None:
    defaults = load_settings({"TANDEM_VAR_DIR": str(tmp_path)}, dotenv=None)
    assert (defaults.node_cpu_limit, defaults.node_max_sessions) == (0.9, None)
    assert defaults.recording_store == "shared-directory"
    settings = load_settings(
        {
            "TANDEM_VAR_DIR": str(tmp_path),
            "TANDEM_NODE_CPU_LIMIT": "off",
            "TANDEM_NODE_MAX_SESSIONS": "40",
            "TANDEM_HOST_NAME": "host-b",
            "TANDEM_RECORDING_STORE": "s3",
            "TANDEM_S3_BUCKET": "tandem-recordings",
            "TANDEM_S3_ENDPOINT_URL": "http://s3.example.test:9000",
        },
        dotenv=None,
    )
    assert (settings.node_cpu_limit, settings.node_max_sessions) == (None, 40)
    assert (settings.host_name, settings.s3_bucket) == ("host-b", "tandem-recordings")


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nexport TANDEM_LOG_LEVEL=debug\nTANDEM_REDIS_URL='redis://x:6379/0'\n"
    )
    assert read_dotenv(env_file)["TANDEM_REDIS_URL"] == "redis://x:6379/0"
    settings = load_settings(
        {"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_LOG_LEVEL": "warning"}, dotenv=env_file
    )
    assert settings.log_level == "WARNING"
    assert settings.redis_url == "redis://x:6379/0"


def test_cli_refuses_invalid_configuration_with_a_clear_message(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TANDEM_VAR_DIR": str(tmp_path),
        "TANDEM_DATABASE_URL": "mysql://root@localhost/tandem",
    }
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "TANDEM_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for command in ("serve", "migrate", "create-user", "demo"):
        assert command in result.stdout
