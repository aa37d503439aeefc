"""How each participant's call went, from the getStats summaries their client reported."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString


class CallQuality(Base):
    """Running totals per participant of a session; averages are sums over ``reports``."""

    __tablename__ = "call_quality"

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    display_name: Mapped[str] = mapped_column(String(80))
    reports: Mapped[int] = mapped_column(Integer, default=0)
    covered_ms: Mapped[int] = mapped_column(Integer, default=0)
    freezes: Mapped[int] = mapped_column(Integer, default=0)
    frozen_ms: Mapped[int] = mapped_column(Integer, default=0)
    send_kbps_sum: Mapped[float] = mapped_column(Float, default=0.0)
    recv_kbps_sum: Mapped[float] = mapped_column(Float, default=0.0)
    fps_sum: Mapped[float] = mapped_column(Float, default=0.0)
    loss_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rtt_ms_sum: Mapped[int] = mapped_column(Integer, default=0)
    rtt_reports: Mapped[int] = mapped_column(Integer, default=0)
    # The latest report's selected candidate: host, srflx, prflx or relay; udp, tcp or tls.
    candidate: Mapped[str | None] = mapped_column(String(8), nullable=True)
    protocol: Mapped[str | None] = mapped_column(String(8), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
