"""Operations commands: `serve`, `worker`, `mail-in`, `mail-sink` (development), `outbox` (list, retry),
`incidents` (list, retry)."""

from __future__ import annotations

import signal
import sys
import threading

import click

from cli import Context, emit_rows, json_option, pass_ctx
from engine import logs, mailin, permissions
from engine.heap import settle
from engine.mail import capture
from engine.mail.outbox import latest
from engine.people.users import get_user
from engine.worker.incidents import open_incidents, retry_email, retry_incident
from engine.worker.loop import Worker, WorkerSettings, run_forever


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web server (development server; see README for production)."""
    from web import create_app  # the only place the CLI needs the web layer

    app = create_app({"WAYPOINT_SETTINGS": ctx.settings, "WAYPOINT_DB": ctx.db, "WAYPOINT_ENGINE": ctx.engine})
    click.echo(f"Waypoint on http://{host}:{port}/ (database {ctx.db.safe_url})")
    app.run(host=host, port=port, debug=False, use_reloader=False)


@click.command()
@click.option("--once", is_flag=True, help="Do everything that is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, type=float, help="Seconds between rounds.")
@pass_ctx
def worker(ctx: Context, once: bool, interval: float) -> None:
    """Fire due timers, reminders and escalations, and send email (run one or several)."""
    ctx.db.check_schema()
    runner = Worker(
        ctx.db,
        ctx.engine,
        smtp=ctx.settings.smtp,
        settings=WorkerSettings(interval=interval),
        directory=ctx.settings.directory,
    )
    if once:
        report = runner.drain()
        click.echo(
            f"{report.fired} timer(s) fired, {report.failed} failed; {report.emails.sent} email(s) sent, "
            f"{report.emails.retrying} to retry, {report.emails.failed} failed; {report.digests} digest(s)"
        )
        return
    logs.configure(ctx.settings.log_json)  # the web's set-up: JSON lines with WAYPOINT_LOG_JSON=1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    smtp = ctx.settings.smtp
    click.echo(
        f"Waypoint worker {runner.owner}: every {interval:g}s on {ctx.db.safe_url}, mail via {smtp.host}:{smtp.port}"
    )
    settle()  # its start-up objects leave the full garbage collections
    run_forever(runner)


@click.command("mail-in")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@pass_ctx
def mail_in(ctx: Context, host: str, port: int) -> None:
    """Receive replies to notifications (APPROVE / REJECT on the first line) over SMTP."""
    ctx.db.check_schema()
    config = ctx.mail_config
    if not config.reply_domain:
        click.echo("note: WAYPOINT_MAIL_REPLY_DOMAIN is not set, so notifications carry no reply address")
    controller = mailin.serve(ctx.db, ctx.engine, host, port, config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Waypoint mail-in on {host}:{port} (database {ctx.db.safe_url})")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@click.group("outbox")
def outbox_group() -> None:
    """Outgoing email: what is queued, sent or failed."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only this status.")
@click.option("--limit", default=50, show_default=True, type=int)
@json_option
@pass_ctx
def outbox_list(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """List outgoing email, newest first."""
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
            for m in latest(session, limit, status)
        ]
    emit_rows(
        as_json,
        rows,
        lambda r: (
            f"{r['id']}\t{r['status']}\t{r['kind']}\t{r['to']}\t{r['subject']}"
            + (f"\t(attempt {r['attempts']}: {r['last_error']})" if r["last_error"] else "")
        ),
        "no email",
    )


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_ctx
def outbox_retry(ctx: Context, ids: tuple[int, ...]) -> None:
    """Queue failed emails again (their incidents are marked retried)."""
    now = ctx.engine.clock.now()
    with ctx.transaction() as session:
        for outbox_id in ids:
            retry_email(session, outbox_id, "cli", now)
    click.echo(f"{len(ids)} email(s) queued again")


@click.group("incidents")
def incidents_group() -> None:
    """Timers and emails that kept failing."""


@incidents_group.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include retried incidents.")
@json_option
@pass_ctx
def incidents_list(ctx: Context, include_closed: bool, as_json: bool) -> None:
    """List incidents, newest first."""
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
    emit_rows(
        as_json,
        rows,
        lambda r: (
            f"{r['id']}\t{r['status']}\t{r['kind']}\t#{r['instance_id'] or '-'}\t{r['created_at'][:16]}\t{r['error']}"
        ),
        "no incidents",
    )


@incidents_group.command("retry")
@click.argument("incident_id", type=int)
@click.option("--as", "user", required=True, help="The admin retrying it.")
@pass_ctx
def incidents_retry(ctx: Context, incident_id: int, user: str) -> None:
    """Retry the timer or email of an incident (admins)."""
    with ctx.transaction() as session:
        permissions.check_retry_incident(get_user(session, user))
        incident = retry_incident(session, incident_id, user, ctx.engine.clock.now())
    click.echo(f"incident {incident.id} retried: the worker picks it up on its next round")


@click.command("mail-sink")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
@pass_ctx
def mail_sink(ctx: Context, host: str, port: int) -> None:
    """Development: keep every email sent to HOST:PORT for reading on /admin/mail (no mail server needed)."""
    folder = ctx.settings.mail_capture_dir
    try:
        controller = capture.serve(folder, host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Waypoint mail sink on {host}:{port}: emails kept in {folder}, shown to admins on /admin/mail")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
