"""A room: the participants of one session on the relay, and who forwards to whom.

Joins, leaves and reconnects are applied one at a time (the room's lock); each publisher gets
one ``Feed`` per kind, which every other participant's ``Peer`` subscribes to, and the
affected peers are offered the change afterwards. Recorders and frame taps find a publisher's
feeds here (``feeds``, ``watch_feeds``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from media.config import RelayConfig
from media.errors import NegotiationError
from media.feed import Feed
from media.hooks import HookDispatcher, MediaEvent, ParticipantJoined, ParticipantLeft
from media.peer import KINDS, AudioOnlySink, OfferSink, Peer, StateSink
from media.recording.writer import JournalWriter
from media.stats import Counters

logger = logging.getLogger(__name__)

FeedWatcher = Callable[[str, dict[str, Feed]], None]


def _check_participant_id(participant_id: str) -> None:
    # The id becomes the SDP msid stream id: a token without whitespace.
    if not participant_id or any(c.isspace() for c in participant_id):
        raise ValueError(f"participant id must be a non-empty token: {participant_id!r}")


class Room:
    """Participants of one session: whoever publishes is forwarded to everyone else."""

    def __init__(
        self,
        room_id: str,
        config: RelayConfig,
        counters: Counters,
        hooks: HookDispatcher | None,
        journal_writer: JournalWriter,
    ) -> None:
        self.room_id = room_id
        self._config = config
        self._counters = counters
        self._hooks = hooks
        # The relay's: every recorder of the room appends its journal through it.
        self.journal_writer = journal_writer
        self._feed_watchers: list[FeedWatcher] = []
        self._peers: dict[str, Peer] = {}
        self._feeds: dict[str, dict[str, Feed]] = {}
        # Publish-only participants (a shared screen, a second camera): forwarded to the others,
        # sent nothing.
        self._send_nothing: set[str] = set()
        # Membership changes are applied one at a time; offers go out after the change.
        self._lock = asyncio.Lock()
        self._closed = False

    def participants(self) -> list[str]:
        return list(self._peers)

    @property
    def peer_count(self) -> int:
        return len(self._peers)

    def feeds(self, publisher_id: str) -> dict[str, Feed]:
        """The publisher's feeds by kind: where recorders and frame taps attach their sinks."""
        return dict(self._feeds.get(publisher_id, {}))

    def emit(self, event: MediaEvent) -> None:
        """Hand an event to the application's hooks; never blocks (see media/hooks.py)."""
        if self._hooks is not None:
            self._hooks.emit(event)

    def watch_feeds(self, watcher: FeedWatcher) -> Callable[[], None]:
        """Call ``watcher(publisher_id, feeds)`` whenever a publisher's feeds are created (a
        first join, or a join after leaving). A reconnect keeps the feeds: sinks see a new
        ``source`` instead. Returns the function that stops watching."""
        self._feed_watchers.append(watcher)

        def unwatch() -> None:
            if watcher in self._feed_watchers:
                self._feed_watchers.remove(watcher)

        return unwatch

    def peer(self, participant_id: str) -> Peer | None:
        return self._peers.get(participant_id)

    def resumable(self, participant_id: str) -> bool:
        """May a participant whose signaling came back keep its peer connection? Only while it
        is connected on our side with no offer outstanding (one sent into the lost socket would
        never be answered)."""
        peer = self._peers.get(participant_id)
        return (
            peer is not None
            and not peer.dead
            and not peer.awaiting_answer
            and peer.pc.connectionState == "connected"
        )

    async def join(
        self,
        participant_id: str,
        *,
        publish: bool,
        on_offer: OfferSink,
        on_state: StateSink | None = None,
        on_audio_only: AudioOnlySink | None = None,
        receive: bool = True,
    ) -> None:
        """``receive=False``: a publish-only source (a screen, a second camera), subscribed to
        nobody; its feeds go to everyone else like a camera's."""
        _check_participant_id(participant_id)
        async with self._lock:
            if self._closed:
                raise RuntimeError(f"room {self.room_id} is closed")
            old = self._peers.pop(participant_id, None)
            affected: list[Peer] = []
            if old is not None and old.publish and not publish:
                affected += await self._drop_feeds(participant_id)
            peer = Peer(
                participant_id,
                publish=publish,
                config=self._config,
                counters=self._counters,
                on_offer=on_offer,
                on_state=on_state,
                on_audio_only=on_audio_only,
                first_revision=old.revision if old is not None else 0,
            )
            self._peers[participant_id] = peer
            if receive:
                self._send_nothing.discard(participant_id)
            else:
                self._send_nothing.add(participant_id)
            created: dict[str, Feed] | None = None
            if publish:
                feeds = self._feeds.get(participant_id)
                new_publisher = feeds is None
                if feeds is None:
                    feeds = {
                        kind: Feed(
                            participant_id,
                            kind,
                            self._counters,
                            self._config.keyframe_interval,
                            room_id=self.room_id,
                            emit=self.emit,
                            rtp_level=self._config.forwarding == "rtp",
                        )
                        for kind in KINDS
                    }
                    self._feeds[participant_id] = feeds
                for kind, feed in feeds.items():
                    published = peer.published[kind]
                    # On reconnect the subscribers' slots stay: only the source changes.
                    feed.attach(published.transceiver, published.track)
                if new_publisher:
                    created = feeds
                    for other in self._peers.values():
                        if other is peer or other.participant_id in self._send_nothing:
                            continue
                        if self._subscribe(other, feeds.values()):
                            affected.append(other)
            for publisher_id, feeds in self._feeds.items():
                if publisher_id != participant_id and receive:
                    for feed in feeds.values():
                        peer.subscribe(feed)
            affected.insert(0, peer)
            self.emit(ParticipantJoined(self.room_id, participant_id, publish, old is not None))
            if created is not None:
                for watcher in tuple(self._feed_watchers):
                    try:
                        watcher(participant_id, dict(created))
                    except Exception:
                        logger.exception("feed watcher failed for %s", participant_id)
            if old is not None:
                # The participant is still here: the old connection's "closed" is not news.
                old.silence()
                await old.close()
        await self._negotiate(affected, must_succeed=peer)

    async def answer(self, participant_id: str, sdp: str, revision: int) -> None:
        peer = self._peers.get(participant_id)
        if peer is None:
            raise NegotiationError(f"unknown participant {participant_id!r} in {self.room_id}")
        await peer.apply_answer(sdp, revision)

    async def leave(self, participant_id: str) -> None:
        async with self._lock:
            peer = self._peers.pop(participant_id, None)
            self._send_nothing.discard(participant_id)
            if peer is None:
                return
            affected = await self._drop_feeds(participant_id)
            await peer.close()
            self.emit(ParticipantLeft(self.room_id, participant_id))
        await self._negotiate(affected, must_succeed=None)

    async def request_keyframe(self, publisher_id: str) -> None:
        feed = self._feeds.get(publisher_id, {}).get("video")
        if feed is None:
            raise NegotiationError(f"{publisher_id!r} publishes no video in {self.room_id}")
        feed.request_keyframe()

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            peers = list(self._peers.values())
            self._peers.clear()
            feeds = [feed for by_kind in self._feeds.values() for feed in by_kind.values()]
            self._feeds.clear()
        for peer in peers:
            await peer.close()
        for feed in feeds:
            await feed.close()

    def _subscribe(self, peer: Peer, feeds: Iterable[Feed]) -> bool:
        """Whether ``peer`` now carries ``feeds``: one participant's broken connection must not
        fail anyone else's admission."""
        try:
            return all(peer.subscribe(feed) is not None for feed in feeds)
        except Exception:
            logger.exception("subscribing %s in %s failed", peer, self.room_id)
            return False

    async def _drop_feeds(self, publisher_id: str) -> list[Peer]:
        feeds = self._feeds.pop(publisher_id, None)
        if feeds is None:
            return []
        affected = [peer for peer in self._peers.values() if peer.unsubscribe(publisher_id)]
        for feed in feeds.values():
            await feed.close()
        return affected

    async def _negotiate(self, peers: list[Peer], must_succeed: Peer | None) -> None:
        # One participant's broken signaling must not keep the others from their offers.
        results = await asyncio.gather(*(p.negotiate() for p in peers), return_exceptions=True)
        for peer, result in zip(peers, results, strict=True):
            if isinstance(result, BaseException):
                if peer is must_succeed:
                    raise result
                logger.warning("offer to %s in %s failed: %r", peer, self.room_id, result)
