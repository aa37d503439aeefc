"""Notes, tags, drawings and snapshots during a session."""

from __future__ import annotations

import asyncio
import json

import pytest
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
from signaling.protocol import ProtocolError, parse_client_message

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")
SQUARE = {"kind": "rect", "points": [[0.1, 0.1], [0.4, 0.5]]}


class Room:
    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.snapshots = FakeSnapshots()
        self.clock = FakeClock()
        self.router: LocalRouter = make_router(
            self.backend,
            FakeRelay(),
            taps=taps_of(FakeRecorder(), self.snapshots),
            clock=self.clock,
        )

    async def start(self) -> tuple[Client, Client, Client]:
        therapist = Client(self.router, "s1", THERAPIST)
        await therapist.join()
        parent = await admit(therapist, "parent", "Pat")
        observer = await admit(therapist, "observer", "Olive")
        return therapist, parent, observer


async def test_the_ack_waits_for_the_backend_and_carries_the_clocks() -> None:
    room = Room()
    therapist, parent, _ = await room.start()
    room.clock.advance(4_200)
    room.backend.save_gate = asyncio.Event()
    sending = asyncio.create_task(
        therapist.send(type="tag", client_ref="t1", tag="independent", goal_id="g-grasp")
    )
    await asyncio.sleep(0.05)
    assert "annotation_saved" not in therapist.conn.types()
    assert room.backend.annotations == {}
    # The session is not blocked while the database works: others are still served.
    await parent.send(type="media_state", audio=True, video=True)
    assert therapist.conn.last("participants")

    room.backend.save_gate.set()
    await sending
    ack = therapist.conn.last("annotation_saved")
    assert ack["client_ref"] == "t1"
    assert ack["session_ms"] == 4_200
    assert ack["recording_ms"] is None
    saved = room.backend.annotations[ack["annotation_id"]]
    assert (saved.kind, saved.tag, saved.goal_id) == ("tag", "independent", "g-grasp")
    assert saved.author_participant_id == therapist.participant_id
    assert saved.author_user_id == "u1"


async def test_a_failed_save_is_never_acknowledged() -> None:
    room = Room()
    therapist, _, _ = await room.start()
    room.backend.fail_saves = True
    await therapist.send(type="note", client_ref="n1", text="good eye contact")
    assert "annotation_saved" not in therapist.conn.types()
    assert therapist.conn.last("annotation_failed") == {
        "type": "annotation_failed",
        "client_ref": "n1",
        "reason": "not_saved",
    }


async def test_observers_annotate_only_when_the_therapist_allows() -> None:
    room = Room()
    therapist, parent, observer = await room.start()
    settings = observer.conn.last("annotation_settings")
    assert settings["observers_may_annotate"] is False
    assert [t["label"] for t in settings["tags"]] == ["independent", "trial success"]

    await observer.send(type="note", client_ref="o1", text="watch the grip")
    assert observer.conn.last("error")["code"] == "forbidden"
    await parent.send(type="observer_annotations", allowed=True)
    assert parent.conn.last("error")["code"] == "forbidden"

    await therapist.send(type="observer_annotations", allowed=True)
    for client in (therapist, parent, observer):
        assert client.conn.last("annotation_settings")["observers_may_annotate"] is True
    await observer.send(type="note", client_ref="o2", text="watch the grip")
    assert observer.conn.last("annotation_saved")["client_ref"] == "o2"
    # Parents never annotate; observers never take snapshots.
    await parent.send(type="note", client_ref="p1", text="hello")
    assert parent.conn.last("error")["code"] == "forbidden"
    await observer.send(type="snapshot", client_ref="o3", target=parent.participant_id)
    assert observer.conn.last("error")["code"] == "forbidden"

    await therapist.send(type="observer_annotations", allowed=False)
    await observer.send(type="note", client_ref="o4", text="again")
    assert observer.conn.last("error")["code"] == "forbidden"
    assert [a.kind for a in room.backend.annotations.values()] == ["note"]
    denied = [a.action for a in room.backend.audits if a.outcome == "denied"]
    assert denied.count("annotation.note") == 3
    assert "annotation.observers" in denied


async def test_a_drawing_reaches_only_show_to_and_is_persisted() -> None:
    room = Room()
    therapist, parent, observer = await room.start()
    pid = parent.participant_id
    await therapist.send(
        type="draw", client_ref="d1", target=pid, show_to=[pid], color="#ff0000", shapes=[SQUARE]
    )
    shown = parent.conn.last("drawing")
    assert shown["author_id"] == therapist.participant_id
    assert shown["target"] == pid
    assert shown["shapes"][0]["points"] == [[0.1, 0.1], [0.4, 0.5]]
    assert shown["fade_ms"] == 4000
    assert of_type(observer.conn, "drawing") == []
    assert of_type(therapist.conn, "drawing") == []
    ack = therapist.conn.last("annotation_saved")
    saved = room.backend.annotations[ack["annotation_id"]]
    assert saved.kind == "drawing"
    assert saved.target_participant_id == pid
    assert saved.payload is not None
    assert saved.payload["show_to"] == [pid]
    assert saved.payload["color"] == "#ff0000"

    await therapist.send(
        type="draw", client_ref="d2", target=pid, show_to=["nobody"], color="#ff0000",
        shapes=[SQUARE],
    )  # fmt: skip
    assert therapist.conn.last("error")["code"] == "unknown_participant"
    # Observers do not publish video: there is nothing to draw on.
    await therapist.send(
        type="draw", client_ref="d3", target=observer.participant_id, show_to=[], color="#00ff00",
        shapes=[SQUARE],
    )  # fmt: skip
    assert therapist.conn.last("error")["code"] == "unknown_participant"
    assert len(room.backend.annotations) == 1


async def test_an_observer_drawing_is_never_shown_to_the_parent() -> None:
    room = Room()
    therapist, parent, observer = await room.start()
    await therapist.send(type="observer_annotations", allowed=True)
    pid = parent.participant_id
    await observer.send(
        type="draw", client_ref="d1", target=pid, show_to=[pid], color="#ff0000", shapes=[SQUARE]
    )
    assert observer.conn.last("error")["code"] == "forbidden"
    assert of_type(parent.conn, "drawing") == []
    await observer.send(
        type="draw", client_ref="d2", target=pid, show_to=[therapist.participant_id],
        color="#ff0000", shapes=[SQUARE],
    )  # fmt: skip
    assert therapist.conn.last("drawing")["author_id"] == observer.participant_id


async def test_a_snapshot_stores_the_frame_of_the_target() -> None:
    room = Room()
    therapist, parent, _ = await room.start()
    pid = parent.participant_id
    room.snapshots.frames[pid] = b"\xff\xd8\xff fake jpeg"
    await therapist.send(type="snapshot", client_ref="s1", target=pid)
    ack = therapist.conn.last("annotation_saved")
    saved = room.backend.annotations[ack["annotation_id"]]
    assert saved.kind == "snapshot"
    assert saved.image == b"\xff\xd8\xff fake jpeg"
    assert room.snapshots.asked == [pid]

    await therapist.send(type="snapshot", client_ref="s2", target=therapist.participant_id)
    assert therapist.conn.last("annotation_failed")["reason"] == "no_frame"
    assert len(room.backend.annotations) == 1


async def test_annotations_wait_for_admission() -> None:
    room = Room()
    therapist = Client(room.router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1")
    waiter = Client(room.router, "s1")
    await waiter.join(token=token)
    await waiter.send(type="note", client_ref="w1", text="hi")
    assert waiter.conn.last("error")["code"] == "not_admitted"
    # Before the session is live its clock reads 0.
    await therapist.send(type="note", client_ref="t1", text="prep")
    assert therapist.conn.last("annotation_saved")["session_ms"] == 0


@pytest.mark.parametrize(
    "message",
    [
        {"type": "draw", "client_ref": "d", "target": "p", "show_to": [], "color": "#fff",
         "shapes": [SQUARE]},
        {"type": "draw", "client_ref": "d", "target": "p", "show_to": [], "color": "#ffffff",
         "shapes": [{"kind": "stroke", "points": [[1.5, 0.2]]}]},
        {"type": "draw", "client_ref": "d", "target": "p", "show_to": [], "color": "#ffffff",
         "shapes": []},
        {"type": "note", "client_ref": "n", "text": ""},
        {"type": "note", "client_ref": "n", "text": "x" * 2001},
        {"type": "tag", "client_ref": "t", "tag": "independent", "extra": 1},
        {"type": "record", "action": "delete"},
        {"type": "consent", "request_id": "c", "accept": "yes"},
        {"type": "consent", "request_id": "c", "accept": 1},
    ],
)  # fmt: skip
def test_bad_annotation_messages_are_refused(message: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_message(json.dumps(message))
    assert refused.value.code == "invalid_message"


async def test_goal_tags_name_their_goals_and_an_undo_is_stored_as_its_own_annotation() -> None:
    room = Room()
    therapist, parent, _ = await room.start()
    settings = therapist.conn.last("annotation_settings")
    assert settings["goals"] == [{"goal_id": "g-grasp", "name": "grasp"}]
    assert settings["tags"][1] == {"label": "trial success", "goal_id": "g-grasp"}

    await therapist.send(type="tag", client_ref="t1", tag="trial success", goal_id="g-grasp")
    await therapist.send(type="undo", client_ref="t2", undo_ref="t1")
    assert therapist.conn.last("annotation_saved")["client_ref"] == "t2"
    undo = list(room.backend.annotations.values())[-1]
    assert (undo.kind, undo.payload, undo.client_ref) == ("undo", {"undoes": "t1"}, "t2")
    # Parents never annotate, so they cannot undo either.
    await parent.send(type="undo", client_ref="p1", undo_ref="t1")
    assert parent.conn.last("error")["code"] == "forbidden"
    with pytest.raises(ProtocolError):
        parse_client_message(json.dumps({"type": "undo", "client_ref": "x1"}))


async def test_a_cue_reaches_the_parent_only_and_is_stored() -> None:
    room = Room()
    therapist, parent, observer = await room.start()
    assert therapist.conn.last("annotation_settings")["cues"] == [
        "wait 5 seconds", "offer a choice", "model the word", "praise the attempt",
    ]  # fmt: skip
    room.clock.advance(2_000)
    await therapist.send(type="cue", client_ref="c1", cue="offer a choice", text="car or ball?")
    assert parent.conn.last("cue") == {
        "type": "cue",
        "author_id": therapist.participant_id,
        "cue": "offer a choice",
        "text": "car or ball?",
        "session_ms": 2_000,
    }
    assert of_type(observer.conn, "cue") == []
    assert of_type(therapist.conn, "cue") == []
    ack = therapist.conn.last("annotation_saved")
    saved = room.backend.annotations[ack["annotation_id"]]
    assert (saved.kind, saved.tag, saved.text) == ("cue", "offer a choice", "car or ball?")
    # Only the therapist cues, even an observer allowed to annotate.
    await therapist.send(type="observer_annotations", allowed=True)
    await observer.send(type="cue", client_ref="o1", cue="wait 5 seconds")
    await parent.send(type="cue", client_ref="p1", cue="wait 5 seconds")
    assert observer.conn.last("error")["code"] == "forbidden"
    assert parent.conn.last("error")["code"] == "forbidden"
    assert len(of_type(parent.conn, "cue")) == 1


async def test_the_plans_own_cues_replace_the_defaults() -> None:
    room = Room()
    room.backend.cues = ["point to the picture"]
    therapist, _, _ = await room.start()
    assert therapist.conn.last("annotation_settings")["cues"] == ["point to the picture"]


async def test_a_chat_message_reaches_everyone_in_the_room_and_is_stored() -> None:
    room = Room()
    therapist, parent, observer = await room.start()
    await parent.send(type="chat", client_ref="m1", text="<b>hi</b> https://example.org/x")
    for client in (therapist, parent, observer):
        said = client.conn.last("chat")
        assert (said["author_id"], said["name"], said["role"]) == (
            parent.participant_id, "Pat", "parent",
        )  # fmt: skip
        assert said["text"] == "<b>hi</b> https://example.org/x"  # escaping is the client's
    ack = parent.conn.last("annotation_saved")
    assert room.backend.annotations[ack["annotation_id"]].kind == "chat"
    with pytest.raises(ProtocolError):
        parse_client_message(json.dumps({"type": "chat", "client_ref": "m2", "text": "x" * 1001}))


async def test_someone_entering_later_is_shown_the_chat_so_far() -> None:
    room = Room()
    therapist = Client(room.router, "s1", THERAPIST)
    await therapist.join()
    parent = await admit(therapist, "parent", "Pat")
    await therapist.send(type="chat", client_ref="m1", text="schedule: https://example.org/s")
    observer = await admit(therapist, "observer", "Olive")
    [said] = of_type(observer.conn, "chat")
    assert (said["text"], said["name"]) == ("schedule: https://example.org/s", "Dr. Tess")
    assert len(of_type(parent.conn, "chat")) == 1  # shown once to those already there


async def test_a_therapist_coming_back_gets_the_tags_and_undos_so_far() -> None:
    room = Room()
    therapist, _, observer = await room.start()
    await therapist.send(type="tag", client_ref="t1", tag="trial success", goal_id="g-grasp")
    await therapist.send(type="tag", client_ref="t2", tag="trial fail", goal_id="g-grasp")
    await therapist.send(type="tag", client_ref="t2", tag="trial fail", goal_id="g-grasp")
    await therapist.send(type="undo", client_ref="t3", undo_ref="t2")
    await therapist.send(type="note", client_ref="n1", text="not a tag")
    await therapist.drop()
    back = Client(room.router, "s1", THERAPIST)
    await back.join()
    history = back.conn.last("annotation_history")["items"]
    assert [(i["client_ref"], i["kind"], i["undo_ref"]) for i in history] == [
        ("t1", "tag", None), ("t2", "tag", None), ("t3", "undo", "t2"),
    ]  # fmt: skip
    assert history[0]["goal_id"] == "g-grasp"
    assert of_type(observer.conn, "annotation_history") == []
