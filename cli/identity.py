"""`waypoint directory …` (the LDAP / Active Directory sync and the group → role mapping) and
`waypoint people deactivate|reactivate`."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from engine.identity import accounts, directory
from engine.people import lifecycle

from . import Context, json_option, pass_ctx

ADMIN = "cli"


@click.group("directory")
def directory_group() -> None:
    """People, managers and groups from LDAP or Active Directory (WAYPOINT_LDAP_*)."""


@directory_group.command("sync")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@json_option
@pass_ctx
def sync(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Read the directory and bring people, managers and roles in line; deactivate who left."""
    ctx.db.check_schema()
    report = directory.run(ctx.db, ctx.settings.directory, ctx.engine.clock.now(), ctx.mail_config, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({**asdict(report), "changes": report.changes}, indent=2))
        return
    verb = "would change" if dry_run else "changed"
    click.echo(f"{report.seen} people read; {report.changes} {verb}" + (" (dry run: nothing saved)" if dry_run else ""))
    for name in report.created:
        click.echo(f"  new: {name}")
    for name, fields in report.updated.items():
        click.echo(f"  updated: {name} ({', '.join(sorted(fields))})")
    for name, (before, after) in report.managers.items():
        click.echo(f"  manager: {name}: {before or '-'} -> {after or '-'}")
    for name, roles in report.granted.items():
        click.echo(f"  granted: {name}: {', '.join(roles)}")
    for name, roles in report.revoked.items():
        click.echo(f"  revoked: {name}: {', '.join(roles)}")
    for name in report.deactivated:
        click.echo(f"  deactivated: {name}")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")


@directory_group.command("groups")
@pass_ctx
def groups(ctx: Context) -> None:
    """List the group → role mapping."""
    with ctx.transaction() as s:
        for row in accounts.mappings(s):
            click.echo(f"{row.group_name}\t{row.role}")


@directory_group.command("map")
@click.argument("group")
@click.argument("role")
@pass_ctx
def map_group(ctx: Context, group: str, role: str) -> None:
    """Members of GROUP (a DN, a common name or a provider's group id) hold ROLE."""
    with ctx.transaction() as s:
        row = accounts.add_mapping(s, group, role, ADMIN, ctx.engine.clock.now())
    click.echo(f"mapped {row.group_name} -> {row.role}")


@directory_group.command("unmap")
@click.argument("group")
@click.argument("role")
@pass_ctx
def unmap_group(ctx: Context, group: str, role: str) -> None:
    """Drop a mapping (the role goes at each person's next sign-in or sync)."""
    with ctx.transaction() as s:
        accounts.remove_mapping(s, group, role, ADMIN, ctx.engine.clock.now())
    click.echo(f"unmapped {group} -> {role}")


@click.group("people")
def people_group() -> None:
    """A person's lifecycle: deactivate (they left) and reactivate."""


@people_group.command("deactivate")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the people audit).")
@pass_ctx
def deactivate(ctx: Context, username: str, reason: str) -> None:
    """Deactivate USERNAME: open tasks to their role's queue or manager, tokens end, the ITV office told."""
    with ctx.transaction() as s:
        done = lifecycle.deactivate(s, username, ADMIN, ctx.engine.clock.now(), ctx.mail_config, reason=reason)
    click.echo(f"deactivated {username}: {len(done.moved)} open task(s) moved, {done.tokens_revoked} token(s) revoked")


@people_group.command("reactivate")
@click.argument("username")
@pass_ctx
def reactivate(ctx: Context, username: str) -> None:
    """Let USERNAME sign in again."""
    with ctx.transaction() as s:
        lifecycle.reactivate(s, username, ADMIN, ctx.engine.clock.now())
    click.echo(f"reactivated {username}")
