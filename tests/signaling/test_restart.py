"""A host that never saw the session before (the process restarted, or a node took the session
over from one that died) lets back in, without the lobby, whoever the records say was admitted;
and nobody else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from signaling_fakes import (
    SAID,
    SECRET,
    Client,
    FakeRecorder,
    FakeRelay,
    FakeSnapshots,
    MemoryBackend,
    chat_tags_and_cue,
    join_link,
    make_router,
    of_type,
    replayed,
    taps_of,
)

from signaling.local_router import LocalRouter
from signaling.ports import TherapistIdentity
from signaling.protocol import CloseCode
from signaling.tokens import RejoinClaim, TokenSigner

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


class Deployment:
    """One database (the backend) outliving the processes that host its sessions."""

    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.backend.add("s2")
        self.router = self.restart()

    def restart(self) -> LocalRouter:
        """A new process: a router and a relay that know nothing of earlier hosts."""
        self.recorder = FakeRecorder()
        self.router = make_router(
            self.backend, FakeRelay(), taps=taps_of(self.recorder, FakeSnapshots())
        )
        return self.router


async def call_with_parent(d: Deployment) -> tuple[Client, Client, str]:
    therapist = Client(d.router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1", name="Pat Parent")
    parent = Client(d.router, "s1")
    await parent.join(token=token)
    await therapist.send(type="admit", participant_id=parent.participant_id)
    return therapist, parent, token


async def test_after_a_restart_the_parent_rejoins_without_the_lobby_under_the_same_id() -> None:
    d = Deployment()
    therapist, parent, token = await call_with_parent(d)
    t_id, p_id = therapist.participant_id, parent.participant_id
    rejoin = parent.conn.last("admitted")["rejoin"]
    d.restart()  # the old process is gone: its host and roster with it

    back_t = Client(d.router, "s1", THERAPIST)
    await back_t.join()
    back_p = Client(d.router, "s1", client_id=parent.client_id)
    await back_p.join(token=token, rejoin=rejoin)

    welcome = back_p.conn.last("welcome")
    assert welcome["lobby"] is False
    assert welcome["participant_id"] == p_id
    assert "offer" in back_p.conn.types()
    assert "admitted" not in back_p.conn.types()
    # The therapist keeps its id too: attendance counts one therapist, not one per host.
    assert back_t.participant_id == t_id
    present = {
        p["participant_id"]: p["name"] for p in back_t.conn.last("participants")["participants"]
    }
    assert present == {t_id: "Dr. Tess", p_id: "Pat Parent"}
    assert back_t.conn.last("lobby_update")["waiting"] == []
    rejoined = [a for a in d.backend.audits if a.action == "session.rejoin"]
    assert [a.actor for a in rejoined] == [f"participant:{p_id}"]
    # A new stretch of attendance for each.
    assert d.backend.joined.count(("s1", p_id)) == 2


async def test_a_removal_still_voids_the_credential_after_a_restart() -> None:
    d = Deployment()
    therapist, parent, token = await call_with_parent(d)
    rejoin = parent.conn.last("admitted")["rejoin"]
    await therapist.send(type="remove", participant_id=parent.participant_id)
    assert parent.conn.closed is not None
    d.restart()
    await Client(d.router, "s1", THERAPIST).join()

    alone = Client(d.router, "s1", client_id=parent.client_id)
    await alone.join(rejoin=rejoin)
    assert alone.conn.last("error")["code"] == "link_invalid"
    assert alone.conn.closed is not None
    assert alone.conn.closed[0] == 4403
    # With the link as well, the device knocks like anyone else: the lobby, under a new id.
    knock = Client(d.router, "s1", client_id=parent.client_id)
    await knock.join(token=token, rejoin=rejoin)
    assert knock.conn.last("welcome")["lobby"] is True
    assert knock.participant_id != parent.participant_id
    refused = [a for a in d.backend.audits if a.action == "session.knock"][-1]
    assert refused.detail["rejoin_refused"] == "credential no longer valid"


async def test_a_credential_for_another_device_session_or_role_is_refused_after_a_restart() -> None:
    d = Deployment()
    _, parent, _ = await call_with_parent(d)
    rejoin = parent.conn.last("admitted")["rejoin"]
    d.restart()
    await Client(d.router, "s1", THERAPIST).join()
    await Client(d.router, "s2", THERAPIST).join()

    copied = Client(d.router, "s1")  # another device
    await copied.join(rejoin=rejoin)
    assert copied.conn.last("error")["code"] == "link_invalid"

    elsewhere = Client(d.router, "s2", client_id=parent.client_id)
    await elsewhere.join(rejoin=rejoin)
    assert elsewhere.conn.last("error")["code"] == "link_invalid"

    # The records say this participant was in the room as an observer: a parent's credential
    # for that id does not get in (the signature alone cannot tell).
    d.backend.roles[("s1", parent.participant_id)] = "observer"
    other_role = Client(d.router, "s1", client_id=parent.client_id)
    await other_role.join(rejoin=rejoin)
    assert other_role.conn.last("error")["code"] == "link_invalid"


async def test_a_credential_for_someone_never_admitted_is_refused() -> None:
    d = Deployment()
    therapist = Client(d.router, "s1", THERAPIST)
    await therapist.join()
    _, link_id = join_link("s1")
    # Validly signed (e.g. issued just before the process died, the admission never stored).
    claim = RejoinClaim(
        "s1", "p_never", link_id, "dev-waiter-01", "parent", datetime.now(UTC) + timedelta(hours=1)
    )
    waiter = Client(d.router, "s1", client_id="dev-waiter-01")
    await waiter.join(rejoin=TokenSigner(SECRET).issue_rejoin(claim))
    assert waiter.conn.last("error")["code"] == "link_invalid"


async def test_a_revoked_link_is_refused_after_a_restart() -> None:
    d = Deployment()
    _, parent, _ = await call_with_parent(d)
    rejoin = parent.conn.last("admitted")["rejoin"]
    d.restart()
    d.backend.revoked.update(a.detail["link_id"] for a in d.backend.audits if "link_id" in a.detail)
    back = Client(d.router, "s1", client_id=parent.client_id)
    await back.join(rejoin=rejoin)
    assert back.conn.last("error")["code"] == "link_gone"


async def test_after_a_restart_nobody_is_shown_a_recording_until_everyone_consents_again() -> None:
    d = Deployment()
    therapist, parent, token = await call_with_parent(d)
    await therapist.send(type="record", action="request")
    prompt = parent.conn.last("consent_request")
    await parent.send(type="consent", request_id=prompt["request_id"], accept=True)
    assert therapist.conn.last("recording")["state"] == "recording"
    rejoin = parent.conn.last("admitted")["rejoin"]
    d.restart()

    back_t = Client(d.router, "s1", THERAPIST)
    await back_t.join()
    back_p = Client(d.router, "s1", client_id=parent.client_id)
    await back_p.join(token=token, rejoin=rejoin)
    for client in (back_t, back_p):
        states = [m["state"] for m in of_type(client.conn, "recording")]
        assert states, client.conn.types()
        assert set(states) == {"stopped"}, states
        assert of_type(client.conn, "consent_request") == []
    assert d.recorder.calls() == []
    # A new recording asks everyone again; the earlier acceptance does not carry over.
    await back_t.send(type="record", action="request")
    assert back_p.conn.last("recording")["state"] == "awaiting_consent"
    assert d.recorder.calls() == []
    prompt = back_p.conn.last("consent_request")
    await back_p.send(type="consent", request_id=prompt["request_id"], accept=True)
    assert back_t.conn.last("recording")["state"] == "recording"
    assert d.recorder.calls()[0][0] == "recorder.start"


async def test_a_host_shut_down_for_a_move_starts_no_grace_when_its_sockets_end() -> None:
    """The session moved (drain, hand-over): a socket's end reaching the old host afterwards must
    not start a grace whose expiry would say the participant left; by then they are back on
    the new host, and the attendance stretch it would close is the new one."""
    backend = MemoryBackend()
    backend.add("s1")
    router = make_router(backend, FakeRelay(), grace=0.1)
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    host = router.get_host("s1")
    assert host is not None
    await host.shutdown(CloseCode.SERVICE_RESTART, "node draining")
    await therapist.handle.disconnected()
    await asyncio.sleep(0.4)
    assert backend.left == []


async def chat_and_tags(d: Deployment) -> tuple[Client, Client, Client, str, str]:
    """A call in which everyone chatted and the therapist tagged, undid and cued."""
    therapist, parent, token = await call_with_parent(d)
    observer_token, _ = join_link("s1", "observer", name="Olive Observer")
    observer = Client(d.router, "s1")
    await observer.join(token=observer_token)
    await therapist.send(type="admit", participant_id=observer.participant_id)
    await chat_tags_and_cue(therapist, parent, observer)
    return therapist, parent, observer, token, observer_token


async def test_after_a_restart_the_chat_and_the_tags_are_replayed_as_before() -> None:
    d = Deployment()
    therapist, parent, observer, token, observer_token = await chat_and_tags(d)
    credentials = {
        "parent": parent.conn.last("admitted")["rejoin"],
        "observer": observer.conn.last("admitted")["rejoin"],
    }
    # Before: each page reloads on the same host.
    before = {}
    for name, old in (("therapist", therapist), ("parent", parent), ("observer", observer)):
        reloaded = Client(d.router, "s1", old.identity, client_id=old.client_id)
        tok = {"therapist": None, "parent": token, "observer": observer_token}[name]
        await reloaded.join(token=tok, rejoin=credentials.get(name))
        before[name] = replayed(reloaded)
    assert [m["text"] for m in before["parent"]["chat"]] == list(SAID)

    d.restart()
    after = {}
    back_t = Client(d.router, "s1", THERAPIST)
    await back_t.join()
    after["therapist"] = replayed(back_t)
    for name, old, tok in (("parent", parent, token), ("observer", observer, observer_token)):
        back = Client(d.router, "s1", client_id=old.client_id)
        await back.join(token=tok, rejoin=credentials[name])
        assert back.conn.last("welcome")["lobby"] is False
        after[name] = replayed(back)

    assert after == before
    chat = after["observer"]["chat"]
    assert [(m["author_id"], m["name"], m["role"]) for m in chat] == [
        (therapist.participant_id, "Dr. Tess", "therapist"),
        (parent.participant_id, "Pat Parent", "parent"),
        (observer.participant_id, "Olive Observer", "observer"),
    ]
    # The tags (and the undo) go to the therapist only; cues are live only, never replayed.
    assert [(i["client_ref"], i["kind"], i["undo_ref"]) for i in after["therapist"]["tags"]] == [
        ("t1", "tag", None), ("t2", "tag", None), ("t3", "undo", "t2"),
    ]  # fmt: skip
    assert after["parent"]["tags"] is None
    assert after["observer"]["tags"] is None
    assert all(a["cues"] == [] for a in after.values())


async def test_a_failed_read_of_the_history_is_tried_again_and_keeps_what_came_since() -> None:
    d = Deployment()
    therapist, parent, _ = await call_with_parent(d)
    await parent.send(type="chat", client_ref="c1", text="before the restart")
    await therapist.send(type="tag", client_ref="t1", tag="independent")
    d.restart()
    d.backend.fail_history = True
    back_t = Client(d.router, "s1", THERAPIST)
    await back_t.join()
    assert of_type(back_t.conn, "chat") == []  # the call goes on without it
    await back_t.send(type="chat", client_ref="c2", text="after the restart")
    await back_t.send(type="tag", client_ref="t2", tag="independent")

    d.backend.fail_history = False
    late = Client(d.router, "s1", THERAPIST)
    await late.join()  # the therapist's page reloads: the next entry reads the record
    assert [m["text"] for m in of_type(late.conn, "chat")] == [
        "before the restart", "after the restart",
    ]  # fmt: skip
    assert [i["client_ref"] for i in late.conn.last("annotation_history")["items"]] == ["t1", "t2"]
