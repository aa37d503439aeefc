"""Form fields into the services' input types (lengths capped before a service sees them)."""

from __future__ import annotations

from starlette.datastructures import FormData

from server.services.clients import AddressInput, CaregiverInput, ClientInput


def client_input_from_form(form: FormData) -> ClientInput:
    def text(name: str, limit: int = 2000) -> str:
        return str(form.get(name, ""))[:limit]

    caregivers = [
        CaregiverInput(
            name=text(f"caregiver-{i}-name", 200),
            relationship=text(f"caregiver-{i}-relationship", 60),
            email=text(f"caregiver-{i}-email", 320),
            phone=text(f"caregiver-{i}-phone", 40),
        )
        for i in range(6)
    ]
    return ClientInput(
        first_name=text("first_name", 100),
        last_name=text("last_name", 100),
        date_of_birth=text("date_of_birth", 20),
        time_zone=text("time_zone", 64),
        home_state=text("home_state", 2),
        notes=text("notes"),
        caregivers=caregivers,
        address=AddressInput(text("address_line", 120), text("city", 60), text("postal_code", 10))
        if "address_line" in form
        else None,
    )
