"""Several hosts, each in its own network namespace with its own address, behind a real HAProxy;
PostgreSQL, Redis and an S3 emulator in a namespace of their own; the browsers in another.

A recorded session runs on one host; `tandem drain` is run on that host: both participants are
back in the call on the other host within 10 s without a second admission, and the recording
made before the drain plays from the other host (out of the S3 emulator: the drained host's
disk is no longer behind the load balancer)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_flows import (
    Browsers,
    Live,
    Participant,
    start_call_with_parent,
    wait_frames_growing,
    wait_until,
)
from failover import (
    decoded,
    record_a_while,
    same_call_no_second_admission,
    wait_both_back,
    watch,
)
from hosts_bed import HostsBed, hosts_bed, services_missing
from netbed import NetBed
from services import CHROMIUM, service_missing

pytestmark = [pytest.mark.network, pytest.mark.browser]

EMAIL = "therapist@example.test"

FILES_JS = """async (sessionId) => {
  const page = await fetch(`/sessions/${sessionId}/playback`, { headers: { accept: "text/html" } });
  const doc = new DOMParser().parseFromString(await page.text(), "text/html");
  return JSON.parse(doc.querySelector("[data-playback]").dataset.playback).files;
}"""

MEDIA_JS = """async (url) => {
  const answer = await fetch(url);
  const bytes = new Uint8Array(await answer.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return [answer.status, btoa(text)];
}"""


@pytest.fixture
def datacentre(bed: NetBed, tmp_path: Path) -> Iterator[HostsBed]:
    missing = services_missing()
    if missing:
        service_missing(missing)
    with hosts_bed(bed, tmp_path, ("host-a", "host-b")) as made:
        made.start_services()
        for host in made.hosts:
            made.start_host(host)
        made.start_haproxy()
        yield made


def finalized(therapist: Participant, session_id: str) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = therapist.page.evaluate(FILES_JS, session_id)
    return files if len(files) == 2 and all(f["status"] == "finalized" for f in files) else []


def test_drain_moves_a_recorded_call_to_another_host_and_its_recording_plays_there(
    datacentre: HostsBed,
    playwright_instance: Any,
    textured_camera: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    dc = datacentre
    browsers = Browsers(playwright_instance)
    chromium = dc.browsers.executable(CHROMIUM, tmp_path)
    secure = f"--unsafely-treat-insecure-origin-as-secure={dc.base_url}"

    def launch(who: str) -> Participant:
        return browsers.open(who, textured_camera, executable=chromium, extra_args=(secure,))

    try:
        therapist, parent, ids = start_call_with_parent(Live(dc, EMAIL), launch, "Hosts e2e")
        t_id, p_id, session_id = ids["therapist_id"], ids["parent_id"], ids["id"]
        wait_frames_growing(parent, t_id, timeout=20)
        wait_frames_growing(therapist, p_id, timeout=20)
        record_a_while(therapist, parent, 6)
        running = dc.owner_host(session_id)
        (other,) = [h for h in dc.hosts if h != running]
        for person in (therapist, parent):
            watch(person)

        started = time.monotonic()
        drain = dc.drain(running)
        back = wait_both_back([(therapist, p_id), (parent, t_id)], 10, started)
        print(f"back in the call on {other} after `tandem drain` on {running}: {back}")
        output, _ = drain.communicate(timeout=120)
        assert drain.returncode == 0, output
        assert dc.nodes[running].process.wait(timeout=60) is not None
        same_call_no_second_admission(therapist, parent, t_id, p_id)
        assert dc.owner_host(session_id) == other

        # The recording made on the drained host, played through the load balancer, which has
        # only the other host left to ask.
        files = wait_until(
            lambda: finalized(therapist, session_id),
            60,
            lambda: f"not finalized: {therapist.page.evaluate(FILES_JS, session_id)}",
            step=1.0,
        )
        for f in files:
            status, body = therapist.page.evaluate(MEDIA_JS, f["url"])
            assert status == 200, f
            video, audio = decoded(base64.b64decode(body))
            # How many frames the browsers encoded depends on the machine's load (8 in ~5 s seen
            # on a busy run); that the file decodes, video and audio, is what shows it plays.
            assert video > 0, f
            assert audio > 50, f
        # Served by the host that remains (the drained one has stopped).
        served = "request method=GET route=/recordings/{file_id}/media status=200"
        assert dc.nodes[other].log().count(served) == 2
    finally:
        report = getattr(request.node, "rep_call", None)
        errors = browsers.close(report is not None and report.failed, dc.log)
        errors = [e for e in errors if "WebSocket connection to" not in e]
        if report is not None and report.passed and errors:
            pytest.fail("errors in the browsers:\n" + "\n".join(errors))
