"""Publish-only sources of a participant: the therapist's shared screen (and second cameras)."""

from __future__ import annotations

from signaling_fakes import (
    Client,
    FakeRecorder,
    FakeRelay,
    FakeSnapshots,
    MemoryBackend,
    admit,
    make_router,
    of_type,
    taps_of,
)

from signaling.local_router import LocalRouter
from signaling.ports import TherapistIdentity

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")
STRANGER = TherapistIdentity(user_id="u2", display_name="Dr. Other")


class Room:
    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.relay = FakeRelay()
        self.recorder = FakeRecorder()
        self.router: LocalRouter = make_router(
            self.backend, self.relay, taps=taps_of(self.recorder, FakeSnapshots())
        )


async def test_the_therapists_screen_joins_publish_only_and_leaves_with_the_therapist() -> None:
    room = Room()
    therapist = Client(room.router, "s1", THERAPIST)
    await therapist.join()
    parent = await admit(therapist, "parent", "Pat")
    screen = Client(room.router, "s1", THERAPIST)
    await screen.join(source="screen")
    assert screen.conn.types()[:2] == ["welcome", "offer"]
    sid = screen.participant_id
    assert sid == f"{therapist.participant_id}-screen"
    media = room.relay.rooms["s1"]
    assert sid in media.send_nothing  # it is sent nothing
    # Everyone sees it, labelled, with whose it is; the therapist stays the therapist.
    listed = {p["participant_id"]: p for p in parent.conn.last("participants")["participants"]}
    assert listed[sid]["name"] == "Dr. Tess's screen"
    assert listed[sid]["source_of"] == therapist.participant_id
    assert listed[therapist.participant_id]["source_of"] is None
    # It may not act for its owner.
    await screen.send(type="end")
    assert screen.conn.last("error")["code"] == "forbidden"
    await screen.send(type="chat", client_ref="c1", text="hi")
    assert screen.conn.last("error")["code"] == "forbidden"
    assert of_type(parent.conn, "chat") == []
    # The therapist leaves: the screen goes with them.
    await therapist.send(type="leave")
    assert screen.conn.closed is not None
    assert sid not in media.members
    # Attendance holds people only.
    assert all(not pid.endswith("-screen") for _, pid in room.backend.left)


async def test_only_the_sessions_therapist_in_the_room_shares_a_screen() -> None:
    room = Room()
    stranger = Client(room.router, "s1", STRANGER)
    await stranger.join(source="screen")
    assert stranger.conn.last("error")["code"] == "forbidden"
    early = Client(room.router, "s1", THERAPIST)
    await early.join(source="screen")  # the therapist is not in the room yet
    assert early.conn.last("error")["code"] == "unknown_participant"


async def test_a_screen_shared_while_recording_is_recorded_without_a_consent_of_its_own() -> None:
    room = Room()
    therapist = Client(room.router, "s1", THERAPIST)
    await therapist.join()
    parent = await admit(therapist, "parent", "Pat")
    await therapist.send(type="record", action="request")
    request_id = parent.conn.last("consent_request")["request_id"]
    await parent.send(type="consent", request_id=request_id, accept=True)
    assert therapist.conn.last("recording")["state"] == "recording"
    screen = Client(room.router, "s1", THERAPIST)
    await screen.join(source="screen")
    assert therapist.conn.last("recording")["state"] == "recording"
    assert of_type(screen.conn, "consent_request") == []
    assert ("recorder.add", screen.participant_id) in room.recorder.calls()


async def test_a_second_camera_joins_once_through_its_link_as_its_owners_camera() -> None:
    room = Room()
    therapist = Client(room.router, "s1", THERAPIST)
    await therapist.join()
    parent = await admit(therapist, "parent", "Ada")
    room.backend.camera_codes["code-1"] = parent.participant_id
    phone = Client(room.router, "s1")
    await phone.join(token="code-1", source="camera")
    cam = phone.participant_id
    assert cam == f"{parent.participant_id}-camera"
    listed = {p["participant_id"]: p for p in therapist.conn.last("participants")["participants"]}
    assert listed[cam]["name"] == "Ada's second camera"
    assert (listed[cam]["role"], listed[cam]["source_of"]) == ("parent", parent.participant_id)
    # No second admission, nothing in the lobby, and no cues for the camera.
    assert therapist.conn.last("lobby_update")["waiting"] == []
    await therapist.send(type="cue", client_ref="c1", cue="wait 5 seconds")
    assert len(of_type(parent.conn, "cue")) == 1
    assert of_type(phone.conn, "cue") == []
    # The link works once.
    again = Client(room.router, "s1")
    await again.join(token="code-1", source="camera")
    assert again.conn.last("error")["code"] == "link_gone"
    assert again.conn.closed is not None
    assert again.conn.closed[0] == 4410
