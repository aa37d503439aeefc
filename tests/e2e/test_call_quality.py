"""Call quality on the record: each page reports getStats summaries over its socket, and after
the call the session page says how smooth each participant's video was; /metrics adds it up."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from e2e_flows import Live, Participant, start_call_with_parent, wait_frames_growing, wait_until

pytestmark = pytest.mark.browser

SENTENCE = re.compile(
    r"^.+: (video never froze|\d+ freezes?, \d+ s) in \d+ (s|min), directly \(UDP\) \(received"
)


def reports_by_role(base_url: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in httpx.get(f"{base_url}/metrics").text.splitlines():
        if line.startswith("tandem_call_quality_reports_total{"):
            role = re.search(r'role="(\w+)"', line)
            assert role is not None, line
            found[role[1]] = found.get(role[1], 0) + float(line.rsplit(" ", 1)[1])
    return found


def test_the_session_page_and_metrics_show_how_smooth_the_call_was(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, ids = start_call_with_parent(live, launch, "Quality on record")
    wait_frames_growing(therapist, ids["parent_id"])
    wait_frames_growing(parent, ids["therapist_id"])
    base = live.server.base_url
    # A report every 5 s, from the second sample on: both pages within ~12 s of connecting.
    wait_until(
        lambda: {"therapist", "parent"} <= {r for r, n in reports_by_role(base).items() if n},
        20,
        lambda: f"no quality reports from both pages: {reports_by_role(base)}",
    )
    therapist.page.goto(f"{base}/sessions/{ids['id']}")
    for pid in (ids["therapist_id"], ids["parent_id"]):
        line = therapist.page.locator(f"#call-quality li[data-participant='{pid}']").inner_text()
        assert SENTENCE.match(line), line
    assert "kbit/s" in therapist.page.locator("#call-quality").inner_text()
