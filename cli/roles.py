"""Role commands: `roles list|add|rename|retire|members` and `users grant|revoke` (engine/people/roles.py)."""

from __future__ import annotations

import click

from cli import Context, emit_rows, json_option, pass_ctx
from engine.people import roles as engine_roles

#: who the command line acts as in the role audit when no --actor is given
CLI_ACTOR = "cli"
actor_option = click.option("--actor", default=CLI_ACTOR, show_default=True, help="Who is recorded as acting.")


@click.group("roles")
def roles() -> None:
    """Roles people hold and lanes stand for: list, add, rename, retire, members."""


@roles.command("list")
@click.option("--active", is_flag=True, help="Leave out retired roles.")
@json_option
@pass_ctx
def roles_list(ctx: Context, active: bool, as_json: bool) -> None:
    """Every role: key, English and French names, members, built-in or retired."""
    with ctx.transaction() as session:
        rows = [
            {
                "key": r.key,
                "name_en": r.name_en,
                "name_fr": r.name_fr,
                "members": r.members,
                "built_in": r.built_in,
                "retired": r.retired,
            }
            for r in engine_roles.roles(session, include_retired=not active)
        ]

    def line(r: dict) -> str:
        flags = " (retired)" if r["retired"] else " (built-in)" if r["built_in"] else ""
        return f"{r['key']:<22} {r['members']:>3} members  {r['name_en']} / {r['name_fr']}{flags}"

    emit_rows(as_json, rows, line, "no roles")


@roles.command("add")
@click.argument("name_en")
@click.option("--fr", "name_fr", help="French name (default: the English one).")
@click.option("--key", help="Key (default: from the English name, e.g. 'Finance Team' -> finance_team).")
@actor_option
@pass_ctx
def roles_add(ctx: Context, name_en: str, name_fr: str | None, key: str | None, actor: str) -> None:
    """Create a role."""
    with ctx.transaction() as session:
        role = engine_roles.create_role(session, name_en, name_fr, actor, key=key)
        click.echo(f"created role {role.key}: {role.name_en} / {role.name_fr}")


@roles.command("rename")
@click.argument("key")
@click.argument("name_en")
@click.option("--fr", "name_fr", help="French name (default: the English one).")
@actor_option
@pass_ctx
def roles_rename(ctx: Context, key: str, name_en: str, name_fr: str | None, actor: str) -> None:
    """Give a role new names; its key stays (lanes, grants and tasks keep naming it)."""
    with ctx.transaction() as session:
        role = engine_roles.rename(session, key, name_en, name_fr, actor)
        click.echo(f"role {role.key} is now: {role.name_en} / {role.name_fr}")


@roles.command("retire")
@click.argument("key")
@actor_option
@pass_ctx
def roles_retire(ctx: Context, key: str, actor: str) -> None:
    """Retire a role: no new grants or lanes; people keep it until revoked."""
    with ctx.transaction() as session:
        role = engine_roles.retire(session, key, actor)
        click.echo(f"role {role.key} retired")


@roles.command("members")
@click.argument("key")
@json_option
@pass_ctx
def roles_members(ctx: Context, key: str, as_json: bool) -> None:
    """The active people holding a role."""
    with ctx.transaction() as session:
        role = engine_roles.get_role(session, key)
        people = [{"username": u.username, "name": u.display_name} for u in engine_roles.members(session, role.key)]
    emit_rows(as_json, people, lambda p: f"{p['username']:<16} {p['name']}", f"nobody holds {role.key}")


@click.command("grant")
@click.argument("username")
@click.argument("role")
@actor_option
@pass_ctx
def users_grant(ctx: Context, username: str, role: str, actor: str) -> None:
    """Give a person a role (by key or name)."""
    with ctx.transaction() as session:
        done = engine_roles.grant(session, username, role, actor)
    key = engine_roles.role_key(role) or role
    click.echo(f"{username} {'now holds' if done else 'already held'} {key}")


@click.command("revoke")
@click.argument("username")
@click.argument("role")
@actor_option
@pass_ctx
def users_revoke(ctx: Context, username: str, role: str, actor: str) -> None:
    """Take a role from a person."""
    with ctx.transaction() as session:
        done = engine_roles.revoke(session, username, role, actor)
    key = engine_roles.role_key(role) or role
    click.echo(f"{username} {'no longer holds' if done else 'did not hold'} {key}")
