"""Quality reports: checked strictly, put on the record, and a weak link told to the therapist."""

from __future__ import annotations

from typing import Any

from quality_reports import quality_report
from signaling_fakes import Client, FakeRelay, MemoryBackend, admit, join_link, make_router

from signaling.local_router import LocalRouter
from signaling.ports import TherapistIdentity

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


def report(**changes: Any) -> dict[str, Any]:
    return quality_report(**{"candidate": "relay", "protocol": "tcp", "loss": 0.0, **changes})


async def call() -> tuple[MemoryBackend, Client, Client]:
    backend = MemoryBackend()
    backend.add("s1")
    router: LocalRouter = make_router(backend, FakeRelay(), 30.0)
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1", "parent", name="Ada")
    parent = Client(router, "s1")
    await parent.join(token=token)
    await therapist.send(type="admit", participant_id=parent.participant_id)
    return backend, therapist, parent


async def test_a_report_goes_on_the_record_of_its_participant() -> None:
    backend, _, parent = await call()
    await parent.send(**report(freezes=2, frozen_ms=700))
    [(pid, stored)] = backend.quality
    assert pid == parent.participant_id
    assert (stored.freezes, stored.frozen_ms, stored.candidate, stored.protocol) == (
        2, 700, "relay", "tcp",
    )  # fmt: skip
    assert "error" not in parent.conn.types()


async def test_bad_or_oversized_reports_are_refused_and_the_call_goes_on() -> None:
    backend, therapist, parent = await call()
    # Out of bounds, of an unknown kind, or padded out (30 KB in a field nobody asked for):
    # each refused with an error that names the fields; none closes the connection.
    bad = [
        (report(loss=1.5), "loss"),
        (report(candidate="carrier-pigeon"), "candidate"),
        (report(note="x" * 30_000), "note"),
        (report(seconds=0, fps="fast"), "fps, seconds"),
    ]
    for message, fields in bad:
        await parent.send(**message)
        error = parent.conn.last("error")
        assert error["code"] == "invalid_message", error
        assert error["message"] == f"invalid fields: {fields}", error
    assert backend.quality == []
    assert parent.conn.closed is None
    await parent.send(**report())
    assert len(backend.quality) == 1
    # The therapist's side of the call is untouched.
    await therapist.send(type="media_state", audio=True, video=True)
    assert "error" not in therapist.conn.types()


async def test_the_therapist_hears_when_the_parents_link_turns_weak_and_recovers() -> None:
    _, therapist, parent = await call()
    await parent.send(**report())
    assert "link_hint" not in therapist.conn.types()
    await parent.send(**report(loss=0.12))
    hint = therapist.conn.last("link_hint")
    assert hint["participant_id"] == parent.participant_id
    assert hint["weak"] is True
    assert "12%" in hint["reason"]
    await parent.send(**report(loss=0.2))  # still weak: no second message
    assert therapist.conn.types().count("link_hint") == 1
    await parent.send(**report())
    assert therapist.conn.last("link_hint")["weak"] is False
    assert "link_hint" not in parent.conn.types()


async def test_an_observers_weak_link_is_on_the_record_but_never_hinted_to_the_therapist() -> None:
    backend, therapist, parent = await call()
    observer = await admit(therapist, "observer", "Olu")
    await observer.send(**report(loss=0.3, frozen_ms=4000))
    await observer.send(**report(rtt_ms=900))
    # Receive-only: a hint would tell the therapist the parent struggles when only Olu does.
    assert "link_hint" not in therapist.conn.types()
    assert [pid for pid, _ in backend.quality] == [observer.participant_id] * 2
    await parent.send(**report(loss=0.3))
    assert therapist.conn.last("link_hint")["participant_id"] == parent.participant_id
    assert "link_hint" not in observer.conn.types()


async def test_a_parents_second_camera_is_hinted_and_the_therapists_screen_is_not() -> None:
    backend, therapist, parent = await call()
    backend.camera_codes["code-1"] = parent.participant_id
    phone = Client(therapist.router, "s1")
    await phone.join(token="code-1", source="camera")
    screen = Client(therapist.router, "s1", THERAPIST)
    await screen.join(source="screen")
    await screen.send(**report(loss=0.3))
    assert "link_hint" not in therapist.conn.types()
    await phone.send(**report(frozen_ms=2500))
    hint = therapist.conn.last("link_hint")
    assert (hint["participant_id"], hint["weak"]) == (phone.participant_id, True)
    assert hint["reason"] == "video froze 2.5 s"
