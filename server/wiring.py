"""Builds the full product app: the foundation plus every domain's routes and extensions."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.config import Settings
from server.http import pages_appointment_video, pages_recordings, pages_video, ws
from server.video.runtime import video_extension


def build_app(settings: Settings) -> Starlette:
    return create_app(
        settings,
        extra_routes=[
            *pages_video.routes,
            *pages_appointment_video.routes,
            *pages_recordings.routes,
            *ws.routes,
        ],
        extensions=[video_extension],
    )
