"""A home-program item from a moment of the session: the clip is cut from the stored recording
(packets copied from the keyframe before the start), and the family sees it only while their
sharing consent is in force; withdrawn, its URL answers 403 at once."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import av
from demo_site import write_webm  # tests/support
from doc_world import build_held_world  # tests/support
from practice import ACCOUNT_PASSWORD  # tests/support
from running import eventually, on_db, tandem  # tests/support
from smtp_inbox import Mailbox, text_of  # tests/support
from sqlalchemy import select

from server.config import Settings
from server.models import HomeProgramItem, RecordingFile
from server.services.family.forms import CONSENTS

HTML = {"accept": "text/html"}
BASE = "https://tandem.example.test"


def test_a_clip_from_the_session_is_shared_only_with_sharing_consent(
    https_settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(https_settings, public_base_url=BASE, smtp_url=mailbox.url)
    world, held = build_held_world(settings.database_url)

    async def recording(session: Any) -> RecordingFile:
        row = await session.scalar(
            select(RecordingFile).where(RecordingFile.session_id == held.video_id)
        )
        assert isinstance(row, RecordingFile)
        return row

    source = on_db(settings, recording)
    write_webm(settings.storage_dir / source.storage_path, seconds=20)
    login = (world.therapist.email, ACCOUNT_PASSWORD)
    with tandem(settings, login, helpers, base_url=BASE) as client:
        playback = client.get(f"/sessions/{held.video_id}/playback", headers=HTML).text
        assert 'id="clip-form"' in playback
        form = helpers.form(
            client, f"/sessions/{held.video_id}/playback", file_id=str(source.id),
            title="Buttons at breakfast", instruction="Wait before you help.",
        )  # fmt: skip
        clips = f"/sessions/{held.video_id}/clips"
        too_long = client.post(clips, data={**form, "start": "1", "end": "90"}, headers=HTML)
        assert too_long.status_code == 422
        made = client.post(clips, data={**form, "start": "7.5", "end": "12"})
        assert made.status_code == 303, made.text

        async def item(session: Any) -> HomeProgramItem:
            row = await session.scalar(
                select(HomeProgramItem).where(
                    HomeProgramItem.client_id == world.client.id,
                    HomeProgramItem.clip_name.is_not(None),
                )
            )
            assert isinstance(row, HomeProgramItem)
            return row

        clip_item = on_db(settings, item)
        assert (clip_item.clip_start_ms, clip_item.clip_end_ms) == (7500, 12000)
        assert clip_item.clip_lead_in_ms is not None
        assert 0 <= clip_item.clip_lead_in_ms <= 7500
        # The family: signed in from the emailed link.
        page = client.get(f"/clients/{world.client.id}", headers=HTML).text
        caregiver = re.search(
            r'id="family-caregiver" name="caregiver_id">\s*<option value="([^"]+)"', page
        )
        assert caregiver
        client_page = f"/clients/{world.client.id}"
        fields = helpers.form(client, client_page, caregiver_id=caregiver.group(1))
        client.post(f"{client_page}/family-links", data=fields)
        mail = eventually(
            lambda: next((m for m in mailbox.received if m["To"] == "ada@example.test"), None)
        )
        link = re.search(re.escape(BASE) + r"(/family/sign-in/\S+)", text_of(mail))
        assert link
        client.cookies.clear()
        sign_in = client.get(link.group(1), headers=HTML)
        assert (
            client.post(
                link.group(1), data={"csrf_token": helpers.csrf_from(sign_in.text)}
            ).status_code
            == 303
        )
        item_url = f"/family/items/{clip_item.id}"
        assert 'id="clip-hidden"' in client.get(item_url, headers=HTML).text
        assert client.get(f"{item_url}/clip").status_code == 403
        consent = client.get("/family/forms/sharing", headers=HTML)
        signed = client.post("/family/forms/sharing", data={
            "csrf_token": helpers.csrf_from(consent.text), "version": CONSENTS["sharing"].version,
            "signed_name": "Ada Okafor"})  # fmt: skip
        assert signed.status_code == 303
        shown = client.get(item_url, headers=HTML).text
        assert f'src="{item_url}/clip#t=' in shown
        media = client.get(f"{item_url}/clip")
        assert media.status_code == 200
        assert media.headers["content-type"] == "video/webm"
        with av.open(io.BytesIO(media.content), "r") as container:
            frames = len(list(container.decode(video=0)))
        # From the keyframe before 7.5 s to 12 s at 15 frames a second.
        assert abs(frames - (12000 - 7500 + clip_item.clip_lead_in_ms) * 15 / 1000) <= 2
        # Withdrawn: gone from the page, and its URL refused, at once.
        withdraw = client.post(
            "/family/forms/sharing/withdraw", data={"csrf_token": helpers.csrf_from(shown)}
        )
        assert withdraw.status_code == 303
        assert client.get(f"{item_url}/clip").status_code == 403
        assert "clip-video" not in client.get(item_url, headers=HTML).text
