"""Builds the full product app: the foundation plus every domain's routes and extensions."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.config import Settings, load_settings
from server.http import (
    pages_appointment_video,
    pages_family,
    pages_family_admin,
    pages_family_forms,
    pages_join_probe,
    pages_recordings,
    pages_second_camera,
    pages_video,
    pages_visit,
    ws,
)
from server.mail.worker import outbox_extension
from server.video.runtime import video_extension


def build_app(settings: Settings) -> Starlette:
    return create_app(
        settings,
        extra_routes=[
            *pages_video.routes,
            *pages_appointment_video.routes,
            *pages_join_probe.routes,
            *pages_recordings.routes,
            *pages_visit.routes,
            *pages_family.routes,
            *pages_family_admin.routes,
            *pages_family_forms.routes,
            *pages_second_camera.routes,
            *ws.routes,
        ],
        extensions=[outbox_extension, video_extension],
    )


def app_from_environment() -> Starlette:
    """For `tandem serve --workers N`: each worker process builds its own app (and relay)."""
    from server.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return build_app(settings)
