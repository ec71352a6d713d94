"""Process definition commands: `deploy`, `check`, `processes`, and `simulate` (a file's scenarios)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli import Context, emit, emit_rows, json_option, pass_ctx
from engine.definitions import parse_sources, read_sources
from engine.designer.simulate import SimulationResult, run_scenarios, scenario_path
from engine.errors import DatabaseUnavailable, DefinitionError, SchemaOutOfDate, finding_line
from engine.queries.tasks import list_processes


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--as", "user", help="Record this user as the deployer.")
@json_option
@pass_ctx
def deploy(ctx: Context, paths: tuple[str, ...], user: str | None, as_json: bool) -> None:
    """Deploy BPMN files or folders (their DMN and forms come along)."""
    with ctx.transaction() as session:
        results = ctx.engine.deploy(session, paths, deployed_by=user)
    rows = [{"key": r.key, "version": r.version, "created": r.created, "content_hash": r.content_hash} for r in results]

    def human() -> None:
        for r in rows:
            click.echo(f"{r['key']}\tversion {r['version']}\t{'deployed' if r['created'] else 'unchanged'}")

    emit(as_json, rows, human)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option
@pass_ctx
def check(ctx: Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Check files exactly as `deploy` would (exit 1 when deploy would refuse them; warnings do not)."""
    sources = read_sources(paths)
    try:
        with ctx.transaction() as session:
            findings = ctx.engine.check(sources, session)
    except (SchemaOutOfDate, DatabaseUnavailable):  # no database yet: the files alone, built-in roles
        findings = ctx.engine.check(sources)
    emit_rows(as_json, findings, finding_line, "no findings")
    if any(f.get("severity") != "warning" for f in findings):
        sys.exit(1)


@click.command()
@json_option
@pass_ctx
def processes(ctx: Context, as_json: bool) -> None:
    """List deployed processes (latest version of each key)."""
    with ctx.transaction() as session:
        rows = list_processes(session)
    emit_rows(
        as_json,
        rows,
        lambda r: f"{r['key']}\tv{r['version']}\t{r['running']} running\t{r['name']}",
        "no processes deployed",
    )


@click.command()
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
def simulate(ctx: Context, file: str, names: tuple[str, ...], scenario_file: str | None, as_json: bool) -> None:
    """Run a process's scenarios against FILE on a throwaway in-memory database (exit 1 on a failure)."""
    sources = read_sources([file])
    path = Path(file)
    keys = parse_sources({path.name: sources.files[path.name]}).executable_ids(path.name)
    if not keys:
        raise DefinitionError("no_executable_process", path=str(file))
    scenario_at = Path(scenario_file) if scenario_file else path.parent / scenario_path(keys[0])
    if not scenario_at.is_file():
        raise DefinitionError("no_scenario_file", path=str(scenario_at))
    text = scenario_at.read_text(encoding="utf-8")
    results = run_scenarios(sources, text, str(scenario_at), keys[0], names, ctx.engine)
    emit(as_json, [r.as_dict() for r in results], lambda: _print_results(results))
    if not all(r.ok for r in results):
        sys.exit(1)


def _print_results(results: list[SimulationResult]) -> None:
    for r in results:
        click.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.scenario}")
        click.echo("      path: " + " → ".join(p["name"] or p["element"] for p in r.path))
        click.echo(f"      status: {r.status}" + (f" ({r.outcome})" if r.outcome else ""))
        for problem in ([r.error] if r.error else []) + r.failures:
            click.echo(f"      {problem}")
