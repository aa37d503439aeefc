"""Call quality on the record: each client's getStats reports added up per participant, and
said in words for the session page ("Ada: 3 freezes, 4 s in 42 min, through TURN/TCP")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import CallQuality
from signaling.protocol import Quality, Role

from .common import parse_id


async def record_quality(
    session: AsyncSession, session_id: str, participant_id: str, role: Role, name: str,
    report: Quality, at: datetime,
) -> None:  # fmt: skip
    sid = parse_id(session_id)
    row = await session.get(CallQuality, (sid, participant_id))
    if row is None:
        row = CallQuality(
            session_id=sid, participant_id=participant_id, role=role, display_name=name,
            reports=0, covered_ms=0, freezes=0, frozen_ms=0, send_kbps_sum=0.0,
            recv_kbps_sum=0.0, fps_sum=0.0, loss_sum=0.0, rtt_ms_sum=0, rtt_reports=0,
        )  # fmt: skip
        session.add(row)
    row.reports += 1
    row.covered_ms += round(report.seconds * 1000)
    row.freezes += report.freezes
    row.frozen_ms += report.frozen_ms
    row.send_kbps_sum += report.send_kbps
    row.recv_kbps_sum += report.recv_kbps
    row.fps_sum += report.fps
    row.loss_sum += report.loss
    if report.rtt_ms is not None:
        row.rtt_ms_sum += report.rtt_ms
        row.rtt_reports += 1
    if report.candidate is not None:
        row.candidate, row.protocol = report.candidate, report.protocol
    row.updated_at = at


@dataclass(frozen=True)
class QualitySummary:
    participant_id: str
    name: str
    role: str
    minutes: float
    freezes: int
    frozen_seconds: float
    recv_kbps: float
    send_kbps: float
    fps: float
    loss: float
    rtt_ms: int | None
    route: str | None  # "directly (UDP)", "through TURN/TCP", ...

    @property
    def sentence(self) -> str:
        span = f"{self.minutes:.0f} min" if self.minutes >= 1 else f"{self.minutes * 60:.0f} s"
        frozen = (
            "video never froze"
            if self.freezes == 0
            else f"{self.freezes} freeze{'s' if self.freezes != 1 else ''}, "
            f"{self.frozen_seconds:.0f} s"
        )
        route = f", {self.route}" if self.route else ""
        return f"{self.name}: {frozen} in {span}{route}"


def _route(candidate: str | None, protocol: str | None) -> str | None:
    if candidate is None:
        return None
    proto = (protocol or "udp").upper()
    if candidate == "relay":
        return f"through TURN/{proto}"
    return f"directly ({proto})" if candidate == "host" else f"through NAT ({proto})"


async def quality_for_session(session: AsyncSession, session_id: str) -> list[QualitySummary]:
    rows = await session.scalars(
        select(CallQuality)
        .where(CallQuality.session_id == parse_id(session_id))
        .order_by(CallQuality.role, CallQuality.display_name)
    )
    return [
        QualitySummary(
            participant_id=r.participant_id,
            name=r.display_name,
            role=r.role,
            minutes=r.covered_ms / 60000,
            freezes=r.freezes,
            frozen_seconds=r.frozen_ms / 1000,
            recv_kbps=r.recv_kbps_sum / r.reports,
            send_kbps=r.send_kbps_sum / r.reports,
            fps=r.fps_sum / r.reports,
            loss=r.loss_sum / r.reports,
            rtt_ms=r.rtt_ms_sum // r.rtt_reports if r.rtt_reports else None,
            route=_route(r.candidate, r.protocol),
        )
        for r in rows
        if r.reports > 0
    ]
