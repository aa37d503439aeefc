"""The join page's connection check, in the parent's real Chromium across the bed: it says
direct, through TURN, or blocked (with what to do), before the parent knocks."""

from __future__ import annotations

import time

import pytest
from e2e_flows import Participant, login, start_session, wait_until
from netcall import NetCall

pytestmark = [pytest.mark.network, pytest.mark.browser]

# What the issue allows the page to take before it tells a parent their network blocks video.
FUNCTIONAL_LIMIT = 20.0


def open_join_page(call: NetCall, title: str) -> tuple[Participant, float]:
    """The therapist (beside the server) starts a session; the parent opens its link. Returns
    the parent and when the page was opened."""
    therapist = call.launch("therapist")
    parent = call.launch("parent")
    login(therapist, call.live)
    links = start_session(therapist, call.live, title)
    opened = time.monotonic()
    parent.page.goto(links["parent"])
    return parent, opened


def check_result(parent: Participant) -> tuple[str, str]:
    """(result, text) once the check has finished."""
    status = parent.page.locator("#net-status")

    def finished() -> str | None:
        result = status.get_attribute("data-result")
        return result if result not in (None, "checking") else None

    result = wait_until(finished, FUNCTIONAL_LIMIT, "the connection check did not finish")
    # Announced to screen readers as it changes.
    assert status.get_attribute("role") == "status"
    return str(result), status.inner_text()


def test_unimpaired_network_is_direct(call: NetCall) -> None:
    call.serve()
    parent, _ = open_join_page(call, "Check: direct")
    result, text = check_result(parent)
    assert result == "direct", text
    assert "Connection to the video service: direct." in text
    assert parent.page.locator("#net-retry").is_hidden()
    # The page is still the check page; nobody knocked.
    assert parent.call_phase() == "check"


def test_udp_blocked_with_turn_goes_through_turn(call: NetCall) -> None:
    turn = call.start_turn()
    call.sites.link.block_udp()
    call.serve(TANDEM_TURN_URLS=turn.urls("tcp"), TANDEM_TURN_SECRET=turn.secret)
    parent, _ = open_join_page(call, "Check: TURN")
    result, text = check_result(parent)
    assert result == "turn", text
    assert "through a relay server (TURN)" in text


def test_udp_blocked_without_turn_says_blocked_and_what_to_do(call: NetCall) -> None:
    call.sites.link.block_udp()
    call.serve()
    parent, opened = open_join_page(call, "Check: blocked")
    result, text = check_result(parent)
    took = time.monotonic() - opened
    assert result == "blocked", text
    assert took < FUNCTIONAL_LIMIT
    assert "Connection to the video service: blocked." in text
    assert "Your network blocks video calls." in text
    assert "Try another network" in text
    assert "turn off your VPN" in text
    # The parent can check again after changing networks: here UDP comes back.
    retry = parent.page.locator("#net-retry")
    assert retry.is_visible()
    call.sites.link.block_udp(False)
    retry.click()
    result, text = check_result(parent)
    assert result == "direct", text
