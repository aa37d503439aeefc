"""A Tandem call in the network test bed: the server in one namespace, each browser in its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_flows import Browsers, Live, Participant
from live import LiveServer, prepare_with_therapist, start_server
from netbed import Namespace, Sites
from services import CHROMIUM, service_missing
from turn import Turn, start_turn, turn_missing

EMAIL = "therapist@example.test"


@dataclass
class NetCall:
    """The therapist's browser sits beside the server; the parent's behind the link."""

    sites: Sites
    folder: Path
    browsers: Browsers
    camera: Path
    server: LiveServer | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def live(self) -> Live:
        assert self.server is not None, "serve() first"
        return Live(self.server, EMAIL)

    def serve(self, **settings: str) -> Live:
        """Start Tandem in the server's namespace, at its address on the link; ``settings``
        are extra environment variables (TANDEM_TURN_URLS, ...)."""
        env = prepare_with_therapist(self.folder, EMAIL)
        env.update(settings)
        ns = self.sites.server
        self.server = start_server(
            env, self.folder, host=self.sites.link.address(ns), wrap=tuple(ns.command()),
            ready=lambda url: ns.probe_ok("http-ok", f"{url}/healthz"),
        )  # fmt: skip
        return self.live

    def start_turn(self) -> Turn:
        """A coturn in the server's namespace at its link address (its log kept with the
        test's); skips, or fails under TANDEM_REQUIRE_SERVICES, without coturn."""
        missing = turn_missing()
        if missing:
            service_missing(missing)
        ns = self.sites.server
        turn = start_turn(ns, self.sites.link.address(ns), self.folder)
        self.logs.append(turn.log_path)
        return turn

    def launch(self, who: str, ns: Namespace | None = None) -> Participant:
        """A browser for ``who``: in ``ns``, else the therapist beside the server and anyone
        else at the parent's."""
        if ns is None:
            ns = self.sites.server if who == "therapist" else self.sites.parent
        # Plain http at a non-local address is not a secure context: getUserMedia would refuse.
        secure = f"--unsafely-treat-insecure-origin-as-secure={self.live.server.base_url}"
        return self.browsers.open(
            who, self.camera, executable=ns.executable(CHROMIUM, self.folder), extra_args=(secure,)
        )

    def log(self) -> str:
        parts = [self.server.log()] if self.server else []
        parts += [f"----- {path.name} -----\n{path.read_text(errors='replace')}"
                  for path in self.logs if path.exists()]  # fmt: skip
        return "\n".join(parts)

    def close(self, failed: bool) -> list[str]:
        """Close the browsers and stop the server; returns the page errors seen."""
        try:
            return self.browsers.close(failed, self.log)
        finally:
            if self.server is not None:
                self.server.stop()


SELECTED_PAIR_JS = """async () => {
  const pc = window.tandemCall && window.tandemCall.peer && window.tandemCall.peer.pc;
  if (!pc) return null;
  const stats = [...(await pc.getStats()).values()];
  const byId = Object.fromEntries(stats.map((s) => [s.id, s]));
  const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = transport && byId[transport.selectedCandidatePairId];
  if (!pair || pair.state !== "succeeded") return null;
  const describe = (c) => ({ type: c.candidateType, address: c.address, port: c.port,
                             protocol: c.protocol, relayProtocol: c.relayProtocol || null });
  return { local: describe(byId[pair.localCandidateId]),
           remote: describe(byId[pair.remoteCandidateId]),
           rtt: { seconds: pair.currentRoundTripTime ?? null } };
}"""


def selected_pair(person: Participant) -> dict[str, dict[str, Any]] | None:
    """The candidate pair the browser's peer connection uses (None while it has none):
    ``local`` and ``remote`` candidates (type, address, port, protocol, relayProtocol) and
    ``rtt`` (seconds: the last STUN round trip)."""
    pair: dict[str, dict[str, Any]] | None = person.page.evaluate(SELECTED_PAIR_JS)
    return pair
