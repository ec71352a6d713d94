"""Authorization matrix: every route of the app × every kind of person gives the expected answer.

Routes are enumerated from `app.url_map`: a route without an entry in MATRIX fails the test, so a
new page cannot ship without someone deciding who may use it. People: anonymous, the requester
(on their own request: no self-approval), the approver the task is assigned to, someone of
another role, the ITV coordinator (oversight: sees every request, approves nothing of others),
an admin and a process designer. Ids of requests a person may not see give 404, never a hint.
Also here: a POST without its CSRF token is refused (400) on every session-authenticated POST
route, the session cookie's flags, and the sign-in rate limit per address.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from io import BytesIO

import pytest
from flask import Flask
from sqlalchemy import select

from engine.models import Attachment, ProcessInstance, TaskRecord
from engine.people.users import add_user
from tests.conftest import FIXTURES
from tests.web.conftest import Browser
from web import create_app

ACTORS = {
    "anonymous": None,
    "requester": "jdoe",
    "approver": "msmith",
    "other": "fchan",
    "coordinator": "cgagnon",
    "admin": "admin",
    "designer": "ddesigner",
}
VIEWERS = {"requester", "approver", "coordinator", "admin"}  # may see request A
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# --- expectations -------------------------------------------------------------------------------
Expect = dict[str, int]


def signed_in(code: int, **overrides: int) -> Expect:
    """`code` for everyone signed in; anonymous is sent to sign in (GET) or refused (POST, no CSRF)."""
    return {actor: overrides.get(actor, code) for actor in ACTORS if actor != "anonymous"}


def viewers(ok: int, **overrides: int) -> Expect:
    """`ok` for people who may see request A, 404 for the rest (no hint that it exists)."""
    return signed_in(404, **{**{a: ok for a in VIEWERS}, **overrides})


def roles(ok: int, allowed: set[str], **overrides: int) -> Expect:
    return signed_in(403, **{**{a: ok for a in allowed}, **overrides})


def everyone(code: int) -> Expect:
    """The same answer for everyone, anonymous included (public pages, token-authenticated routes)."""
    return {actor: code for actor in ACTORS}


ADMIN = {"admin"}
DESIGNERS = {"admin", "designer"}
#: "let in": any answer but 401/403 and 5xx (pages still being built, whose exact reply to a
#: nonexistent draft or an empty form is theirs to choose; who may reach them is not)
LET_IN = 0

#: (endpoint, method) → expected status per actor (anonymous: see `anonymous_answer` unless given).
MATRIX: dict[tuple[str, str], Expect] = {
    ("home", "GET"): everyone(302),  # to the inbox (which sends anonymous on to sign in)
    ("ops.healthz", "GET"): everyone(200),
    ("ops.metrics", "GET"): everyone(200),  # aggregate counts only; restrict at the proxy in production
    ("static", "GET"): everyone(200),
    ("vendor", "GET"): everyone(200),
    ("auth.login", "GET"): everyone(200),
    ("auth.login", "POST"): signed_in(401),  # wrong password for everyone
    ("auth.logout", "POST"): signed_in(302),
    ("auth.set_language", "POST"): signed_in(302),
    ("inbox.index", "GET"): signed_in(200),
    ("inbox.bulk", "POST"): signed_in(200),  # per-task results; the task itself only for its assignee
    ("inbox.task", "GET"): viewers(200),
    ("inbox.submit", "POST"): viewers(403, approver=302),  # the requester: no self-approval
    ("inbox.claim", "POST"): viewers(302),  # refusals come back as a message on the page
    ("inbox.release", "POST"): viewers(302),
    ("requests.new", "GET"): signed_in(200),
    ("requests.start", "GET"): signed_in(200),
    ("requests.start", "POST"): signed_in(400),  # empty form
    ("requests.detail", "GET"): viewers(200),
    ("requests.diagram", "GET"): viewers(200),
    ("requests.cancel", "POST"): viewers(302),
    ("requests.record", "POST"): viewers(302),  # no such wait on request A: a message on its page
    ("requests.route", "POST"): signed_in(200),  # who would approve a start form as it stands (stores nothing)
    ("task_events.raise_event", "POST"): viewers(302),  # no such event on the task: back to its page
    ("register.index", "GET"): signed_in(200),  # the requests each person may see
    ("register.export", "GET"): signed_in(200),
    ("dev_mail.mail", "GET"): roles(200, ADMIN),  # development only (404 in production)
    ("requests.upload", "POST"): viewers(302),
    ("requests.download", "GET"): viewers(200),
    # personal data in clear: the requester's own, and roles that need it (not the supervisor, not admins)
    ("requests.reveal", "POST"): viewers(200, approver=403, admin=403),
    ("inbox.reveal", "POST"): viewers(200, approver=403, admin=403),
    ("admin.users", "GET"): roles(200, ADMIN),
    ("admin.access_log", "GET"): roles(200, ADMIN),
    ("admin.subject_access", "GET"): roles(200, ADMIN),
    ("admin.subject_search", "POST"): roles(400, ADMIN),  # no person, no reason: refused, and nothing searched
    ("admin.retention", "GET"): roles(200, ADMIN),
    ("admin.retention", "POST"): roles(302, ADMIN),
    ("admin.outbox", "GET"): roles(200, ADMIN),
    # people and the group → role mapping (the person "nobody" does not exist: 404, and POSTs flash why)
    ("people_admin.index", "GET"): roles(200, ADMIN),
    ("people_admin.person", "GET"): roles(404, ADMIN),
    ("people_admin.change_role", "POST"): roles(302, ADMIN),
    ("people_admin.change_manager", "POST"): roles(302, ADMIN),
    ("people_admin.change_language", "POST"): roles(302, ADMIN),
    ("people_admin.deactivate", "POST"): roles(302, ADMIN),
    ("people_admin.reactivate", "POST"): roles(302, ADMIN),
    ("people_admin.groups", "GET"): roles(200, ADMIN),
    ("people_admin.groups", "POST"): roles(302, ADMIN),
    ("roles.index", "GET"): roles(200, DESIGNERS),
    ("roles.create", "POST"): roles(302, DESIGNERS),  # an empty name: refused with a message
    ("roles.detail", "GET"): roles(404, DESIGNERS),  # no role has the key used here
    ("roles.rename", "POST"): roles(302, DESIGNERS),
    ("roles.retire", "POST"): roles(302, ADMIN),
    ("roles.grant", "POST"): roles(302, ADMIN),
    ("roles.revoke", "POST"): roles(302, ADMIN),
    # single sign-on: not configured in this app, so there is no such page; the provider's sign-out is skipped
    ("login_oidc.start", "GET"): everyone(404),
    ("login_oidc.callback", "GET"): everyone(404),
    ("login_oidc.provider_logout", "GET"): everyone(302),
    ("email_actions.action", "GET"): everyone(404),  # a forged token
    ("email_actions.action", "POST"): everyone(404),
    # reports (oversight roles)
    ("reports.dashboard", "GET"): roles(200, {"coordinator", "admin"}),
    ("reports.export", "GET"): roles(200, {"coordinator", "admin"}),
    # out of office and reassignment (rights checked by the engine; refusals come back as messages)
    ("delegation.out_of_office", "GET"): signed_in(200),
    ("delegation.out_of_office", "POST"): signed_in(400),  # empty form: no delegate chosen
    ("delegation.end", "POST"): signed_in(302),  # no such delegation: a message
    ("delegation.reassign", "POST"): signed_in(302),
    # API tokens (signed-in pages) and service accounts (admins)
    ("api_ui.tokens", "GET"): signed_in(200),
    ("api_ui.create", "POST"): signed_in(200),
    ("api_ui.revoke_token", "POST"): signed_in(LET_IN),  # no such token
    ("api_ui.service_accounts", "GET"): roles(200, ADMIN),
    ("api_ui.add_account", "POST"): roles(LET_IN, ADMIN),  # empty form
    ("api_ui.create_service_token", "POST"): roles(LET_IN, ADMIN),  # no such account
    # process designer
    ("designer.library", "GET"): roles(200, DESIGNERS),
    ("designer.download_version", "GET"): roles(200, DESIGNERS),
    ("designer.version_file", "GET"): roles(200, DESIGNERS),
    ("designer.version_diff", "GET"): roles(200, DESIGNERS),
    ("designer.new_draft", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.migrate_plan", "GET"): roles(200, DESIGNERS),
    ("designer.migrate_apply", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.workspace", "GET"): roles(LET_IN, DESIGNERS),
    ("designer.download_draft", "GET"): roles(LET_IN, DESIGNERS),
    ("designer.check", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.deploy", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.draft_diff", "GET"): roles(LET_IN, DESIGNERS),
    ("designer.discard", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.delete_file", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.draft_file", "GET"): roles(LET_IN, DESIGNERS),
    ("designer.save_file", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.new_form", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.preview", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.simulate", "POST"): roles(LET_IN, DESIGNERS),
    ("designer.upload", "POST"): roles(LET_IN, DESIGNERS),
}
# The JSON API authenticates by bearer token only: a session cookie opens nothing there.
API_PUBLIC = {"api.docs", "api.openapi"}


def expected_for(endpoint: str, method: str) -> Expect | None:
    if endpoint.startswith("api."):
        return everyone(200 if endpoint in API_PUBLIC else 404 if endpoint == "api.unknown" else 401)
    return MATRIX.get((endpoint, method))


def anonymous_answer(method: str, status: int, location: str) -> bool:
    """Anonymous: GET is sent to the sign-in page; POST is refused for want of a CSRF token."""
    if method == "GET":
        return status == 302 and location.startswith("/login")
    return status == 400


# --- the world the matrix runs in -----------------------------------------------------------------
@dataclass
class World:
    app: Flask
    db: object
    engine: object
    instance_id: int  # request A: jdoe's, its review assigned to msmith
    task_id: str
    attachment_id: int

    def fresh(self) -> tuple[int, str]:
        """Another request like A, for a cell whose action changes it."""
        with self.db.transaction() as s:
            iid = self.engine.start(s, "small_approval", {"title": "Matrix", "amount": 5}, "jdoe").id
        with self.db.reading() as s:
            [task_id] = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == iid))
        return iid, task_id


def make_world(people, engine, tmp_path) -> World:
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    app = create_app(
        {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path)}
    )
    w = World(app, people, engine, 0, "", 0)
    w.instance_id, w.task_id = w.fresh()
    with people.transaction() as s:
        instance = s.get(ProcessInstance, w.instance_id)
        jdoe = instance.started_by
        app.extensions["waypoint.attachments"].add(s, instance, jdoe, "a.png", PNG, engine.clock.now())
    with people.reading() as s:
        w.attachment_id = s.scalars(select(Attachment.id)).one()
    return w


@pytest.fixture
def world(people, engine, tmp_path) -> World:
    return make_world(people, engine, tmp_path)


@pytest.fixture
def sqlite_world(sqlite_db, engine, clock, tmp_path) -> World:
    from engine.demo.people import seed_demo_users

    with sqlite_db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
    return make_world(sqlite_db, engine, tmp_path)


STATEFUL = {"inbox.submit", "inbox.claim", "inbox.release", "requests.cancel", "inbox.bulk"}


def url_and_data(w: World, endpoint: str, method: str, arguments: set[str]) -> tuple[str, dict]:
    iid, task_id = w.fresh() if endpoint in STATEFUL else (w.instance_id, w.task_id)
    if endpoint == "inbox.release":  # something to release: the assignee holds it
        with w.db.transaction() as s:
            w.engine.claim(s, task_id, "msmith")
    values = {
        "task_id": task_id,
        "instance_id": iid,
        "attachment_id": w.attachment_id,
        "key": "small_approval",
        "token": "forged.token.value",
        "filename": "bpmn-js/package.json" if endpoint == "vendor" else "app.css",
        "draft_id": 999,
        "delegation_id": 999,
        "version": 1,
        "path": "small_approval.bpmn",
        "token_id": 999,
        "username": "nobody",
        "rest": "nowhere",
        "name": "instances",
        "attachment_id_api": 1,
        "wait_id": 999,
    }
    from flask import url_for

    with w.app.test_request_context():
        url = url_for(endpoint, **{a: values[a] for a in arguments})
    data: dict = {
        "inbox.submit": {"decision": "approve"},
        "inbox.bulk": {"task_ids": [task_id]},
        "auth.login": {"username": f"ghost-{uuid.uuid4().hex[:8]}", "password": "wrong"},
        "auth.set_language": {"lang": "fr"},
        "requests.upload": {"file": (BytesIO(PNG), "scan.png")},
        "api_ui.create": {"name": "matrix"},
    }.get(endpoint, {})
    return url, data


def static_file(app: Flask) -> str | None:
    from pathlib import Path

    folder = Path(app.static_folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return files[0].relative_to(folder).as_posix() if files else None


def test_every_route_answers_every_person_as_expected(sqlite_world):
    """The whole matrix on SQLite in the default run (visibility queries run on both databases in
    the tests below; `make stress` runs the matrix on PostgreSQL too)."""
    run_matrix(sqlite_world)


@pytest.mark.stress
def test_stress_matrix_on_both_databases(world):
    run_matrix(world)


def run_matrix(world: World) -> None:
    app = world.app
    rules = [r for r in app.url_map.iter_rules()]
    missing = sorted(
        {
            f"{r.endpoint} {m}"
            for r in rules
            for m in r.methods - {"HEAD", "OPTIONS"}
            if expected_for(r.endpoint, m) is None
        }
    )
    assert not missing, f"routes without a matrix entry (decide who may use them): {missing}"
    node_modules = (app.root_path and __import__("web").NODE_MODULES / "bpmn-js").exists()
    static = static_file(app)
    wrong: list[str] = []
    cells = 0
    for rule in sorted(rules, key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            expect = expected_for(rule.endpoint, method)
            for actor, username in ACTORS.items():
                if rule.endpoint == "vendor" and not node_modules:
                    continue
                url, data = url_and_data(world, rule.endpoint, method, set(rule.arguments))
                if rule.endpoint == "static":
                    if static is None:
                        continue
                    url = f"/static/{static}"
                browser = Browser(app).login(username) if username else Browser(app)
                # (anonymous has no CSRF token to send)
                if method in ("GET", "POST"):
                    response = browser.get(url) if method == "GET" else browser.post(url, data, csrf=bool(username))
                else:  # PATCH, DELETE: API routes, bearer tokens only
                    response = browser.client.open(url, method=method)
                response.close()  # file responses hold their file open until closed
                cells += 1
                location = response.headers.get("Location", "")
                if actor == "anonymous" and actor not in expect:
                    ok = anonymous_answer(method, response.status_code, location)
                    wanted = "sign-in" if method == "GET" else 400
                elif expect[actor] == LET_IN:
                    ok = response.status_code not in (401, 403) and response.status_code < 500
                    wanted = "let in"
                else:
                    ok = response.status_code == expect[actor]
                    wanted = expect[actor]
                if response.status_code >= 500 or not ok:
                    wrong.append(f"{method} {url} as {actor}: {response.status_code} (expected {wanted})")
    assert not wrong, "\n".join(wrong)
    assert cells > 300


# --- what the allowed answers did ------------------------------------------------------------------
def task_state(w: World, task_id: str) -> tuple[str, str | None]:
    with w.db.reading() as s:
        row = s.get(TaskRecord, task_id)
        return row.status, row.claimed_by.username if row.claimed_by else None


def test_only_the_assignee_completes_or_claims(world):
    """What the allowed answers did: only the approver's claim, submission and bulk approval took."""
    for actor, username in ACTORS.items():
        if username is None:
            continue
        assignee = actor == "approver"
        browser = Browser(world.app).login(username)
        _, task_id = world.fresh()
        browser.post(f"/tasks/{task_id}/claim")
        assert task_state(world, task_id)[1] == ("msmith" if assignee else None), actor
        browser.post(f"/tasks/{task_id}", {"decision": "approve"})
        assert (task_state(world, task_id)[0] == "completed") is assignee, actor
        _, task_id = world.fresh()
        browser.post("/inbox/bulk", {"task_ids": [task_id], "comment": "bulk"})
        assert (task_state(world, task_id)[0] == "completed") is assignee, actor


def test_no_self_approval_from_a_queue(world):
    """A supervisor's own request in the supervisors' queue: she sees it, cannot take or approve it."""
    w = world
    with w.db.transaction() as s:
        iid = w.engine.start(s, "small_approval", {"title": "My own", "amount": 5}, "dlee").id  # no manager: queue
    with w.db.reading() as s:
        [task_id] = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == iid))
    dlee = Browser(w.app).login("dlee")
    assert dlee.get(f"/requests/{iid}").status_code == 200
    assert task_id not in dlee.get("/inbox?tab=queue").text
    dlee.post(f"/tasks/{task_id}/claim")
    assert dlee.post(f"/tasks/{task_id}", {"decision": "approve"}).status_code == 403
    assert "1 of 1 approved" not in dlee.post("/inbox/bulk", {"task_ids": [task_id]}).text
    assert task_state(w, task_id) == ("ready", None)
    assert Browser(w.app).login("msmith").post(f"/tasks/{task_id}", {"decision": "approve"}).status_code == 302


def test_ids_of_other_requests_give_404(world):
    """fchan may see her own request B; A's ids, and B's ids for jdoe, are 404 — not 403."""
    w = world
    with w.db.transaction() as s:
        b = w.engine.start(s, "small_approval", {"title": "B", "amount": 1}, "fchan").id
    with w.db.reading() as s:
        [b_task] = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == b))
    for username, iid, task_id in (("fchan", w.instance_id, w.task_id), ("jdoe", b, b_task)):
        browser = Browser(w.app).login(username)
        for url in (f"/requests/{iid}", f"/requests/{iid}/diagram.bpmn", f"/tasks/{task_id}"):
            assert browser.get(url).status_code == 404, (username, url)
        assert browser.post(f"/tasks/{task_id}", {"decision": "approve"}).status_code == 404
    assert Browser(w.app).login("fchan").get(f"/attachments/{w.attachment_id}").status_code == 404
    for missing in ("/requests/99999", "/tasks/00000000-0000-0000-0000-000000000000", "/attachments/99999"):
        assert Browser(w.app).login("admin").get(missing).status_code == 404


# --- CSRF, cookies, rate limit ----------------------------------------------------------------------
def test_every_session_post_route_refuses_a_missing_csrf_token(world):
    from web import csrf

    app = world.app
    refused = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.split(".")[0] in csrf._EXEMPT:
            continue
        for token in (None, "wrong-token"):
            url, data = url_and_data(world, rule.endpoint, "POST", set(rule.arguments))
            browser = Browser(app).login("admin")
            payload = dict(data)
            if token:
                payload["csrf_token"] = token
            response = browser.post(url, payload, csrf=False)
            if response.status_code != 400 or "expired" not in response.text:
                refused.append(f"{url} ({token}): {response.status_code}")
    assert not refused, refused


def test_session_cookie_flags_from_the_first_response(world):
    client = world.app.test_client()
    page = client.get("/login")  # the anonymous session that carries the sign-in form's CSRF token
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("waypoint_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain=" not in cookie
    assert world.app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() <= 12 * 3600


def test_sign_in_guessing_from_one_address_never_locks_out_others(world):
    """Guessing from one address slows that (account, address) pair only (issue 19 item 8)."""
    app, engine = world.app, world.engine
    with world.db.transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester"], password="s3cret!")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"

    def attempt(client, username: str, password: str) -> int:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return client.post("/login", data={"username": username, "password": password, "csrf_token": token}).status_code

    free = app.config["LOGIN_POLICY"].free
    assert [attempt(attacker, f"guess{n}", "x") for n in range(20)] == [401] * 20
    assert [attempt(attacker, "pat", "x") for n in range(free + 1)] == [401] * free + [429]
    assert attempt(attacker, "pat", "s3cret!") == 429  # this pair waits
    honest = app.test_client()
    honest.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert attempt(honest, "pat", "s3cret!") == 302  # another address is not locked out
