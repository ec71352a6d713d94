"""A request's workflow state, in a table of its own: listings scan `process_instances` rows a few
hundred bytes long instead of rows of 9-60 KB (over one 4 KB page on SQLite), and only an action,
a detail page or a report that needs the workflow reads its state.

The state (the workflow's spec-free JSON, personal fields sealed) is stored zlib-compressed: about
6x smaller (27 KiB -> 4.5 KiB on the bench's requests), so a load reads 1-2 pages instead of ~7 and
a save writes as many. `ProcessInstance.state` compresses when it is assigned, with the rest of a
save's CPU work, not in the flush under the version lock.
"""

from __future__ import annotations

import zlib

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base

#: zlib's fastest level: higher ones save a few percent more for more CPU on every save
LEVEL = 1


def compress(state: str) -> bytes:
    return zlib.compress(state.encode(), LEVEL)


def decompress(stored: bytes) -> str:
    return zlib.decompress(stored).decode()


class InstanceState(Base):
    """The serialized workflow of one process instance, compressed (read and written through
    `ProcessInstance.state`)."""

    __tablename__ = "instance_states"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
