"""The `waypoint` command line: for people (readable output) and scripts (`--json`).

Every data command runs in one transaction; any expected failure prints `error: ...` on
stderr and exits with status 1 (2 for bad usage), never a bare traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click

from engine import audit
from engine.config import Settings
from engine.db import Database
from engine.demo.people import DEMO_PASSWORD, seed_demo_users
from engine.errors import DefinitionError, ValidationFailed, WaypointError
from engine.models import ProcessInstance
from engine.queries.tasks import instance_view, list_processes, list_tasks, resolve_task_id, task_view
from engine.runtime import Engine
from engine.users import KNOWN_ROLES, add_user


class Context:
    """Settings, database and engine for one CLI invocation (built lazily)."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._db: Database | None = None
        self._engine: Engine | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(office_tz=self.settings.timezone)
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.db.check_schema()
        with self.db.transaction() as session:
            yield session


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into `error: ...` and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            _fail(str(exc))
        except DefinitionError as exc:
            _fail(str(exc))
        except WaypointError as exc:
            _fail(str(exc))

    return wrapper


def parse_json(value: str | None, what: str) -> Any:
    """JSON from an option value, or from a file when the value is `@path`."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc


def parse_object(value: str | None, what: str) -> dict | None:
    data = parse_json(value, what)
    if data is not None and not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human()


pass_ctx = click.make_pass_decorator(Context, ensure=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Waypoint: approvals for international travel and visits."""


# --- database ---------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_ctx
@handled
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to the latest revision."""
    before, after = ctx.db.upgrade()
    if before == after:
        click.echo(f"database already at revision {after} ({ctx.db.safe_url})")
    else:
        click.echo(f"database upgraded from {before or '(empty)'} to {after} ({ctx.db.safe_url})")


@db.command("status")
@pass_ctx
@handled
def db_status(ctx: Context) -> None:
    """Show the schema revision of the database and of the code."""
    current, head = ctx.db.schema_revisions()
    click.echo(
        f"database: {current or '(empty)'}\ncode:     {head}\n"
        + ("up to date" if current == head else "behind: run `waypoint db upgrade`")
    )


# --- definitions ------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--as", "user", help="Record this user as the deployer.")
@json_option
@pass_ctx
@handled
def deploy(ctx: Context, paths: tuple[str, ...], user: str | None, as_json: bool) -> None:
    """Deploy BPMN files or folders (their DMN and forms come along)."""
    with ctx.transaction() as session:
        results = ctx.engine.deploy(session, paths, deployed_by=user)
    rows = [{"key": r.key, "version": r.version, "created": r.created, "content_hash": r.content_hash} for r in results]
    emit(
        as_json,
        rows,
        lambda: [
            click.echo(f"{r['key']}\tversion {r['version']}\t{'deployed' if r['created'] else 'unchanged'}")
            for r in rows
        ],
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option
@pass_ctx
@handled
def check(ctx: Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Check BPMN files against SpiffWorkflow and Waypoint's rules (exit 1 on findings)."""
    from engine.definitions import read_sources

    findings = ctx.engine.check(read_sources(paths))
    emit(
        as_json,
        findings,
        lambda: click.echo(
            "\n".join(
                f"{f.get('file')}:{f.get('line') or '-'} {f.get('element') or ''} {f.get('message')}" for f in findings
            )
            or "no findings"
        ),
    )
    if findings:
        sys.exit(1)


@main.command()
@json_option
@pass_ctx
@handled
def processes(ctx: Context, as_json: bool) -> None:
    """List deployed processes (latest version of each key)."""
    with ctx.transaction() as session:
        rows = list_processes(session)
    emit(
        as_json,
        rows,
        lambda: (
            [click.echo(f"{r['key']}\tv{r['version']}\t{r['running']} running\t{r['name']}") for r in rows]
            or click.echo("no processes deployed")
        ),
    )


# --- runtime ------------------------------------------------------------------------------
@main.command()
@click.argument("key")
@click.option("--data", help="Start data as JSON (or @file.json).")
@click.option("--as", "user", help="Start as this user (the requester).")
@json_option
@pass_ctx
@handled
def start(ctx: Context, key: str, data: str | None, user: str | None, as_json: bool) -> None:
    """Start a request; print its instance id."""
    payload = parse_object(data, "--data")
    with ctx.transaction() as session:
        instance = ctx.engine.start(session, key, payload, user)
        result = {"instance_id": instance.id, "status": instance.status}
    emit(as_json, result, lambda: click.echo(result["instance_id"]))


@main.command()
@click.option("--user", help="Tasks this user may work on (assigned, claimed, queues).")
@click.option("--role", help="Tasks in this role's lane.")
@click.option("--instance", "instance_id", type=int, help="Tasks of one request.")
@click.option("--all", "include_done", is_flag=True, help="Include completed and cancelled tasks.")
@json_option
@pass_ctx
@handled
def tasks(
    ctx: Context, user: str | None, role: str | None, instance_id: int | None, include_done: bool, as_json: bool
) -> None:
    """List open tasks."""
    with ctx.transaction() as session:
        rows = [
            task_view(t)
            for t in list_tasks(
                session, user=user, role=role, instance_id=instance_id, status=None if include_done else "ready"
            )
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(
                    f"{r['id']}\t#{r['instance_id']}\t{r['name']}\t{r['role']}\t"
                    f"{r['claimed_by'] or r['assignee'] or '(queue)'}\tdue {r['due_at'][:16]}\t{r['status']}"
                )
                for r in rows
            ]
            or click.echo("no tasks")
        ),
    )


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user completing the task.")
@click.option("--data", help="Form data as JSON (or @file.json).")
@json_option
@pass_ctx
@handled
def complete(ctx: Context, task_id: str, user: str, data: str | None, as_json: bool) -> None:
    """Complete a task with form data."""
    payload = parse_object(data, "--data")
    with ctx.transaction() as session:
        row = ctx.engine.complete(session, resolve_task_id(session, task_id), user, payload)
        view = instance_view(session, row.instance_id, ctx.engine)
    next_tasks = [t for t in view["tasks"] if t["status"] == "ready"]
    emit(
        as_json,
        {
            "task_id": row.id,
            "instance": view["id"],
            "status": view["status"],
            "outcome": view["outcome"],
            "next_tasks": next_tasks,
        },
        lambda: click.echo(
            f"completed '{row.name}' on #{row.instance_id}; request is {view['status']}"
            + (f" ({view['outcome']})" if view["outcome"] else "")
            + "".join(f"\n  next: {t['id']} {t['name']} ({t['role']})" for t in next_tasks)
        ),
    )


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user claiming the task.")
@pass_ctx
@handled
def claim(ctx: Context, task_id: str, user: str) -> None:
    """Claim a queue task."""
    with ctx.transaction() as session:
        row = ctx.engine.claim(session, resolve_task_id(session, task_id), user)
    click.echo(f"{user} claimed '{row.name}' on #{row.instance_id}")


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True, help="The user releasing the task.")
@pass_ctx
@handled
def release(ctx: Context, task_id: str, user: str) -> None:
    """Release a claimed task back to its queue."""
    with ctx.transaction() as session:
        row = ctx.engine.release(session, resolve_task_id(session, task_id), user)
    click.echo(f"released '{row.name}' on #{row.instance_id}")


@main.command()
@click.argument("name")
@click.option("--data", help="Message payload as JSON (or @file.json).")
@click.option("--correlation", help='Explicit correlation as JSON, e.g. {"visa_ref": "V-1"} or {"instance": 7}.')
@json_option
@pass_ctx
@handled
def message(ctx: Context, name: str, data: str | None, correlation: str | None, as_json: bool) -> None:
    """Deliver a BPMN message to the request waiting for it."""
    payload = parse_object(data, "--data") or {}
    corr = parse_object(correlation, "--correlation")
    with ctx.transaction() as session:
        instance = ctx.engine.deliver_message(session, name, payload, corr)
        result = {"instance_id": instance.id, "status": instance.status}
    emit(as_json, result, lambda: click.echo(f"message '{name}' delivered to #{instance.id}"))


@main.command()
@click.argument("instance_id", type=int)
@click.option("--as", "user", required=True, help="The requester or an admin.")
@click.option("--reason", default="", help="Why the request is cancelled.")
@pass_ctx
@handled
def cancel(ctx: Context, instance_id: int, user: str, reason: str) -> None:
    """Cancel a running request."""
    with ctx.transaction() as session:
        ctx.engine.cancel(session, instance_id, user, reason)
    click.echo(f"request #{instance_id} cancelled")


@main.command()
@click.argument("instance_id", type=int)
@json_option
@pass_ctx
@handled
def show(ctx: Context, instance_id: int, as_json: bool) -> None:
    """Show a request: state, data, tasks and audit trail."""
    with ctx.transaction() as session:
        view = instance_view(session, instance_id, ctx.engine)

    def human() -> None:
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

    emit(as_json, view, human)


@main.group()
def timers() -> None:
    """BPMN timer commands."""


@timers.command("fire")
@json_option
@pass_ctx
@handled
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


# --- people -----------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """Manage users and roles."""


@users.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help=f"Repeatable. One of: {', '.join(KNOWN_ROLES)}.")
@click.option("--name", "display_name", help="Display name.")
@click.option("--email")
@click.option("--manager", help="Username of the user's manager.")
@click.option("--password", help="Password (prompted if --prompt-password).")
@click.option("--language", default="en", type=click.Choice(["en", "fr"]))
@pass_ctx
@handled
def users_add(
    ctx: Context,
    username: str,
    roles: tuple[str, ...],
    display_name: str | None,
    email: str | None,
    manager: str | None,
    password: str | None,
    language: str,
) -> None:
    """Create or update a user."""
    with ctx.transaction() as session:
        user = add_user(
            session,
            username,
            now=ctx.engine.clock.now(),
            roles=roles or ("requester",),
            display_name=display_name,
            email=email,
            manager=manager,
            password=password,
            language=language,
        )
        click.echo(f"{user.username}\t{', '.join(sorted(user.roles))}")


@main.command("seed-demo")
@pass_ctx
@handled
def seed_demo(ctx: Context) -> None:
    """Create the demo users (org chart covering every role) and print them."""
    with ctx.transaction() as session:
        rows = seed_demo_users(session, ctx.engine.clock.now())
    click.echo(f"Demo users (password for all: {DEMO_PASSWORD}):")
    for username, name, roles, manager in rows:
        click.echo(f"  {username:<10} {name:<16} {', '.join(roles):<45} manager: {manager or '-'}")


@main.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@pass_ctx
@handled
def audit_verify(ctx: Context) -> None:
    """Check every instance's hash chain; exit 1 on any break."""
    from sqlalchemy import select

    breaks = []
    with ctx.transaction() as session:
        instances = list(session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)))
        for instance in instances:
            breaks += audit.verify(session, instance)
    for b in breaks:
        click.echo(f"#{b.instance_id} event {b.seq}: {b.problem}")
    click.echo(f"{len(instances)} instance(s) checked, {len(breaks)} break(s)")
    if breaks:
        sys.exit(1)


@main.command("demo-data")
@click.option("--requests", "count", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--days", default=180, show_default=True, type=click.IntRange(1, 3650), help="History length.")
@click.option("--seed", default=42, show_default=True, type=int)
@pass_ctx
@handled
def demo_data(ctx: Context, count: int, days: int, seed: int) -> None:
    """Create realistic requests in every state over the past DAYS (for demos and benchmarks)."""
    from engine.demo.history import generate

    ctx.db.check_schema()
    outcome = generate(ctx.db, count, now=ctx.engine.clock.now(), days=days, seed=seed, office_tz=ctx.settings.timezone)
    click.echo(f"{count} requests: " + ", ".join(f"{n} {status}" for status, n in sorted(outcome.items())))


@main.group()
def privacy() -> None:
    """Personal data: keys, access log, retention, subject access."""


@privacy.command("new-key")
@click.option("--kid", default="k1", show_default=True, help="Key id stored with each encrypted value.")
@click.option("--write", "path", type=click.Path(), help="Write it to this file (refused if it exists).")
def privacy_new_key(kid: str, path: str | None) -> None:
    """Print (or write) a new AES-256 data key as `kid:base64key` for WAYPOINT_DATA_KEY."""
    from engine.privacy import Keyring

    key = Keyring.new_key(kid)
    if path is None:
        click.echo(key)
        return
    target = Path(path)
    if target.exists():
        click.echo(f"{target} exists: keeping it")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(key + "\n")
    target.chmod(0o600)
    click.echo(f"data key written to {target} (keep a copy: without it personal data cannot be read)")


@privacy.command("rotate")
@pass_ctx
@handled
def privacy_rotate(ctx: Context) -> None:
    """Re-encrypt stored personal data with the first key of WAYPOINT_DATA_KEY."""
    from engine.privacy_records import rotate_keys

    ctx.db.check_schema()
    click.echo(
        f"{rotate_keys(ctx.db, ctx.engine)} request(s) re-encrypted with key '{ctx.engine.vault.keyring.current}'"
    )


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what is past its retention period.")
@json_option
@pass_ctx
@handled
def privacy_purge(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Remove personal data of closed requests past their process's retention period."""
    from engine.privacy_records import retention_due, run_retention

    with ctx.transaction() as session:
        due = retention_due(session, ctx.engine, ctx.engine.clock.now())
    if not dry_run:
        run_retention(ctx.db, ctx.engine, actor="cli")
    rows = [{**d, "ended_at": d["ended_at"].isoformat(), "expired_at": d["expired_at"].isoformat()} for d in due]
    emit(
        as_json,
        {"purged": not dry_run, "requests": rows},
        lambda: (
            [
                click.echo(
                    f"#{r['instance_id']}\t{r['process_key']}\tended {r['ended_at'][:10]}\tretention {r['retention']}"
                )
                for r in rows
            ]
            + [click.echo(f"{len(rows)} request(s) {'would be ' if dry_run else ''}purged")]
        ),
    )


@privacy.command("access-log")
@click.option("--user", help="Views by this person.")
@click.option("--instance", "instance_id", type=int, help="Views of this request.")
@json_option
@pass_ctx
@handled
def privacy_access_log(ctx: Context, user: str | None, instance_id: int | None, as_json: bool) -> None:
    """Who saw personal data in clear, when, on which request, and why."""
    from engine.privacy_records import access_log

    with ctx.transaction() as session:
        rows = [
            {
                "at": a.at.isoformat(),
                "user": a.user.username,
                "instance_id": a.instance_id,
                "reason": a.reason,
                "fields": a.fields,
            }
            for a in access_log(session, username=user, instance_id=instance_id)
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [click.echo(f"{r['at'][:19]}\t{r['user']}\t#{r['instance_id']}\t{r['reason']}") for r in rows]
            or click.echo("no views recorded")
        ),
    )


@privacy.command("export")
@click.argument("person")
@pass_ctx
@handled
def privacy_export(ctx: Context, person: str) -> None:
    """Everything held about PERSON (a username or a name), as JSON."""
    from engine.privacy_records import subject_export

    with ctx.transaction() as session:
        click.echo(json.dumps(subject_export(session, ctx.engine, person), indent=2, default=str, ensure_ascii=False))


@main.command("backup")
@click.argument("target", type=click.Path())
@pass_ctx
@handled
def backup_command(ctx: Context, target: str) -> None:
    """Copy the SQLite database to TARGET while Waypoint runs (online backup)."""
    from engine.backup import backup

    size = backup(ctx.db, target)
    click.echo(f"backup written to {target} ({size:,} bytes)")


@main.command("restore")
@click.argument("source", type=click.Path())
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handled
def restore_command(ctx: Context, source: str, yes: bool) -> None:
    """Replace the SQLite database's content with the backup SOURCE (stop the server first)."""
    from engine.backup import restore

    if not yes and not click.confirm(f"Replace everything in {ctx.db.safe_url} with {source}?"):
        _fail("nothing restored", 1)
    size = restore(ctx.db, source)
    click.echo(f"restored {source} ({size:,} bytes) into {ctx.db.safe_url}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_ctx
@handled
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web server (development server; see README for production)."""
    from web import create_app

    app = create_app()
    click.echo(f"Waypoint on http://{host}:{port}/ (database {ctx.db.safe_url})")
    app.run(host=host, port=port, debug=False, use_reloader=False)


# --- worker, email and incidents (engine/scheduler.py, engine/outbox.py, engine/mailin.py) -----------
def _mail_config(ctx: Context) -> Any:
    from engine.mail.compose import MailConfig, configure

    config = MailConfig.from_settings(ctx.settings)
    configure(ctx.engine, config)
    return config


@main.command()
@click.option("--once", is_flag=True, help="Do everything that is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, type=float, help="Seconds between rounds.")
@pass_ctx
@handled
def worker(ctx: Context, once: bool, interval: float) -> None:
    """Fire due timers, reminders and escalations, and send email (run one or several)."""
    import logging
    import signal

    from engine.worker.loop import Worker, WorkerSettings, run_forever

    ctx.db.check_schema()
    _mail_config(ctx)
    runner = Worker(ctx.db, ctx.engine, smtp=ctx.settings.smtp, settings=WorkerSettings(interval=interval))
    if once:
        report = runner.drain()
        click.echo(
            f"{report.fired} timer(s) fired, {report.failed} failed; {report.emails.sent} email(s) sent, "
            f"{report.emails.retrying} to retry, {report.emails.failed} failed; {report.digests} digest(s)"
        )
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    smtp = ctx.settings.smtp
    click.echo(
        f"Waypoint worker {runner.owner}: every {interval:g}s on {ctx.db.safe_url}, mail via {smtp.host}:{smtp.port}"
    )
    run_forever(runner)


@main.command("mail-in")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@pass_ctx
@handled
def mail_in(ctx: Context, host: str, port: int) -> None:
    """Receive replies to notifications (APPROVE / REJECT on the first line) over SMTP."""
    import signal
    import threading

    from engine.mailin import serve

    ctx.db.check_schema()
    config = _mail_config(ctx)
    if not config.reply_domain:
        click.echo("note: WAYPOINT_MAIL_REPLY_DOMAIN is not set, so notifications carry no reply address")
    controller = serve(ctx.db, ctx.engine, host, port, config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Waypoint mail-in on {host}:{port} (database {ctx.db.safe_url})")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@main.group("outbox")
def outbox_group() -> None:
    """Outgoing email: what is queued, sent or failed."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only this status.")
@click.option("--limit", default=50, show_default=True, type=int)
@json_option
@pass_ctx
@handled
def outbox_list(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """List outgoing email, newest first."""
    from sqlalchemy import select

    from engine.models import OutboxMessage

    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    with ctx.transaction() as session:
        rows = [
            {
                "id": m.id,
                "status": m.status,
                "kind": m.kind,
                "to": m.recipient,
                "subject": m.subject,
                "instance_id": m.instance_id,
                "attempts": m.attempts,
                "created_at": m.created_at.isoformat(),
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "last_error": m.last_error,
            }
            for m in session.scalars(query)
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(
                    f"{r['id']}\t{r['status']}\t{r['kind']}\t{r['to']}\t{r['subject']}"
                    + (f"\t(attempt {r['attempts']}: {r['last_error']})" if r["last_error"] else "")
                )
                for r in rows
            ]
            or click.echo("no email")
        ),
    )


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_ctx
@handled
def outbox_retry(ctx: Context, ids: tuple[int, ...]) -> None:
    """Queue failed emails again (their incidents are marked retried)."""
    from sqlalchemy import select

    from engine.mail.outbox import retry
    from engine.models import Incident

    now = ctx.engine.clock.now()
    with ctx.transaction() as session:
        for outbox_id in ids:
            retry(session, outbox_id, now)
            for incident in session.scalars(
                select(Incident).where(Incident.outbox_id == outbox_id, Incident.status == "open")
            ):
                incident.status, incident.resolved_at, incident.resolved_by = "retried", now, "cli"
    click.echo(f"{len(ids)} email(s) queued again")


@main.group("incidents")
def incidents_group() -> None:
    """Timers and emails that kept failing."""


@incidents_group.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include retried incidents.")
@json_option
@pass_ctx
@handled
def incidents_list(ctx: Context, include_closed: bool, as_json: bool) -> None:
    """List incidents, newest first."""
    from engine.worker.loop import open_incidents

    with ctx.transaction() as session:
        rows = [
            {
                "id": i.id,
                "status": i.status,
                "kind": i.kind,
                "instance_id": i.instance_id,
                "task_id": i.task_id,
                "timer_kind": i.timer_kind,
                "attempts": i.attempts,
                "error": i.error,
                "created_at": i.created_at.isoformat(),
                "resolved_by": i.resolved_by,
            }
            for i in open_incidents(session, include_closed)
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(
                    f"{r['id']}\t{r['status']}\t{r['kind']}\t#{r['instance_id'] or '-'}\t{r['created_at'][:16]}\t"
                    f"{r['error']}"
                )
                for r in rows
            ]
            or click.echo("no incidents")
        ),
    )


@incidents_group.command("retry")
@click.argument("incident_id", type=int)
@click.option("--as", "user", required=True, help="The admin retrying it.")
@pass_ctx
@handled
def incidents_retry(ctx: Context, incident_id: int, user: str) -> None:
    """Retry the timer or email of an incident (admins)."""
    from engine.errors import PermissionDenied
    from engine.users import get_user
    from engine.worker.loop import retry_incident

    with ctx.transaction() as session:
        if "admin" not in get_user(session, user).roles:
            raise PermissionDenied("only an admin can retry incidents")
        incident = retry_incident(session, incident_id, user, ctx.engine.clock.now())
    click.echo(f"incident {incident.id} retried: the worker picks it up on its next round")


@timers.command("list")
@click.option("--limit", default=50, show_default=True, type=int)
@json_option
@pass_ctx
@handled
def timers_list(ctx: Context, limit: int, as_json: bool) -> None:
    """List waiting timers (BPMN timers, reminders, escalations), soonest first."""
    from sqlalchemy import select

    from engine.models import Timer

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
            for t in session.scalars(select(Timer).order_by(Timer.due_at, Timer.id).limit(limit))
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(
                    f"{r['id']}\t{r['kind']}\t#{r['instance_id']}\t{r['due_at'][:16]}"
                    + ("\tFAILED" if r["failed"] else "")
                )
                for r in rows
            ]
            or click.echo("no timers")
        ),
    )


@users.command("digest")
@click.argument("username")
@click.option("--off", "opt_out", flag_value=True, help="No daily digest for this user.")
@click.option("--on", "opt_out", flag_value=False, help="Daily digest again.")
@pass_ctx
@handled
def users_digest(ctx: Context, username: str, opt_out: bool | None) -> None:
    """Turn a user's daily digest email on or off (shows the setting without --on/--off)."""
    from engine.users import get_user

    with ctx.transaction() as session:
        user = get_user(session, username)
        if opt_out is not None:
            user.digest_opt_out = opt_out
        state = "off" if user.digest_opt_out else "on"
    click.echo(f"daily digest for {username}: {state}")


# --- process designer ---------------------------------------------------------------------
@main.command()
@click.argument("file", type=click.Path())
@click.option("--scenario", "names", multiple=True, help="Run only this scenario (by name); repeatable.")
@click.option(
    "--scenarios",
    "scenario_file",
    type=click.Path(),
    help="The scenario file (default: scenarios/<process key>.json next to FILE).",
)
@json_option
@pass_ctx
@handled
def simulate(ctx: Context, file: str, names: tuple[str, ...], scenario_file: str | None, as_json: bool) -> None:
    """Run a process's scenarios against FILE on a throwaway in-memory database (exit 1 on a failure)."""
    from engine.definitions import read_sources
    from engine.designer.simulate import Simulator, parse_scenarios, scenario_path
    from engine.xmlsafe import parse_xml

    sources = read_sources([file])
    root = Path(file).parent
    path = Path(file)
    keys = parse_xml(path.read_bytes(), path.name).xpath(
        "//bpmn:process[not(@isExecutable='false')]/@id", namespaces={"bpmn": NS_BPMN}
    )
    if not keys:
        raise DefinitionError(f"{file}: no executable process")
    scenario_at = Path(scenario_file) if scenario_file else root / scenario_path(keys[0])
    if not scenario_at.is_file():
        raise DefinitionError(f"no scenario file at {scenario_at}")
    key, scenarios = parse_scenarios(scenario_at.read_text(encoding="utf-8"), str(scenario_at))
    key = key or keys[0]
    if names:
        unknown = sorted(set(names) - {s.name for s in scenarios})
        if unknown:
            raise DefinitionError(f"no scenario called {', '.join(repr(u) for u in unknown)} in {scenario_at}")
        scenarios = [s for s in scenarios if s.name in names]
    simulator = Simulator(sources, key, office_tz=ctx.settings.timezone)
    results = [simulator.run(s) for s in scenarios]

    def human() -> None:
        for r in results:
            click.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.scenario}")
            click.echo("      path: " + " → ".join(p["name"] or p["element"] for p in r.path))
            click.echo(f"      status: {r.status}" + (f" ({r.outcome})" if r.outcome else ""))
            for problem in ([r.error] if r.error else []) + r.failures:
                click.echo(f"      {problem}")

    emit(as_json, [r.as_dict() for r in results], human)
    if not all(r.ok for r in results):
        sys.exit(1)


NS_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


# --- API tokens and service accounts (engine/api_tokens.py, engine/service_accounts.py) ----------------
@main.group("tokens")
def tokens_group() -> None:
    """API tokens (bearer tokens for /api/v1/)."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
@click.option("--expires-days", type=int, help="Expire after this many days (default: never).")
@json_option
@pass_ctx
@handled
def tokens_create(ctx: Context, username: str, name: str, expires_days: int | None, as_json: bool) -> None:
    """Create an API token for USERNAME and print it (shown this once only)."""
    from engine.api_tokens import create_token, token_view
    from engine.users import get_user

    now = ctx.engine.clock.now()
    with ctx.transaction() as session:
        new = create_token(
            session, get_user(session, username), name, now=now, expires_in_days=expires_days, created_by="cli"
        )
        view, secret = token_view(new.token, now), new.secret
    emit(as_json, {**view, "token": secret}, lambda: click.echo(secret))


@tokens_group.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@json_option
@pass_ctx
@handled
def tokens_list(ctx: Context, username: str | None, as_json: bool) -> None:
    """List API tokens (never their text)."""
    from engine.api_tokens import token_view, tokens_of
    from engine.users import get_user

    now = ctx.engine.clock.now()
    with ctx.transaction() as session:
        owner = get_user(session, username) if username else None
        rows = [token_view(t, now) for t in tokens_of(session, owner)]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(
                    f"{r['id']}\t{r['user']}\t{r['prefix']}...\t{r['name']}\t"
                    + ("active" if r["active"] else "revoked" if r["revoked_at"] else "expired")
                )
                for r in rows
            ]
            or click.echo("no tokens")
        ),
    )


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
@handled
def tokens_revoke(ctx: Context, token_id: int) -> None:
    """Revoke an API token by id (see `waypoint tokens list`)."""
    from engine.api_tokens import revoke

    with ctx.transaction() as session:
        token = revoke(session, token_id, None, ctx.engine.clock.now())
        owner = token.user.username
    click.echo(f"token {token_id} of {owner} revoked")


@main.group("service-accounts")
def service_accounts_group() -> None:
    """Accounts for other systems: API tokens only, with just the roles and grants they need."""


@service_accounts_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help=f"Repeatable. One of: {', '.join(KNOWN_ROLES)}.")
@click.option("--message", "messages", multiple=True, help="Repeatable. A BPMN message name it may deliver.")
@click.option("--start-on-behalf", is_flag=True, help="May start requests on behalf of people.")
@click.option("--name", "display_name", help="Display name.")
@click.option("--description", default="", help="What the system is.")
@pass_ctx
@handled
def service_accounts_add(
    ctx: Context,
    username: str,
    roles: tuple[str, ...],
    messages: tuple[str, ...],
    start_on_behalf: bool,
    display_name: str | None,
    description: str,
) -> None:
    """Create or update a service account (no password; use `waypoint tokens create` for its token)."""
    from engine.service_accounts import add_service_account

    with ctx.transaction() as session:
        account = add_service_account(
            session,
            username,
            now=ctx.engine.clock.now(),
            roles=roles,
            messages=messages,
            start_on_behalf=start_on_behalf,
            display_name=display_name,
            description=description,
            created_by="cli",
        )
        click.echo(
            f"{username}\troles: {', '.join(sorted(account.user.roles)) or '-'}\t"
            f"messages: {', '.join(account.messages) or '-'}\tstart on behalf: {'yes' if start_on_behalf else 'no'}"
        )


@service_accounts_group.command("list")
@json_option
@pass_ctx
@handled
def service_accounts_list(ctx: Context, as_json: bool) -> None:
    """List service accounts with their roles and grants."""
    from engine.service_accounts import account_view, list_service_accounts

    with ctx.transaction() as session:
        rows = [
            {"username": a.user.username, "roles": sorted(a.user.roles), **(account_view(a) or {})}
            for a in list_service_accounts(session)
        ]
    emit(
        as_json,
        rows,
        lambda: (
            [
                click.echo(f"{r['username']}\t{', '.join(r['roles']) or '-'}\t{', '.join(r['messages']) or '-'}")
                for r in rows
            ]
            or click.echo("no service accounts")
        ),
    )


if __name__ == "__main__":  # pragma: no cover
    main()
