"""A home-program item from a moment of the session: the clip is cut from the stored recording
(packets copied from the keyframe before the start), and the family sees it only while their
sharing consent is in force; withdrawn, its URL answers 403 at once. With the S3 store, a
recording another host made is fetched from the bucket to be cut, and the clip goes to the bucket
and is served from it."""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest
from demo_site import write_webm  # tests/support
from doc_world import DocWorld, HeldSession, build_held_world  # tests/support
from practice import ACCOUNT_PASSWORD  # tests/support
from running import eventually, on_db, tandem  # tests/support
from s3 import CREDENTIALS, s3_client  # tests/support
from smtp_inbox import Mailbox, text_of  # tests/support
from sqlalchemy import select
from starlette.testclient import TestClient

from server.config import Settings
from server.models import AuditEntry, HomeProgramItem, RecordingFile
from server.services.family.forms import CONSENTS

HTML = {"accept": "text/html"}
BASE = "https://tandem.example.test"
FPS = 15  # write_webm's frame rate


def recording_of(settings: Settings, held: HeldSession) -> RecordingFile:
    async def work(session: Any) -> RecordingFile:
        row = await session.scalar(
            select(RecordingFile).where(RecordingFile.session_id == held.video_id)
        )
        assert isinstance(row, RecordingFile)
        return row

    result: RecordingFile = on_db(settings, work)
    return result


def clip_items(settings: Settings, world: DocWorld) -> list[HomeProgramItem]:
    async def work(session: Any) -> list[HomeProgramItem]:
        rows = await session.scalars(
            select(HomeProgramItem).where(
                HomeProgramItem.client_id == world.client.id,
                HomeProgramItem.clip_name.is_not(None),
            )
        )
        return list(rows)

    result: list[HomeProgramItem] = on_db(settings, work)
    return result


def clip_form(client: TestClient, helpers: Any, held: HeldSession, source: RecordingFile) -> Any:
    return helpers.form(
        client, f"/sessions/{held.video_id}/playback", file_id=str(source.id),
        title="Buttons at breakfast", instruction="Wait before you help.",
    )  # fmt: skip


def frames_in(webm: bytes) -> int:
    with av.open(io.BytesIO(webm), "r") as container:
        return len(list(container.decode(video=0)))


def assert_clip_of(webm: bytes, item: HomeProgramItem) -> None:
    """From the keyframe before the start to the end, at write_webm's frame rate."""
    start, end, lead_in = item.clip_start_ms, item.clip_end_ms, item.clip_lead_in_ms
    assert start is not None
    assert end is not None
    assert lead_in is not None
    span = end - start + lead_in
    assert abs(frames_in(webm) - span * FPS / 1000) <= 2


def sign_in_family(client: TestClient, helpers: Any, mailbox: Mailbox, world: DocWorld) -> None:
    """The therapist emails the caregiver a link; the family signs in from it (the therapist's
    sign-in is dropped)."""
    client_page = f"/clients/{world.client.id}"
    page = client.get(client_page, headers=HTML).text
    caregiver = re.search(
        r'id="family-caregiver" name="caregiver_id">\s*<option value="([^"]+)"', page
    )
    assert caregiver
    fields = helpers.form(client, client_page, caregiver_id=caregiver.group(1))
    client.post(f"{client_page}/family-links", data=fields)
    mail = eventually(
        lambda: next((m for m in mailbox.received if m["To"] == "ada@example.test"), None)
    )
    link = re.search(re.escape(BASE) + r"(/family/sign-in/\S+)", text_of(mail))
    assert link
    client.cookies.clear()
    sign_in = client.get(link.group(1), headers=HTML)
    signed_in = client.post(link.group(1), data={"csrf_token": helpers.csrf_from(sign_in.text)})
    assert signed_in.status_code == 303


def agree_to_sharing(client: TestClient, helpers: Any) -> None:
    consent = client.get("/family/forms/sharing", headers=HTML)
    signed = client.post("/family/forms/sharing", data={
        "csrf_token": helpers.csrf_from(consent.text), "version": CONSENTS["sharing"].version,
        "signed_name": "Ada Okafor"})  # fmt: skip
    assert signed.status_code == 303


def withdraw_sharing(client: TestClient, helpers: Any, item_url: str) -> None:
    page = client.get(item_url, headers=HTML).text
    withdraw = client.post(
        "/family/forms/sharing/withdraw", data={"csrf_token": helpers.csrf_from(page)}
    )
    assert withdraw.status_code == 303


def test_a_clip_from_the_session_is_shared_only_with_sharing_consent(
    https_settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(https_settings, public_base_url=BASE, smtp_url=mailbox.url)
    world, held = build_held_world(settings.database_url)
    source = recording_of(settings, held)
    write_webm(settings.storage_dir / source.storage_path, seconds=20)
    login = (world.therapist.email, ACCOUNT_PASSWORD)
    with tandem(settings, login, helpers, base_url=BASE) as client:
        playback = client.get(f"/sessions/{held.video_id}/playback", headers=HTML).text
        assert 'id="clip-form"' in playback
        form = clip_form(client, helpers, held, source)
        clips = f"/sessions/{held.video_id}/clips"
        too_long = client.post(clips, data={**form, "start": "1", "end": "90"}, headers=HTML)
        assert too_long.status_code == 422
        made = client.post(clips, data={**form, "start": "7.5", "end": "12"})
        assert made.status_code == 303, made.text
        [clip_item] = clip_items(settings, world)
        assert (clip_item.clip_start_ms, clip_item.clip_end_ms) == (7500, 12000)
        assert clip_item.clip_lead_in_ms is not None
        assert 0 <= clip_item.clip_lead_in_ms <= 7500
        # The shared-directory store is the working directory: the clip is kept there.
        assert clip_item.clip_name is not None
        assert (settings.storage_dir / "clips" / clip_item.clip_name).is_file()
        sign_in_family(client, helpers, mailbox, world)
        item_url = f"/family/items/{clip_item.id}"
        assert 'id="clip-hidden"' in client.get(item_url, headers=HTML).text
        assert client.get(f"{item_url}/clip").status_code == 403
        agree_to_sharing(client, helpers)
        shown = client.get(item_url, headers=HTML).text
        assert f'src="{item_url}/clip#t=' in shown
        media = client.get(f"{item_url}/clip")
        assert media.status_code == 200
        assert media.headers["content-type"] == "video/webm"
        assert_clip_of(media.content, clip_item)
        # Withdrawn: gone from the page, and its URL refused, at once.
        withdraw_sharing(client, helpers, item_url)
        assert client.get(f"{item_url}/clip").status_code == 403
        assert "clip-video" not in client.get(item_url, headers=HTML).text


def refused_clip_reads(settings: Settings, item: HomeProgramItem) -> int:
    """Refusals audited for the item's clip (a repeat within a minute is counted in one summary
    row, written by then: the app has stopped)."""

    async def work(session: Any) -> int:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "family.clip_read", AuditEntry.outcome == "refused",
                AuditEntry.object_id == str(item.id),
            )
        )  # fmt: skip
        return sum(int(row.detail.get("repeated", 1)) for row in rows)

    result: int = on_db(settings, work)
    return result


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_with_the_s3_store_a_recording_only_in_the_bucket_is_clipped_into_the_bucket(
    https_settings: Settings, helpers: Any, mailbox: Mailbox, s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    """The session was recorded on another host: its file is in the bucket, not in this host's
    working directory. The clip is cut from a download (removed after), published to the
    bucket, and the family's player reads it from there, by range."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = s3_client(s3_endpoint)
    bucket = f"tandem-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    settings = replace(
        https_settings, public_base_url=BASE, smtp_url=mailbox.url, recording_store="s3",
        s3_endpoint_url=s3_endpoint, s3_bucket=bucket, s3_prefix="recordings/",
    )  # fmt: skip
    world, held = build_held_world(settings.database_url)
    source = recording_of(settings, held)
    elsewhere = tmp_path / "other-host" / "final.webm"
    write_webm(elsewhere, seconds=20)
    s3.upload_file(str(elsewhere), bucket, f"recordings/{source.storage_path}")
    login = (world.therapist.email, ACCOUNT_PASSWORD)
    with tandem(settings, login, helpers, base_url=BASE) as client:
        form = clip_form(client, helpers, held, source)
        clips = f"/sessions/{held.video_id}/clips"
        made = client.post(clips, data={**form, "start": "7.5", "end": "12"})
        assert made.status_code == 303, made.text
        [clip_item] = clip_items(settings, world)
        stored = s3.get_object(Bucket=bucket, Key=f"recordings/clips/{clip_item.clip_name}")
        clip = stored["Body"].read()
        assert_clip_of(clip, clip_item)
        # Nothing stays on this host: not the downloaded recording, not the cut clip.
        assert files_under(settings.storage_dir) == []
        # The recording gone from the bucket too: a clear refusal, no item, nothing left over.
        s3.delete_object(Bucket=bucket, Key=f"recordings/{source.storage_path}")
        missing = client.post(clips, data={**form, "start": "1", "end": "5"}, headers=HTML)
        assert missing.status_code == 404
        assert "The recording file is missing from storage." in missing.text
        assert len(clip_items(settings, world)) == 1
        assert files_under(settings.storage_dir) == []
        # The family: refused before sharing consent and after its withdrawal (audited).
        sign_in_family(client, helpers, mailbox, world)
        item_url = f"/family/items/{clip_item.id}"
        assert client.get(f"{item_url}/clip").status_code == 403
        agree_to_sharing(client, helpers)
        part = client.get(f"{item_url}/clip", headers={"range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{len(clip)}"
        assert part.content == clip[100:1100]
        tail = client.get(f"{item_url}/clip", headers={"range": "bytes=-64"})
        assert (tail.status_code, tail.content) == (206, clip[-64:])
        whole = client.get(f"{item_url}/clip")
        assert whole.status_code == 200
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.content == clip
        beyond = client.get(f"{item_url}/clip", headers={"range": f"bytes={len(clip)}-"})
        assert beyond.status_code == 416
        withdraw_sharing(client, helpers, item_url)
        assert client.get(f"{item_url}/clip").status_code == 403
        # Signed out: no clip either.
        client.cookies.clear()
        assert client.get(f"{item_url}/clip").status_code == 403
    assert refused_clip_reads(settings, clip_item) == 2
