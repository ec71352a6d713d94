"""Database commands: schema revision (`db upgrade`, `db status`), `audit verify`, `backup`, `restore`."""

from __future__ import annotations

import sys

import click

from cli import Context, Failure, pass_ctx
from engine import audit
from engine.backup import backup, restore
from engine.queries.tasks import all_instances


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to the latest revision."""
    before, after = ctx.db.upgrade()
    if before == after:
        click.echo(f"database already at revision {after} ({ctx.db.safe_url})")
    else:
        click.echo(f"database upgraded from {before or '(empty)'} to {after} ({ctx.db.safe_url})")


@db.command("status")
@pass_ctx
def db_status(ctx: Context) -> None:
    """Show the schema revision of the database and of the code."""
    current, head = ctx.db.schema_revisions()
    click.echo(
        f"database: {current or '(empty)'}\ncode:     {head}\n"
        + ("up to date" if current == head else "behind: run `waypoint db upgrade`")
    )


@click.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check every instance's hash chain; exit 1 on any break."""
    breaks = []
    with ctx.transaction() as session:
        instances = all_instances(session)
        for instance in instances:
            breaks += audit.verify(session, instance)
    for b in breaks:
        click.echo(f"#{b.instance_id} event {b.seq}: {b.problem}")
    click.echo(f"{len(instances)} instance(s) checked, {len(breaks)} break(s)")
    if breaks:
        sys.exit(1)


@click.command("backup")
@click.argument("target", type=click.Path())
@pass_ctx
def backup_command(ctx: Context, target: str) -> None:
    """Copy the SQLite database to TARGET while Waypoint runs (online backup)."""
    size = backup(ctx.db, target)
    click.echo(f"backup written to {target} ({size:,} bytes)")


@click.command("restore")
@click.argument("source", type=click.Path())
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def restore_command(ctx: Context, source: str, yes: bool) -> None:
    """Replace the SQLite database's content with the backup SOURCE (stop the server first)."""
    if not yes and not click.confirm(f"Replace everything in {ctx.db.safe_url} with {source}?"):
        raise Failure("nothing restored")
    size = restore(ctx.db, source)
    click.echo(f"restored {source} ({size:,} bytes) into {ctx.db.safe_url}")
