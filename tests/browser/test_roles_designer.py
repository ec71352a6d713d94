"""Issue 16's "done when", in Chromium: a designer creates a role in the browser, adds a lane for it
to a draft in the modeler, deploys; an admin grants the role to a person; that person completes the
task from their inbox. On a server of its own (the versions deployed here stay here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.demo.people import DEMO_PASSWORD
from engine.models import ProcessInstance, TaskRecord
from tests.browser.conftest import live_server, screenshot

pytestmark = pytest.mark.browser
KEY = "contract_check"
FIXTURE = Path(__file__).parent / "fixtures" / KEY
#: the modeler's own API (bpmn-js): a lane under the existing one, named Legal, and the task moved into it
ADD_LANE = """() => {
  const modeler = window.WaypointDesigner.state.bpmn['contract_check.bpmn'].modeler;
  const registry = modeler.get('elementRegistry'), modeling = modeler.get('modeling');
  const lane = modeling.addLane(registry.get('Lane_supervisor'), 'bottom');
  modeling.updateLabel(lane, 'Legal');
  const task = registry.get('Activity_check');
  const dx = 0, dy = (lane.y + lane.height / 2) - (task.y + task.height / 2);
  modeling.moveElements([task], { x: dx, y: dy }, lane);
  return lane.businessObject.flowNodeRef.map(node => node.id);
}"""


office = live_server("roles", [FIXTURE / f"{KEY}.bpmn"], deployed_by="admin")


@pytest.fixture
def sign_in(chromium, office):  # type: ignore[no-untyped-def]
    contexts, errors = [], []

    def opener(username: str):  # type: ignore[no-untyped-def]
        context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-CA")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{office.url}/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{office.url}/inbox")
        return page

    yield opener
    for context in contexts:
        context.close()
    assert errors == []


def test_a_designer_adds_a_role_and_its_lane_and_the_person_granted_it_does_the_task(sign_in, office):
    designer = sign_in("ddesigner")
    designer.click("nav >> text=Roles")
    designer.fill("#name_en", "Legal")
    designer.fill("#name_fr", "Juridique")
    designer.click("#new-role button[type=submit]")
    assert "Role legal created." in designer.inner_text(".flashes")
    assert "Nobody holds this role yet" in designer.inner_text("#members")

    designer.goto(f"{office.url}/designer/")
    designer.click(f"#edit-{KEY}")
    designer.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    designer.wait_for_selector(f"[data-canvas-for='{KEY}.bpmn'][data-ready=true]")
    assert designer.evaluate(ADD_LANE) == ["Activity_check"]
    designer.evaluate("() => window.WaypointDesigner.saveAll()")
    designer.wait_for_selector(f"[data-dirty-for='{KEY}.bpmn']", state="hidden")
    screenshot(designer, "roles-lane-added")
    designer.click("#deploy")
    designer.wait_for_url(re.compile(rf"/designer/#process-{KEY}$"))
    assert f"Version 2 of {KEY} deployed." in designer.inner_text(".flashes")

    admin = sign_in("admin")
    admin.goto(f"{office.url}/admin/roles/legal")
    admin.select_option("#username", "ebrown")
    admin.click("#grant button[type=submit]")
    assert "ebrown now holds the role legal." in admin.inner_text(".flashes")

    with office.db.transaction() as s:
        instance_id = office.engine.start(s, KEY, {"title": "Lease renewal"}, "jdoe").id
    legal = sign_in("ebrown")
    legal.goto(f"{office.url}/inbox?tab=queue")
    legal.click(f"a:has-text('#{instance_id}')")
    legal.wait_for_url(re.compile(r"/tasks/"))
    assert "Check the contract" in legal.inner_text("main")
    legal.click("#complete")
    legal.wait_for_url(re.compile(r"/inbox"))
    with office.db.reading() as s:
        instance = s.get(ProcessInstance, instance_id)
        task = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id)).one()
        assert (instance.status, task.role, task.completed_by.username) == ("completed", "legal", "ebrown")
