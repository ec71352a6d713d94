"""Resource bounds: upload and submission caps, pagination limits, script deadlines, deployment
size, and a fixed number of SQL statements per inbox page however many tasks exist.
"""

from __future__ import annotations

import re
import time
import tracemalloc

import pytest
from sqlalchemy import event, func, select

from engine import DefinitionError, ValidationFailed
from engine.attachments import MAX_ATTACHMENT_BYTES
from engine.forms import MAX_SUBMISSION_BYTES, validate_submission
from engine.models import Attachment, TaskRecord
from engine.queries.inbox import MAX_PER_PAGE
from engine.scripting import DEFAULT_TIME_LIMIT, MAX_SEQUENCE, RestrictedEnvironment, ScriptTimeout
from engine.sources import MAX_TOTAL_BYTES, SourceSet
from tests.conftest import FIXTURES
from tests.web.conftest import Browser, task_ids
from web import create_app

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def app(people, engine, tmp_path):
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    return create_app(
        {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path)}
    )


def start(app, n: int, user: str = "jdoe") -> list[int]:
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    ids = []
    with db.transaction() as s:  # one transaction: setting up many tasks quickly
        for i in range(n):
            ids.append(engine.start(s, "small_approval", {"title": f"Bulk {i}", "amount": i}, user).id)
    return ids


def attachments(app) -> int:
    with app.extensions["waypoint.db"].reading() as s:
        return s.scalar(select(func.count()).select_from(Attachment))


def post_file(browser, url: str, content: bytes, name: str) -> int:
    """Post one file as a browser would (the multipart body built here: the test client would
    spool a large body to a temporary file it never closes)."""
    boundary = "waypointboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\ntest-token\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = browser.client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    response.close()
    return response.status_code


def test_upload_caps(app):
    [iid] = start(app, 1)
    jdoe = Browser(app).login("jdoe")
    url = f"/requests/{iid}/attachments"
    over = PNG + b"\0" * MAX_ATTACHMENT_BYTES  # one file just over the attachment cap
    assert post_file(jdoe, url, over, "big.png") == 302
    assert "larger than 10 MB" in jdoe.get(f"/requests/{iid}").text
    huge = PNG + b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)  # over the whole-request cap
    assert post_file(jdoe, url, huge, "huge.png") == 413
    fake = b"<html><script>alert(1)</script></html>"  # not a PDF or image, whatever it is called
    assert post_file(jdoe, url, fake, "x.pdf") == 302
    assert attachments(app) == 0
    assert post_file(jdoe, url, PNG + b"\0" * 10, "ok.png") == 302
    assert attachments(app) == 1


def test_submission_and_deployment_caps():
    with pytest.raises(ValidationFailed) as info:
        validate_submission({"properties": {"note": {"type": "string"}}}, {"note": "x" * (MAX_SUBMISSION_BYTES + 1)})
    assert "over the" in str(info.value)
    sources = SourceSet()
    chunk = "<x>" + "a" * (1_900_000) + "</x>"
    with pytest.raises(DefinitionError) as info:
        for n in range(MAX_TOTAL_BYTES // len(chunk) + 2):
            sources.add(f"f{n}.bpmn", chunk)
    assert "deployment size limit" in str(info.value)


def test_script_deadline_and_sequence_bounds():
    assert DEFAULT_TIME_LIMIT <= 1.0
    env = RestrictedEnvironment({}, time_limit=DEFAULT_TIME_LIMIT)
    started = time.thread_time()  # the deadline is CPU time: a loaded machine stretches the wall time
    with pytest.raises(ScriptTimeout):
        env.execute("n = 0\nwhile True:\n    n = n + 1", {})
    assert time.thread_time() - started < DEFAULT_TIME_LIMIT + 1
    assert MAX_SEQUENCE <= 1_000_000


def count_statements(app, url: str, username: str) -> int:
    db = app.extensions["waypoint.db"]
    seen: list[str] = []

    def tick(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    browser = Browser(app).login(username)
    browser.get(url)  # warm: caches, first-request work
    event.listen(db.engine, "before_cursor_execute", tick)
    try:
        response = browser.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", tick)
    assert response.status_code == 200
    return len(seen)


INBOX_PAGES = [
    ("/inbox", "msmith"),
    ("/inbox?tab=queue", "msmith"),
    ("/inbox?tab=overdue", "msmith"),
    ("/inbox?tab=started", "jdoe"),
    ("/inbox?tab=started", "dlee"),
    ("/inbox?q=bulk&sort=-age&per_page=100", "msmith"),
]


def test_inbox_issues_a_fixed_number_of_statements(app, clock):
    start(app, 3)
    start(app, 2, user="dlee")  # queue tasks for supervisors
    few = {url + " " + who: count_statements(app, url, who) for url, who in INBOX_PAGES}
    start(app, 60)
    start(app, 40, user="dlee")
    clock.advance(days=10)  # everything overdue
    many = {url + " " + who: count_statements(app, url, who) for url, who in INBOX_PAGES}
    assert many == few
    # a task tab: the person with roles and session generation, their delegators, every tab's capped
    # counts with the page's total (one statement), the rows, the processes, the bulk-approval forms,
    # and SQLite's two BEGINs (the sign-in check's transaction and the page's)
    assert max(n for page, n in many.items() if "started" not in page) <= 8, many
    # "Requests I started" reads its open steps and a query per kind of fact its statuses read
    # (engine/request_status.py)
    assert max(many.values()) <= 19, many
    # pagination is clamped: 105 overdue tasks for msmith (his 63 and the queue's 42), 100 a page
    msmith = Browser(app).login("msmith")
    page = msmith.get("/inbox?tab=overdue&per_page=100000")
    assert len(task_ids(page.text)) == MAX_PER_PAGE and "Page 1 of 2" in page.text
    assert int(re.search(r"(\d+) items", page.text).group(1)) == 105
    far = msmith.get("/inbox?page=999999999999&per_page=-5&q=" + "x" * 10_000)
    assert far.status_code == 200 and task_ids(far.text) == []


# --- one operation that computes or allocates without limit (issue 19, item 2) ---------------
# Each is data-driven (`amount` 10, `title` "x"), so no check can see it: the run must refuse it
# before computing it, with a clear error, fast, within a small memory bound, storing nothing.
DOUBLING = "s = title\n" + "s = s + s\n" * 40
RUNTIME_BOMBS = {
    "power tower": "((amount ** 1000) ** 1000) ** 1000",
    "zfill": "title.zfill(amount ** 9)",
    "replace": "(title * 100000).replace(title, title * 100000)",
    "doubling": "(s := title) and [s := s + s for i in range(40)]",  # the expression form of DOUBLING
}
LITERAL_BOMBS = ["((7**1000)**1000)**1000", "'x'.zfill(10**9)", "('x'*100000).replace('x','x'*100000)"]
BOMB_SECONDS = 5
BOMB_BYTES = 64 * 1024 * 1024


def _refused_fast(db, act) -> str:
    from engine import ScriptError
    from tests.reliability.harness import snapshot

    before = snapshot(db)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ScriptError) as info:
            with db.transaction() as s:
                act(s)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < BOMB_SECONDS
    assert peak < BOMB_BYTES, f"{peak:,} bytes"
    assert snapshot(db) == before
    return str(info.value)


@pytest.mark.parametrize("where", ["script", "condition"])
@pytest.mark.parametrize("bomb", sorted(RUNTIME_BOMBS))
def test_one_operation_bombs_are_refused_at_run_time(people, engine, bomb, where):
    from tests.security.test_hostile_definitions import small_with

    db, expr = people, RUNTIME_BOMBS[bomb]
    if where == "script":
        script = DOUBLING if bomb == "doubling" else f"x = {expr}"
        sources = small_with("total = round(amount * 1.13, 2)", f"{script}\ntotal = 1")
    else:
        sources = small_with('decision == "approve"', f'decision == "approve" and ({expr}) is not None')
    with db.transaction() as s:
        engine.deploy(s, sources=sources)
    data = {"title": "x", "amount": 10}
    if where == "script":
        message = _refused_fast(db, lambda s: engine.start(s, "small_approval", data, "jdoe"))
    else:
        with db.transaction() as s:
            iid = engine.start(s, "small_approval", data, "jdoe").id
        with db.reading() as s:
            [task_id] = s.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == iid))
        message = _refused_fast(db, lambda s: engine.complete(s, task_id, "msmith", {"decision": "approve"}))
        with db.transaction() as s:  # the instance is as it was: the other branch still completes it
            engine.complete(s, task_id, "msmith", {"decision": "reject"})
    assert "too large" in message


def python_dmn(**cells: str) -> str:
    """A decision table whose cells are Python (engine/dmn reads FEEL unless told otherwise)."""
    from tests.security.test_hostile_definitions import dmn

    return dmn(**cells).replace(
        'namespace="urn:test"', 'namespace="urn:test" expressionLanguage="https://www.python.org/"'
    )


@pytest.mark.parametrize("bomb", sorted(RUNTIME_BOMBS))
def test_one_operation_bombs_in_a_decision_cell_are_refused(people, engine, bomb):
    from tests.security.test_hostile_definitions import files, rule_process

    db = people
    with db.transaction() as s:
        engine.deploy(s, sources=files(p_bpmn=rule_process(), r_dmn=python_dmn(input_text=RUNTIME_BOMBS[bomb])))
    message = _refused_fast(db, lambda s: engine.start(s, "rule_process", {"title": "x", "amount": 10}, "jdoe"))
    assert "too large" in message and "Decide level" in message


FEEL_BOMBS = [
    "((amount ** 1000) ** 1000) ** 1000",
    "count(for i in 1..1000000000 return i)",
    'string length(string join(for i in 1..100000000 return "xxxxxxxxxx"))',
]


@pytest.mark.parametrize("text", FEEL_BOMBS)
def test_feel_cells_stay_within_bounds(people, engine, text):
    """FEEL cells (engine/feel) have their own caps: whatever the answer (an error or null), it
    comes fast, in bounded memory, and a refusal stores nothing."""
    from engine import ScriptError
    from tests.reliability.harness import snapshot
    from tests.security.test_hostile_definitions import dmn, files, rule_process

    db = people
    with db.transaction() as s:
        engine.deploy(s, sources=files(p_bpmn=rule_process(), r_dmn=dmn(input_text=text)))
    before = snapshot(db)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with db.transaction() as s:
            engine.start(s, "rule_process", {"amount": 10}, "jdoe")
        refused = False
    except ScriptError:
        refused = True
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.monotonic() - started < BOMB_SECONDS and peak < BOMB_BYTES, peak
    if refused:
        assert snapshot(db) == before


@pytest.mark.parametrize("literal", LITERAL_BOMBS)
def test_check_and_deploy_refuse_literal_bombs(db, engine, literal):
    from tests.security.test_hostile_definitions import files, rule_process, small_with

    cases = {
        "script": small_with("total = round(amount * 1.13, 2)", f"x = {literal}\ntotal = 1"),
        "condition": small_with('decision == "approve"', f'decision == "approve" and ({literal}) is not None'),
        "decision": files(p_bpmn=rule_process(), r_dmn=python_dmn(output=literal)),
    }
    for where, sources in cases.items():
        started = time.monotonic()
        findings = engine.check(sources)
        assert time.monotonic() - started < BOMB_SECONDS
        assert any("too large" in f["message"] for f in findings), (where, findings)
        with pytest.raises(DefinitionError):
            with db.transaction() as s:
                engine.deploy(s, sources=sources)
