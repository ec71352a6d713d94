"""Hostile form and API input, property-based (hypothesis) over every form schema in bpmn/forms.

Three layers:
- the gate every submission passes (`validate_submission`, then the process's cross-field
  validators): for any JSON a client could send, either a ValidationFailed with messages, or
  data that satisfies the schema, declares only form fields, holds no NUL, and that the
  validators can check without crashing;
- the start forms through the web app: any posted values give 302 or 400 (never a 500), a
  started request stores only schema-valid values, and markup in any field comes back escaped;
- every task form the generic explorer reaches, submitted through the web app with markup in
  every free-text field (and once with garbage first): never a 500, stored values satisfy the
  form, and the markup is escaped on the task page, the request page, the inbox and in the
  HTML of every email written to the outbox.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

import workflows
from engine import Conflict, ValidationFailed
from engine.forms import validate_submission
from engine.models import OutboxMessage, ProcessInstance, TaskRecord
from engine.runtime import RESERVED_FIELDS
from tests.reliability.explore import Explorer, Strategy
from tests.reliability.harness import ROOT
from tests.web.conftest import Browser
from web import create_app
from web.render import _kind

FORMS = sorted((ROOT / "bpmn" / "forms").glob("*.schema.json"))
MARKUP = '<script>alert("wp")</script>"><img src=x onerror=alert(1)>'
PAYLOADS = [
    MARKUP,
    "</textarea><script>alert(2)</script>",
    "javascript:alert(3)",
    "{{ 7 * 7 }}{% raw %}",
    "${7*7} #{7*7}",
    "' OR 1=1 --",
    "a\x00b",
    "\u202eevil\u202c",
    "Ünïcødé 🛂 ✈",
    "x" * 5000,
    "",
    " ",
    "\r\n\t",
]
RAW_MARKUP = ("<script>alert", "<img src=x", "</textarea><script>")
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(PAYLOADS),
)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def field_values(node: dict) -> st.SearchStrategy:
    """Mostly well-shaped values for one schema node (valid choices, dates, pattern matches,
    numbers in range), mixed with hostile text and arbitrary JSON."""
    options = [o["const"] for o in node.get("oneOf", []) if "const" in o] or node.get("enum")
    kind = node.get("type")
    if options:
        good = st.sampled_from(options)
    elif kind == "object":
        props = node.get("properties", {})
        good = st.fixed_dictionaries({}, optional={k: field_values(v) for k, v in props.items()})
    elif kind == "array":
        good = st.lists(field_values(node.get("items", {})), min_size=0, max_size=3)
    elif kind == "boolean":
        good = st.booleans()
    elif kind in ("number", "integer"):
        low, high = node.get("minimum", -1e6), node.get("maximum", 1e7)
        good = st.integers(int(low), int(high)) if kind == "integer" else st.floats(low, high)
    elif node.get("format") == "date":
        good = st.dates().map(lambda d: d.isoformat())
    elif node.get("pattern") not in (None, "\\S"):
        good = st.from_regex(node["pattern"], fullmatch=True)
    else:
        good = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=node.get("maxLength", 60)))
    return st.one_of(good, good, good, any_json)


def submissions(schema: dict) -> st.SearchStrategy:
    props = schema.get("properties", {})
    declared = st.fixed_dictionaries({}, optional={k: field_values(v) for k, v in props.items()})
    extra = st.dictionaries(
        st.sampled_from([*RESERVED_FIELDS, "__class__", "status", "approved_by", "x\x00y"]), any_json, max_size=2
    )
    return st.tuples(declared, st.one_of(st.just({}), st.just({}), extra)).map(lambda t: {**t[0], **t[1]})


def nul_free(value: Any) -> bool:
    return "\x00" not in json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("form", FORMS, ids=[f.name.removesuffix(".schema.json") for f in FORMS])
def test_every_form_gate_accepts_only_valid_data(form: Path):
    schema = json.loads(form.read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    glue = workflows.registry()
    form_path = f"forms/{form.name}"
    declared = set(schema.get("properties", {})) - RESERVED_FIELDS
    outcomes = {"accepted": 0, "refused": 0}

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=HEALTH)
    @given(submissions(schema))
    def check(data: dict) -> None:
        try:
            clean = validate_submission(schema, data, reserved=RESERVED_FIELDS)
        except ValidationFailed as exc:
            assert str(exc) and all(isinstance(p, str) and isinstance(m, str) for p, m in exc.errors)
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        assert validator.is_valid(clean), list(validator.iter_errors(clean))[:1]
        assert set(clean) <= declared and nul_free(clean)
        errors = glue.validate_form(form_path, clean)  # a crash here would be a 500
        assert all(isinstance(p, str) and isinstance(m, str) for p, m in errors)

    check()
    assert outcomes["refused"] > 0


# --- the web app ----------------------------------------------------------------------------------
@pytest.fixture
def real_app(people, engine, tmp_path):
    with people.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
    return create_app(
        {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path)}
    )


def to_form(schema: dict | None, data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """JSON data → the fields a browser would post for the form (what web/render.py parses)."""
    pairs: list[tuple[str, str]] = []
    for key, node in (schema or {}).get("properties", {}).items():
        value, name = data.get(key), f"{prefix}{key}"
        if value is None:
            continue
        kind = _kind(node)
        if kind == "object" and isinstance(value, dict):
            pairs += to_form(node, value, f"{name}.")
        elif kind == "array" and isinstance(value, list):
            if node.get("items", {}).get("type") == "object":
                for i, row in enumerate(value):
                    pairs += to_form(node["items"], row if isinstance(row, dict) else {}, f"{name}.{i}.")
            else:
                pairs += [(name, str(v)) for v in value]
        elif kind == "checkbox":
            if value:
                pairs.append((name, "on"))
        else:
            pairs.append((name, str(value)))
    return pairs


def assert_escaped(text: str, where: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in text, f"unescaped markup in {where}: {raw}"


def assert_stored_values_valid(db, engine, instance_id: int, schema: dict, task_id: str | None = None) -> None:
    """The data a submission left in the workflow satisfies the form it came through."""
    with db.reading() as s:
        instance = s.get(ProcessInstance, instance_id)
        wf = engine.load_workflow(instance, engine.definition_for(s, instance))
    if task_id is None:
        data = wf.get_tasks()[0].data  # start data
        for t in wf.get_tasks():
            if getattr(t.task_spec, "bpmn_id", None) and t.task_spec.__class__.__name__ == "StartEvent":
                data = t.data
    else:
        from uuid import UUID

        data = wf.get_task_from_id(UUID(task_id)).data
    submitted = {k: data[k] for k in schema.get("properties", {}) if k in data}
    errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(submitted))
    assert not errors, (instance_id, task_id, errors[0].message)


def flat_form_strategy(schema: dict) -> st.SearchStrategy:
    """Posted fields: every field name of the form (nested ones dotted) with hostile or sane text."""
    names: list[str] = []

    def walk(node: dict, prefix: str) -> None:
        for key, child in node.get("properties", {}).items():
            kind = _kind(child)
            if kind == "object":
                walk(child, f"{prefix}{key}.")
            elif kind == "array" and child.get("items", {}).get("type") == "object":
                walk(child["items"], f"{prefix}{key}.0.")
            else:
                names.append(f"{prefix}{key}")

    walk(schema, "")
    text = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=40), st.sampled_from(["1", "2026-12-04", "on"]))
    return st.fixed_dictionaries({}, optional={n: text for n in names + ["requester", "csrf_token_x"]})


def test_start_forms_through_the_web(real_app):
    app = real_app
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]

    browser = Browser(app).login("lokafor")  # liaison officer: may start every process
    with db.reading() as s:
        from engine.people.users import find_user

        entries = engine.start_catalogue(s, find_user(s, "lokafor"))
    assert len(entries) >= 3
    seen = {"started": 0, "refused": 0}

    def poster(key: str, schema: dict):  # type: ignore[no-untyped-def]
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=HEALTH)
        @given(flat_form_strategy(schema))
        def post(fields: dict) -> None:
            response = browser.post(f"/requests/new/{key}", fields)
            assert response.status_code in (302, 400), (response.status_code, fields)
            assert_escaped(response.text, f"start form {key}")
            if response.status_code == 302:
                seen["started"] += 1
                iid = int(response.headers["Location"].rsplit("/", 1)[1])
                assert_stored_values_valid(db, engine, iid, schema)
                assert_escaped(browser.get(f"/requests/{iid}").text, "request page")
            else:
                seen["refused"] += 1

        return post

    for entry in entries:
        poster(entry["key"], entry["form"])()
    assert seen["refused"] > 0


def walk_through_web(app, clock):
    """Walk every process through the web app, markup in every free-text field."""
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    browsers: dict[str, Browser] = {}
    log = {"submitted": 0, "garbage_refused": 0, "forms": set()}

    def browser(username: str) -> Browser:
        if username not in browsers:
            browsers[username] = Browser(app).login(username)
        return browsers[username]

    def submit(task_id: str, username: str, data: dict, schema: dict | None) -> None:
        b = browser(username)
        page = b.get(f"/tasks/{task_id}")
        assert page.status_code == 200
        assert_escaped(page.text, f"task page {task_id}")
        with db.reading() as s:
            row = s.get(TaskRecord, task_id)
            iid, form = row.instance_id, row.form
        if form not in log["forms"]:  # once per form: garbage first (over the size cap), refused
            garbage = [(name, MARKUP + "x" * 300_000) for name, _ in to_form(schema, data)] + [("requester", "m")]
            refused = b.client.post(f"/tasks/{task_id}", data=MultiDict([*garbage, ("csrf_token", "test-token")]))
            assert refused.status_code == 400, refused.status_code
            assert_escaped(refused.text, f"refused form {form}")
            assert MARKUP.replace("<", "&lt;")[:10] in refused.text or "&lt;script&gt;" in refused.text
            log["garbage_refused"] += 1
        fields = to_form(schema, data) + [("csrf_token", "test-token")]
        response = b.client.post(f"/tasks/{task_id}", data=MultiDict(fields))
        if response.status_code == 409:
            raise Conflict("request_changed")
        assert response.status_code in (302, 400), response.status_code
        assert_escaped(response.text, f"task form {form}")
        if response.status_code == 400:
            raise ValidationFailed("form_has_errors")  # refused by the form or its rules
        log["submitted"] += 1
        log["forms"].add(form)
        assert_stored_values_valid(db, engine, iid, schema or {}, task_id)

    explorer = Explorer(db, engine, clock, lambda *a: None, submit=submit)
    instances = []
    for key, starter in explorer.startable():
        for strategy in (Strategy(0, payload=MARKUP), Strategy(0, risky=True, payload=MARKUP)):
            instances.append(explorer.walk(key, starter, strategy, max_steps=25))
    return app, db, browser, instances, log


def sqlite_app(sqlite_db, engine, clock, tmp_path):
    from engine.demo.people import seed_demo_users

    with sqlite_db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
        engine.deploy(s, [ROOT / "bpmn"])
    return create_app(
        {"WAYPOINT_DB": sqlite_db, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path)}
    )


def test_task_forms_through_the_web_escape_markup_everywhere(sqlite_db, engine, clock, tmp_path):
    """Escaping does not depend on the database: the default run walks on SQLite."""
    check_walk(walk_through_web(sqlite_app(sqlite_db, engine, clock, tmp_path), clock))


@pytest.mark.stress
def test_stress_task_forms_through_the_web_on_both_databases(real_app, clock):
    check_walk(walk_through_web(real_app, clock))


def check_walk(walked) -> None:
    app, db, browser, instances, log = walked
    assert log["submitted"] >= 20 and len(log["forms"]) >= 12, log
    with db.reading() as s:
        starters = {iid: s.get(ProcessInstance, iid).started_by.username for iid in instances}
        holders = {
            (t.assignee or t.claimed_by).username
            for t in s.scalars(select(TaskRecord).where(TaskRecord.status == "ready"))
            if t.assignee or t.claimed_by
        }
        emails = list(s.scalars(select(OutboxMessage)))
    shown = 0
    for iid, starter in starters.items():
        for who in (starter, "cgagnon"):
            page = browser(who).get(f"/requests/{iid}")
            assert page.status_code == 200
            assert_escaped(page.text, f"request page #{iid} for {who}")
            shown += "&lt;script&gt;" in page.text
    assert shown > 0  # the markup is there to see, escaped
    for who in holders | {"cgagnon"}:
        for tab in ("mine", "queue", "started"):
            assert_escaped(browser(who).get(f"/inbox?tab={tab}").text, f"inbox {tab} of {who}")
    assert emails, "no email was written: the escaping check of emails would be empty"
    for mail in emails:
        assert_escaped(mail.body_html or "", f"email {mail.kind} to {mail.recipient}")
        assert re.search(r"<script|onerror=", mail.subject) is None or mail.body_html is not None


def test_nul_anywhere_in_a_request_is_a_400(real_app):
    """PostgreSQL cannot store NUL: every way in refuses it before the database sees it."""
    browser = Browser(real_app).login("jdoe")
    assert browser.get("/tasks/abc%00def").status_code == 400
    assert browser.get("/inbox?q=a%00b").status_code == 400
    assert browser.post("/requests/new/passport_visa", {"traveller_name": "a\x00b"}).status_code == 400
    anonymous = real_app.test_client()
    anonymous.get("/login")
    assert anonymous.post("/login", data={"username": "a\x00", "password": "x"}).status_code == 400
