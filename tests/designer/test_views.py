"""The designer's pages and JSON endpoints: library, drafts, hostile files, check, preview,
simulate, deploy (logged, only when the check passes), diff, migration, downloads."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select

from engine.models import DeploymentLog, ProcessDefinition, ProcessInstance
from tests.designer.conftest import small

KEY = "small_approval"
MAIN = "small_approval.bpmn"
SCENARIOS = {
    "process": KEY,
    "start": {"as": "jdoe", "data": {"title": "Laptop", "amount": 100}},
    "scenarios": [
        {
            "name": "supervisor rejects",
            "steps": [{"complete": "Task_review", "data": {"decision": "reject"}}],
            "expect": {"status": "completed", "outcome": "Rejected"},
        }
    ],
}


@pytest.fixture
def designer(as_user):
    return as_user("ddesigner")


def new_draft(client) -> int:
    response = client.post(f"/designer/processes/{KEY}/drafts")
    assert response.status_code == 302
    return int(re.search(r"/designer/drafts/(\d+)$", response.headers["Location"]).group(1))


def raw(client, url: str, body: str | bytes):
    """POST a raw body with the CSRF header (as the designer's JavaScript does)."""
    return client.client.post(url, data=body, headers={"X-CSRF-Token": "test-token"})


def put(client, draft: int, path: str, body: str | bytes):
    return client.client.post(
        f"/designer/drafts/{draft}/files/{path}", data=body, headers={"X-CSRF-Token": "test-token"}
    )


def test_only_process_designers_see_the_library(designer_app, as_user):
    assert as_user("jdoe").get("/designer/").status_code == 403
    assert designer_app.test_client().get("/designer/").status_code == 302  # to the sign-in page
    assert "/designer/" not in as_user("jdoe").get("/inbox").text
    page = as_user("ddesigner").get("/designer/")
    assert page.status_code == 200 and 'href="/designer/"' in page.text
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page.text, re.S).group(1)
    assert "admin" in row and '<td class="num">0</td>' in row and f"/designer/processes/{KEY}/versions/1.zip" in row


def test_download_a_version(designer):
    response = designer.get(f"/designer/processes/{KEY}/versions/1.zip")
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert sorted(names) == ["forms/request.schema.json", "forms/review.schema.json", MAIN]


def test_a_draft_holds_the_version_files_and_saves_edits(designer):
    draft = new_draft(designer)
    page = designer.get(f"/designer/drafts/{draft}")
    assert page.status_code == 200 and 'data-file="small_approval.bpmn"' in page.text
    config = json.loads(re.search(r'id="designer-config">(.*?)</script>', page.text, re.S).group(1))
    assert config["draft"]["main_file"] == MAIN and "supervisor" in config["roles"]
    original = designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text
    assert put(designer, draft, MAIN, original.replace("P2D", "P4D")).json == {"saved": MAIN}
    assert "P4D" in designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text
    assert put(designer, draft, "forms/extra.schema.json", '{"type": "object"}').status_code == 200


XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (MAIN, XXE, "DTDs and entity declarations are not allowed"),
        (MAIN, "<bpmn:definitions", "not well-formed XML"),
        (MAIN, b"\xff\xfe not text", "not UTF-8"),
        (MAIN, "<x>" + "a" * (3 * 1024 * 1024) + "</x>", "over the 2,097,152-byte limit"),
        ("forms/x.schema.json", "{not json", "not valid JSON"),
        ("../escape.bpmn", "<x/>", "not an allowed file name"),
        ("notes.txt", "hello", "not an allowed file name"),
    ],
    ids=["xxe", "broken-xml", "not-utf8", "too-big", "bad-json", "path-escape", "wrong-kind"],
)
def test_hostile_or_broken_files_get_a_clear_error(designer, path, body, words):
    draft = new_draft(designer)
    response = put(designer, draft, path, body)
    assert response.status_code == 422 and words in response.json["error"]
    assert "&e;" not in designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text


def test_a_hostile_upload_is_refused_with_a_message(designer):
    draft = new_draft(designer)
    response = designer.post(
        f"/designer/drafts/{draft}/upload",
        {"file": (io.BytesIO(XXE.encode()), "evil.bpmn"), "folder": ""},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "The file was refused: evil.bpmn: DTDs and entity declarations are not allowed" in response.text
    good = designer.post(
        f"/designer/drafts/{draft}/upload",
        {"file": (io.BytesIO(b'{"type": "object"}'), "notes.schema.json"), "folder": "forms"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "forms/notes.schema.json saved in the draft." in good.text


def test_check_names_elements(designer):
    draft = new_draft(designer)
    assert designer.post(f"/designer/drafts/{draft}/check").json == {"ok": True, "findings": []}
    text = designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text
    put(designer, draft, MAIN, text.replace('name="Senior management"', 'name="Astronauts"'))
    [finding] = designer.post(f"/designer/drafts/{draft}/check").json["findings"]
    assert (finding["element"], finding["name"]) == ("Task_escalated_review", "Escalated review")


def test_form_preview_renders_the_form(designer):
    draft = new_draft(designer)
    form = designer.get(f"/designer/drafts/{draft}/files/forms/request.schema.json").text
    html = raw(designer, f"/designer/drafts/{draft}/preview", form).text
    assert 'for="f-title"' in html and ">What" in html and 'data-preview-ok="true"' in html
    broken = raw(designer, f"/designer/drafts/{draft}/preview", "{")
    assert "Not valid JSON" in broken.text
    listy = raw(designer, f"/designer/drafts/{draft}/preview", '{"type": "array"}')
    assert "type" in listy.text and "object" in listy.text


def test_simulate_a_draft_without_touching_real_requests(designer, designer_app):
    draft = new_draft(designer)
    skeleton = json.loads(designer.get(f"/designer/drafts/{draft}/files/scenarios/{KEY}.json").text)
    assert skeleton == {"process": KEY, "start": {"as": "jdoe", "data": {}}, "scenarios": []}
    missing = raw(designer, f"/designer/drafts/{draft}/simulate", json.dumps({"scenario": "nope"}))
    assert missing.status_code == 422 and missing.json["error"] == f"no scenario called 'nope' in scenarios/{KEY}.json"
    put(designer, draft, f"scenarios/{KEY}.json", json.dumps(SCENARIOS))
    answer = raw(designer, f"/designer/drafts/{draft}/simulate", json.dumps({"scenario": "supervisor rejects"})).json
    [result] = answer["results"]
    assert result["ok"] and result["outcome"] == "Rejected"
    assert "Task_review" in result["visited"][MAIN] and answer["main_file"] == MAIN
    with designer_app.extensions["waypoint.db"].reading() as s:
        assert s.scalars(select(ProcessInstance)).first() is None


def test_deploy_only_when_the_check_passes_and_log_it(designer, designer_app):
    db = designer_app.extensions["waypoint.db"]
    draft = new_draft(designer)
    text = designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text
    put(designer, draft, MAIN, text.replace('name="Senior management"', 'name="???"'))
    refused = designer.post(f"/designer/drafts/{draft}/deploy", {"note": "oops"}, follow_redirects=True)
    assert "Not deployed: the check found 1 problem(s)" in refused.text
    with db.reading() as s:
        assert s.scalars(select(ProcessDefinition.version)).all() == [1]

    put(designer, draft, MAIN, text.replace('name="dueIn" value="P2D"', 'name="dueIn" value="P4D"'))
    done = designer.post(f"/designer/drafts/{draft}/deploy", {"note": "longer review"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/designer/#process-{KEY}")
    page = designer.get("/designer/").text
    assert "Version 2 of small_approval deployed." in page and '<tr data-version="2">' in page
    assert "deployed version 2" in page and "longer review" in page
    with db.reading() as s:
        entry = s.scalars(select(DeploymentLog)).one()
        assert (entry.key, entry.version, entry.actor, entry.action) == (KEY, 2, "ddesigner", "deploy")
        assert (
            s.scalars(select(ProcessDefinition).where(ProcessDefinition.version == 2)).one().deployed_by == "ddesigner"
        )
    diff = designer.get(f"/designer/processes/{KEY}/diff").text
    assert "dueIn: &#39;P2D&#39; → &#39;P4D&#39;" in diff and "&#34;changed&#34;: [&#34;Task_review&#34;]" in diff


def test_draft_diff_in_words(designer):
    draft = new_draft(designer)
    assert "No changes." in designer.get(f"/designer/drafts/{draft}/diff").text
    text = designer.get(f"/designer/drafts/{draft}/files/{MAIN}").text
    put(designer, draft, MAIN, text.replace('name="Escalated review"', 'name="Second-level review"'))
    page = designer.get(f"/designer/drafts/{draft}/diff").text
    assert "name: &#39;Escalated review&#39; → &#39;Second-level review&#39;" in page


def test_migrate_page_dry_run_then_apply(designer, designer_app):
    db, engine = designer_app.extensions["waypoint.db"], designer_app.extensions["waypoint.engine"]
    with db.transaction() as s:
        instance_id = engine.start(s, KEY, {"title": "Laptop", "amount": 100}, "jdoe").id
        engine.deploy(s, sources=small(('name="dueIn" value="P2D"', 'name="dueIn" value="P4D"')))
    library = designer.get("/designer/").text
    assert f'id="migrate-{KEY}"' in library and "Move 1 running request(s) to version 2" in library
    plan = designer.get(f"/designer/processes/{KEY}/migrate?to=2").text
    assert f'name="instance_ids" value="{instance_id}"' in plan and "stays at &#39;Supervisor review&#39;" in plan
    with db.reading() as s:
        assert s.get(ProcessInstance, instance_id).definition.version == 1
    done = designer.post(f"/designer/processes/{KEY}/migrate", {"to": "2", "instance_ids": str(instance_id)})
    assert done.status_code == 200 and "1 request(s) moved to version 2; 0 left as they were." in done.text
    with db.reading() as s:
        assert s.get(ProcessInstance, instance_id).definition.version == 2
    assert "No running request is on another version." in designer.get(f"/designer/processes/{KEY}/migrate").text
