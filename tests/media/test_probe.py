"""Connection probes with a real aiortc browser stand-in: answered, connected, reported, closed,
and bounded (size, shape, concurrency, lifetime)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiortc import RTCPeerConnection

from media import PortRange, ProbeBusy, ProbeLimits, Prober, ProbeRefused, RelayConfig
from media.aiortc import parse_sdp
from media.testing.probe_client import ProbeClient


@pytest.fixture
async def browsers() -> AsyncIterator[Callable[[], ProbeClient]]:
    made: list[ProbeClient] = []

    def make() -> ProbeClient:
        made.append(ProbeClient())
        return made[-1]

    yield make
    for browser in made:
        await browser.close()


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_probe_connects_reports_the_pair_and_closes(
    browsers: Callable[[], ProbeClient],
) -> None:
    ports = PortRange(26000, 26099)
    prober = Prober(RelayConfig(port_range=ports))
    try:
        browser = browsers()
        answer = await prober.answer(await browser.offer())
        (media,) = parse_sdp(answer).media
        assert media.kind == "application"
        assert media.ice_candidates
        assert all(c.port in ports for c in media.ice_candidates)  # as the call's peers bind
        assert prober.running == 1
        await browser.accept(answer)
        report = await browser.report()
        assert report["connected"] is True
        assert report["local"] == "host"
        assert report["remote"] in ("host", "prflx")
        # The browser closes once it knows; the probe follows at once.
        await browser.pc.close()
        await wait_until(lambda: prober.running == 0, 5, "the probe to close")
    finally:
        await prober.close()


async def test_a_probe_that_never_connects_is_closed_after_its_lifetime(
    browsers: Callable[[], ProbeClient],
) -> None:
    prober = Prober(RelayConfig(), ProbeLimits(lifetime=1.0))
    try:
        await prober.answer(await browsers().offer())  # the answer is never applied
        assert prober.running == 1
        await wait_until(lambda: prober.running == 0, 5, "the probe's lifetime to end")
    finally:
        await prober.close()


async def test_probes_beyond_the_limit_are_refused_until_one_ends(
    browsers: Callable[[], ProbeClient],
) -> None:
    prober = Prober(RelayConfig(), ProbeLimits(max_concurrent=2, lifetime=1.0))
    try:
        await prober.answer(await browsers().offer())
        await prober.answer(await browsers().offer())
        with pytest.raises(ProbeBusy):
            await prober.answer(await browsers().offer())
        assert prober.running == 2
        await wait_until(lambda: prober.running == 0, 5, "the probes to end")
        await prober.answer(await browsers().offer())
    finally:
        await prober.close()
    assert prober.running == 0
    with pytest.raises(ProbeBusy):  # closed: nothing new starts
        await prober.answer(await browsers().offer())


async def test_offers_that_are_not_a_small_data_channel_offer_are_refused(
    browsers: Callable[[], ProbeClient],
) -> None:
    prober = Prober(RelayConfig(), ProbeLimits(max_sdp_bytes=4096, max_candidates=3))
    good = await browsers().offer()
    media_pc = RTCPeerConnection()
    media_pc.addTransceiver("audio")
    await media_pc.setLocalDescription(await media_pc.createOffer())
    candidate = next(line for line in good.splitlines() if line.startswith("a=candidate:"))
    try:
        refused = {
            "garbage": "this is not SDP at all",
            "binary": "v=0\r\n\x00\xff\xfe",
            "too large": good + "a=x-padding:" + "x" * 5000 + "\r\n",
            "media": media_pc.localDescription.sdp,
            "too many candidates": good.replace(candidate, "\r\n".join([candidate] * 4)),
            "no ICE credentials": "\r\n".join(
                line for line in good.splitlines() if not line.startswith("a=ice-")
            ),
        }
        for name, sdp in refused.items():
            with pytest.raises(ProbeRefused):
                await prober.answer(sdp)
                pytest.fail(f"{name} was answered")
        # The last one got as far as aiortc, which refused it: its peer is closed too.
        await wait_until(lambda: prober.running == 0, 5, "refused probes to close")
    finally:
        await media_pc.close()
        await prober.close()
