"""Browser end-to-end fixtures: a real Tandem server and one headless Chromium per participant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_flows import CAMERA_COLORS, Browsers, Live, Participant, write_y4m


@pytest.fixture(scope="session")
def cameras(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cameras")
    files = {}
    for who, rgb in CAMERA_COLORS.items():
        files[who] = folder / f"{who}.y4m"
        write_y4m(files[who], rgb)
    return files


@pytest.fixture(scope="module")
def live(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One real server (uvicorn subprocess, SQLite) per test module, with a therapist account."""
    from live import prepare_with_therapist, serving

    tmp = tmp_path_factory.mktemp("e2e")
    email = "therapist@example.test"
    env = prepare_with_therapist(tmp, email)
    with serving(env, tmp) as server:
        yield Live(server, email)


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
    browsers = Browsers(playwright_instance)
    yield lambda who: browsers.open(who, cameras[who.split("-")[0]])
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    page_errors = browsers.close(failed, live.server.log)
    if report is not None and report.passed and page_errors:
        pytest.fail("errors in the browsers:\n" + "\n".join(page_errors))
