"""Call quality reports on the record (both databases), in words, and on /metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from practice import add_account
from prometheus_client import generate_latest
from quality_reports import quality_report

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.observability import Metrics
from server.services.audit import Actor
from server.services.video.quality import quality_for_session
from server.services.video.sessions import start_session
from server.video.backend import DatabaseSessionBackend
from signaling.protocol import Quality

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def report(**changes: object) -> Quality:
    return Quality.model_validate(quality_report(seconds=30.0, **changes))


async def test_reports_add_up_per_participant_and_read_as_a_sentence(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    try:
        async with transaction(db) as session:
            user = await add_account(session, "Dr. Quality")
            actor = Actor("user", str(user.id))
            video = await start_session(session, user, actor, title="Quality")
        metrics = Metrics()
        backend = DatabaseSessionBackend(db, metrics=metrics)
        sid = str(video.id)
        for changes in (
            {},
            {"freezes": 2, "frozen_ms": 2500},
            {
                "candidate": "relay",
                "protocol": "tcp",
                "freezes": 1,
                "frozen_ms": 1500,
                "rtt_ms": None,
            },
        ):
            await backend.quality_reported(sid, "p_ada", "parent", "Ada", report(**changes), T0)
        await backend.quality_reported(sid, "t_1", "therapist", "Dr. Q", report(), T0)

        async with transaction(db) as session:
            summaries = {q.participant_id: q for q in await quality_for_session(session, sid)}
        ada = summaries["p_ada"]
        assert ada.sentence == "Ada: 3 freezes, 4 s in 2 min, through TURN/TCP"
        assert (ada.rtt_ms, round(ada.recv_kbps), round(ada.loss, 3)) == (50, 800, 0.01)
        assert summaries["t_1"].sentence == "Dr. Q: video never froze in 30 s, directly (UDP)"

        scraped = generate_latest(metrics.registry).decode()
        assert 'tandem_call_video_freezes_total{role="parent"} 3.0' in scraped
        assert 'tandem_call_video_frozen_seconds_total{role="parent"} 4.0' in scraped
        assert 'tandem_call_reported_seconds_total{role="therapist"} 30.0' in scraped
        relayed = (
            'tandem_call_quality_reports_total{candidate="relay",protocol="tcp",role="parent"}'
        )
        assert f"{relayed} 1.0" in scraped
    finally:
        await engine.dispose()
