"""Recording runs only while every participant in the room has consented."""

from __future__ import annotations

from typing import Any

from signaling_fakes import (
    Client,
    FakeClock,
    FakeRecorder,
    FakeRelay,
    FakeSnapshots,
    MemoryBackend,
    admit,
    join_link,
    make_router,
    of_type,
    taps_of,
)

from signaling.local_router import LocalRouter
from signaling.ports import TherapistIdentity

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


class Setup:
    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.relay = FakeRelay()
        # The room and the recorder share one log, so the order of their calls can be checked.
        self.recorder = FakeRecorder(self.relay.room("s1").log)
        self.clock = FakeClock()
        self.router: LocalRouter = make_router(
            self.backend,
            self.relay,
            taps=taps_of(self.recorder, FakeSnapshots()),
            clock=self.clock,
        )

    async def therapist(self) -> Client:
        therapist = Client(self.router, "s1", THERAPIST)
        await therapist.join()
        return therapist


async def consent(client: Client, accept: bool = True) -> None:
    request = client.conn.last("consent_request")
    await client.send(type="consent", request_id=request["request_id"], accept=accept)


def recording(client: Client) -> dict[str, Any]:
    return client.conn.last("recording")


async def test_nothing_is_recorded_until_everyone_present_accepts() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist, "parent", "Pat")
    observer = await admit(therapist, "observer", "Olive")

    await therapist.send(type="record", action="request")
    prompt = parent.conn.last("consent_request")
    assert prompt["text"].startswith("We record")
    assert prompt["version"] == "test-1"
    assert observer.conn.last("consent_request")["request_id"] == prompt["request_id"]
    assert "consent_request" not in therapist.conn.types()  # asking is the therapist's consent
    status = recording(therapist)
    assert status["state"] == "awaiting_consent"
    assert sorted(status["pending"]) == sorted([parent.participant_id, observer.participant_id])

    await consent(parent)
    assert s.recorder.calls() == []
    await consent(observer, accept=False)
    assert s.recorder.calls() == []
    assert recording(therapist)["declined"] == [
        {"participant_id": observer.participant_id, "name": "Olive"}
    ]
    assert recording(therapist)["state"] == "awaiting_consent"
    # Only the therapist learns who declined.
    assert recording(parent)["declined"] == []
    assert recording(observer)["declined"] == []

    await consent(observer, accept=True)
    everyone = sorted([therapist.participant_id, parent.participant_id, observer.participant_id])
    assert s.recorder.calls() == [("recorder.start", everyone)]
    for client in (therapist, parent, observer):
        assert recording(client)["state"] == "recording"
        assert recording(client)["started_at"] is not None

    stored = [(c.participant_id, c.accepted) for c in s.backend.consents]
    assert stored == [
        (therapist.participant_id, True),
        (parent.participant_id, True),
        (observer.participant_id, False),
        (observer.participant_id, True),
    ]
    assert {c.text for c in s.backend.consents} == {prompt["text"]}
    assert {c.version for c in s.backend.consents} == {"test-1"}
    assert [u.state for u in s.backend.recording_updates] == ["recording"]


async def test_a_late_joiner_pauses_the_recording_until_they_accept() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    await consent(parent)
    assert [c[0] for c in s.recorder.calls()] == ["recorder.start"]

    observer = await admit(therapist, "observer", "Olive")
    oid = observer.participant_id
    log = s.relay.rooms["s1"].log
    # The pause happens before the newcomer's media joins the room.
    assert log.index(("recorder.pause", None)) < log.index(("room.join", oid))
    assert recording(therapist)["state"] == "awaiting_consent"
    assert recording(therapist)["pending"] == [oid]
    assert observer.conn.last("consent_request")

    await consent(observer)
    assert s.recorder.calls()[-3:] == [
        ("recorder.pause", None),
        ("recorder.add", oid),
        ("recorder.resume", None),
    ]
    assert recording(observer)["state"] == "recording"


async def test_a_decliner_keeps_it_paused_and_leaving_lets_it_resume() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    await consent(parent)
    observer = await admit(therapist, "observer", "Olive")
    await consent(observer, accept=False)
    assert recording(therapist)["declined"][0]["name"] == "Olive"
    assert ("recorder.resume", None) not in s.recorder.calls()

    await observer.send(type="leave")
    assert s.recorder.calls()[-1] == ("recorder.resume", None)
    assert recording(therapist)["declined"] == []
    assert recording(therapist)["state"] == "recording"


async def test_an_accepted_participant_can_withdraw() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    await consent(parent)
    await consent(parent, accept=False)
    assert s.recorder.calls()[-1] == ("recorder.pause", None)
    assert recording(therapist)["state"] == "awaiting_consent"


async def test_only_the_therapist_controls_recording() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    for action in ("request", "pause", "resume", "stop"):
        await parent.send(type="record", action=action)
        assert parent.conn.last("error")["code"] == "forbidden"
    assert "consent_request" not in parent.conn.types()
    # Only what entering said: nothing recorded.
    assert {m["state"] for m in of_type(therapist.conn, "recording")} == {"off"}
    denied = [a.action for a in s.backend.audits if a.outcome == "denied"]
    assert denied == ["recording.request", "recording.pause", "recording.resume", "recording.stop"]
    assert s.recorder.calls() == []


async def test_pause_resume_stop_and_offsets_exclude_pauses() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)  # the session goes live now
    s.clock.advance(10_000)
    await therapist.send(type="record", action="request")
    await consent(parent)

    async def note(text: str) -> dict[str, Any]:
        await therapist.send(type="note", client_ref=text, text=text)
        return therapist.conn.last("annotation_saved")

    s.clock.advance(1_000)
    assert (await note("one"))["recording_ms"] == 1_000
    await therapist.send(type="record", action="pause")
    assert recording(parent)["state"] == "paused"
    assert recording(parent)["offset_ms"] == 1_000
    s.clock.advance(5_000)
    paused = await note("two")
    assert paused["recording_ms"] is None
    assert paused["session_ms"] == 16_000
    await therapist.send(type="record", action="resume")
    s.clock.advance(2_000)
    resumed = await note("three")
    assert resumed["recording_ms"] == 3_000
    assert resumed["session_ms"] == 18_000
    assert s.backend.annotations[resumed["annotation_id"]].recording_id is not None

    await therapist.send(type="record", action="stop")
    assert recording(parent)["state"] == "stopped"
    assert recording(parent)["offset_ms"] == 3_000
    assert [c[0] for c in s.recorder.calls()] == [
        "recorder.start",
        "recorder.pause",
        "recorder.resume",
        "recorder.stop",
    ]
    updates = [(u.state, u.offset_ms) for u in s.backend.recording_updates]
    assert updates == [
        ("recording", 0),
        ("paused", 1_000),
        ("recording", 1_000),
        ("stopped", 3_000),
    ]
    await therapist.send(type="record", action="pause")
    assert therapist.conn.last("error")["code"] == "bad_state"


async def test_a_new_request_after_stop_needs_consent_again() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    old = parent.conn.last("consent_request")["request_id"]
    await consent(parent)
    await therapist.send(type="record", action="stop")
    await therapist.send(type="record", action="request")
    assert recording(therapist)["state"] == "awaiting_consent"
    await parent.send(type="consent", request_id=old, accept=True)
    assert parent.conn.last("error")["code"] == "stale_request"
    await consent(parent)
    assert [c[0] for c in s.recorder.calls()][-1] == "recorder.start"
    ids = {u.recording_id for u in s.backend.recording_updates}
    assert len(ids) == 2


async def test_a_consent_that_cannot_be_stored_does_not_count() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    s.backend.fail_consents = True
    await consent(parent)
    assert parent.conn.last("error")["code"] == "internal"
    assert s.recorder.calls() == []
    assert recording(therapist)["pending"] == [parent.participant_id]


async def test_a_failing_recorder_is_shown_paused_not_recording() -> None:
    s = Setup()
    s.recorder.fail_start = True
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    await consent(parent)
    assert recording(parent)["state"] == "paused"
    assert therapist.conn.last("error")["code"] == "internal"
    s.recorder.fail_start = False
    await therapist.send(type="record", action="resume")
    assert recording(parent)["state"] == "recording"


async def test_ending_the_session_stops_the_recorder() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    await therapist.send(type="record", action="request")
    await consent(parent)
    await therapist.send(type="end")
    assert s.recorder.calls()[-1] == ("recorder.stop", None)
    assert s.backend.recording_updates[-1].state == "stopped"


async def test_consent_before_admission_is_not_admitted() -> None:
    s = Setup()
    therapist = await s.therapist()
    await therapist.send(type="record", action="request")

    token, _ = join_link("s1")
    waiter = Client(s.router, "s1")
    await waiter.join(token=token)
    await waiter.send(type="consent", request_id="c_x", accept=True)
    assert waiter.conn.last("error")["code"] == "not_admitted"
    assert of_type(waiter.conn, "consent_request") == []


async def test_a_request_that_cannot_be_stored_leaves_recording_off() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist)
    s.backend.fail_consents = True
    await therapist.send(type="record", action="request")
    assert therapist.conn.last("error")["code"] == "internal"
    assert of_type(parent.conn, "consent_request") == []
    # Only what entering said: nothing recorded.
    assert [m["state"] for m in of_type(parent.conn, "recording")] == ["off"]
    s.backend.fail_consents = False
    await therapist.send(type="record", action="request")
    await consent(parent)
    assert [c[0] for c in s.recorder.calls()] == ["recorder.start"]


async def test_the_status_carries_the_open_request_and_the_therapists_pause() -> None:
    s = Setup()
    therapist = await s.therapist()
    parent = await admit(therapist, "parent", "Pat")
    await therapist.send(type="record", action="request")
    request_id = parent.conn.last("consent_request")["request_id"]
    # A reloaded page gets no second prompt once it accepted: the status lets it withdraw.
    assert recording(parent)["request_id"] == request_id
    assert recording(parent)["held"] is False
    await therapist.send(type="record", action="pause")
    assert recording(parent)["held"] is True
    await therapist.send(type="record", action="stop")
    assert recording(parent)["request_id"] is None
