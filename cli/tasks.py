"""Request and task commands: `start`, `tasks`, `complete`, `claim`, `release`, `message`, `cancel`,
`show`, and `timers` (list, fire)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli import Context, emit, emit_rows, json_option, parse_object, pass_ctx
from engine import permissions
from engine.attachments import AttachmentStore, start_with_files
from engine.people.users import get_user
from engine.queries.tasks import instance_view, list_tasks, resolve_task_id, task_view, waiting_timers


@click.command()
@click.argument("key")
@click.option("--data", help="Start data as JSON (or @file.json).")
@click.option("--as", "user", help="Start as this user (the requester).")
@click.option("--for", "requester", help="The office files it for this person (the requester).")
@click.option("--past-dates", "past_dates_reason", help="The office files it after its dates, for this reason.")
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A file for the start form (PDF, PNG or JPEG; repeat for several).",
)
@json_option
@pass_ctx
def start(
    ctx: Context,
    key: str,
    data: str | None,
    user: str | None,
    requester: str | None,
    past_dates_reason: str | None,
    attach: tuple[str, ...],
    as_json: bool,
) -> None:
    """Start a request (with its start form's files); print its instance id."""
    payload = parse_object(data, "--data")
    if attach and not user:
        raise click.UsageError("--attach needs --as: files are attached by a person")
    files = [(Path(path).name, Path(path).read_bytes()) for path in attach]
    store = AttachmentStore(ctx.settings.attachments_dir, ctx.engine.vault)
    with ctx.transaction() as session:
        starter = get_user(session, user) if user else None
        if requester is not None:
            permissions.require_may_start_for_others(session, get_user(session, user or ""))
        options = {"on_behalf_of": requester, "past_dates_reason": past_dates_reason}
        instance = start_with_files(ctx.engine, store, session, key, payload, starter, files, **options)
        result = {"instance_id": instance.id, "status": instance.status}
    emit(as_json, result, lambda: click.echo(result["instance_id"]))


@click.command()
@click.option("--user", help="Tasks this user may work on (assigned, claimed, queues).")
@click.option("--role", help="Tasks in this role's lane.")
@click.option("--instance", "instance_id", type=int, help="Tasks of one request.")
@click.option("--all", "include_done", is_flag=True, help="Include completed and cancelled tasks.")
@json_option
@pass_ctx
def tasks(
    ctx: Context, user: str | None, role: str | None, instance_id: int | None, include_done: bool, as_json: bool
) -> None:
    """List open tasks."""
    status = None if include_done else "ready"
    with ctx.transaction() as session:
        rows = [task_view(t) for t in list_tasks(session, user=user, role=role, instance_id=instance_id, status=status)]
    emit_rows(
        as_json,
        rows,
        lambda r: (
            f"{r['id']}\t#{r['instance_id']}\t{r['name']}\t{r['role']}\t"
            f"{r['claimed_by'] or r['assignee'] or '(queue)'}\tdue {r['due_at'][:16]}\t{r['status']}"
        ),
        "no tasks",
    )


@click.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user completing the task.")
@click.option("--data", help="Form data as JSON (or @file.json).")
@json_option
@pass_ctx
def complete(ctx: Context, task_id: str, user: str, data: str | None, as_json: bool) -> None:
    """Complete a task with form data."""
    payload = parse_object(data, "--data")
    with ctx.transaction() as session:
        row = ctx.engine.complete(session, resolve_task_id(session, task_id), user, payload, channel="cli")
        view = instance_view(session, row.instance_id, ctx.engine)
    next_tasks = [t for t in view["tasks"] if t["status"] == "ready"]
    result = {
        "task_id": row.id,
        "instance": view["id"],
        "status": view["status"],
        "outcome": view["outcome"],
        "next_tasks": next_tasks,
    }
    emit(
        as_json,
        result,
        lambda: click.echo(
            f"completed '{row.name}' on #{row.instance_id}; request is {view['status']}"
            + (f" ({view['outcome']})" if view["outcome"] else "")
            + "".join(f"\n  next: {t['id']} {t['name']} ({t['role']})" for t in next_tasks)
        ),
    )


@click.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user claiming the task.")
@pass_ctx
def claim(ctx: Context, task_id: str, user: str) -> None:
    """Claim a queue task."""
    with ctx.transaction() as session:
        row = ctx.engine.claim(session, resolve_task_id(session, task_id), user)
    click.echo(f"{user} claimed '{row.name}' on #{row.instance_id}")


@click.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user releasing the task.")
@pass_ctx
def release(ctx: Context, task_id: str, user: str) -> None:
    """Release a claimed task back to its queue."""
    with ctx.transaction() as session:
        row = ctx.engine.release(session, resolve_task_id(session, task_id), user)
    click.echo(f"released '{row.name}' on #{row.instance_id}")


@click.command()
@click.argument("name")
@click.option("--data", help="Message payload as JSON (or @file.json).")
@click.option("--correlation", help='Explicit correlation as JSON, e.g. {"visa_ref": "V-1"} or {"instance": 7}.')
@json_option
@pass_ctx
def message(ctx: Context, name: str, data: str | None, correlation: str | None, as_json: bool) -> None:
    """Deliver a BPMN message to the request waiting for it."""
    payload = parse_object(data, "--data")
    corr = parse_object(correlation, "--correlation")
    with ctx.transaction() as session:
        instance = ctx.engine.deliver_message(session, name, payload, corr)
        result = {"instance_id": instance.id, "status": instance.status}
    emit(as_json, result, lambda: click.echo(f"message '{name}' delivered to #{result['instance_id']}"))


@click.command("raise")
@click.argument("task_id")
@click.option("--as", "user", required=True, help="Who works on the task.")
@click.option("--error", "error", help="errorCode of an error boundary event of the task.")
@click.option("--escalation", help="escalationCode of an escalation boundary event of the task.")
@click.option("--data", help="Form data as JSON (or @file.json), kept on the task first.")
@pass_ctx
def raise_event(
    ctx: Context, task_id: str, user: str, error: str | None, escalation: str | None, data: str | None
) -> None:
    """Raise a BPMN error or escalation from a task; a boundary event of the task catches it."""
    if bool(error) == bool(escalation):
        raise click.UsageError("give exactly one of --error CODE and --escalation CODE")
    kind, code = ("error", error) if error else ("escalation", escalation)
    with ctx.transaction() as session:
        row = ctx.engine.raise_boundary_event(
            session, resolve_task_id(session, task_id), user, kind, str(code), parse_object(data, "--data")
        )
        status = row.instance.status
    click.echo(f"{kind} '{code}' raised from '{row.name}' on #{row.instance_id}; request is {status}")


@click.command()
@click.argument("name")
@json_option
@pass_ctx
def signal(ctx: Context, name: str, as_json: bool) -> None:
    """Broadcast a BPMN signal (it carries no data) to every request waiting on it, and start
    signal-started processes."""
    with ctx.transaction() as session:
        reached = ctx.engine.deliver_signal(session, name)
        result = {"signal": name, "delivered_to": [{"instance_id": i.id, "status": i.status} for i in reached]}
    ids = ", ".join(f"#{i.id}" for i in reached) or "no request"
    emit(as_json, result, lambda: click.echo(f"signal '{name}' reached {ids}"))


@click.command()
@click.argument("instance_id", type=int)
@click.option("--as", "user", required=True, help="The requester or an admin.")
@click.option("--reason", default="", help="Why the request is cancelled.")
@pass_ctx
def cancel(ctx: Context, instance_id: int, user: str, reason: str) -> None:
    """Cancel a running request."""
    with ctx.transaction() as session:
        ctx.engine.cancel(session, instance_id, user, reason)
    click.echo(f"request #{instance_id} cancelled")


@click.command()
@click.argument("instance_id", type=int)
@json_option
@pass_ctx
def show(ctx: Context, instance_id: int, as_json: bool) -> None:
    """Show a request: state, data, tasks and audit trail."""
    with ctx.transaction() as session:
        view = instance_view(session, instance_id, ctx.engine)
    emit(as_json, view, lambda: _print_instance(view))


def _print_instance(view: dict[str, Any]) -> None:
    click.echo(
        f"#{view['id']} {view['process_key']} v{view['process_version']}  {view['status']}"
        + (f" ({view['outcome']})" if view["outcome"] else "")
        + f"\n{view['summary']}"
    )
    click.echo("data:\n" + json.dumps(view["data"], indent=2, default=str))
    click.echo("tasks:")
    for t in view["tasks"]:
        click.echo(f"  {t['id']}  {t['name']}  [{t['status']}]  {t['completed_by'] or t['assignee'] or ''}")
    click.echo("audit:")
    for e in view["audit"]:
        click.echo(f"  {e['seq']:>3} {e['at'][:19]} {e['actor']:<12} {e['action']:<17} {e['element_name'] or ''}")


@click.group()
def timers() -> None:
    """BPMN timer commands."""


@timers.command("list")
@click.option("--limit", default=50, show_default=True, type=int)
@json_option
@pass_ctx
def timers_list(ctx: Context, limit: int, as_json: bool) -> None:
    """List waiting timers (BPMN timers, reminders, escalations), soonest first."""
    with ctx.transaction() as session:
        rows = [
            {
                "id": t.id,
                "kind": t.kind,
                "instance_id": t.instance_id,
                "task_id": t.task_id,
                "due_at": t.due_at.isoformat(),
                "attempts": t.attempts,
                "failed": t.failed_at is not None,
                "lease_owner": t.lease_owner,
            }
            for t in waiting_timers(session, limit)
        ]
    emit_rows(
        as_json,
        rows,
        lambda r: (
            f"{r['id']}\t{r['kind']}\t#{r['instance_id']}\t{r['due_at'][:16]}" + ("\tFAILED" if r["failed"] else "")
        ),
        "no timers",
    )


@timers.command("fire")
@json_option
@pass_ctx
def timers_fire(ctx: Context, as_json: bool) -> None:
    """Fire every timer that is due now (each in its own transaction)."""
    fired = []
    with ctx.transaction() as session:
        due = [(t.id, t.instance_id) for t in ctx.engine.due_timers(session, limit=10_000)]
    for timer_id, instance_id in due:
        with ctx.transaction() as session:
            if ctx.engine.fire_timer(session, timer_id):
                fired.append(instance_id)
    emit(as_json, {"fired": fired}, lambda: click.echo(f"{len(fired)} timer(s) fired"))
