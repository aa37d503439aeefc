"""The join page's connection check: ``POST /join/{session_id}/{token}/probe``.

Before a parent knocks, their browser offers a data-channel-only connection (JSON ``{"sdp": ...}``)
and gets the relay's answer (``{"sdp": ...}``) from a probe peer (media/probe.py), so the page can
say whether video will get through, directly or through TURN, or not at all, while there is still
time to change networks. The join link is checked as the join page checks it, and a refused link
is audited the same way (``join_link.probe``); a good check is not audited: it is no join, and
the page open that preceded it is. Bounded per address and per link (the runtime's limiter, a few
a minute), in body size, and by the prober's own concurrency, shape and lifetime limits.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from media import ProbeBusy, ProbeRefused
from server.db import utcnow
from server.services.audit import Actor, record_audit
from server.services.video.sessions import verify_join_link
from server.video.runtime import video_runtime
from signaling.tokens import LinkGone, LinkInvalid

from .context import app_state, client_ip, unit_of_work
from .errors import error_response

log = logging.getLogger(__name__)

# An offer is at most 16 KiB (media.ProbeLimits); JSON escaping adds a little.
MAX_BODY_BYTES = 24 * 1024


async def _bounded_body(request: Request) -> bytes | None:
    """The request body, or None past MAX_BODY_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _offer_in(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    sdp = parsed.get("sdp") if isinstance(parsed, dict) else None
    return sdp if isinstance(sdp, str) else None


def _too_many(request: Request, retry_after: int) -> Response:
    return error_response(
        request,
        429,
        "Too many connection checks. Wait a minute, then try again.",
        headers={"Retry-After": str(retry_after)},
    )


async def join_probe(request: Request) -> Response:
    state = app_state(request)
    runtime = video_runtime(state)
    prober, limiter = runtime.prober, runtime.probe_limiter
    if prober is None or limiter is None:
        return error_response(request, 404, "No connection check here.")
    ip = client_ip(request)
    # Before the link's database check, so refusals cannot be had faster than this either.
    by_address = await limiter.reserve(f"probe-ip:{ip}")
    if not by_address.allowed:
        return _too_many(request, by_address.retry_after)
    session_id = request.path_params["session_id"]
    try:
        async with unit_of_work(request) as session:
            _, claim = await verify_join_link(
                session, runtime.signer, session_id, request.path_params["token"], now=utcnow()
            )
    except (LinkInvalid, LinkGone) as exc:
        await record_audit(
            state.audit,
            Actor.anonymous(ip),
            "join_link.probe",
            object_type="video_session",
            object_id=session_id[:64],
            outcome="refused",
            detail={"reason": str(exc)},
        )
        if isinstance(exc, LinkGone):
            return error_response(request, 410, "This session link is no longer valid.")
        return error_response(request, 403, "This link is not valid.")
    by_link = await limiter.reserve(f"probe-link:{claim.link_id}")
    if not by_link.allowed:
        return _too_many(request, by_link.retry_after)
    body = await _bounded_body(request)
    if body is None:
        return error_response(request, 413, "That connection check was too large.")
    offer = _offer_in(body)
    if offer is None:
        return error_response(request, 400, 'Send {"sdp": "<the offer>"}.')
    try:
        answer = await prober.answer(offer)
    except ProbeRefused as exc:
        log.info("connection probe refused: %s", exc)
        return error_response(request, 400, "That was not a connection check.")
    except ProbeBusy:
        return error_response(
            request, 503, "The video service is busy. Try again shortly.", {"Retry-After": "5"}
        )
    return JSONResponse({"sdp": answer})


routes = [Route("/join/{session_id}/{token}/probe", join_probe, methods=["POST"])]
