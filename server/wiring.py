"""Builds the full product app: the foundation plus every domain's routes and extensions."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.config import Settings


def build_app(settings: Settings) -> Starlette:
    return create_app(settings)
