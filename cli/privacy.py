"""Personal data commands: `privacy` new-key, rotate, purge, access-log, export."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli import Context, emit, emit_rows, json_option, pass_ctx
from engine.attachments import AttachmentStore
from engine.people.users import get_user
from engine.permissions import check_subject_access
from engine.privacy.records import access_log, retention_due, rotate_keys, run_retention, subject_search
from engine.privacy.vault import Keyring


@click.group()
def privacy() -> None:
    """Personal data: keys, access log, retention, subject access."""


@privacy.command("new-key")
@click.option("--kid", default="k1", show_default=True, help="Key id stored with each encrypted value.")
@click.option("--write", "path", type=click.Path(), help="Write it to this file (refused if it exists).")
def privacy_new_key(kid: str, path: str | None) -> None:
    """Print (or write) a new AES-256 data key as `kid:base64key` for WAYPOINT_DATA_KEY."""
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
def privacy_rotate(ctx: Context) -> None:
    """Re-encrypt stored personal data with the first key of WAYPOINT_DATA_KEY."""
    ctx.db.check_schema()
    count = rotate_keys(ctx.db, ctx.engine)
    files = AttachmentStore(ctx.settings.attachments_dir, ctx.engine.vault).reseal_all()
    key = ctx.engine.vault.keyring.current
    click.echo(f"{count} request(s) and {files} attached file(s) re-encrypted with key '{key}'")


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what is past its retention period.")
@json_option
@pass_ctx
def privacy_purge(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Remove personal data of closed requests past their process's retention period."""
    with ctx.transaction() as session:
        due = retention_due(session, ctx.engine, ctx.engine.clock.now())
    if not dry_run:
        run_retention(ctx.db, ctx.engine, actor="cli")
    rows = [{**d, "ended_at": d["ended_at"].isoformat(), "expired_at": d["expired_at"].isoformat()} for d in due]

    def human() -> None:
        for r in rows:
            click.echo(
                f"#{r['instance_id']}\t{r['process_key']}\tended {r['ended_at'][:10]}\tretention {r['retention']}"
            )
        click.echo(f"{len(rows)} request(s) {'would be ' if dry_run else ''}purged")

    emit(as_json, {"purged": not dry_run, "requests": rows}, human)


@privacy.command("access-log")
@click.option("--user", help="Views by this person.")
@click.option("--instance", "instance_id", type=int, help="Views of this request.")
@json_option
@pass_ctx
def privacy_access_log(ctx: Context, user: str | None, instance_id: int | None, as_json: bool) -> None:
    """Who saw personal data in clear, when, on which request, and why."""
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
    emit_rows(
        as_json,
        rows,
        lambda r: f"{r['at'][:19]}\t{r['user']}\t#{r['instance_id']}\t{r['reason']}",
        "no views recorded",
    )


@privacy.command("export")
@click.argument("person")
@click.option("--as", "actor", required=True, help="The admin searching (recorded with the search).")
@click.option("--reason", required=True, help="Why (recorded with the search).")
@pass_ctx
def privacy_export(ctx: Context, person: str, actor: str, reason: str) -> None:
    """Everything held about PERSON (a username or a name), as JSON; the search is recorded like
    one on /admin/subject-access."""
    with ctx.transaction() as session:
        admin = get_user(session, actor)
        check_subject_access(admin)
        export = subject_search(session, ctx.engine, person, admin, reason, "json")
        click.echo(json.dumps(export, indent=2, default=str, ensure_ascii=False))
