"""The processes that host live sessions, and when each was last known alive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime


class VideoNode(Base):
    """One running Tandem process (a node; with Redis, the same id as in `{prefix}nodes`).

    It beats here every few seconds, in the database because attendance lives there and one
    process on SQLite has no Redis: when it stops without closing its sessions (SIGKILL, a
    crash, a lost host), the open attendance stretches it wrote end at `beat_at`.
    """

    __tablename__ = "video_nodes"

    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
