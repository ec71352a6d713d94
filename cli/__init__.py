"""The `waypoint` command line: for people (readable output) and scripts (`--json`).

Every data command runs in one transaction; any expected failure prints `error: ...` on
stderr and exits with status 1 (2 for bad usage), never a bare traceback. The commands live
in one module per thing they act on (database, processes, tasks, people, privacy, operations);
`COMMANDS` names each one's module, loaded when the command runs or help lists it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

import workflows
from engine.config import Settings
from engine.db import Database
from engine.errors import WaypointError
from engine.mail.compose import MailConfig
from engine.runtime import Engine

#: Every top-level command and the module:attribute that defines it.
COMMANDS = {
    "db": "cli.db:db",
    "audit": "cli.db:audit_group",
    "backup": "cli.db:backup_command",
    "restore": "cli.db:restore_command",
    "deploy": "cli.processes:deploy",
    "check": "cli.processes:check",
    "processes": "cli.processes:processes",
    "simulate": "cli.processes:simulate",
    "start": "cli.tasks:start",
    "tasks": "cli.tasks:tasks",
    "complete": "cli.tasks:complete",
    "claim": "cli.tasks:claim",
    "release": "cli.tasks:release",
    "message": "cli.tasks:message",
    "signal": "cli.tasks:signal",
    "raise": "cli.tasks:raise_event",
    "cancel": "cli.tasks:cancel",
    "show": "cli.tasks:show",
    "timers": "cli.tasks:timers",
    "users": "cli.people:users",
    "roles": "cli.roles:roles",
    "seed-demo": "cli.people:seed_demo",
    "demo-data": "cli.people:demo_data",
    "tokens": "cli.people:tokens_group",
    "service-accounts": "cli.people:service_accounts_group",
    "privacy": "cli.privacy:privacy",
    "directory": "cli.identity:directory_group",
    "people": "cli.identity:people_group",
    "serve": "cli.ops:serve",
    "worker": "cli.ops:worker",
    "mail-in": "cli.ops:mail_in",
    "mail-sink": "cli.ops:mail_sink",
    "outbox": "cli.ops:outbox_group",
    "incidents": "cli.ops:incidents_group",
}


def build_engine(settings: Settings) -> Engine:
    """The one engine of a CLI invocation, with the `workflows` glue."""
    return Engine.from_settings(settings, workflows.registry())


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
            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def mail_config(self) -> MailConfig:
        """The mail settings of this invocation's engine (the worker and mail-in use them)."""
        return self.engine.mail.config

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.db.check_schema()
        with self.db.transaction() as session:
            yield session


class Failure(click.ClickException):
    """An expected failure: `error: ...` on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class WaypointGroup(click.Group):
    """The main group: loads commands from `COMMANDS` and turns engine errors into `Failure`s."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WaypointError as exc:
            raise Failure(str(exc)) from exc


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
    """Like `parse_json`, but the JSON must be an object."""
    data = parse_json(value, what)
    if data is not None and not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    """Print `data` as JSON, or call `human` to print it for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human()


def emit_rows(as_json: bool, rows: list[dict], line: Callable[[dict], str], empty: str) -> None:
    """Print `rows` as JSON, or one `line` each (`empty` when there are none)."""
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    elif rows:
        for row in rows:
            click.echo(line(row))
    else:
        click.echo(empty)


pass_ctx = click.make_pass_decorator(Context, ensure=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=WaypointGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Waypoint: approvals for international travel and visits."""
