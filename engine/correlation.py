"""Which waiting message events a delivered BPMN message correlates with.

A subscription row stores the expected correlation values and the retrieval expressions that
produce them (engine/taskindex.py); a delivery evaluates those expressions on its payload and
looks for the exact canonical match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import MessageSubscription
from engine.taskindex import canonical
from engine.waits import MESSAGE


def subscriptions_for(
    session: Session,
    name: str,
    payload: Mapping[str, Any],
    correlation: Mapping[str, Any] | None,
    evaluate: Callable[[str, Mapping[str, Any]], Any],
) -> list[MessageSubscription]:
    """The waiting events message `name` reaches: by explicit correlation (or `{"instance": id}`), else by
    evaluating each subscription's retrieval expressions on the payload and matching the canonical values."""
    base = select(MessageSubscription).where(
        MessageSubscription.kind == MESSAGE, MessageSubscription.message_name == name
    )
    if correlation is not None:
        if set(correlation) == {"instance"}:
            return list(session.scalars(base.where(MessageSubscription.instance_id == correlation["instance"])))
        return list(session.scalars(base.where(MessageSubscription.correlation == canonical(correlation))))
    matches: list[MessageSubscription] = []
    retrievals = session.scalars(
        select(MessageSubscription.retrieval)
        .where(MessageSubscription.kind == MESSAGE, MessageSubscription.message_name == name)
        .distinct()
    )
    for retrieval in list(retrievals):
        expressions = json.loads(retrieval)
        if not expressions:
            continue
        try:
            values = {prop: evaluate(expr, payload) for prop, expr in expressions.items()}
        except Exception:
            continue
        matches += session.scalars(
            base.where(MessageSubscription.retrieval == retrieval, MessageSubscription.correlation == canonical(values))
        )
    return matches
