"""The canonical serialization of a signed note and its SHA-256.

Canonical: JSON with sorted keys, no insignificant whitespace, UTF-8, datetimes as UTC ISO 8601
with microseconds, UUIDs as lowercase strings. Anyone holding the exported fields can recompute
the hash; the field list below is part of the format, so it only ever grows under a new version.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from server.models import Note, NoteAddendum
from server.models.note import CURRENT_FORMAT, FIRST_FORMAT

NOTE_FIELDS_V1 = (
    "id", "client_id", "author_id", "video_session_id", "plan_id", "note_type", "service_date",
    "mode", "time_in", "time_out", "modality", "client_location_state", "present",
    "telehealth_consent", "subjective", "objective", "assessment", "plan", "measures",
    "session_facts", "signed_at", "late_entry",
)  # fmt: skip
# v2: the procedures and minutes (what the charge is made from) and where the client was.
FIELDS = {
    FIRST_FORMAT: NOTE_FIELDS_V1,
    CURRENT_FORMAT: (*NOTE_FIELDS_V1, "client_at_home", "procedures"),
}
FORMAT = CURRENT_FORMAT
NOTE_FIELDS = FIELDS[CURRENT_FORMAT]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(
        _plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def note_content(note: Note) -> dict[str, Any]:
    """The note's fields in its own format: a note signed as v1 keeps verifying as v1."""
    fmt = note.content_format or CURRENT_FORMAT
    return {"format": fmt, **{name: getattr(note, name) for name in FIELDS[fmt]}}


def note_hash(note: Note) -> str:
    return hashlib.sha256(canonical(note_content(note))).hexdigest()


def addendum_hash(note: Note, addendum: NoteAddendum) -> str:
    """Chained to the note's hash, so an addendum cannot be moved to another note unnoticed."""
    return hashlib.sha256(
        canonical(
            {
                "format": note.content_format or CURRENT_FORMAT,
                "note_hash": note.content_hash,
                "id": addendum.id,
                "author_id": addendum.author_id,
                "reason": addendum.reason,
                "text": addendum.text,
                "created_at": addendum.created_at,
            }
        )
    ).hexdigest()


def verify(note: Note, addenda: list[NoteAddendum]) -> bool:
    if not note.is_signed or note.content_hash != note_hash(note):
        return False
    return all(a.content_hash == addendum_hash(note, a) for a in addenda)
