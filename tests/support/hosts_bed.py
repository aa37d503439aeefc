"""Several Tandem hosts in the network test bed, as a small data centre.

- ``core``: the router every other namespace hangs off (its own /30 to each), and HAProxy in
  front of the hosts, at its address on the browsers' link.
- one namespace per Tandem host, each node at its own address;
- ``services``: PostgreSQL, Redis and the S3 emulator (moto's server mode), started here at
  that namespace's address (the hosts' namespaces cannot reach the machine's 127.0.0.1);
- ``browsers``: the participants' Chromium.

Media goes from each browser to the host running its session, routed through ``core``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from haproxy import haproxy_config
from live import TEST_PASSWORD, LiveServer, start_server
from netbed import Namespace, NetBed
from s3 import CREDENTIALS, s3_environment

# Every link's /30 is inside it: each leaf reaches the others through core.
BED_RANGE = "198.18.0.0/15"
HTTP_PORT = 8080
POSTGRES_PORT = 5432
REDIS_PORT = 6379
S3_PORT = 5000
BUCKET = "tandem-recordings"


def services_missing() -> str | None:
    """What this bed needs beyond the network bed's tools (None: all there)."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL's server binaries (the Debian package postgresql)"
    for program in ("redis-server", "haproxy", "runuser"):
        if shutil.which(program) is None:
            return f"the {program} command"
    return None


def _base_env() -> dict[str, str]:
    """This process's environment, the tests' support modules importable, S3 credentials."""
    support = os.pathsep.join([str(Path(__file__).parent), os.getcwd()])
    return {**os.environ, **CREDENTIALS, "PYTHONPATH": support}


def _wait_tcp(ns: Namespace, address: str, port: int, what: str, log: Path) -> None:
    if not ns.probe_ok("wait-tcp", address, str(port), "30", timeout=40):
        raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')}")


@dataclass
class HostsBed:
    bed: NetBed
    folder: Path
    core: Namespace
    services: Namespace
    browsers: Namespace
    hosts: dict[str, Namespace]
    address: dict[str, str]  # each namespace's address on its link to core
    front: str  # HAProxy's address, on the browsers' link
    env: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, LiveServer] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)
    _cleanup: list[Path] = field(default_factory=list)

    @classmethod
    def make(cls, bed: NetBed, folder: Path, hosts: tuple[str, ...]) -> HostsBed:
        core = bed.namespace("core")
        core.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        leaves = {role: bed.namespace(role) for role in ("services", "browsers", *hosts)}
        address = {}
        for role, ns in leaves.items():
            link = bed.link(core, ns)
            ns.route(BED_RANGE, via=link.address(core))
            address[role] = link.address(ns)
            if role == "browsers":
                front = link.address(core)
        return cls(bed, folder, core, leaves["services"], leaves["browsers"],
                   {h: leaves[h] for h in hosts}, address, front)  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://{self.front}:{HTTP_PORT}"

    # --- the shared services --------------------------------------------------------------

    def start_services(self) -> None:
        """PostgreSQL, Redis and the S3 emulator in the services namespace; the schema and a
        therapist account made from there."""
        where = self.address["services"]
        database = self._start_postgres(where)
        log = self.folder / "redis.log"
        self.logs.append(log)
        self.services.popen("redis-server", "--bind", where, "--port", str(REDIS_PORT),
                            "--save", "", "--appendonly", "no", "--protected-mode", "no",
                            "--dir", str(self.folder), "--logfile", str(log))  # fmt: skip
        _wait_tcp(self.services, where, REDIS_PORT, "Redis", log)
        log = self.folder / "moto.log"
        self.logs.append(log)
        with log.open("w") as out:
            self.services.popen(sys.executable, "-m", "moto.server", "-H", where,
                                "-p", str(S3_PORT), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        _wait_tcp(self.services, where, S3_PORT, "the S3 emulator", log)
        endpoint = f"http://{where}:{S3_PORT}"
        make_bucket = ("from s3 import s3_client; import sys; "
                       "s3_client(sys.argv[1]).create_bucket(Bucket=sys.argv[2])")  # fmt: skip
        self.in_namespace(self.services, "-c", make_bucket, endpoint, BUCKET)
        self.env = {
            **_base_env(),
            **s3_environment(endpoint, BUCKET),
            "TANDEM_DATABASE_URL": database,
            "TANDEM_REDIS_URL": f"redis://{where}:{REDIS_PORT}/0",
            "TANDEM_SECRET_KEY": "hosts-bed-" + "s" * 40,
            "TANDEM_LOG_FORMAT": "text",
        }
        self.in_namespace(self.services, "-m", "server.cli", "migrate")
        self.in_namespace(self.services, "-m", "server.cli", "create-user", "--email",
                          "therapist@example.test", "--name", "Dr. Test Therapist",
                          "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip

    def _start_postgres(self, where: str) -> str:
        bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        # PostgreSQL refuses to run as root: its files belong to the postgres user, in a folder
        # of their own (pytest's are root's, mode 0700).
        data = Path(tempfile.mkdtemp(prefix="tandem-pg-"))
        self._cleanup.append(data)
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ("runuser", "-u", "postgres", "--")
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data / "data"),
                        "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        # The hosts connect from their own addresses, all inside the bed's range.
        with (data / "data" / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {BED_RANGE} trust\n")
        log = self.folder / "postgres.log"
        self.logs.append(log)
        with log.open("w") as out:
            self.services.popen(*as_postgres, str(bindir / "postgres"), "-D", str(data / "data"),
                                "-h", where, "-p", str(POSTGRES_PORT), "-k", str(data),
                                "-c", "fsync=off", stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        _wait_tcp(self.services, where, POSTGRES_PORT, "PostgreSQL", log)
        self.services.run(*as_postgres, str(bindir / "createdb"), "-h", where,
                          "-p", str(POSTGRES_PORT), "-U", "postgres", "tandem")  # fmt: skip
        return f"postgresql://postgres@{where}:{POSTGRES_PORT}/tandem"

    def in_namespace(self, ns: Namespace, *args: str, stdin: str | None = None) -> str:
        """``python ARGS`` in ``ns`` with the deployment's environment; its output."""
        result = subprocess.run(
            ns.command(sys.executable, *args), env=self.env or _base_env(),
            input=stdin, capture_output=True, text=True, timeout=120, cwd=os.getcwd(), check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"python {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    # --- the Tandem hosts and the load balancer --------------------------------------------

    def host_env(self, host: str) -> dict[str, str]:
        var = self.folder / host
        var.mkdir(exist_ok=True)
        return {**self.env, "TANDEM_HOST_NAME": host, "TANDEM_VAR_DIR": str(var),
                "TANDEM_STORAGE_DIR": str(var / "recordings")}  # fmt: skip

    def start_host(self, host: str) -> LiveServer:
        ns, where = self.hosts[host], self.address[host]
        server = start_server(
            self.host_env(host), self.folder, host, host=where, port=HTTP_PORT,
            wrap=tuple(ns.command()), ready=lambda url: ns.probe_ok("http-ok", f"{url}/healthz"),
        )  # fmt: skip
        self.nodes[host] = server
        self.logs.append(server.log_path)
        return server

    def start_haproxy(self) -> None:
        servers = {h: f"{self.address[h]}:{HTTP_PORT}" for h in self.hosts}
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(f"{self.front}:{HTTP_PORT}", servers))
        log = self.folder / "haproxy.log"
        self.logs.append(log)
        with log.open("w") as out:
            self.core.popen("haproxy", "-db", "-f", str(config), stdout=out,
                            stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.browsers.probe_ok("http-ok", f"{self.base_url}/healthz"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy never served:\n{log.read_text()}")
            time.sleep(0.3)

    def owner_host(self, session_id: str) -> str:
        """The host whose node runs ``session_id`` (asked of Redis, from the services side)."""
        ask = (
            "import json, redis, sys; r = redis.Redis.from_url(sys.argv[1]); "
            "node = r.hget('tandem:session_node', sys.argv[2]); "
            "print(json.loads(r.hget('tandem:nodes', node))['host'] if node else '')"
        )
        return self.in_namespace(
            self.services, "-c", ask, self.env["TANDEM_REDIS_URL"], session_id
        ).strip()

    def drain(self, host: str, deadline: float = 30) -> subprocess.Popen[str]:
        """`tandem drain` run on ``host`` (its own nodes), as an operator would."""
        return subprocess.Popen(
            self.hosts[host].command(sys.executable, "-m", "server.cli", "drain",
                                     "--deadline", str(deadline)),
            env=self.host_env(host), cwd=self.folder, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def log(self) -> str:
        return "\n".join(f"===== {p.name}\n{p.read_text(errors='replace')[-20000:]}"
                         for p in self.logs if p.exists())  # fmt: skip

    def close(self) -> None:
        for server in self.nodes.values():
            server.stop()
        for path in self._cleanup:
            with contextlib.suppress(OSError):
                shutil.rmtree(path)


@contextlib.contextmanager
def hosts_bed(bed: NetBed, folder: Path, hosts: tuple[str, ...]) -> Iterator[HostsBed]:
    made = HostsBed.make(bed, folder, hosts)
    try:
        yield made
    finally:
        made.close()
