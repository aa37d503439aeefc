"""Browser end-to-end helpers: cameras, participants, and the flows the tests share.

Each participant gets its own browser process because the fake camera file is a per-process flag:
the parent films red frames, the therapist blue ones, the observer green ones, so a screenshot of
a received tile tells whose camera it shows.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from live import TEST_PASSWORD
from services import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]

# Camera colors (RGB). Each is far from the others in every channel that matters.
CAMERA_COLORS = {
    "parent": (220, 30, 30),
    "therapist": (30, 40, 220),
    "observer": (30, 200, 40),
}

WIDTH, HEIGHT, FPS, SECONDS = 640, 480, 30, 2


def write_y4m(path: Path, rgb: tuple[int, int, int]) -> None:
    """A 2 s 640x480 clip of one strong color with a moving white bar (so the encoder has work)."""
    import av

    with av.open(str(path), mode="w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        row = bytes(rgb) * WIDTH
        for i in range(FPS * SECONDS):
            bar = (i * 8) % (WIDTH - 40)
            line = bytearray(row)
            line[bar * 3 : (bar + 40) * 3] = b"\xff" * 120
            frame = av.VideoFrame(WIDTH, HEIGHT, "rgb24")
            plane = frame.planes[0]
            padding = b"\x00" * (plane.line_size - WIDTH * 3)
            plane.update((bytes(line) + padding) * HEIGHT)
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_textured_y4m(path: Path, seconds: int = 2) -> None:
    """A 640x480 clip that costs bits: ffmpeg's moving test pattern plus fresh noise in every
    frame. Chromium's flat fake camera (and one-colour clips) encode to ~45 kbit/s, which tests
    nothing about a link's capacity; this one wants ~1.5 Mbit/s of VP8."""
    import av

    graph = av.filter.Graph()
    chain = [
        graph.add("testsrc2", f"size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}"),
        graph.add("noise", "alls=12:allf=t+u"),
        graph.add("format", "yuv420p"),
        graph.add("buffersink"),
    ]
    for a, b in itertools.pairwise(chain):
        a.link_to(b)
    graph.configure()
    with av.open(str(path), mode="w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        while True:
            try:
                frame = graph.vpull()
            except (av.error.EOFError, av.error.BlockingIOError):
                break
            frame.pts = None
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def mean_rgb(png: bytes) -> tuple[float, float, float]:
    """Average color of a PNG screenshot (decoded with PyAV: no imaging library needed)."""
    import av

    with av.open(io.BytesIO(png), "r", format="png_pipe") as container:
        frame = next(container.decode(video=0)).reformat(format="rgb24")
    plane = frame.planes[0]
    data = bytes(plane)
    sums = [0, 0, 0]
    count = 0
    for y in range(0, frame.height, 4):
        start = y * plane.line_size
        line = data[start : start + frame.width * 3]
        for c in range(3):
            sums[c] += sum(line[c::12])
        count += len(line[0::12])
    return (sums[0] / count, sums[1] / count, sums[2] / count)


def dominant(rgb: tuple[float, float, float]) -> str | None:
    """Which camera color a tile shows: the strongest channel, clearly ahead of the others."""
    r, g, b = rgb
    best = max(r, g, b)
    if best < 60:
        return None
    if r == best and r > g + 50 and r > b + 50:
        return "parent"
    if b == best and b > r + 50 and b > g + 50:
        return "therapist"
    if g == best and g > r + 50 and g > b + 50:
        return "observer"
    return None


@dataclass
class Participant:
    """One browser (its own process and fake camera) with one page."""

    who: str
    browser: Browser
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)

    def call_phase(self) -> str | None:
        return self.page.get_attribute("#call", "data-phase")

    def wait_phase(self, phase: str, timeout: float = 15) -> None:
        self.page.wait_for_selector(
            f"#call[data-phase='{phase}']", state="attached", timeout=timeout * 1000
        )

    def participant_id(self) -> str:
        pid = self.page.get_attribute("#call", "data-participant")
        assert pid, f"{self.who} has no participant id yet"
        return pid

    def media_stats(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self.page.evaluate(
            "async () => window.tandemCall ? await window.tandemCall.mediaStats() : {}"
        )
        return result

    def outbound_stats(self) -> dict[str, int]:
        result: dict[str, int] = self.page.evaluate(
            "async () => await window.tandemCall.outboundStats()"
        )
        return result

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self.browser.close()


class Browsers:
    """One Chromium process per participant, opened on demand and closed together."""

    def __init__(self, playwright: Playwright) -> None:
        self.playwright = playwright
        self.opened: list[Participant] = []

    def open(
        self, who: str, camera: Path, *, executable: str | Path = CHROMIUM,
        extra_args: tuple[str, ...] = (),
    ) -> Participant:  # fmt: skip
        browser = self.playwright.chromium.launch(
            executable_path=str(executable),
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}", *extra_args],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15000)
        participant = Participant(who, browser, context, page)
        page.on(
            "console",
            lambda m: participant.console.append(f"[{m.type}] {m.text} {m.location.get('url')}"),
        )
        page.on("pageerror", lambda e: participant.console.append(f"[pageerror] {e}"))
        # Remove and End ask for confirmation: the therapist says yes.
        page.on("dialog", lambda d: d.accept())
        self.opened.append(participant)
        return participant

    def close(self, failed: bool, server_log: Callable[[], str]) -> list[str]:
        """Close every browser; returns the page errors seen (after printing the consoles and
        the server log's tail when the test failed)."""
        # Uncaught exceptions and console.error calls (a failed signaling handler logs one) count;
        # HTTP errors the tests cause on purpose (410, 403, no favicon) do not.
        page_errors = [
            f"{p.who}: {line}"
            for p in self.opened
            for line in p.console
            if line.startswith(("[pageerror]", "[error]")) and "Failed to load resource" not in line
        ]
        if failed:
            for p in self.opened:
                print(f"----- console of {p.who} -----")
                print("\n".join(p.console[-80:]))
            print("----- server log (tail) -----")
            print("\n".join(server_log().splitlines()[-150:]))
        for participant in self.opened:
            with contextlib.suppress(Exception):  # the browser may already be gone
                participant.close()
        return page_errors


class Served(Protocol):
    """What the browser tests use of what serves them: one process (LiveServer), or several behind
    one address (tests/e2e/test_node_failover.py's Deployment)."""

    @property
    def base_url(self) -> str: ...
    @property
    def env(self) -> dict[str, str]: ...
    def log(self) -> str: ...


@dataclass
class Live:
    """The module's server and what the tests need to drive it."""

    server: Served
    email: str


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str],
    step: float = 0.25,
) -> T:
    """The predicate's first truthy answer, asked every ``step`` seconds for ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(step)


# --- flows shared by the tests ---------------------------------------------------------------


def wait_js(page: Page, function: str, timeout: float) -> Any:
    """Poll a JS function until it returns something truthy.

    Playwright's wait_for_function evaluates strings with eval(), which the app's CSP forbids;
    page.evaluate goes through the DevTools protocol and is not affected.
    """
    return wait_until(lambda: page.evaluate(function), timeout, f"timed out waiting for {function}")


def login(therapist: Participant, live: Live) -> None:
    page = therapist.page
    page.goto(f"{live.server.base_url}/login")
    page.fill("#email", live.email)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)


def start_session(therapist: Participant, live: Live, title: str) -> dict[str, str]:
    """Start a session from /sessions; returns its id and the parent's and observer's links."""
    page = therapist.page
    page.goto(f"{live.server.base_url}/sessions")
    page.fill("#title", title)
    page.click("button:has-text('Start session')")
    page.wait_for_url(re.compile(r".*/sessions/[^/]+$"))
    session_id = page.url.rstrip("/").rsplit("/", 1)[1]
    links = {"id": session_id}
    for role in ("parent", "observer"):
        links[role] = page.input_value(f"li.link-row[data-role={role}] .join-url")
    return links


def open_call(therapist: Participant, live: Live, session_id: str) -> None:
    therapist.page.goto(f"{live.server.base_url}/sessions/{session_id}/call")
    therapist.wait_phase("call")


def knock(person: Participant, url: str, *, check_devices: bool = True) -> str:
    """Open a join link, pass the device check, click Join; returns the lobby participant id."""
    page = person.page
    page.goto(url)
    person.wait_phase("check")
    wait_js(page, "() => !document.getElementById('btn-join').disabled", 15)
    if check_devices:
        # The preview shows the camera and the meter moves with the (fake, beeping) microphone.
        wait_js(
            page,
            "() => { const v = document.getElementById('preview');"
            " return v.videoWidth > 0 && v.currentTime > 0; }",
            15,
        )
        assert page.locator("#preview").is_visible()
        wait_js(page, "() => document.getElementById('mic-level').value > 0", 10)
    page.click("#btn-join")
    person.wait_phase("lobby")
    return person.participant_id()


def admit(therapist: Participant, pid: str) -> None:
    item = therapist.page.locator(f"#waiting-list li[data-participant='{pid}']")
    item.wait_for(state="visible")
    item.locator("button.admit").click()


def frames_from(person: Participant, pid: str) -> int:
    return int(person.media_stats().get(pid, {}).get("framesDecoded", 0))


def wait_frames_growing(person: Participant, pid: str, timeout: float = 15) -> None:
    """Video from ``pid`` decodes at ``person`` and keeps decoding."""
    first = wait_until(
        lambda: frames_from(person, pid) > 0,
        timeout,
        lambda: f"{person.who} decoded no video from {pid}: {person.media_stats()}",
    )
    assert first
    base = frames_from(person, pid)
    wait_until(
        lambda: frames_from(person, pid) > base + 10,
        timeout,
        lambda: f"{person.who}: frames from {pid} stopped at {person.media_stats()}",
    )


def wait_audio_growing(person: Participant, pid: str, timeout: float = 15) -> None:
    def audio() -> tuple[int, int]:
        s = person.media_stats().get(pid, {})
        return int(s.get("audioBytes", 0)), int(s.get("audioSamples", 0))

    wait_until(
        lambda: audio()[0] > 0 and audio()[1] > 0,
        timeout,
        lambda: f"{person.who} received no audio from {pid}: {person.media_stats()}",
    )
    b0, s0 = audio()
    wait_until(
        lambda: audio()[0] > b0 and audio()[1] > s0,
        timeout,
        lambda: f"{person.who}: audio from {pid} stopped: {person.media_stats()}",
    )


def main_tile_color(person: Participant) -> str | None:
    tile = person.page.locator("#main-video figure.remote video")
    if tile.count() != 1:
        return None
    return dominant(mean_rgb(tile.screenshot()))


def wait_main_tile_shows(person: Participant, who: str, timeout: float = 15) -> None:
    wait_until(
        lambda: main_tile_color(person) == who,
        timeout,
        lambda: f"{person.who}'s main tile does not show {who}'s camera",
    )


def start_call_with_parent(
    live: Live, launch: Callable[[str], Participant], title: str
) -> tuple[Participant, Participant, dict[str, str]]:
    """Therapist in the call, parent admitted; returns (therapist, parent, links + ids)."""
    therapist = launch("therapist")
    parent = launch("parent")
    login(therapist, live)
    links = start_session(therapist, live, title)
    open_call(therapist, live, links["id"])
    links["therapist_id"] = therapist.participant_id()
    links["parent_id"] = knock(parent, links["parent"], check_devices=False)
    admit(therapist, links["parent_id"])
    parent.wait_phase("call")
    return therapist, parent, links


def start_call_with_everyone(
    live: Live, launch: Callable[[str], Participant], title: str
) -> tuple[Participant, Participant, Participant, dict[str, str]]:
    """Therapist, parent and observer in the call; returns them and the links + ids."""
    therapist, parent, links = start_call_with_parent(live, launch, title)
    observer = launch("observer")
    links["observer_id"] = knock(observer, links["observer"], check_devices=False)
    admit(therapist, links["observer_id"])
    observer.wait_phase("call")
    return therapist, parent, observer, links


# --- session tools: recording consent, annotations, drawing ------------------------------------


def recording_state(person: Participant) -> str | None:
    return person.page.get_attribute("#recording-indicator", "data-state")


def wait_recording_state(person: Participant, state: str, timeout: float = 10) -> None:
    wait_until(
        lambda: recording_state(person) == state,
        timeout,
        lambda: f"{person.who}'s recording indicator is {recording_state(person)}, not {state}",
    )


def consent_dialog_open(person: Participant) -> bool:
    return bool(person.page.evaluate("() => document.getElementById('consent-dialog').open"))


def wait_consent_dialog(person: Participant, timeout: float = 10) -> None:
    wait_until(lambda: consent_dialog_open(person), timeout, f"{person.who} sees no consent dialog")


def names_in(person: Participant, selector: str) -> list[str]:
    result: list[str] = person.page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].map((el) => el.textContent.trim())",
        selector,
    )
    return result


def timeline(person: Participant) -> list[dict[str, str]]:
    """The annotation timeline, newest first: kind, status, session time, label, status text."""
    result: list[dict[str, str]] = person.page.evaluate(
        "() => [...document.querySelectorAll('#annotation-timeline li')].map((li) => ({"
        " kind: li.dataset.kind, status: li.dataset.status,"
        " time: li.querySelector('.t-session').textContent,"
        " label: li.querySelector('.t-label').textContent,"
        " text: li.querySelector('.t-status').textContent }))"
    )
    return result


INK_JS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
}"""


def inked_pixels(person: Participant, canvas_selector: str) -> int:
    """How many pixels of a drawing canvas are not fully transparent."""
    return int(person.page.evaluate(INK_JS, canvas_selector))
