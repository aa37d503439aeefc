"""The family's pages at /family: sign in from the emailed link, the family page, an item.

The family session is its own cookie (HTTP-only, Secure behind https, sent only under /family),
apart from therapists' sign-in: a family never holds a user account.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db import utcnow
from server.services.audit import Actor, record_audit
from server.services.errors import ValidationFailed
from server.services.family.access import (
    SESSION_LIFETIME,
    FamilyIdentity,
    SignInRefused,
    check_sign_in_link,
    end_family_session,
    family_actor,
    redeem_sign_in_link,
    resolve_family_session,
)
from server.services.family.clips import clip_key, sharing_allowed
from server.services.family.home_program import get_item_for_family
from server.services.family.portal import family_overview
from server.services.family.practice import HOW_IT_WENT, entries_for_item, log_practice, today_for
from server.services.scheduling.visit_links import VisitLinkSigner

from .context import app_state, client_ip, unit_of_work
from .errors import error_response
from .store_media import stored_media
from .templating import render

FAMILY_COOKIE = "tandem_family"
FAMILY_PATH = "/family"


async def current_family(request: Request) -> FamilyIdentity | None:
    cookie = request.cookies.get(FAMILY_COOKIE)
    if not cookie:
        return None
    async with unit_of_work(request) as session:
        identity = await resolve_family_session(session, cookie, utcnow())
        if identity is not None:
            session.expunge(identity.caregiver)
            session.expunge(identity.client)
        return identity


async def _refused(request: Request, exc: SignInRefused) -> Response:
    await record_audit(
        app_state(request).audit,
        Actor.anonymous(client_ip(request)),
        "family.sign_in",
        object_type="family_sign_in_link",
        outcome="refused",
        detail={"reason": exc.reason},
    )
    status = 403 if exc.reason in ("unknown", "other_family") else 410
    return error_response(request, status, str(exc))


async def sign_in_page(request: Request) -> Response:
    # A GET never uses the link up: mail scanners open links before people do.
    token = request.path_params["token"]
    current = await current_family(request)
    try:
        async with unit_of_work(request) as session:
            await check_sign_in_link(session, token, utcnow(), current)
    except SignInRefused as exc:
        return await _refused(request, exc)
    return render(request, "family/sign_in.html", {"action": request.url.path})


async def sign_in_submit(request: Request) -> Response:
    state = app_state(request)
    current = await current_family(request)
    try:
        async with unit_of_work(request) as session:
            cookie, _ = await redeem_sign_in_link(
                session, request.path_params["token"], utcnow(), current, client_ip(request)
            )
    except SignInRefused as exc:
        return await _refused(request, exc)
    response = RedirectResponse(FAMILY_PATH, status_code=303)
    response.set_cookie(
        FAMILY_COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=state.settings.cookies_secure,
        samesite="lax",
        path=FAMILY_PATH,
    )
    return response


async def sign_out(request: Request) -> Response:
    cookie = request.cookies.get(FAMILY_COOKIE)
    if cookie:
        async with unit_of_work(request) as session:
            await end_family_session(session, cookie)
    response = RedirectResponse(FAMILY_PATH, status_code=303)
    response.delete_cookie(
        FAMILY_COOKIE,
        path=FAMILY_PATH,
        secure=app_state(request).settings.cookies_secure,
        httponly=True,
    )
    return response


async def family_page(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return render(request, "family/signed_out.html")
    state = app_state(request)
    links = VisitLinkSigner(state.settings.secret_key)
    async with unit_of_work(request) as session:
        overview = await family_overview(
            session, identity, utcnow(), links, family_actor(identity, client_ip(request))
        )
    return render(request, "family/home.html", {"family": identity, "overview": overview})


async def _item_page(
    request: Request,
    identity: FamilyIdentity,
    errors: dict[str, str],
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with unit_of_work(request) as session:
        item = await get_item_for_family(
            session,
            identity,
            request.path_params["item_id"],
            family_actor(identity, client_ip(request)),
        )
        entries = await entries_for_item(session, item)
        shared = item.clip_name is not None and await sharing_allowed(session, identity)
    context = {
        "shared": shared,
        "family": identity, "item": item, "entries": entries, "errors": errors,
        "form": form or {"practiced_on": today_for(identity, utcnow()).isoformat()},
        "how_it_went": HOW_IT_WENT,
    }  # fmt: skip
    return render(request, "family/item.html", context, status_code=status)


async def item_page(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    return await _item_page(request, identity, {})


async def practice_submit(request: Request) -> Response:
    identity = await current_family(request)
    if identity is None:
        return RedirectResponse(FAMILY_PATH, status_code=303)
    raw = await request.form()
    form = {
        k: str(raw.get(k, ""))[:400] for k in ("practiced_on", "minutes", "how_it_went", "note")
    }
    actor = family_actor(identity, client_ip(request))
    try:
        async with unit_of_work(request) as session:
            item = await get_item_for_family(
                session, identity, request.path_params["item_id"], actor
            )
            await log_practice(
                session, identity, item, on=form["practiced_on"], minutes=form["minutes"],
                how_it_went=form["how_it_went"], note=form["note"], now=utcnow(), actor=actor,
            )  # fmt: skip
    except ValidationFailed as exc:
        return await _item_page(request, identity, exc.errors, form, 422)
    return RedirectResponse(f"{FAMILY_PATH}/items/{item.id}?logged=1", status_code=303)


async def clip_media(request: Request) -> Response:
    """The item's clip, for the family, while their sharing consent is in force (else 403)."""
    identity = await current_family(request)
    if identity is None:
        return error_response(request, 403, "Sign in from your family link first.")
    state = app_state(request)
    actor = family_actor(identity, client_ip(request))
    async with unit_of_work(request) as session:
        item = await get_item_for_family(session, identity, request.path_params["item_id"], actor)
        allowed = await sharing_allowed(session, identity)
    if item.clip_name is None:
        return error_response(request, 404, "This item has no clip.")
    if not allowed:
        await record_audit(
            state.audit, actor, "family.clip_read", object_type="home_program_item",
            object_id=item.id, outcome="refused", detail={"reason": "no_sharing_consent"},
        )  # fmt: skip
        return error_response(request, 403, "Clips are shown only with your consent to sharing.")
    # From the recording store, with Range: whichever host cut it, this one serves it.
    return await stored_media(request, clip_key(item.clip_name), "The clip is missing.")


routes = [
    Route("/family", family_page, methods=["GET"]),
    Route("/family/sign-in/{token}", sign_in_page, methods=["GET"]),
    Route("/family/sign-in/{token}", sign_in_submit, methods=["POST"]),
    Route("/family/sign-out", sign_out, methods=["POST"]),
    Route("/family/items/{item_id}", item_page, methods=["GET"]),
    Route("/family/items/{item_id}/practice", practice_submit, methods=["POST"]),
    Route("/family/items/{item_id}/clip", clip_media, methods=["GET"]),
]
