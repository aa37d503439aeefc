"""Service errors become HTTP answers in one place (server/http/errors.py): the service's own
sentence, the status for its kind, a friendly page for browsers and JSON for API calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.services.errors import (
    Conflict,
    DomainError,
    NotFound,
    Refused,
    ValidationFailed,
    as_uuid,
)

HTML = {"accept": "text/html"}
ERRORS: dict[str, DomainError] = {
    "missing": NotFound("No such thing on your list."),
    "refused": Refused("Only its owner changes it."),
    "conflict": Conflict("It is locked now."),
    "invalid": ValidationFailed({"a": "Enter a.", "b": "Enter b."}),
}


async def raising(request: Request) -> Response:
    raise ERRORS[request.path_params["kind"]]


@pytest.fixture
def bare_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, extra_routes=[Route("/raise/{kind}", raising)])
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("missing", 404, "not_found", "No such thing on your list."),
        ("refused", 403, "forbidden", "Only its owner changes it."),
        ("conflict", 409, "error", "It is locked now."),
        ("invalid", 422, "invalid", "Enter a. Enter b."),
    ],
)
def test_each_kind_of_domain_error_has_its_status_and_keeps_its_message(
    bare_client: TestClient, kind: str, status: int, code: str, message: str
) -> None:
    api = bare_client.get(f"/raise/{kind}")
    assert api.status_code == status
    assert api.json() == {"error": {"code": code, "message": message}}
    page = bare_client.get(f"/raise/{kind}", headers=HTML)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert message in page.text


def test_a_malformed_id_is_not_found_with_the_callers_sentence() -> None:
    with pytest.raises(NotFound, match=r"^No such note\.$"):
        as_uuid("not-a-uuid", "No such note.")
    known = as_uuid("00000000-0000-0000-0000-000000000001", "unused")
    assert as_uuid(known, "unused") is known


def test_pages_answer_with_the_services_sentence(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    missing = "/api/v1/clients/00000000-0000-0000-0000-000000000000"
    assert client.get(missing).json() == {
        "error": {"code": "not_found", "message": "No such client in your caseload."}
    }
    assert client.get("/api/v1/clients/not-a-uuid").status_code == 404
    page = client.get("/schedule/appointments/not-a-uuid", headers=HTML)
    assert page.status_code == 404
    assert "No such appointment on your schedule." in page.text
    feed = client.get("/calendar/" + "x" * 43 + ".ics")
    assert feed.status_code == 404
    assert "No such calendar." in feed.text
