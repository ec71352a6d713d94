"""Recording outside events from the request page ("Record passport received"): what each message
wait shows, and the form for those who may record it (the POST is web/requests.py's `record`). The
engine decides who may record what and validates it (engine/outside_events.py)."""

from __future__ import annotations

from typing import Any

from engine.models import ProcessInstance

from .context import engine, user
from .i18n import language
from .render import build_fields


def outside_waits_view(
    s: Any, instance: ProcessInstance, failed: int | None = None, values: dict | None = None, errors: dict | None = None
) -> list[dict[str, Any]]:
    """Each message wait of the request: who it waits for, who may record it, and the form for the
    signed-in person when they may (`failed`: the wait whose POST came back with `values`/`errors`)."""
    lang = language()
    shown = []
    for wait in engine().outside_waits(s, instance):
        may = engine().may_record(user(), instance, wait) is None
        schema = engine().record_form(s, instance, wait) if may else None
        mine = failed == wait.subscription_id
        shown.append(
            {
                "id": wait.subscription_id,
                "waiting_for": wait.waiting_for[lang],
                "label": wait.label[lang],
                "role": wait.role,
                "may_record": may,
                "fields": build_fields(schema, values if mine else None, errors if mine else None) if may else [],
                "open": mine,
            }
        )
    return shown
