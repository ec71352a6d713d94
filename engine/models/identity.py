"""Identity from the organisation: group → role mapping, directory links, and the people audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime


class GroupRole(Base):
    """An admin's mapping: members of directory or provider group `group_name` hold `role`."""

    __tablename__ = "group_roles"

    #: as the provider or the directory names it (a DN, a common name, an Entra object id), compared case-blind
    group_name: Mapped[str] = mapped_column(String(500), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class GroupGrant(Base):
    """A role a person holds because of a mapped group (taken back when the group goes; hand grants stay)."""

    __tablename__ = "group_grants"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class DirectoryLink(Base):
    """Where a person came from: `ldap` (their DN) or `oidc` (issuer and subject), and when it last named them."""

    __tablename__ = "directory_links"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    #: the LDAP DN, or `issuer|sub` for a provider
    external_id: Mapped[str] = mapped_column(String(1000))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonEvent(Base):
    """The audit of people: provisioned, updated, manager or language changed, deactivated, reactivated."""

    __tablename__ = "person_events"
    __table_args__ = (Index("ix_person_events_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(30))
    username: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
