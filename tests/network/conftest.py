"""Network test bed fixtures: namespaces the test makes and removes (root, iproute2, iptables)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_flows import Browsers, write_textured_y4m
from netbed import NetBed, Sites, bed_missing
from netcall import NetCall
from services import service_missing


@pytest.fixture
def bed() -> Iterator[NetBed]:
    missing = bed_missing()
    if missing:
        service_missing(missing)
    with NetBed() as made:
        yield made


@pytest.fixture
def sites(bed: NetBed) -> Sites:
    return Sites.make(bed)


@pytest.fixture(scope="session")
def textured_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cameras") / "textured.y4m"
    write_textured_y4m(path)
    return path


@pytest.fixture
def call(
    sites: Sites,
    playwright_instance: Any,
    textured_camera: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[NetCall]:
    """A call across the bed's link; the test starts the server (call.serve) with its settings."""
    made = NetCall(sites, tmp_path, Browsers(playwright_instance), textured_camera)
    yield made
    report = getattr(request.node, "rep_call", None)
    page_errors = made.close(failed=report is not None and report.failed)
    if report is not None and report.passed and page_errors:
        pytest.fail("errors in the browsers:\n" + "\n".join(page_errors))
