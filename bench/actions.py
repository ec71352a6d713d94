"""Figures 1 and 2: the cost of completing a mid-flow task and of starting a request, next to SpiffWorkflow.

For each process and database, the same action goes through five paths, measured round-robin
(one of each in turn, so a noisy neighbour slows them alike):

* `engine`: `Engine.start` / `Engine.complete` in one `db.transaction()` (load, act, save, index,
  audit, commit);
* `test client API` / `test client web`: Flask's test client, REST API with a bearer token, or the
  web form with the session cookie and CSRF token of a signed-in user;
* `server API` / `server web`: the same requests to a real `waypoint serve` on a loopback port
  over keep-alive http.client connections.

Next to them, measured in the same loop on the same instance state, the references:

* `bare (stock)`, the denominator: SpiffWorkflow alone, as DESIGN.md defines the floor:
  `deserialize_json` of the stock serializer (the spec inside the document), complete the task,
  `do_engine_steps`, `serialize_json` (stock `PythonScriptEngine` with the same helper functions);
* `bare (spec-free)`: the same cycle through Waypoint's loader (`engine.serialization.load`/`dump`,
  spec from the cache) and Waypoint's restricted script engine: SpiffWorkflow as Waypoint runs it.

Start references: `BpmnWorkflow(spec)` + start data + `do_engine_steps` + serialize.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine import Database, Engine
from engine.demo.people import DEMO_PASSWORD
from engine.models import ProcessInstance
from engine.people.api_tokens import create_token
from engine.people.users import find_user
from engine.scripting import is_iso_literal
from engine.serialization import dump, load

from .common import Mode, bench_engine, log, summary
from .flows import PROCESSES, Flow, drive_to_mid, to_form
from .httpload import SECRET, InProcess, Server, WebSession, api_headers, sign_in

PATHS = ("engine", "test client API", "test client web", "server API", "server web")
HTTP_PATHS = PATHS[1:]
ENGINE_TARGET, HTTP_TARGET = 2.0, 3.0
LOCATION_ID = re.compile(r"/requests/(\d+)")


class Actors:
    """API tokens and signed-in web sessions per user, made on first use."""

    def __init__(self, db: Database, engine: Engine, tc: InProcess, srv: Any):
        self.db, self.engine, self.tc, self.srv = db, engine, tc, srv
        self.tokens: dict[str, str] = {}
        self.sessions: dict[tuple[str, str], WebSession] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            with self.db.transaction() as s:
                user = find_user(s, username)
                self.tokens[username] = create_token(s, user, "bench", now=self.engine.clock.now()).secret
        return self.tokens[username]

    def session(self, where: str, username: str) -> WebSession:
        if (where, username) not in self.sessions:
            client = self.tc if where == "tc" else self.srv
            self.sessions[(where, username)] = sign_in(client, username, DEMO_PASSWORD)
        return self.sessions[(where, username)]


class StockEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's plain eval/exec environment; bare ISO literals (`P5D`) read as strings, as Waypoint's
    processes write timers (the only thing the stock environment cannot evaluate)."""

    def evaluate(self, expression, context, external_context=None):  # type: ignore[no-untyped-def]
        if is_iso_literal(expression):
            return expression.strip()
        return super().evaluate(expression, context, external_context)


class Bare:
    """The SpiffWorkflow-only references for one process."""

    def __init__(self, engine: Engine, parsed: Any):
        self.engine, self.parsed = engine, parsed
        self.stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
        self.stock_engine = PythonScriptEngine(environment=StockEnvironment(dict(engine.helpers)))

    # complete -------------------------------------------------------------------------------------
    def prepare_complete(self, state: str, task_id: str, data: dict) -> None:
        # the references work on plain JSON: decrypting personal fields is part of Waypoint's cost
        wf = load(state, self.parsed, self.engine.script_engine, **_vault(self.engine))
        self.state, self.task_id, self.data = dump(wf), UUID(task_id), data
        try:
            self.stock_json: str | None = self.stock.serialize_json(wf)
        except Exception:  # noqa: BLE001 - see _stock_ms
            self.stock_json = None

    def complete_stock(self) -> int:
        if self.stock_json is None:
            raise ValueError("the stock serializer cannot serialize this process")
        wf = self.stock.deserialize_json(self.stock_json)
        wf.script_engine = self.stock_engine
        task = wf.get_task_from_id(self.task_id)
        task.data.update(self.data)
        task.run()
        wf.do_engine_steps()
        return len(self.stock.serialize_json(wf))

    def complete_specfree(self) -> int:
        wf = load(self.state, self.parsed, self.engine.script_engine)
        task = wf.get_task_from_id(self.task_id)
        task.data.update(self.data)
        task.run()
        wf.do_engine_steps()
        return len(dump(wf))

    # start ----------------------------------------------------------------------------------------
    def start_stock(self, initial: dict) -> int:
        wf = BpmnWorkflow(self.parsed.spec, self.parsed.subprocess_specs, script_engine=self.stock_engine)
        wf.get_next_task(state=TaskState.READY).data.update(initial)
        wf.do_engine_steps()
        return len(self.stock.serialize_json(wf))

    def start_specfree(self, initial: dict) -> int:
        wf = BpmnWorkflow(self.parsed.spec, self.parsed.subprocess_specs, script_engine=self.engine.script_engine)
        wf.get_next_task(state=TaskState.READY).data.update(initial)
        wf.do_engine_steps()
        return len(dump(wf))


def _vault(engine: Engine) -> dict[str, Any]:
    """The engine's personal-data vault as `load`'s keyword (older engines have none)."""
    vault = getattr(engine, "vault", None)
    return {"vault": vault} if vault is not None else {}


def _ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return (time.perf_counter() - t0) * 1000, value


def _stock_ms(fn: Callable[[], Any]) -> float | None:
    """The stock reference's time, or None where the stock serializer cannot serialize the process
    (Waypoint's own DMN runner, engine/dmn, is not one of SpiffWorkflow's task spec converters)."""
    try:
        return _ms(fn)[0]
    except Exception:  # noqa: BLE001 - the stock reference is information, not the denominator
        return None


class ActionBench:
    """Both figures for one database."""

    def __init__(self, kind: str, db: Database, engine: Engine, app: Any, server: Server, mode: Mode):
        self.kind, self.db, self.engine, self.mode = kind, db, engine, mode
        self.tc = InProcess(app)
        self.srv = server.client()
        self.actors = Actors(db, engine, self.tc, self.srv)
        self.errors: dict[str, str] = {}

    def client(self, path: str) -> Any:
        return self.tc if path.startswith("test client") else self.srv

    # one action through one path ------------------------------------------------------------------
    def start(self, path: str, flow: Flow) -> tuple[float, int]:
        if path == "engine":

            def act() -> int:
                with self.db.transaction() as s:
                    return self.engine.start(s, flow.key, flow.start_data, flow.starter).id

            return _ms(act)
        client = self.client(path)
        if path.endswith("API"):
            body = json.dumps({"process": flow.key, "data": flow.start_data}).encode()
            reply = client.request("POST", "/api/v1/instances", body, api_headers(self.actors.token(flow.starter)))
            if reply.status != 201:
                raise RuntimeError(f"{path} start {flow.key}: {reply.status} {reply.body[:300]!r}")
            return reply.ms, int(reply.json()["id"])
        web = self.actors.session("tc" if path.startswith("test") else "srv", flow.starter)
        reply = client.request(
            "POST", f"/requests/new/{flow.key}", web.form(to_form(flow.start_data)), web.headers(form=True)
        )
        match = LOCATION_ID.search(reply.headers.get("location", ""))
        if reply.status != 302 or match is None:
            raise RuntimeError(f"{path} start {flow.key}: {reply.status} {_problem(reply.body)}")
        return reply.ms, int(match.group(1))

    def complete(self, path: str, flow: Flow, task_id: str, user: str) -> float:
        data = flow.mid.data
        if path == "engine":

            def act() -> None:
                with self.db.transaction() as s:
                    self.engine.complete(s, task_id, user, data)

            return _ms(act)[0]
        client = self.client(path)
        if path.endswith("API"):
            body = json.dumps({"data": data}).encode()
            reply = client.request(
                "POST", f"/api/v1/tasks/{task_id}/complete", body, api_headers(self.actors.token(user))
            )
            if reply.status != 200:
                raise RuntimeError(f"{path} complete {flow.mid.element}: {reply.status} {reply.body[:300]!r}")
            return reply.ms
        web = self.actors.session("tc" if path.startswith("test") else "srv", user)
        reply = client.request("POST", f"/tasks/{task_id}", web.form(to_form(data)), web.headers(form=True))
        if reply.status != 302:
            raise RuntimeError(f"{path} complete {flow.mid.element}: {reply.status} {_problem(reply.body)}")
        return reply.ms

    # one process ----------------------------------------------------------------------------------
    def run(self, flow: Flow) -> dict[str, Any]:
        mode = self.mode
        total = mode.warmup + mode.runs
        paths = [p for p in PATHS if p not in self.errors]
        with self.db.reading() as s:
            from engine.versions import latest_definition

            parsed = self.engine.specs.get(s, latest_definition(s, flow.key))
            starter = find_user(s, flow.starter)
            initial = {
                **flow.start_data,
                "instance_id": 1,
                "process_key": flow.key,
                "requester": starter.username,
                "requester_name": starter.display_name,
            }
        bare = Bare(self.engine, parsed)
        starts: dict[str, list[float]] = {p: [] for p in [*paths, "bare (stock)", "bare (spec-free)"]}
        created: dict[str, list[int]] = {p: [] for p in paths}
        for i in range(max(total, mode.warmup + mode.bare_runs)):
            for path in paths if i < total else []:
                try:
                    ms, iid = self.start(path, flow)
                except Exception as exc:  # noqa: BLE001 - one broken path must not hide the others
                    self._fail(path, exc)
                    continue
                created[path].append(iid)
                if i >= mode.warmup:
                    starts[path].append(ms)
            stock_ms = _stock_ms(lambda: bare.start_stock(initial))
            free_ms, _ = _ms(lambda: bare.start_specfree(initial))
            if i >= mode.warmup and stock_ms is not None:
                starts["bare (stock)"].append(stock_ms)
            if i >= mode.warmup:
                starts["bare (spec-free)"].append(free_ms)
        # every started instance to the mid-flow task (not timed)
        mids: dict[str, list[tuple[str, str]]] = {}
        for path, ids in created.items():
            mids[path] = []
            for iid in ids:
                with self.db.transaction() as s:
                    mids[path].append(drive_to_mid(s, self.engine, flow, iid))
        reference = next(iter(mids.values()))[0]
        with self.db.reading() as s:
            row = s.get(ProcessInstance, created[next(iter(created))][0])
            state, state_bytes = row.state, len(row.state)
        bare.prepare_complete(state, reference[0], flow.mid.data)
        completes: dict[str, list[float]] = {p: [] for p in [*paths, "bare (stock)", "bare (spec-free)"]}
        for i in range(max(total, mode.warmup + mode.bare_runs)):
            for path in [p for p in paths if p not in self.errors] if i < total else []:
                if i >= len(mids.get(path, [])):
                    continue
                task_id, user = mids[path][i]
                try:
                    ms = self.complete(path, flow, task_id, user)
                except Exception as exc:  # noqa: BLE001
                    self._fail(path, exc)
                    continue
                if i >= mode.warmup:
                    completes[path].append(ms)
            stock_ms = _stock_ms(bare.complete_stock)
            free_ms, _ = _ms(bare.complete_specfree)
            if i >= mode.warmup and stock_ms is not None:
                completes["bare (stock)"].append(stock_ms)
            if i >= mode.warmup:
                completes["bare (spec-free)"].append(free_ms)
        return {
            "mid_task": flow.mid.element,
            "state_bytes": state_bytes,
            "stock_json_bytes": len(bare.stock_json) if bare.stock_json is not None else None,
            "start": _figures(starts),
            "complete": _figures(completes),
        }

    def _fail(self, path: str, exc: Exception) -> None:
        if path not in self.errors:
            self.errors[path] = str(exc)[:500]
            log(f"{self.kind} {path}: {exc}")


def _figures(times: dict[str, list[float]]) -> dict[str, Any]:
    """Median/p95 per path, each with its ratio to the spec-free bare cycle (issue 21's denominator:
    SpiffWorkflow through Waypoint's own loader) and its target; the stock ratio for information."""
    out = {path: summary(values) for path, values in times.items()}
    stock = out["bare (stock)"]["median"]
    free = out["bare (spec-free)"]["median"]
    for path in PATHS:
        figure = out.get(path)
        if not figure or figure["median"] is None or not free:
            continue
        target = ENGINE_TARGET if path == "engine" else HTTP_TARGET
        figure["ratio"] = round(figure["median"] / free, 2)
        figure["ratio_p95"] = round(figure["p95"] / free, 2)
        figure["ratio_stock"] = round(figure["median"] / stock, 2) if stock else None
        figure["target"] = target
        figure["pass"] = figure["ratio"] <= target
    return out


def _problem(body: bytes) -> str:
    text = body.decode(errors="replace")
    found = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]{3,200})<', text)
    return "; ".join(found[:3]) or text[:200]


def run(kind: str, url: str, flows: dict[str, Flow], mode: Mode) -> dict[str, Any]:
    """Figures 1 and 2 on one (fresh, prepared) database; the server's peak RSS too."""
    from web import create_app

    db = Database(url)
    engine = bench_engine()
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "SECRET_KEY": SECRET})
    server = Server(url, f"{kind}-actions")
    try:
        bench = ActionBench(kind, db, engine, app, server, mode)
        out: dict[str, Any] = {"processes": {}}
        for key in PROCESSES:
            t0 = time.perf_counter()
            out["processes"][key] = bench.run(flows[key])
            figures = out["processes"][key]
            log(
                f"{kind} {key}: complete engine {figures['complete']['engine']['median']} ms, "
                f"bare {figures['complete']['bare (stock)']['median']} ms; start engine "
                f"{figures['start']['engine']['median']} ms ({time.perf_counter() - t0:.0f} s)"
            )
        out["errors"] = bench.errors
    finally:
        out_rss = server.stop()
        db.dispose()
    out["server_peak_rss_mb"] = out_rss
    out["server"] = server.kind
    return out
