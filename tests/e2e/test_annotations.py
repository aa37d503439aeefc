"""Annotations in real browsers: notes, tags, snapshots and drawings on live video.

The timeline shows each annotation "saving…" until the server acks it after the database commit;
a drawing shown to the parent appears over the parent's own camera view and fades out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from e2e_flows import (
    Live,
    Participant,
    inked_pixels,
    start_call_with_everyone,
    timeline,
    wait_consent_dialog,
    wait_frames_growing,
    wait_recording_state,
    wait_until,
)

pytestmark = pytest.mark.browser

CLOCK = re.compile(r"^\d\d:\d\d$")


def wait_saved(person: Participant, count: int, timeout: float = 10) -> list[dict[str, str]]:
    """The newest ``count`` timeline items, once all of them are saved."""

    def done() -> list[dict[str, str]] | None:
        items = timeline(person)
        if len(items) >= count and all(i["status"] == "saved" for i in items[:count]):
            return items[:count]
        return None

    result: list[dict[str, str]] = wait_until(
        done, timeout, lambda: f"{person.who}'s timeline: {timeline(person)}"
    )
    return result


def record_sent(person: Participant) -> None:
    """Keep a copy of every message the page sends (window.sentForTest)."""
    person.page.evaluate(
        "() => { const s = window.tandemCall.signaling; window.sentForTest = [];"
        " const send = s.send.bind(s);"
        " s.send = (msg) => { window.sentForTest.push(msg); return send(msg); }; }"
    )


def sent(person: Participant, kind: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = person.page.evaluate(
        "(kind) => window.sentForTest.filter((m) => m.type === kind)", kind
    )
    return result


def content_point(person: Participant, fx: float, fy: float) -> tuple[float, float]:
    """Page coordinates of a point of the main video's picture (object-fit: contain)."""
    point: list[float] = person.page.evaluate(
        """([fx, fy]) => {
          const v = document.querySelector('#main-video figure.remote video');
          const r = v.getBoundingClientRect();
          const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
          const w = v.videoWidth * s, h = v.videoHeight * s;
          return [r.left + (r.width - w) / 2 + fx * w, r.top + (r.height - h) / 2 + fy * h];
        }""",
        [fx, fy],
    )
    return point[0], point[1]


def test_notes_tags_and_snapshots_are_acked_in_the_timeline(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, observer, links = start_call_with_everyone(live, launch, "Notes e2e")
    page = therapist.page
    panel = page.locator("#annotate-panel")
    panel.wait_for(state="visible")
    # Parents never annotate; observers only when the therapist allows it.
    assert parent.page.locator("#annotate-panel").is_hidden()
    assert observer.page.locator("#annotate-panel").is_hidden()
    page.locator("#tag-buttons button").first.wait_for()
    tags = [b.get_attribute("data-tag") for b in page.locator("#tag-buttons button").all()]
    assert {"verbal cue", "trial success", "independent", "visual cue"} <= set(tags), tags

    # A note: typed, Enter saves it.
    page.fill("#note-text", "Parent models the sign for more")
    page.press("#note-text", "Enter")
    assert page.input_value("#note-text") == ""
    first = timeline(therapist)[0]
    assert first["kind"] == "note"
    assert "sign for more" in first["label"]
    [note] = wait_saved(therapist, 1)
    assert note["text"] == "saved"
    assert CLOCK.match(note["time"]), note

    # A tag by click, one by its number key (focus outside any text field).
    page.click("#tag-buttons button[data-tag='verbal cue']")
    page.locator("#btn-draw").focus()
    page.keyboard.press(str(tags.index("trial success") + 1))
    newest = wait_saved(therapist, 3)
    assert [i["label"] for i in newest[:2]] == ["Tag: trial success", "Tag: verbal cue"]
    assert all(CLOCK.match(i["time"]) for i in newest)
    # Digits typed into the note box stay text.
    page.fill("#note-text", "")
    page.type("#note-text", "12")
    assert page.input_value("#note-text") == "12"
    assert len(timeline(therapist)) == 3

    # While recording, the ack carries the recording time.
    page.click("#btn-record")
    for person in (parent, observer):
        wait_consent_dialog(person)
        person.page.click("#consent-accept")
    wait_recording_state(therapist, "recording")
    page.click("#tag-buttons button[data-tag='independent']")
    [tagged] = wait_saved(therapist, 1)
    assert re.fullmatch(r"saved · recording \d\d:\d\d", tagged["text"]), tagged

    # A snapshot of the main video (the parent's camera) settles: saved, or refused because the
    # server has no frame tap, with a way to retry.
    snap = page.locator("#btn-snapshot")
    assert snap.is_visible()
    assert "Parent" in snap.inner_text()
    snap.click()
    item = wait_until(
        lambda: next(
            (i for i in timeline(therapist) if i["kind"] == "snapshot" and i["status"] != "saving"),
            None,
        ),
        15,
        lambda: f"the snapshot never settled: {timeline(therapist)}",
    )
    if item["status"] == "failed":
        assert "no video frame" in item["text"]
        assert page.locator("#annotation-timeline li[data-kind=snapshot] .retry").is_visible()
    else:
        assert item["status"] == "saved"

    # The therapist lets observers annotate: the observer gets the panel and can tag.
    page.check("#observers-annotate")
    observer.page.locator("#annotate-panel").wait_for(state="visible")
    assert observer.page.locator("#btn-snapshot").is_hidden()  # snapshots: therapist only
    observer.page.click("#tag-buttons button[data-tag='visual cue']")
    [seen] = wait_saved(observer, 1)
    assert seen["label"] == "Tag: visual cue"
    page.uncheck("#observers-annotate")
    observer.page.locator("#annotate-panel").wait_for(state="hidden")
    assert links["observer_id"]


def test_a_drawing_for_the_parent_appears_on_their_video_and_fades(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, observer, links = start_call_with_everyone(live, launch, "Drawing e2e")
    p_id = links["parent_id"]
    wait_frames_growing(therapist, p_id)
    page = therapist.page
    toolbar = page.locator("#draw-toolbar")
    toolbar.wait_for(state="visible")
    # "Show to" defaults to the parent only.
    checked = page.evaluate(
        "() => [...document.querySelectorAll('#draw-show-to input')]"
        ".map((el) => [el.value, el.checked])"
    )
    assert dict(checked) == {p_id: True, links["observer_id"]: False}
    record_sent(therapist)

    page.click("#btn-draw")
    assert page.get_attribute("#btn-draw", "aria-pressed") == "true"
    # A diagonal across the middle of the picture, in small steps like a hand.
    start = content_point(therapist, 0.25, 0.25)
    end = content_point(therapist, 0.75, 0.75)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=15)
    page.mouse.up()

    main_canvas = "#main-video figure.remote canvas.draw-layer"
    assert inked_pixels(therapist, main_canvas) > 0  # the author's own stroke shows at once
    [draw] = sent(therapist, "draw")
    assert draw["target"] == p_id
    assert draw["show_to"] == [p_id]
    assert re.fullmatch(r"#[0-9a-f]{6}", draw["color"])
    points = draw["shapes"][0]["points"]
    assert draw["shapes"][0]["kind"] == "stroke"
    assert len(points) >= 2
    # Normalized to the picture, not the letterboxed element.
    assert points[0] == pytest.approx([0.25, 0.25], abs=0.02)
    assert points[-1] == pytest.approx([0.75, 0.75], abs=0.02)

    # The parent sees it over their own camera view, then it fades away.
    self_canvas = "figure.tile.self canvas.draw-layer"
    wait_until(
        lambda: inked_pixels(parent, self_canvas) > 50,
        5,
        "the drawing did not appear on the parent's video",
    )
    assert parent.page.locator("figure.tile.self.has-drawing").count() == 1
    wait_until(
        lambda: inked_pixels(parent, self_canvas) == 0,
        draw["fade_ms"] / 1000 + 3,
        "the drawing did not fade on the parent's video",
    )
    # The observer was not among "show to": nothing drawn on their screen.
    assert inked_pixels(observer, f"figure.remote[data-participant='{p_id}'] canvas") == 0
    wait_until(lambda: inked_pixels(therapist, main_canvas) == 0, 5, "the author's stroke stayed")

    # The drawing is an annotation like the others: acked in the timeline.
    [item] = wait_saved(therapist, 1)
    assert item["kind"] == "draw"
    assert "Parent" in item["label"]

    # Escape leaves drawing mode.
    page.keyboard.press("Escape")
    assert page.get_attribute("#btn-draw", "aria-pressed") == "false"
