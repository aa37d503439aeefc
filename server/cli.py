"""The application's commands: serve, migrate, create-user, recover-recordings, demo, drain,
billing.

The `tandem` console script is tandem/ (outside the application), which adds `bench` to these;
``python -m server.cli`` runs the application's commands alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import Any

from server.config import ConfigError, Settings, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"tandem: configuration error: {exc}", file=sys.stderr)
        print("See docs/operations.md for every setting.", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_migrate(settings: Settings) -> int:
    from server.migrate import upgrade

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    print(f"tandem: database is at the latest schema ({_redacted(settings.database_url)})")
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    import uvicorn

    from server.observability import configure_logging
    from server.wiring import build_app

    configure_logging(settings.log_level, settings.log_format)
    if workers > 1:
        if not settings.redis_url:
            print(
                "tandem: --workers needs TANDEM_REDIS_URL: each worker is a node hosting whole "
                "sessions, and Redis is how a socket on one worker reaches a session on another.",
                file=sys.stderr,
            )
            return 2
        from server.supervisor import run_workers

        # One Python process uses about one core: a worker per core, each a full Tandem node.
        workers_config = uvicorn.Config(
            "server.wiring:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            ws_max_size=64 * 1024,
            lifespan="on",
        )
        with contextlib.suppress(KeyboardInterrupt):
            run_workers(workers_config, settings.redis_url, settings.redis_prefix)
        return 0
    config = uvicorn.Config(
        build_app(settings),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        ws_max_size=64 * 1024,
        lifespan="on",
    )
    uvicorn.Server(config).run()
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password (again): ")
    if first != second:
        raise SystemExit("tandem: the passwords do not match")
    return first


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    from server.db import make_engine, make_sessionmaker, transaction
    from server.models import UserRole
    from server.passwords import Passwords
    from server.services.accounts import AccountError, create_user
    from server.services.audit import Actor, add_audit

    password = _read_password(args.password_stdin)

    async def run() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                user = await create_user(
                    session,
                    Passwords(),
                    email=args.email,
                    name=args.name,
                    password=password,
                    role=UserRole(args.role),
                )
                add_audit(
                    session,
                    Actor("system", None, "cli"),
                    "user.create",
                    object_type="user",
                    object_id=user.id,
                    detail={"role": args.role},
                )
                return user.email
        finally:
            await engine.dispose()

    try:
        email = asyncio.run(run())
    except AccountError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 1
    print(f"tandem: created {args.role} {email}")
    return 0


def cmd_demo(settings: Settings, host: str, port: int) -> int:
    from server.demo import seed_demo

    cmd_migrate(settings)
    base = settings.public_base_url or f"http://{host}:{port}"
    info = asyncio.run(seed_demo(settings, base))
    print()
    print("  Tandem demo is starting.")
    print(f"  Open {base}/login and sign in as")
    print(f"      email:    {info.email}")
    print(f"      password: {info.password}")
    for line in info.extra_lines:
        print(f"  {line}")
    print("  All data is synthetic. Press Ctrl+C to stop.")
    print()
    sys.stdout.flush()
    return serve(settings, host, port)


def cmd_recover_recordings(settings: Settings) -> int:
    """Retry every incomplete recording file that has a journal (start-up tries each once)."""
    from server.db import make_engine, make_sessionmaker
    from server.services.video.recovery import list_incomplete_file_ids
    from server.video.recording import recover_recordings
    from server.video.store import recording_store

    async def run() -> dict[str, str]:
        engine = make_engine(settings.database_url)
        try:
            db = make_sessionmaker(engine)
            async with db() as session:
                ids = await list_incomplete_file_ids(session)
            store = recording_store(settings)
            return await recover_recordings(db, settings.storage_dir, ids, store)
        finally:
            await engine.dispose()

    outcome = asyncio.run(run())
    for file_id, what in outcome.items():
        print(f"{file_id}: {what}")
    recovered = sum(1 for what in outcome.values() if what == "recovered")
    print(f"tandem: {recovered} of {len(outcome)} incomplete recording files recovered")
    return 0 if recovered == len(outcome) else 1


def build_parser(*more: Callable[[Any], None]) -> argparse.ArgumentParser:
    """The application's commands; each of ``more`` adds commands of its own to the same
    subparsers (the `tandem` entry point adds `bench`), so that they share one usage and help.

    argparse's subparsers object is a private class: ``more`` takes it typed loosely on purpose.
    """
    parser = argparse.ArgumentParser(
        prog="tandem",
        description="Tandem: telehealth sessions for hybrid therapy practices.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_serve = sub.add_parser("serve", help="run the web app with uvicorn")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument(
        "--workers", type=int, default=1, help="processes to run (needs Redis when above 1)"
    )

    sub.add_parser("migrate", help="bring the database to the latest schema")

    p_user = sub.add_parser(
        "create-user", help="create a therapist or admin (password from a prompt or stdin)"
    )
    p_user.add_argument("--email", required=True)
    p_user.add_argument("--name", required=True)
    p_user.add_argument("--role", choices=["therapist", "admin"], default="therapist")
    p_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    sub.add_parser(
        "recover-recordings",
        help="build incomplete recordings from their journals (after a crash; start-up tries once)",
    )

    p_demo = sub.add_parser(
        "demo", help="migrate, seed synthetic demo data, serve, and print how to sign in"
    )
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=8000)

    from server.billing_cli import add_billing_parser
    from server.drain_cli import add_drain_parser

    add_billing_parser(sub)
    add_drain_parser(sub)
    for add in more:
        add(sub)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs one of the application's commands, parsed by ``build_parser``."""
    settings = _settings_or_exit()
    if args.command == "serve":
        if args.workers < 1:
            print("tandem: --workers must be at least 1", file=sys.stderr)
            return 2
        return serve(settings, args.host, args.port, args.workers)
    if args.command == "migrate":
        return cmd_migrate(settings)
    if args.command == "create-user":
        return cmd_create_user(settings, args)
    if args.command == "recover-recordings":
        return cmd_recover_recordings(settings)
    if args.command == "demo":
        return cmd_demo(settings, args.host, args.port)
    if args.command == "drain":
        from server.drain_cli import run_drain

        return run_drain(settings, args)
    if args.command == "billing":
        from server.billing_cli import run_billing

        return run_billing(settings, args)
    raise AssertionError(args.command)  # argparse only lets known commands through


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
