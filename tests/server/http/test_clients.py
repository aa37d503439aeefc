from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

VALID = {
    "first_name": "Test",
    "last_name": "Child",
    "date_of_birth": "2019-05-01",
    "time_zone": "America/Chicago",
    "home_state": "IL",
    "notes": "",
    "caregiver-0-name": "Pat Parent",
    "caregiver-0-relationship": "Mother",
    "caregiver-0-email": "pat@example.test",
    "caregiver-0-phone": "555-0100",
}


def create(client: TestClient, helpers: Any, **overrides: str) -> str:
    response = client.post(
        "/clients", data=helpers.form(client, "/clients/new", **{**VALID, **overrides})
    )
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/clients/([0-9a-f-]{36})", response.headers["location"])
    assert match
    return match.group(1)


def test_empty_caseload_shows_a_helpful_empty_state(client: TestClient, therapist: Any) -> None:
    page = client.get("/clients", headers={"accept": "text/html"})
    assert "Your caseload is empty" in page.text


def test_create_list_edit_a_client_with_caregivers(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    client_id = create(client, helpers)
    detail = client.get(f"/clients/{client_id}", headers={"accept": "text/html"})
    assert "Test Child" in detail.text
    assert "Pat Parent" in detail.text
    assert "Illinois" in detail.text
    listing = client.get("/clients", headers={"accept": "text/html"})
    assert "Test Child" in listing.text

    edit = client.post(
        f"/clients/{client_id}/edit",
        data=helpers.form(
            client,
            f"/clients/{client_id}/edit",
            **{
                **VALID,
                "home_state": "WI",
                "caregiver-1-name": "Sam Parent",
                "caregiver-1-relationship": "Father",
            },
        ),
    )
    assert edit.status_code == 303
    data = client.get(f"/api/v1/clients/{client_id}").json()
    assert data["home_state"] == "WI"
    assert [c["name"] for c in data["caregivers"]] == ["Pat Parent", "Sam Parent"]


def test_invalid_client_shows_field_errors_and_keeps_input(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    response = client.post(
        "/clients",
        data=helpers.form(
            client,
            "/clients/new",
            **{
                **VALID,
                "date_of_birth": "2999-01-01",
                "home_state": "ZZ",
                "time_zone": "Mars/Base",
                "caregiver-0-email": "not-an-email",
            },
        ),
        headers={"accept": "text/html"},
    )
    assert response.status_code == 422
    assert "The date of birth is in the future." in response.text
    assert "Choose the US state" in response.text
    assert "Choose a time zone" in response.text
    assert "Enter a valid email address." in response.text
    assert 'value="Pat Parent"' in response.text


def test_other_therapists_cannot_see_a_client(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    client_id = create(client, helpers)
    email, password = helpers.make_user()
    helpers.login(client, email, password)
    assert client.get(f"/clients/{client_id}", headers={"accept": "text/html"}).status_code == 404
    assert client.get(f"/api/v1/clients/{client_id}").status_code == 404
    assert client.get("/api/v1/clients/not-a-uuid").status_code == 404
    assert client.get("/api/v1/clients").json() == {"clients": []}


def test_api_create_validate_and_update(client: TestClient, therapist: Any, helpers: Any) -> None:
    token = helpers.form(client, "/")["csrf_token"]
    headers = {"x-csrf-token": token}
    bad = client.post("/api/v1/clients", json={"first_name": ""}, headers=headers)
    assert bad.status_code == 422
    assert "first_name" in bad.json()["error"]["fields"]
    not_json = client.post("/api/v1/clients", content=b"{", headers=headers)
    assert not_json.status_code == 400
    body = {
        "first_name": "Api",
        "last_name": "Kid",
        "date_of_birth": "2020-02-02",
        "time_zone": "America/Denver",
        "home_state": "CO",
        "caregivers": [{"name": "Lee", "relationship": "Aunt"}],
    }
    created = client.post("/api/v1/clients", json=body, headers=headers)
    assert created.status_code == 201
    cid = created.json()["id"]
    updated = client.put(
        f"/api/v1/clients/{cid}", json={**body, "last_name": "Kiddo"}, headers=headers
    )
    assert updated.status_code == 200
    assert updated.json()["last_name"] == "Kiddo"


def test_reading_and_changing_a_client_is_audited(
    client: TestClient, helpers: Any, therapist: Any
) -> None:
    client_id = create(client, helpers)
    client.get(f"/clients/{client_id}", headers={"accept": "text/html"})
    from server.models import UserRole

    email, password = helpers.make_user(UserRole.admin)
    helpers.login(client, email, password)
    entries = client.get(f"/api/v1/audit?object_id={client_id}").json()["entries"]
    actions = {e["action"] for e in entries}
    assert {"client.create", "client.read"} <= actions
    assert all(e["actor"]["label"] == therapist[0] for e in entries)
