"""Browser end-to-end fixtures: a real Tandem server and one headless Chromium per participant."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2e_flows import (
    CAMERA_COLORS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Live,
    Participant,
    require_chromium,
    write_y4m,
)


@pytest.fixture(scope="session")
def chromium() -> str:
    require_chromium()
    return CHROMIUM


@pytest.fixture(scope="session")
def cameras(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cameras")
    files = {}
    for who, rgb in CAMERA_COLORS.items():
        files[who] = folder / f"{who}.y4m"
        write_y4m(files[who], rgb)
    return files


@pytest.fixture(scope="module")
def playwright_instance(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def live(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One real server (uvicorn subprocess, SQLite) per test module, with a therapist account."""
    from live import create_account, prepare_environment, start_server

    tmp = tmp_path_factory.mktemp("e2e")
    email = "therapist@example.test"

    def prepare() -> dict[str, str]:
        env = prepare_environment(tmp)
        create_account(env, email)
        return env

    # Playwright's sync API keeps an event loop running in this thread; the setup helpers call
    # asyncio.run(), so they run in a thread of their own.
    with ThreadPoolExecutor(1) as pool:
        env = pool.submit(prepare).result()
    server = start_server(env, tmp)
    try:
        yield Live(server, email)
    finally:
        server.stop()


@pytest.fixture
def launch(
    live: Live,
    playwright_instance: Any,
    cameras: dict[str, Path],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Participant]]:
    """Start one Chromium per participant (``who`` picks the camera); all closed after the test.

    On failure, every browser's console and the server log's tail are printed.
    """
    opened: list[Participant] = []

    def start(who: str) -> Participant:
        camera = cameras[who.split("-")[0]]
        browser = playwright_instance.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
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
        opened.append(participant)
        return participant

    yield start
    report = getattr(request.node, "rep_call", None)
    # Uncaught exceptions and console.error calls (a failed signaling handler logs one) fail
    # the test; HTTP errors the tests cause on purpose (410, 403, no favicon) do not.
    page_errors = [
        f"{p.who}: {line}"
        for p in opened
        for line in p.console
        if line.startswith(("[pageerror]", "[error]")) and "Failed to load resource" not in line
    ]
    if report is not None and report.failed:
        for p in opened:
            print(f"----- console of {p.who} -----")
            print("\n".join(p.console[-80:]))
        print("----- server log (tail) -----")
        print("\n".join(live.server.log().splitlines()[-150:]))
    for participant in opened:
        with contextlib.suppress(Exception):  # the browser may already be gone
            participant.close()
    if report is not None and report.passed and page_errors:
        pytest.fail("errors in the browsers:\n" + "\n".join(page_errors))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
