"""`tandem bench login-burst`: how a burst of wrong passwords affects the live calls' signaling.

A real `tandem serve` (SQLite); one therapist's signaling socket joined to a session pings every
60 ms; then N sign-ins with a wrong password for one account with a full-cost argon2id hash go
out at once. Measured: each ping's round trip before and during the burst (the event loop's stall
is the difference), the burst's wall time, and how many attempts were checked (401) or refused
by the limit (429). With --limit above N every attempt is checked, which is what measures where
the hashing runs; `--server-tree` runs the server from another checkout (before/after figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.relay_proc import THERAPIST_EMAIL, prepare_environment, start_relay

TARGET = "burst-target@example.test"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def add_parser(which: Any) -> None:
    burst = which.add_parser(
        "login-burst",
        help="signaling round trips while a burst of wrong passwords is checked",
        description="See bench/login_burst.py and docs/performance.md.",
    )
    burst.add_argument("--attempts", type=int, default=50, help="simultaneous sign-ins (50)")
    burst.add_argument(
        "--limit", type=int, default=1000, help="TANDEM_LOGIN_MAX_FAILURES for the run (1000)"
    )
    burst.add_argument("--server-tree", type=Path, help="run the server from this checkout")
    burst.add_argument("--json", type=Path, metavar="PATH", help="write the figures here")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def _measure(base_url: str, password: str, attempts: int) -> dict[str, Any]:
    # Imported here: `tandem` imports this module for its parser on every command.
    import httpx
    import websockets

    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        token = CSRF.search((await http.get("/login")).text)
        assert token
        signed = await http.post(
            "/login",
            data={"email": THERAPIST_EMAIL, "password": password, "csrf_token": token.group(1)},
        )
        assert signed.status_code == 303, signed.text
        sessions = await http.get("/sessions", headers={"accept": "text/html"})
        csrf = CSRF.search(sessions.text)
        assert csrf
        started = await http.post(
            "/sessions", data={"csrf_token": csrf.group(1), "title": "Burst bench"}
        )
        session_id = started.headers["location"].rsplit("/", 1)[1]
        cookie = http.cookies["tandem_session"]
        host = base_url.removeprefix("http://")
        async with websockets.connect(
            f"ws://{host}/ws/sessions/{session_id}?as=therapist",
            origin=base_url,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"tandem_session={cookie}"},
        ) as ws:
            await ws.send(json.dumps({"type": "join", "v": 1, "client_id": "bench-therapist"}))
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
            phase = "before"
            rtts: dict[str, list[float]] = {"before": [], "during": [], "after": []}

            async def pinger() -> None:
                while phase != "done":
                    sent = time.perf_counter()
                    await ws.send('{"type": "ping"}')
                    while json.loads(await ws.recv())["type"] != "pong":
                        pass
                    rtts[phase].append(time.perf_counter() - sent)
                    # ~15 a second: under the socket's limit of 20 messages a second.
                    await asyncio.sleep(0.06)

            task = asyncio.create_task(pinger())
            await asyncio.sleep(2.0)
            # Someone else, not signed in: a browser of their own (its own CSRF cookie).
            async with httpx.AsyncClient(base_url=base_url, timeout=120) as attacker:
                login_token = CSRF.search((await attacker.get("/login")).text)
                assert login_token
                form = {"email": TARGET, "password": "wrong-password"}
                form["csrf_token"] = login_token.group(1)
                phase = "during"
                began = time.perf_counter()
                statuses = await asyncio.gather(
                    *(attacker.post("/login", data=form) for _ in range(attempts))
                )
                burst_s = time.perf_counter() - began
            phase = "after"
            await asyncio.sleep(1.0)
            phase = "done"
            await task
    codes = [r.status_code for r in statuses]
    return {
        "attempts": attempts,
        "checked_401": codes.count(401),
        "refused_429": codes.count(429),
        "other_statuses": sorted(c for c in codes if c not in (401, 429)),
        "burst_seconds": round(burst_s, 2),
        "ping_before": _summary(rtts["before"]),
        "ping_during": _summary(rtts["during"]),
        "ping_after": _summary(rtts["after"]),
    }


def run_login_burst(args: argparse.Namespace) -> int:
    from server.passwords import Passwords

    with tempfile.TemporaryDirectory(prefix="tandem-bench-login-") as tmp_dir:
        tmp = Path(tmp_dir)
        env, password = prepare_environment(tmp)
        env["TANDEM_LOGIN_MAX_FAILURES"] = str(args.limit)
        if args.server_tree:
            env["PYTHONPATH"] = str(args.server_tree.resolve())

        async def target() -> None:
            from server.config import load_settings
            from server.db import make_engine, make_sessionmaker, transaction
            from server.services.accounts import create_user

            engine = make_engine(load_settings(env, dotenv=None).database_url)
            async with transaction(make_sessionmaker(engine)) as session:
                # argon2-cffi's defaults: every check costs what a real one does.
                await create_user(
                    session, Passwords(), email=TARGET, name="Target", password=os.urandom(8).hex()
                )
            await engine.dispose()

        asyncio.run(target())
        relay = start_relay(env, tmp, "forward")
        try:
            figures = asyncio.run(_measure(relay.base_url, password, args.attempts))
        finally:
            relay.stop()
    figures["server_tree"] = str(args.server_tree) if args.server_tree else "this checkout"
    print(
        f"{figures['attempts']} simultaneous wrong sign-ins ({figures['checked_401']} checked, "
        f"{figures['refused_429']} refused by the limit) took {figures['burst_seconds']} s; "
        "signaling ping round trip (p50 / p95 / max, ms):"
    )
    for phase in ("before", "during", "after"):
        s = figures[f"ping_{phase}"]
        if s["n"]:
            print(f"  {phase:6} {s['p50_ms']:7} {s['p95_ms']:7} {s['max_ms']:7}  ({s['n']} pings)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0
