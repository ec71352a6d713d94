"""Leases: how several workers share the `timers` and `outbox` tables without doing anything twice.

A worker claims due rows by writing its name and an expiry into `lease_owner`/`lease_until`,
in one statement, only on rows whose lease is free or expired:

    UPDATE t SET lease_owner = :me, lease_until = :now + :lease
     WHERE id IN (SELECT id FROM t WHERE <due> AND (lease_until IS NULL OR lease_until < :now)
                  ORDER BY ... LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING ...

On PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass over rows another
transaction holds instead of queueing behind it; on SQLite (where SQLAlchemy drops the clause)
the claim runs in a `BEGIN IMMEDIATE` transaction, so claimers take turns on the database lock.
A worker that dies simply stops renewing: its lease expires and the row is claimed again.
Before acting on a row the worker checks the lease is still its own (`hold`), in the same
transaction as the action, so a slow worker whose lease expired and was re-claimed backs off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session


def claim(
    session: Session,
    model: Any,
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    returning: Sequence[Any],
) -> list[Row]:
    """Lease up to `limit` rows of `model` matching `due` whose lease is free; return `returning` of each."""
    table = model.__table__
    free = or_(table.c.lease_until.is_(None), table.c.lease_until < now)
    pick = select(table.c.id).where(*due, free).order_by(*order_by).limit(limit).with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(pick.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(*returning)
    )
    return list(session.execute(statement))


def hold(
    session: Session,
    model: Any,
    row_id: int,
    owner: str,
    until: datetime,
    *conditions: ColumnElement[bool],
) -> bool:
    """Renew our lease on one row if it is still ours (and `conditions` hold); False otherwise.

    The UPDATE also takes the row lock (PostgreSQL) for the rest of the caller's transaction,
    so nobody else can act on the row until it commits.
    """
    table = model.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.lease_owner == owner, *conditions)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result is a cursor result


def release(session: Session, model: Any, row_id: int, owner: str, **values: Any) -> bool:
    """Clear our lease on one row (setting `values` too) if it is still ours."""
    table = model.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result is a cursor result
