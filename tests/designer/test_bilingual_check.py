"""Both official languages: one rule in the engine's check, so `waypoint check`, the designer's
Check and deploying a draft refuse the same bilingual draft for the same reasons."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import Context, main
from engine.definitions import read_sources
from engine.models import ProcessDefinition
from tests.designer.test_views import KEY, MAIN, new_draft, put

#: a French name on one user task makes the draft bilingual; the other task and the forms lack theirs
FRENCH_REVIEW = (
    '<spiffworkflow:property name="dueIn" value="P2D" />',
    '<spiffworkflow:property name="dueIn" value="P2D" />\n'
    '          <spiffworkflow:property name="name_fr" value="Examen par le superviseur" />',
)


@pytest.fixture
def designer(as_user):
    return as_user("ddesigner")


def messages(findings: list[dict]) -> list[tuple]:
    return sorted((f["file"], f.get("element"), f["message"]) for f in findings)


def test_the_designer_the_engine_and_waypoint_check_refuse_the_same_bilingual_draft(
    designer, designer_app, engine, tmp_path, monkeypatch
):
    db = designer_app.extensions["waypoint.db"]
    draft = new_draft(designer)
    files = {}
    for path in (MAIN, "forms/request.schema.json", "forms/review.schema.json"):
        files[path] = designer.get(f"/designer/drafts/{draft}/files/{path}").text
    assert designer.post(f"/designer/drafts/{draft}/check").json == {"ok": True, "findings": []}  # English only
    files[MAIN] = files[MAIN].replace(*FRENCH_REVIEW)
    put(designer, draft, MAIN, files[MAIN])

    in_designer = designer.post(f"/designer/drafts/{draft}/check").json
    assert not in_designer["ok"]
    assert (MAIN, "Task_escalated_review", "user task has no 'name_fr' property (its French name)") in messages(
        in_designer["findings"]
    )
    assert any(f["file"] == "forms/review.schema.json" for f in in_designer["findings"])

    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert messages(engine.check(read_sources([tmp_path / MAIN]))) == messages(in_designer["findings"])

    monkeypatch.setenv("WAYPOINT_DATABASE_URL", db.url)
    context = Context()
    try:
        result = CliRunner().invoke(main, ["check", "--json", str(tmp_path / MAIN)], obj=context)
    finally:
        context.db.dispose()
    assert result.exit_code == 1
    assert messages(json.loads(result.output)) == messages(in_designer["findings"])

    refused = designer.post(f"/designer/drafts/{draft}/deploy", {"note": "half French"}, follow_redirects=True)
    assert f"Not deployed: the check found {len(in_designer['findings'])} problem(s)" in refused.text
    with db.reading() as s:
        assert s.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == KEY)).all() == [1]
