"""Playback after a recorded session: markers on the timeline seek the video; drawings replay.

A real recording: the therapist and the parent consent, the therapist tags, notes and draws on the
parent's video while the server's recorder writes one file per participant; after the session
ends, the playback page plays the parent's file with the annotations as markers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e_flows import (
    Live,
    Participant,
    inked_pixels,
    start_call_with_parent,
    timeline,
    wait_consent_dialog,
    wait_frames_growing,
    wait_js,
    wait_recording_state,
    wait_until,
)

pytestmark = pytest.mark.browser


def playback_config(person: Participant) -> dict[str, Any]:
    config: dict[str, Any] = person.page.evaluate(
        "() => JSON.parse(document.getElementById('playback').dataset.playback)"
    )
    return config


def wait_all_saved(person: Participant, count: int) -> None:
    wait_until(
        lambda: (
            len(timeline(person)) == count and all(i["status"] == "saved" for i in timeline(person))
        ),
        15,
        lambda: f"{person.who}'s timeline: {timeline(person)}",
    )


def test_markers_seek_and_drawings_replay(live: Live, launch: Callable[[str], Participant]) -> None:
    therapist, parent, links = start_call_with_parent(live, launch, "Playback e2e")
    p_id = links["parent_id"]
    wait_frames_growing(therapist, p_id)
    page = therapist.page

    page.click("#btn-record")
    wait_consent_dialog(parent)
    parent.page.click("#consent-accept")
    wait_recording_state(therapist, "recording")

    # Annotations a couple of seconds apart, so their markers are apart on the timeline.
    page.wait_for_timeout(1500)
    page.locator("#tag-buttons button[data-tag='verbal cue']").click()
    page.wait_for_timeout(1500)
    page.fill("#note-text", "Child reaches with the left hand")
    page.press("#note-text", "Enter")
    page.wait_for_timeout(1500)
    page.click("#btn-draw")
    main = page.locator("#main-video figure.remote video")
    main.scroll_into_view_if_needed()
    box = main.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 60, cy - 40)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 40, steps=10)
    page.mouse.up()
    wait_all_saved(therapist, 3)
    page.wait_for_timeout(1500)
    page.click("#btn-rec-stop")
    wait_recording_state(therapist, "stopped")
    page.click("#btn-end")
    therapist.wait_phase("ended")

    # The files are finalized in the background after the stop: reload until the parent's is.
    url = f"{live.server.base_url}/sessions/{links['id']}/playback"

    def parent_file() -> dict[str, Any] | None:
        page.goto(url)
        files = playback_config(therapist)["files"]
        return next(
            (f for f in files if f["participant_id"] == p_id and f["status"] == "finalized"), None
        )

    chosen = wait_until(parent_file, 20, "the parent's recording was never finalized", step=1)
    page.select_option("#file-select", chosen["id"])
    wait_js(page, "() => document.getElementById('playback-video').readyState >= 1", 15)

    config = playback_config(therapist)
    recorded = [a for a in config["annotations"] if a["recording_ms"] is not None]
    assert sorted(a["kind"] for a in recorded) == ["drawing", "note", "tag"]
    markers = page.locator("#timeline .marker")
    assert markers.count() == 3
    # Markers sit in recording order along the bar.
    lefts = [float(m.evaluate("(el) => el.getBoundingClientRect().left")) for m in markers.all()]
    by_time = sorted(recorded, key=lambda a: a["recording_ms"])
    order = [m.get_attribute("data-annotation") for m in markers.all()]
    assert [order[i] for i in sorted(range(3), key=lambda i: lefts[i])] == [
        a["id"] for a in by_time
    ]

    # Clicking the note's marker seeks there and highlights the note in the list. The file
    # begins a little after the recording did (its first packet): offset_ms on the clock.
    def file_seconds(annotation: dict[str, Any]) -> float:
        return float(max(0, annotation["recording_ms"] - (chosen["offset_ms"] or 0))) / 1000

    note = next(a for a in recorded if a["kind"] == "note")
    page.click(f"#timeline .marker[data-annotation='{note['id']}']")
    current = float(page.evaluate("() => document.getElementById('playback-video').currentTime"))
    assert current == pytest.approx(file_seconds(note), abs=0.1)
    item = page.locator(f"#annotation-list li[data-annotation='{note['id']}']")
    assert item.get_attribute("aria-current") == "true"
    assert "left hand" in item.inner_text()

    # The drawing's marker: the stroke is over the picture again, and not before it was made.
    drawing = next(a for a in recorded if a["kind"] == "drawing")
    assert drawing["target"] == p_id
    assert drawing["shapes"]
    page.click(f"#timeline .marker[data-annotation='{drawing['id']}']")
    wait_until(
        lambda: inked_pixels(therapist, "#drawing-layer") > 0, 5, "the drawing did not replay"
    )
    # Back to the start, before the drawing was made (the file ends shortly after it).
    page.evaluate("() => { document.getElementById('playback-video').currentTime = 0; }")
    wait_until(lambda: inked_pixels(therapist, "#drawing-layer") == 0, 5, "the drawing stayed on")

    # Keyboard: the markers are buttons; Enter on the tag's marker seeks to it.
    tag = next(a for a in recorded if a["kind"] == "tag")
    page.focus(f"#timeline .marker[data-annotation='{tag['id']}']")
    page.keyboard.press("Enter")
    current = float(page.evaluate("() => document.getElementById('playback-video').currentTime"))
    assert current == pytest.approx(file_seconds(tag), abs=0.1)
