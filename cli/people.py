"""People commands: `users` (add, digest), `seed-demo`, `demo-data`, API `tokens` and `service-accounts`."""

from __future__ import annotations

import click

from cli import Context, emit, emit_rows, json_option, pass_ctx
from cli.roles import users_grant, users_revoke
from engine.demo.history import generate
from engine.demo.people import DEMO_PASSWORD, seed_demo_users
from engine.people.api_tokens import create_token, revoke, token_view, tokens_of
from engine.people.service_accounts import account_view, add_service_account, list_service_accounts
from engine.people.users import add_user, get_user


@click.group()
def users() -> None:
    """Manage users and roles."""


@users.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="Repeatable. A role's key or name (`waypoint roles list`).")
@click.option("--name", "display_name", help="Display name.")
@click.option("--email")
@click.option("--manager", help="Username of the user's manager.")
@click.option("--password", help="Password (prompted if --prompt-password).")
@click.option("--language", default="en", type=click.Choice(["en", "fr"]))
@pass_ctx
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
            actor="cli",
        )
        click.echo(f"{user.username}\t{', '.join(sorted(user.roles))}")


users.add_command(users_grant)
users.add_command(users_revoke)


@users.command("digest")
@click.argument("username")
@click.option("--off", "opt_out", flag_value=True, help="No daily digest for this user.")
@click.option("--on", "opt_out", flag_value=False, help="Daily digest again.")
@pass_ctx
def users_digest(ctx: Context, username: str, opt_out: bool | None) -> None:
    """Turn a user's daily digest email on or off (shows the setting without --on/--off)."""
    with ctx.transaction() as session:
        user = get_user(session, username)
        if opt_out is not None:
            user.digest_opt_out = opt_out
        state = "off" if user.digest_opt_out else "on"
    click.echo(f"daily digest for {username}: {state}")


@click.command("seed-demo")
@pass_ctx
def seed_demo(ctx: Context) -> None:
    """Create the demo users (org chart covering every role) and print them."""
    with ctx.transaction() as session:
        rows = seed_demo_users(session, ctx.engine.clock.now())
    click.echo(f"Demo users (password for all: {DEMO_PASSWORD}; pages and emails in each one's language):")
    for username, name, roles, manager, language in rows:
        spoken = "français" if language == "fr" else "English"
        click.echo(f"  {username:<10} {name:<16} {spoken:<9} {', '.join(roles):<45} manager: {manager or '-'}")


@click.command("demo-data")
@click.option("--requests", "count", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--days", default=180, show_default=True, type=click.IntRange(1, 3650), help="History length.")
@click.option("--seed", default=42, show_default=True, type=int)
@pass_ctx
def demo_data(ctx: Context, count: int, days: int, seed: int) -> None:
    """Create realistic requests in every state over the past DAYS (for demos and benchmarks)."""
    ctx.db.check_schema()
    outcome = generate(ctx.db, ctx.engine, count, now=ctx.engine.clock.now(), days=days, seed=seed)
    click.echo(f"{count} requests: " + ", ".join(f"{n} {status}" for status, n in sorted(outcome.items())))


@click.group("tokens")
def tokens_group() -> None:
    """API tokens (bearer tokens for /api/v1/)."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
@click.option("--expires-days", type=int, help="Expire after this many days (default: never).")
@json_option
@pass_ctx
def tokens_create(ctx: Context, username: str, name: str, expires_days: int | None, as_json: bool) -> None:
    """Create an API token for USERNAME and print it (shown this once only)."""
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
def tokens_list(ctx: Context, username: str | None, as_json: bool) -> None:
    """List API tokens (never their text)."""
    now = ctx.engine.clock.now()
    with ctx.transaction() as session:
        owner = get_user(session, username) if username else None
        rows = [token_view(t, now) for t in tokens_of(session, owner)]
    emit_rows(
        as_json,
        rows,
        lambda r: (
            f"{r['id']}\t{r['user']}\t{r['prefix']}...\t{r['name']}\t"
            + ("active" if r["active"] else "revoked" if r["revoked_at"] else "expired")
        ),
        "no tokens",
    )


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def tokens_revoke(ctx: Context, token_id: int) -> None:
    """Revoke an API token by id (see `waypoint tokens list`)."""
    with ctx.transaction() as session:
        token = revoke(session, token_id, None, ctx.engine.clock.now())
        owner = token.user.username
    click.echo(f"token {token_id} of {owner} revoked")


@click.group("service-accounts")
def service_accounts_group() -> None:
    """Accounts for other systems: API tokens only, with just the roles and grants they need."""


@service_accounts_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="Repeatable. A role's key or name (`waypoint roles list`).")
@click.option("--message", "messages", multiple=True, help="Repeatable. A BPMN message name it may deliver.")
@click.option("--start-on-behalf", is_flag=True, help="May start requests on behalf of people.")
@click.option("--name", "display_name", help="Display name.")
@click.option("--description", default="", help="What the system is.")
@pass_ctx
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
def service_accounts_list(ctx: Context, as_json: bool) -> None:
    """List service accounts with their roles and grants."""
    with ctx.transaction() as session:
        rows = [
            {"username": a.user.username, "roles": sorted(a.user.roles), **(account_view(a) or {})}
            for a in list_service_accounts(session)
        ]
    emit_rows(
        as_json,
        rows,
        lambda r: f"{r['username']}\t{', '.join(r['roles']) or '-'}\t{', '.join(r['messages']) or '-'}",
        "no service accounts",
    )
