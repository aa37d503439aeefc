"""The relay under test: a real Tandem process, its database and account, its HTTP pages, and
the operating system's account of its CPU time."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path
from types import MappingProxyType

from bench.nodes import Nodes, redis_environment
from server.config import load_settings
from server.db import make_engine, make_sessionmaker, transaction
from server.migrate import upgrade
from server.models import UserRole
from server.services.accounts import create_user

THERAPIST_EMAIL = "bench-therapist@example.test"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_JOIN_URL = re.compile(r'class="join-url" readonly value="([^"]+)"')
_TOKEN = re.compile(r"/join/[0-9a-f-]{36}/(.+)$")
# Forward mode is exactly `tandem serve`; transcode mode is the same app with aiortc's stock
# decode-and-re-encode relay in place of media.Relay (bench/transcode.py).
_COMMANDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "forward": ("-m", "server.cli", "serve"),
        "transcode": ("-m", "bench.transcode"),
    }
)


def prepare_environment(tmp: Path, workers: int = 1) -> tuple[dict[str, str], str]:
    """A fresh database with one therapist; returns (environment, password)."""
    env: dict[str, str] = {
        **os.environ,
        "TANDEM_VAR_DIR": str(tmp / "var"),
        "TANDEM_SECRET_KEY": secrets.token_urlsafe(40),
        "TANDEM_LOG_FORMAT": "text",
        "TANDEM_LOG_LEVEL": "WARNING",
        # TANDEM_BENCH_DATABASE_URL: an empty database of the caller's (e.g. PostgreSQL, to
        # count the writes a run makes: bench/counters.py); else a fresh SQLite file.
        "TANDEM_DATABASE_URL": os.environ.get("TANDEM_BENCH_DATABASE_URL")
        or f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
    }
    # One process and no Redis: the benchmark measures one relay, not the routing between nodes.
    # Several workers are nodes, and nodes find each other through Redis (server/cli.py).
    env.pop("TANDEM_REDIS_URL", None)
    if workers > 1:
        env.update(redis_environment(os.environ))
    env.pop("TANDEM_PUBLIC_BASE_URL", None)
    (tmp / "var").mkdir(parents=True, exist_ok=True)
    settings = load_settings(env, dotenv=None)
    upgrade(settings.database_url)
    password = secrets.token_urlsafe(16)

    async def create() -> None:
        from argon2 import PasswordHasher

        from server.passwords import Passwords

        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                await create_user(
                    session,
                    # Signed in once per run: cheap hashing keeps start-up off the CPU figures.
                    Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)),
                    email=THERAPIST_EMAIL, name="Bench Therapist", password=password,
                    role=UserRole.therapist,
                )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(create())
    return env, password


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RelayProcess:
    mode: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    # With --workers N: the Redis registry of the worker processes, and their pids.
    nodes: Nodes | None = None
    worker_pids: tuple[int, ...] = ()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def workers(self) -> tuple[int, ...]:
        """The processes that host sessions: the relay itself, or each of its workers."""
        return self.worker_pids or (self.pid,)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        # Listed first: once the relay is gone, its children's parent is no longer known.
        tree = _identities(process_tree(self.pid)) if self.process.poll() is None else {}
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        # uvicorn's supervisor stops its workers. A worker that outlived it is killed, and so is
        # any child still running (a recording's build, media/recording/replay.py), which would
        # write into the run's temporary directory while it is removed.
        for pid in self.worker_pids:
            for child, started in _identities(process_tree(pid)).items():
                tree.setdefault(child, started)
        tree.pop(self.pid, None)
        # Only the processes listed: a pid may have been reused since (same start time or not).
        survivors = [pid for pid, started in tree.items() if _started(pid) == started]
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # SIGKILL is asynchronous: wait until they really stopped.
        _wait_gone(survivors, timeout=10)
        # Children started during the relay's shutdown (recording builds, when it finalized
        # the recordings in progress) were not listed: they are in its process group.
        _kill_group(self.pid, timeout=10)
        if self.nodes is not None:
            self.nodes.clear()


def _started(pid: int) -> str | None:
    """When the process started (proc(5) field 22): with the pid, who it is. None: no process
    or a zombie (its files are closed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def _kill_group(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)  # raises once nobody is left in the group
            time.sleep(0.05)


def _identities(pids: list[int]) -> dict[int, str]:
    found = {pid: _started(pid) for pid in pids}
    return {pid: started for pid, started in found.items() if started is not None}


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _started(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)


def start_relay(env: dict[str, str], tmp: Path, mode: str, workers: int = 1) -> RelayProcess:
    port = _free_port()
    log_path = tmp / f"relay-{mode}.log"
    scale = ("--workers", str(workers)) if workers > 1 else ()
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  # our own interpreter and module
            [sys.executable, *_COMMANDS[mode], "--host", "127.0.0.1", "--port", str(port),
             *scale],
            # Its own process group: whatever it starts can be stopped with it (stop()).
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True,
        )  # fmt: skip
    relay = RelayProcess(mode, f"http://127.0.0.1:{port}", process, log_path)
    settings = load_settings(env, dotenv=None)
    if workers > 1 and settings.redis_url:
        relay.nodes = Nodes(settings.redis_url, settings.redis_prefix)
    _wait_healthy(relay)
    if relay.nodes is not None:
        try:
            pids = relay.nodes.wait_for(workers, lambda: process.poll() is None)
        except RuntimeError as exc:
            relay.stop()
            raise RuntimeError(f"{exc}:\n{relay.log_tail()}") from None
        relay.worker_pids = tuple(pids)
    return relay


def _wait_healthy(relay: RelayProcess) -> None:
    process = relay.process
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"relay exited early:\n{relay.log_tail()}")
        try:
            # S310: the URL is always http://127.0.0.1 of the relay started above.
            with urllib.request.urlopen(f"{relay.base_url}/healthz", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    relay.stop()
    raise RuntimeError(f"relay did not start:\n{relay.log_tail()}")


def process_tree(root: int) -> list[int]:
    """The root and all its descendants, from the parent pid in every /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        # A process may exit between the listing and the read.
        with contextlib.suppress(OSError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (proc(5), fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's main thread (the relay's event loop) was runnable but not running.

    On a shared machine this is CPU the relay wanted and other work got: the noise, measured.
    """
    fields = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(fields[1]) / 1e9


def metrics(base_url: str) -> dict[str, float]:
    """The relay's Prometheus figures (tandem_* samples only)."""
    # S310: always the http:// URL of the relay this benchmark started.
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as r:  # noqa: S310
        return parse_metrics(r.read().decode())


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("tandem_") and " " in line:
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """Just enough of a browser for the therapist's pages: cookies, CSRF tokens, forms."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self._opener = urllib.request.build_opener(_NoRedirect)

    def _request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        # S310: always the http:// URL of the relay this benchmark started.
        request = urllib.request.Request(f"{self.base_url}{path}", data=data)  # noqa: S310
        request.add_header("Accept", "text/html")
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            response: HTTPResponse = self._opener.open(request, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc  # type: ignore[assignment]  # an HTTPError is a response too
        with response:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            body = response.read().decode(errors="replace")
            return response.status, response.headers.get("Location", ""), body

    def _csrf(self, path: str) -> str:
        match = _CSRF.search(self._request(path)[2])
        if match is None:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def login(self, email: str, password: str) -> None:
        form = {"email": email, "password": password, "csrf_token": self._csrf("/login")}
        status, _, body = self._request("/login", form)
        if status != 303:
            raise RuntimeError(f"sign-in failed ({status}): {body[:200]}")

    def start_session(self, title: str) -> tuple[str, str]:
        """Starts an ad hoc session like the page does; returns (session id, parent link token)."""
        form = {"csrf_token": self._csrf("/sessions"), "title": title}
        status, location, body = self._request("/sessions", form)
        if status != 303:
            raise RuntimeError(f"starting a session failed ({status}): {body[:200]}")
        session_id = location.rsplit("/", 1)[1]
        console = self._request(f"/sessions/{session_id}")[2]
        for block in console.split('<li class="link-row"')[1:]:
            url = _JOIN_URL.search(block)
            if 'data-role="parent"' in block and url:
                token = _TOKEN.search(html.unescape(url.group(1)))
                if token:
                    return session_id, token.group(1)
        raise RuntimeError(f"no parent join link on the console of {session_id}")
