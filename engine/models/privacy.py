"""Records of personal-data work that belong to no one request: subject access searches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models.base import Base, UTCDateTime
from engine.models.people import User


class SubjectAccessSearch(Base):
    """One subject access search: who looked for whom, why, how, and which requests it found
    (append-only; a search that finds nothing is recorded too)."""

    __tablename__ = "subject_access_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    person: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    #: `page`, `json` or `csv`
    output: Mapped[str] = mapped_column(String(10))
    #: ids of the requests found
    found: Mapped[list] = mapped_column(JSON, default=list)

    user: Mapped[User] = relationship()
