"""Serving a file of the recording store (server/video/store.py) over HTTP, with Range.

Recordings (`/recordings/<id>/media`) and home-program clips (`/family/items/<id>/clip`) are both
read back from the store, so any host can serve them whatever host wrote them. The caller has
decided who may read the key (and audited it) before calling.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.services.errors import NotFound
from server.video.runtime import video_runtime
from server.video.store import RecordingStore

from .context import app_state

# At most 18 digits: a 5,000-digit offset made int() raise (a 500); now it is a 416.
RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


def request_store(request: Request, missing: str) -> RecordingStore:
    """This process's recording store; NotFound(``missing``) when it runs without one."""
    store = video_runtime(app_state(request)).store
    if store is None:
        raise NotFound(missing)
    return store


async def _stream(store: RecordingStore, key: str, start: int, length: int) -> AsyncIterator[bytes]:
    """The store's chunks, each read in a thread (a disk or an object store: never on the
    event loop)."""
    chunks = store.open_range(key, start, length)
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        await asyncio.to_thread(chunks.close)


async def stored_media(request: Request, key: str, missing: str) -> Response:
    """The WebM file under ``key``, whole or the byte range asked for (206; 416 for a range
    that cannot be served); NotFound(``missing``) when the store has nothing there."""
    store = request_store(request, missing)
    try:
        size = await asyncio.to_thread(store.size, key)
    except FileNotFoundError:
        raise NotFound(missing) from None
    headers = {
        "accept-ranges": "bytes",
        "cache-control": "private, no-store",
        "content-type": "video/webm",
    }
    header = request.headers.get("range")
    if header:
        match = RANGE.match(header.strip())
        if not match or (not match.group(1) and not match.group(2)):
            return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
        if match.group(1):
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(0, size - int(match.group(2)))
            end = size - 1
        end = min(end, size - 1)
        if start > end or start >= size:
            return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
        length = end - start + 1
        headers["content-range"] = f"bytes {start}-{end}/{size}"
        headers["content-length"] = str(length)
        return StreamingResponse(
            _stream(store, key, start, length), status_code=206, headers=headers
        )
    headers["content-length"] = str(size)
    return StreamingResponse(_stream(store, key, 0, size), headers=headers)
