"""The family's forms: consents (signed by typed name, withdrawable) and the intake form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.services.errors import ValidationFailed
from server.services.family.access import FamilyIdentity, family_actor
from server.services.family.forms import (
    INTAKE_FIELDS,
    consent_text,
    current_consent,
    read_intake_for_family,
    sign_consent,
    submit_intake,
    withdraw_consent,
)

from .context import client_ip, unit_of_work
from .pages_family import FAMILY_PATH, current_family
from .templating import render


async def _consent_page(
    request: Request, identity: FamilyIdentity, errors: dict[str, str], status: int = 200
) -> Response:
    text = consent_text(request.path_params["kind"])
    async with unit_of_work(request) as session:
        signed = await current_consent(session, identity.client.id, text.kind)
    return render(
        request,
        "family/consent.html",
        {"family": identity, "consent": text, "signed": signed, "errors": errors},
        status_code=status,
    )


async def consent_page(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    return await _consent_page(request, identity, {})


async def consent_sign(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    form = await request.form()
    kind = request.path_params["kind"]
    try:
        async with unit_of_work(request) as session:
            await sign_consent(
                session, identity, kind, str(form.get("version", ""))[:20],
                str(form.get("signed_name", ""))[:300], family_actor(identity, client_ip(request)),
            )  # fmt: skip
    except ValidationFailed as exc:
        return await _consent_page(request, identity, exc.errors, 422)
    return RedirectResponse(f"{FAMILY_PATH}/forms/{kind}", status_code=303)


async def consent_withdraw(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    kind = request.path_params["kind"]
    async with unit_of_work(request) as session:
        await withdraw_consent(session, identity, kind, family_actor(identity, client_ip(request)))
    return RedirectResponse(f"{FAMILY_PATH}/forms/{kind}", status_code=303)


async def intake_page(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    async with unit_of_work(request) as session:
        answers = await read_intake_for_family(
            session, identity, family_actor(identity, client_ip(request))
        )
    return render(
        request,
        "family/intake.html",
        {"family": identity, "fields": INTAKE_FIELDS, "answers": answers or {}, "errors": {},
         "submitted": answers is not None},
    )  # fmt: skip


async def intake_submit(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    form = await request.form()
    answers = {k: str(form.get(k, ""))[:2000] for k in INTAKE_FIELDS}
    try:
        async with unit_of_work(request) as session:
            await submit_intake(
                session, identity, answers, family_actor(identity, client_ip(request))
            )
    except ValidationFailed as exc:
        return render(
            request,
            "family/intake.html",
            {"family": identity, "fields": INTAKE_FIELDS, "answers": answers,
             "errors": exc.errors, "submitted": False},
            status_code=422,
        )  # fmt: skip
    return RedirectResponse(FAMILY_PATH, status_code=303)


routes = [
    Route("/family/forms/intake", intake_page, methods=["GET"]),
    Route("/family/forms/intake", intake_submit, methods=["POST"]),
    Route("/family/forms/{kind}", consent_page, methods=["GET"]),
    Route("/family/forms/{kind}", consent_sign, methods=["POST"]),
    Route("/family/forms/{kind}/withdraw", consent_withdraw, methods=["POST"]),
]
